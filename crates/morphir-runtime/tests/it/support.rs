use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use morphir_runtime::{CompileCache, Limits, Module, Runtime, RuntimeConfig};

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Builds the guests once per test process (incremental: a no-op when nothing changed).
pub(crate) fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let root = repo_root();
        let status = std::process::Command::new(root.join("scripts/build-extensions"))
            .status()
            .expect("run scripts/build-extensions");
        assert!(status.success(), "scripts/build-extensions failed");
        root.join("extensions/dist")
    })
}

pub(crate) fn guest_bytes(name: &str) -> Vec<u8> {
    let path = dist().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn runtime() -> Runtime {
    // A private compile cache per test process: tests never write the user's.
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    Runtime::new(&RuntimeConfig {
        compile_cache: CompileCache::Directory(dir.path().to_owned()),
        ..RuntimeConfig::default()
    })
    .unwrap()
}

pub(crate) fn load(name: &str, limits: Limits) -> Module {
    runtime().load(name, guest_bytes(name), limits).unwrap()
}

/// A WAT module with the whole ABI, whose operation bodies the test supplies.
pub(crate) fn wat_guest(extra: &str, transform_body: &str) -> Vec<u8> {
    let caps = r#"{"name":"wat","operations":["transform"]}"#;
    // The capabilities envelope, pre-encoded: MENV v1, no kind, content type application/json.
    let mut env = Vec::new();
    env.extend_from_slice(b"MENV\x01\x00");
    env.extend_from_slice(&0u64.to_le_bytes());
    for n in [0u32, 0, 16, caps.len() as u32] {
        env.extend_from_slice(&n.to_le_bytes());
    }
    env.extend_from_slice(b"application/json");
    env.extend_from_slice(caps.as_bytes());
    let data: String = env.iter().fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "\\{b:02x}");
        s
    });
    let text = format!(
        r#"(module
  {extra}
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 4096))
  (data (i32.const 1024) "{data}")
  (func (export "morphir_abi_version") (result i32) i32.const 1)
  (func $alloc (export "morphir_alloc") (param i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.and (i32.add (i32.add (global.get $bump) (local.get 0)) (i32.const 7)) (i32.const -8)))
    (if (i32.gt_u (global.get $bump) (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (local.get 0) (i32.const 16)) (i32.const 1))) (i32.const -1))
        (then (return (i32.const 0))))))
    (local.get $p))
  (func (export "morphir_free") (param i32 i32))
  (func (export "morphir_get_capabilities") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {len})))
  (func (export "morphir_transform") (param $ptr i32) (param $len i32) (result i64)
    {transform_body}))"#,
        len = env.len()
    );
    wat::parse_str(text).unwrap()
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (loopback only) for the `http` host function's tests:
/// answers each request with `respond(request line)` (a whole response: status line, headers,
/// body), closes the connection, and stops after `requests` requests or when dropped. The
/// returned counter says how many requests it served.
pub(crate) fn http_server(
    requests: usize,
    respond: impl Fn(&str) -> String + Send + 'static,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = stream.write_all(respond(request_line.trim_end()).as_bytes());
        }
    });
    (port, served)
}

/// An HTTP response with `status` and a text `body`.
pub(crate) fn http_response(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
}
