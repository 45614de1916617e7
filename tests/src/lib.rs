//! Support for the end-to-end tests: the real `morphir` binary (built by cargo on first use,
//! in the profile the tests run in), the real guests (built by `scripts/build-extensions`), and
//! throw-away project directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repo root")
}

/// The `morphir` binary, built once per test process with the test binary's own profile and
/// target directory (cargo makes this a no-op when it is up to date).
pub fn morphir_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe");
        // target/<profile>/deps/e2e-<hash>
        let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
        let target_dir = profile_dir.parent().expect("target dir");
        let profile = profile_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(repo_root())
            .args(["build", "--quiet", "-p", "morphir-cli", "--bin", "morphir"])
            .env("CARGO_TARGET_DIR", target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building morphir failed");
        profile_dir.join(format!("morphir{}", std::env::consts::EXE_SUFFIX))
    })
}

/// `extensions/dist`, after building every guest (incremental).
pub fn dist() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        let root = repo_root();
        let status = Command::new(root.join("scripts/build-extensions"))
            .status()
            .expect("run scripts/build-extensions");
        assert!(status.success(), "scripts/build-extensions failed");
        root.join("extensions/dist")
    })
}

/// A guest module's path.
pub fn guest(name: &str) -> PathBuf {
    dist().join(format!("{name}.wasm"))
}

/// Runs `morphir` with `args` in `dir`, with a private compile cache and no inherited log
/// settings, so output is the same on every machine.
pub fn morphir(dir: &Path, args: &[&str]) -> Output {
    let home = compile_cache_home();
    Command::new(morphir_bin())
        .current_dir(dir)
        .args(args)
        .env("XDG_CACHE_HOME", home)
        .env_remove("RUST_LOG")
        .env_remove("MORPHIR_CACHE_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("run morphir")
}

fn compile_cache_home() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
