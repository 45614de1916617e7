//! How a morphir cache entry is laid out as REAPI objects (specified for other clients in
//! `docs/remote-cache.md`; keep the two in step).
//!
//! - `Command { arguments: ["morphir-step", "v1", <key hex>] }`
//! - `Action { command_digest, input_root_digest: <empty Directory>, salt: "morphir-cache" }`;
//!   its digest is the `ActionCache` key.
//! - `ActionResult { exit_code: 0, output_files: ["morphir/output/0" .. "morphir/output/<n-1>"
//!   (encoded envelopes, the wire form of docs/abi.md), "morphir/logs.json"] }`.

use morphir_cache::{Key, LogLine};
use prost::Message as _;
use sha2::Digest as _;

use crate::proto::{
    Action, ActionResult, Command, Digest, ExecutedActionMetadata, OutputFile, digest_function,
};

/// The `arguments[1]` of our commands: bump it when the layout changes.
pub(crate) const LAYOUT_VERSION: &str = "v1";
pub(crate) const SALT: &[u8] = b"morphir-cache";
pub(crate) const OUTPUT_PREFIX: &str = "morphir/output/";
pub(crate) const LOGS_PATH: &str = "morphir/logs.json";

/// The hash function the server and we agreed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hasher {
    Sha256,
    Blake3,
}

impl Hasher {
    /// REAPI's `DigestFunction.Value`.
    pub(crate) fn value(self) -> i32 {
        match self {
            Hasher::Sha256 => digest_function::SHA256,
            Hasher::Blake3 => digest_function::BLAKE3,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Hasher::Sha256 => "sha256",
            Hasher::Blake3 => "blake3",
        }
    }

    /// The REAPI digest of `bytes`: lower-case hex hash and size.
    pub(crate) fn digest(self, bytes: &[u8]) -> Digest {
        let hash = match self {
            Hasher::Sha256 => hex(&sha2::Sha256::digest(bytes)),
            Hasher::Blake3 => blake3::hash(bytes).to_hex().to_string(),
        };
        Digest {
            hash,
            size_bytes: bytes.len() as i64,
        }
    }

