use morphir_tests::{dist, guest, morphir, repo_root, stderr, stdout};

fn redact(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let line = match line.find("blake3:") {
            Some(i) => format!("{}blake3:[hash]", &line[..i]),
            None => line.to_owned(),
        };
        out.push_str(&line.replace(&dist().display().to_string(), "[dist]"));
        out.push('\n');
    }
    out
}

#[test]
fn lists_every_example_extension() {
    // Core modules and components alike: a path's protocol is read from its bytes.
    let paths: Vec<String> = [
        "docs-frontend",
        "echo",
        "html-backend",
        "title-case",
        "index-backend-component",
        "title-case-component",
    ]
    .iter()
    .map(|n| guest(n).display().to_string())
    .collect();
    let mut args = vec!["extensions"];
    args.extend(paths.iter().map(String::as_str));
    let out = morphir(&repo_root(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(redact(&stdout(&out)));
}

#[test]
fn json_output_names_protocol_operations_and_hash() {
    let path = guest("echo").display().to_string();
    let out = morphir(&repo_root(), &["extensions", "--json", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let echo = &rows[0];
    assert_eq!(echo["name"], "echo");
    assert_eq!(echo["protocol"], "core");
    assert_eq!(
        echo["operations"],
        serde_json::json!([
            "frontend-compile",
            "transform",
            "backend-generate",
            "init",
            "update",
            "subscriptions"
        ])
    );
    // The SDK names one capability per role when the author names none.
    let named: Vec<&str> = echo["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        named,
        [
            "frontend-compile",
            "transform",
            "backend-generate",
            "program"
        ]
    );
    assert_eq!(
        echo["capabilities"][1]["description"],
        "Transforms Morphir IR into Morphir IR."
    );
    let hash = echo["hash"].as_str().unwrap();
    assert!(
        hash.starts_with("blake3:") && hash.len() == 7 + 64,
        "{hash}"
    );
}

#[test]
fn a_file_that_is_not_wasm_is_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("evil.wasm");
    std::fs::write(
        &fake,
        r#"{"wasm":[{"path":"/etc/passwd"}],"allowed_paths":{"/":"/"}}"#,
    )
    .unwrap();
    let out = morphir(dir.path(), &["extensions", "evil.wasm"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out), @r"error: extension `evil`: not a WebAssembly module: it looks like JSON. Point the extension's source.path at a compiled .wasm file");
}
