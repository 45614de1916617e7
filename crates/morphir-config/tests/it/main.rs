//! Integration tests of `morphir-config`: real files in temporary directories. Error messages
//! are insta snapshots with the temporary directory replaced by `[ROOT]`.

mod errors;
mod loading;

use std::path::Path;

use morphir_config::{Config, ConfigErrors, LoadOptions};

/// Extensions every test workspace declares; their wasm files exist.
pub(crate) const BASE: &str = r#"
[project]
name = "demo"

[[extensions]]
name = "ir"
source = { type = "wasm", path = "ext/ir.wasm" }

[[extensions]]
name = "strip"
source = { type = "wasm", path = "ext/strip.wasm" }

[[extensions]]
name = "ts"
source = { type = "wasm", path = "ext/ts.wasm" }

[[extensions]]
name = "schema"
source = { type = "wasm", path = "ext/schema.wasm" }
"#;

/// A workspace in a temporary directory.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
}

impl Workspace {
    /// Writes `files` (path, content) and the wasm files of [`BASE`].
    pub(crate) fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for wasm in ["ir", "strip", "ts", "schema"] {
            write(&dir.path().join(format!("ext/{wasm}.wasm")), "\0asm");
        }
        for (path, content) in files {
            write(&dir.path().join(path), content);
        }
        Self { dir }
    }

    /// A workspace whose root file is [`BASE`] followed by `tail`.
    pub(crate) fn with_root(tail: &str) -> Self {
        Self::new(&[("morphir.toml", &format!("{BASE}{tail}"))])
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn load(&self) -> Result<Config, ConfigErrors> {
        Config::load(&self.root().join("morphir.toml"))
    }

    pub(crate) fn load_unchecked(&self) -> Result<Config, ConfigErrors> {
        Config::load_with(
            &self.root().join("morphir.toml"),
            LoadOptions { check_files: false },
        )
    }

    /// The errors of a load that must fail, as the user sees them.
    pub(crate) fn errors(&self) -> String {
        match self.load() {
            Ok(config) => panic!("expected errors, loaded {} tasks", config.tasks.len()),
            Err(errors) => errors.to_string(),
        }
    }
}

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Snapshots `$text` with the workspace's directory replaced by `[ROOT]`.
#[macro_export]
macro_rules! assert_errors {
    ($ws:expr, $text:expr) => {{
        let root = $ws.root().display().to_string();
        let escaped: String = root
            .chars()
            .flat_map(|c| {
                let meta = ".+*?()|[]{}^$\\#&-~".contains(c);
                meta.then_some('\\').into_iter().chain(std::iter::once(c))
            })
            .collect();
        insta::with_settings!({ filters => vec![(escaped.as_str(), "[ROOT]")] }, {
            insta::assert_snapshot!($text);
        });
    }};
}
