//! `morphir completions`, and `morphir extensions` without paths (the configuration's).

use morphir_tests::{morphir, stderr, stdout};

use crate::fixtures::{TWO_TASKS, project, redact};

#[test]
fn bash_completions_name_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let out = morphir(dir.path(), &["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("morphir"), "{script}");
    for command in ["build", "graph", "cache", "extensions", "completions"] {
        assert!(script.contains(command), "{command} missing");
    }
}

#[test]
fn every_shell_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = morphir(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("morphir"), "{shell}");
    }
    let out = morphir(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn extensions_without_paths_lists_the_configuration() {
    let dir = project(TWO_TASKS);
    let out = morphir(dir.path(), &["extensions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(redact(&stdout(&out), dir.path()));

    let out = morphir(dir.path(), &["extensions", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["docs", "echo", "html-backend", "legacy", "title-case"]
    );
    let docs = &rows[0];
    assert_eq!(docs["module_name"], "docs-frontend");
    assert_eq!(docs["enabled"], true);
    assert_eq!(docs["protocol"], "core");
    assert_eq!(docs["operations"], serde_json::json!(["frontend-compile"]));
    assert_eq!(docs["declared_at"], "morphir.toml:6:8");
    let legacy = &rows[3];
    assert_eq!(legacy["enabled"], false);
    assert_eq!(legacy["module_name"], serde_json::Value::Null);
    assert_eq!(legacy["hash"], serde_json::Value::Null);
}

#[test]
fn extensions_checks_a_pinned_hash() {
    let pin = format!("blake3:{}", "0".repeat(64));
    let dir = project(&TWO_TASKS.replace(
        "path = \"{dist}/echo.wasm\" }",
        // The hash before the path: its column must not depend on where the repo lives.
        &format!("hash = \"{pin}\", path = \"{{dist}}/echo.wasm\" }}"),
    ));
    let out = morphir(dir.path(), &["extensions"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(
        redact(&stderr(&out), dir.path()),
        @"error: morphir.toml:15:34: extension `echo`: `[dist]/echo.wasm` does not match its pinned hash: expected blake3:[hash], found blake3:[hash]; rebuild the extension or update `hash`"
    );
}

#[test]
fn extensions_without_paths_or_configuration_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = morphir(dir.path(), &["extensions"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(
        redact(&stderr(&out), dir.path()),
        @"error: no morphir.toml in [project] or any parent directory; create one (see morphir.toml.example) or pass --config, or name modules: morphir extensions FILE.wasm..."
    );
}
