//! Permissions in builds: the values of allowed environment variables are part of a step's key
//! (and are what the extension sees), refusals are logged with the extension's name, and a step
//! whose extension may use HTTP is not cached unless its task opts in.

use std::io::{BufRead as _, BufReader, Write as _};

use morphir_tests::{Project, stderr, steps_with};

fn config(permissions: &str, echo_config: &str, task_extra: &str) -> String {
    format!(
        r#"
[project]
name = "perm"

[[extensions]]
name = "echo"
source = {{ type = "wasm", path = "{{echo}}" }}
permissions = {{ {permissions} }}

[tasks.t]
frontend = {{ extension = "echo", inputs = ["in.txt"], config = {echo_config} }}
{task_extra}
"#
    )
}

/// `morphir ARGS` in the project with extra environment variables.
fn morphir_env(p: &Project, args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(morphir_tests::morphir_bin());
    cmd.current_dir(p.path())
        .args(args)
        .env("XDG_CACHE_HOME", home.path())
        .env_remove("RUST_LOG")
        .env_remove("MORPHIR_CACHE_DIR")
        .env("NO_COLOR", "1");
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd.output().unwrap()
}

#[test]
fn allowed_env_values_are_in_the_key_and_seen_by_the_extension() {
    let p = Project::new(&config(
        r#"env = ["MORPHIR_E2E_MODEL"]"#,
        r#"{ mode = "getenv", arg = "MORPHIR_E2E_MODEL" }"#,
        r#"backends = [{ extension = "echo", output = "out", config = { mode = "files" } }]"#,
    ));
    p.write("in.txt", "x");
    let build = |value: &str| {
        let out = morphir_env(
            &p,
            &["build", "--json", "--explain"],
            &[("MORPHIR_E2E_MODEL", value)],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (summary, p.read("out/echo.out"))
    };
    let (summary, seen) = build("orders");
    assert_eq!(seen, "orders");
    assert_eq!(steps_with(&summary, "executed").len(), 2);
    let (summary, _) = build("orders");
    assert_eq!(steps_with(&summary, "cached").len(), 2);
    let (summary, seen) = build("invoices");
    assert_eq!(
        seen, "invoices",
        "the extension sees the value its key covers"
    );
    // The backend runs again too: its input (the frontend's output) changed.
    assert_eq!(
        steps_with(&summary, "executed"),
        ["t:frontend", "t:backend:echo"]
    );
    let changes = summary["steps"][0]["changes"].to_string();
    assert!(
        changes.contains("env var MORPHIR_E2E_MODEL changed"),
        "{changes}"
    );
}

#[test]
fn a_refused_variable_fails_the_step_and_is_logged_with_the_extension() {
    let p = Project::new(&config("", r#"{ mode = "getenv", arg = "HOME" }"#, ""));
    p.write("in.txt", "x");
    let out = p.morphir(&["build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("extension `echo`: host function `get_env_var` refused: environment variable `HOME` is not in the extension's permissions.env (none)"),
        "{err}"
    );
    assert!(
        err.contains("error: step `t:frontend` failed: extension `echo`, operation `frontend-compile`: environment variable `HOME`"),
        "{err}"
    );
}

/// Serves `body` on 127.0.0.1 to `n` requests.
fn serve(n: usize, body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn a_step_that_may_use_http_is_not_cached_unless_its_task_says_so() {
    let port = serve(3, "remote model");
    let url = format!("http://127.0.0.1:{port}/model");
    let echo_config = format!(r#"{{ mode = "http", arg = "{url}" }}"#);
    let p = Project::new(&config(
        r#"allowed_hosts = ["127.0.0.1"]"#,
        &echo_config,
        "",
    ));
    p.write("in.txt", "x");
    for _ in 0..2 {
        let (out, summary) = p.build_json(&["--explain"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(steps_with(&summary, "executed"), ["t:frontend"]);
        let changes = summary["steps"][0]["changes"].to_string();
        assert!(
            changes.contains(
                "extension `echo` may use HTTP (allowed_hosts: 127.0.0.1); set cache_http = true"
            ),
            "{changes}"
        );
    }
    p.set_config(&config(
        r#"allowed_hosts = ["127.0.0.1"]"#,
        &echo_config,
        "cache_http = true",
    ));
    let (out, summary) = p.build_json(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(steps_with(&summary, "executed"), ["t:frontend"]);
    let (_, summary) = p.build_json(&[]);
    assert_eq!(steps_with(&summary, "cached"), ["t:frontend"]);
}
