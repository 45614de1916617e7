use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use morphir_host::{Program, ProgramEvent, ProgramOptions};
use morphir_runtime::{CompileCache, Envelope, Limits, Module, Runtime, RuntimeConfig};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Builds the guests once per test process (incremental).
fn dist() -> &'static Path {
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

pub(crate) fn load(name: &str, limits: Limits) -> Module {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let runtime = Runtime::new(&RuntimeConfig {
        compile_cache: CompileCache::Directory(dir.path().to_owned()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    let bytes = std::fs::read(dist().join(format!("{name}.wasm"))).unwrap();
    runtime.load(name, bytes, limits).unwrap()
}

pub(crate) fn options(root: &Path) -> ProgramOptions {
    ProgramOptions {
        session: "test".to_owned(),
        workspace_root: root.to_owned(),
        ..ProgramOptions::default()
    }
}

pub(crate) async fn start(limits: Limits, options: ProgramOptions) -> Program {
    let module = load("echo", limits);
    Program::start(
        module,
        Envelope::json(&serde_json::json!({})).unwrap(),
        options,
    )
    .await
    .unwrap()
}

/// A message with `kind` and JSON `content`.
pub(crate) fn msg(kind: &str, content: &Value) -> Envelope {
    Envelope::json(content).unwrap().with_kind(kind)
}

/// The messages the program recorded, as `(kind, content)`.
pub(crate) fn seen(program: &Program) -> Vec<(Option<String>, Value)> {
    program.model()["seen"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m["kind"].as_str().map(str::to_owned), m["content"].clone()))
        .collect()
}

/// Waits (up to 10 s) until `done` holds for the recorded messages.
pub(crate) async fn wait_seen(
    program: &Program,
    what: &str,
    done: impl Fn(&[(Option<String>, Value)]) -> bool,
) -> Vec<(Option<String>, Value)> {
    let start = Instant::now();
    loop {
        let seen = seen(program);
        if done(&seen) {
            return seen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}; seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next event that is not a log line, waiting up to 10 s.
pub(crate) async fn next_event(program: &mut Program) -> ProgramEvent {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), program.next_event())
            .await
            .expect("an event within 10 s")
            .expect("the program is running");
        if !matches!(event, ProgramEvent::Log(_)) {
            return event;
        }
    }
}

/// A one-shot HTTP server on 127.0.0.1 answering every request with `body`.
pub(crate) fn http_server(requests: usize, body: &'static str) -> u16 {
    use std::io::{BufRead as _, BufReader, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    port
}