    /// The blob part of a `ByteStream` resource name (`blobs/<hash>/<size>`; other functions than
    /// SHA-256 are named in the path, as the spec asks).
    pub(crate) fn blob_path(self, digest: &Digest) -> String {
        match self {
            Hasher::Sha256 => format!("blobs/{}/{}", digest.hash, digest.size_bytes),
            Hasher::Blake3 => format!("blobs/blake3/{}/{}", digest.hash, digest.size_bytes),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The encoded `Command` and `Action` of a key, and the Action's digest.
pub(crate) struct ActionBlobs {
    pub(crate) command: Vec<u8>,
    pub(crate) action: Vec<u8>,
    pub(crate) digest: Digest,
}

pub(crate) fn action(hasher: Hasher, key: &Key) -> ActionBlobs {
    let command = Command {
        arguments: vec![
            "morphir-step".to_owned(),
            LAYOUT_VERSION.to_owned(),
            key.to_hex(),
        ],
        output_paths: Vec::new(),
    }
    .encode_to_vec();
    let action = Action {
        command_digest: Some(hasher.digest(&command)),
        // The empty Directory message encodes to zero bytes.
        input_root_digest: Some(hasher.digest(&[])),
        do_not_cache: false,
        salt: SALT.to_vec(),
    }
    .encode_to_vec();
    let digest = hasher.digest(&action);
    ActionBlobs {
        command,
        action,
        digest,
    }
}

/// The blobs of an entry (encoded output envelopes, then the logs) and the `ActionResult` naming
/// them.
pub(crate) fn action_result(
    hasher: Hasher,
    outputs: &[Vec<u8>],
    logs: &[u8],
) -> (Vec<Digest>, ActionResult) {
    let mut files: Vec<OutputFile> = outputs
        .iter()
        .enumerate()
        .map(|(i, bytes)| OutputFile {
            path: format!("{OUTPUT_PREFIX}{i}"),
            digest: Some(hasher.digest(bytes)),
            ..OutputFile::default()
        })
        .collect();
    files.push(OutputFile {
        path: LOGS_PATH.to_owned(),
        digest: Some(hasher.digest(logs)),
        ..OutputFile::default()
    });
    let digests = files.iter().filter_map(|f| f.digest.clone()).collect();
    let result = ActionResult {
        output_files: files,
        output_directories: Vec::new(),
        exit_code: 0,
        execution_metadata: Some(ExecutedActionMetadata {
            worker: format!("morphir {}", env!("CARGO_PKG_VERSION")),
        }),
    };
    (digests, result)
}

/// What an `ActionResult` of ours names: the output blobs in order, and the logs blob.
#[derive(Debug, PartialEq)]
pub(crate) struct Layout {
    pub(crate) outputs: Vec<OutputFile>,
    pub(crate) logs: OutputFile,
}

/// Checks that `result` has our layout; says why not otherwise (an entry written by something
/// else under the same digest, or a damaged one: either way a miss).
pub(crate) fn layout(result: ActionResult) -> Result<Layout, String> {
    if result.exit_code != 0 {
        return Err(format!("exit code {}", result.exit_code));
    }
    if !result.output_directories.is_empty() {
        return Err("it has output directories".to_owned());
    }
    let mut outputs: Vec<Option<OutputFile>> = Vec::new();
    let mut logs = None;
    for file in result.output_files {
        match file.digest.as_ref() {
            Some(d) if d.size_bytes >= 0 => {}
            _ => return Err(format!("output `{}` has no valid digest", file.path)),
        }
        if file.path == LOGS_PATH {
            if logs.replace(file).is_some() {
                return Err("two log files".to_owned());
            }
        } else if let Some(i) = file.path.strip_prefix(OUTPUT_PREFIX) {
            let i: usize = i
                .parse()
                .map_err(|_| format!("unexpected output `{}`", file.path))?;
            if i > 1024 {
                return Err(format!("unexpected output `{}`", file.path));
            }
            if outputs.len() <= i {
                outputs.resize(i + 1, None);
            }
            if outputs[i].replace(file).is_some() {
                return Err(format!("output {i} named twice"));
            }
        } else {
            return Err(format!("unexpected output `{}`", file.path));
        }
    }
    let outputs: Option<Vec<OutputFile>> = outputs.into_iter().collect();
    match (outputs, logs) {
        (Some(outputs), Some(logs)) if !outputs.is_empty() => Ok(Layout { outputs, logs }),
        _ => Err("outputs or logs are missing".to_owned()),
    }
}

pub(crate) fn encode_logs(logs: &[LogLine]) -> Vec<u8> {
    serde_json::to_vec(logs).expect("log lines serialise")
}

pub(crate) fn decode_logs(bytes: &[u8]) -> Result<Vec<LogLine>, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("logs are not valid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use morphir_cache::KeyBuilder;

    fn key(op: &str) -> Key {
        KeyBuilder::new("1").operation(op).finish().unwrap().0
    }

    #[test]
    fn digests_are_the_standard_ones() {
        // SHA-256 and BLAKE3 of the empty string, as every REAPI server computes them.
        assert_eq!(
            Hasher::Sha256.digest(b"").hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            Hasher::Blake3.digest(b"").hash,
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let d = Hasher::Sha256.digest(b"abc");
        assert_eq!(d.size_bytes, 3);
        assert_eq!(Hasher::Sha256.blob_path(&d), format!("blobs/{}/3", d.hash));
        let d = Hasher::Blake3.digest(b"abc");
        assert_eq!(
            Hasher::Blake3.blob_path(&d),
            format!("blobs/blake3/{}/3", d.hash)
        );
    }

    #[test]
    fn the_action_digest_is_stable_and_depends_on_the_key_and_function() {
        let a = action(Hasher::Sha256, &key("a"));
        assert_eq!(a.digest, action(Hasher::Sha256, &key("a")).digest);
        assert_ne!(a.digest, action(Hasher::Sha256, &key("b")).digest);
        assert_ne!(a.digest.hash, action(Hasher::Blake3, &key("a")).digest.hash);
        // The documented layout, byte for byte (docs/remote-cache.md): a change here changes
        // every entry's address and must bump LAYOUT_VERSION.
        let command = Command::decode(a.command.as_slice()).unwrap();
        assert_eq!(
            command.arguments,
            ["morphir-step", "v1", &key("a").to_hex()]
        );
        let decoded = Action::decode(a.action.as_slice()).unwrap();
        assert_eq!(decoded.salt, b"morphir-cache");
        assert_eq!(
            decoded.command_digest,
            Some(Hasher::Sha256.digest(&a.command))
        );
        assert_eq!(decoded.input_root_digest.unwrap().size_bytes, 0);
    }

    #[test]
    fn layouts_round_trip_and_foreign_results_are_refused() {
        let outputs = vec![b"one".to_vec(), b"two".to_vec()];
        let logs = encode_logs(&[LogLine::new("info", "hi")]);
        let (digests, result) = action_result(Hasher::Sha256, &outputs, &logs);
        assert_eq!(digests.len(), 3);
        let layout = layout(result.clone()).unwrap();
        assert_eq!(layout.outputs.len(), 2);
        assert_eq!(
            layout.outputs[1].digest,
            Some(Hasher::Sha256.digest(b"two"))
        );
        assert_eq!(
            decode_logs(&logs).unwrap(),
            vec![LogLine::new("info", "hi")]
        );

        let mut failed = result.clone();
        failed.exit_code = 1;
        assert!(super::layout(failed).is_err());
        let mut gap = result.clone();
        gap.output_files.remove(0);
        assert!(super::layout(gap).is_err(), "output 0 missing");
        let mut foreign = result.clone();
        foreign.output_files[0].path = "bazel-out/a.o".to_owned();
        assert!(super::layout(foreign).is_err());
        let mut no_logs = result;
        no_logs.output_files.pop();
        assert!(super::layout(no_logs).is_err());
    }
}
