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
        // A binary built elsewhere: by `scripts/test` (the README's test command and CI's),
        // whose test build has just made it; a copy taken while a shared target directory is
        // busy; or an installed morphir for the long harnesses.
        if let Some(bin) = std::env::var_os("MORPHIR_E2E_BIN") {
            return PathBuf::from(bin);
        }
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
            // `--workspace --tests`: resolve features exactly as the test build does (dev
            // dependencies included), so the binary shares its dependencies with the tests and
            // this is a no-op after `scripts/test`, never a second build of wasmtime.
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--tests",
                "--bin",
                "morphir",
            ])
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

/// Runs `morphir` with `args` in `dir`, with a private compile cache, no inherited log settings
/// and a private runtime directory (so a daemon the developer runs is never used), so output is
/// the same on every machine.
pub fn morphir(dir: &Path, args: &[&str]) -> Output {
    morphir_with_env(dir, args, &[])
}

/// [`morphir`] with some environment variables set.
pub fn morphir_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = compile_cache_home();
    Command::new(morphir_bin())
        .current_dir(dir)
        .args(args)
        .env("XDG_CACHE_HOME", home)
        .env("XDG_RUNTIME_DIR", runtime_home())
        .env_remove("RUST_LOG")
        .env_remove("MORPHIR_CACHE_DIR")
        // A developer's shared cache must not leak into the tests (remote_cache.rs sets these).
        .env_remove("MORPHIR_REMOTE_CACHE")
        .env_remove("MORPHIR_REMOTE_CACHE_UPLOAD")
        .env_remove("MORPHIR_REMOTE_CACHE_INSTANCE")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run morphir")
}

/// A private, empty runtime directory (0700, as `tempdir` makes it): never the compile cache's
/// home, whose `morphir/` the daemon client would find with the wrong mode and warn about.
fn runtime_home() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
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

/// A throw-away project: a directory with a `morphir.toml` and files, and its own cache.
#[derive(Debug)]
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project whose `morphir.toml` is `config`, where `{docs}`, `{title}`, `{html}` and
    /// `{echo}` stand for the example guests' paths.
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let project = Self { dir };
        project.write("morphir.toml", &Self::expand(config));
        project
    }

    fn expand(config: &str) -> String {
        let path = |name: &str| guest(name).display().to_string();
        config
            .replace("{docs}", &path("docs-frontend"))
            .replace("{title}", &path("title-case"))
            .replace("{html}", &path("html-backend"))
            .replace("{echo}", &path("echo"))
    }

    /// The project directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating directories).
    pub fn write(&self, rel: &str, text: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// Replaces the configuration.
    pub fn set_config(&self, config: &str) {
        self.write("morphir.toml", &Self::expand(config));
    }

    /// Reads a file.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).expect("read")
    }

    /// Runs `morphir` in the project.
    pub fn morphir(&self, args: &[&str]) -> Output {
        morphir(self.path(), args)
    }

    /// Runs `morphir build --json ARGS` and returns the summary.
    pub fn build_json(&self, args: &[&str]) -> (Output, serde_json::Value) {
        let mut all = vec!["build", "--json"];
        all.extend_from_slice(args);
        let out = self.morphir(&all);
        let summary = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out, summary)
    }

    /// Every file under `rel`, with its bytes, sorted by path.
    pub fn tree(&self, rel: &str) -> Vec<(String, Vec<u8>)> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(base, &path, out);
                } else {
                    let name = path
                        .strip_prefix(base)
                        .expect("under base")
                        .display()
                        .to_string();
                    out.push((name, std::fs::read(&path).expect("read")));
                }
            }
        }
        let mut out = Vec::new();
        let base = self.dir.path().join(rel);
        walk(&base, &base, &mut out);
        out.sort();
        out
    }
}

/// The ids of the steps of a `--json` summary that have `status`.
pub fn steps_with(summary: &serde_json::Value, status: &str) -> Vec<String> {
    summary["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter(|s| s["status"] == status)
                .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Flips the last byte of every cache entry under `cache/v1` (action records, and blobs for
/// outputs too large to live in their record): every entry becomes corrupt. Returns how many.
/// The last-run index, which keeps copies of small records, is damaged too (and not counted),
/// or a build would serve the copies and never read the damaged files.
pub fn corrupt_cache_entries(project: &Path) -> usize {
    let index = project.join("cache/v1/steps.index");
    if let Ok(mut bytes) = std::fs::read(&index) {
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&index, bytes).unwrap();
    }
    let mut corrupted = 0;
    for kind in ["actions", "blobs"] {
        let Ok(shards) = std::fs::read_dir(project.join("cache/v1").join(kind)) else {
            continue;
        };
        for shard in shards.flatten() {
            for entry in std::fs::read_dir(shard.path()).unwrap().flatten() {
                let mut bytes = std::fs::read(entry.path()).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 0xff;
                std::fs::write(entry.path(), bytes).unwrap();
                corrupted += 1;
            }
        }
    }
    corrupted
}
