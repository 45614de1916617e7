//! Throw-away projects for the command tests, and the redaction that makes their output the same
//! on every machine.

use std::path::Path;

use morphir_tests::dist;

/// A project directory with `morphir.toml` = `toml`, where `{dist}` stands for the directory of
/// the example guests (built on first use).
pub(crate) fn project(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), toml);
    dir
}

/// Writes `dir/morphir.toml` (see [`project`]).
pub(crate) fn write_config(dir: &Path, toml: &str) {
    // `dist()` builds the guests first, so the configuration's modules exist.
    let dist_dir = dist().display().to_string().replace('\\', "\\\\");
    std::fs::write(dir.join("morphir.toml"), toml.replace("{dist}", &dist_dir)).unwrap();
}

/// Two tasks: `model` (docs frontend, title-case transform) and `site`, which depends on it and
/// fans out to two backends. The frontend extension is called `docs` here while the module
/// calls itself `docs-frontend`; `legacy` is disabled and its module does not exist.
pub(crate) const TWO_TASKS: &str = r#"
[project]
name = "demo"

[[extensions]]
name = "docs"
source = { type = "wasm", path = "{dist}/docs-frontend.wasm" }

[[extensions]]
name = "title-case"
source = { type = "wasm", path = "{dist}/title-case.wasm" }

[[extensions]]
name = "echo"
source = { type = "wasm", path = "{dist}/echo.wasm" }

[[extensions]]
name = "html-backend"
source = { type = "wasm", path = "{dist}/html-backend.wasm" }

[[extensions]]
name = "legacy"
enabled = false
source = { type = "wasm", path = "extensions/legacy.wasm" }

[tasks.model]
frontend = { extension = "docs", inputs = ["model/*.md"] }
transforms = [{ extension = "title-case" }]

[tasks.site]
frontend = { extension = "docs", inputs = ["pages/*.md"] }
backends = [
  { extension = "echo", output = "out/echo" },
  { extension = "html-backend", output = "out/html" },
]
depends_on = ["model"]
"#;

/// `text` with the project directory written `[project]`, the guests' directory `[dist]` and
/// every module hash `blake3:[hash]` (hashes change whenever a guest does).
pub(crate) fn redact(text: &str, project: &Path) -> String {
    let mut text = text.to_owned();
    let mut paths = vec![(dist().to_owned(), "[dist]")];
    if let Ok(real) = project.canonicalize() {
        paths.push((real, "[project]"));
    }
    paths.push((project.to_owned(), "[project]"));
    for (path, name) in paths {
        text = text.replace(&path.display().to_string(), name);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find("blake3:") {
        out.push_str(&rest[..i]);
        out.push_str("blake3:[hash]");
        let after = &rest[i + "blake3:".len()..];
        let hex = after
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(after.len());
        rest = &after[hex..];
    }
    out.push_str(rest);
    out
}

/// The example component program (world `morphir:ext/extension`, seed 001's TEA world).
pub(crate) fn tally_config() -> String {
    format!(
        r#"
[project]
name = "tally"

[[extensions]]
name = "tally"
protocol = "component"
source = {{ type = "wasm-component", path = "{}" }}
config = {{ ignore = ["the"] }}
permissions = {{ env = ["XDG_CACHE_HOME"], max_execution_time = "5s" }}
"#,
        morphir_tests::guest("tally-component")
            .display()
            .to_string()
            .replace('\\', "\\\\")
    )
}
