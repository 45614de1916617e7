//! Integration tests of morphir-cache: keys, the store, corruption, maintenance, concurrency and
//! crashes (a writer process killed with SIGKILL).

mod concurrency;
mod corruption;
mod crash;
mod keys;
mod maintenance;
mod store;

use std::path::Path;
use std::time::{Duration, SystemTime};

use morphir_cache::{Digest, Key, KeyBuilder, KeyManifest, LogLine, NewAction, Store};
use morphir_envelope::Envelope;

/// A fresh store in a temp dir (kept alive by the returned guard).
pub(crate) fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("cache")).unwrap();
    (dir, store)
}

/// The key of a step reading one file with content `content`.
pub(crate) fn key_for(step: &str, content: &[u8]) -> (Key, KeyManifest) {
    KeyBuilder::new("0.1.0")
        .abi_version(1)
        .extension_wasm(Digest::of(b"wasm").as_bytes())
        .operation("transform")
        .extra("step", step.as_bytes())
        .input_file("src/a.json", &Digest::of(content))
        .finish()
        .unwrap()
}

/// The output a deterministic fake step produces for `step`/`content`: larger than
/// [`morphir_cache::INLINE_MAX`], so it is stored as a blob (the blob tests need one);
/// [`small_output_for`] is stored inside its record.
pub(crate) fn output_for(step: &str, content: &[u8]) -> Envelope {
    let mut out = small_output_for(step, content);
    out.content.resize(morphir_cache::INLINE_MAX + 1, b'.');
    out
}

/// A fake step's output small enough to be stored inside its action record.
pub(crate) fn small_output_for(step: &str, content: &[u8]) -> Envelope {
    let mut body = step.as_bytes().to_vec();
    body.extend_from_slice(b" <- ");
    body.extend_from_slice(content);
    Envelope::new("application/octet-stream", body)
}

/// Puts the fake step's output for `step`/`content` and returns its key.
pub(crate) fn put_step(store: &Store, step: &str, content: &[u8]) -> Key {
    let (key, manifest) = key_for(step, content);
    let outputs = [output_for(step, content)];
    let logs = [LogLine::new("info", format!("ran {step}"))];
    store
        .put(
            &key,
            &NewAction {
                step_id: step,
                manifest: &manifest,
                outputs: &outputs,
                logs: &logs,
                executor_version: "0.1.0",
            },
        )
        .unwrap();
    key
}

/// Sets a file's mtime to `ago` before now.
pub(crate) fn age(path: &Path, ago: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - ago)
        .unwrap();
}

/// Every `.tmp-*` file under `dir`.
pub(crate) fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(".tmp-")
            {
                out.push(p);
            }
        }
    }
    out
}
