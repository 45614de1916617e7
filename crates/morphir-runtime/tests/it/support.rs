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
