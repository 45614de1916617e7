//! `morphir run` end to end: the example runtime extension `ir-eval` fed messages on stdin, its
//! outputs and final model on stdout; commands (delay, http, stop), subscriptions (timer, file
//! watch), permissions from `morphir.toml`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use morphir_tests::{Project, guest, morphir_bin};
use serde_json::{Value, json};

fn config(extra_permissions: &str) -> String {
    format!(
        r#"
[project]
name = "eval"

[[extensions]]
name = "ir-eval"
source = {{ type = "wasm", path = "{}" }}
permissions = {{ max_execution_time = "5s" {extra_permissions} }}
config = {{ bindings = {{ rate = ["Literal", {{}}, ["WholeNumberLiteral", 3]] }} }}
"#,
        guest("ir-eval").display().to_string().replace('\\', "\\\\")
    )
}

fn int(n: i64) -> Value {
    json!(["Literal", {}, ["WholeNumberLiteral", n]])
}

fn sdk(local: &[&str]) -> Value {
    json!([
        "Reference",
        {},
        [[["morphir"], ["s", "d", "k"]], [["basics"]], local]
    ])
}

fn times(a: &Value, b: &Value) -> Value {
    json!(["Apply", {}, ["Apply", {}, sdk(&["multiply"]), a], b])
}

fn var(words: &[&str]) -> Value {
    json!(["Variable", {}, words])
}

/// A running `morphir run` with piped stdin and stdout.
struct Run {
    child: Child,
    lines: mpsc::Receiver<String>,
    _home: tempfile::TempDir,
}

impl Run {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut child = Command::new(morphir_bin())
            .current_dir(dir)
            .arg("run")
            .args(args)
            .env("XDG_CACHE_HOME", home.path())
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read on a thread, so a missing line fails the test instead of hanging it.
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            _home: home,
        }
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next stdout line as JSON.
    fn next(&mut self) -> Value {
        let Ok(line) = self.lines.recv_timeout(Duration::from_secs(20)) else {
            let _ = self.child.kill();
            let mut stderr = String::new();
            let _ = std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut stderr);
            panic!("no line on stdout within 20 s; stderr: {stderr}");
        };
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// The next output's content.
    fn output(&mut self) -> Value {
        let line = self.next();
        assert!(line.get("output").is_some(), "{line}");
        line["output"]["content"].clone()
    }

    /// Closes stdin; returns the final model, the exit code and stderr.
    fn finish(mut self) -> (Value, Option<i32>, String) {
        drop(self.child.stdin.take());
        let model = self.next();
        let rest: Vec<String> = self.lines.iter().collect();
        assert!(rest.is_empty(), "after the model: {rest:?}");
        let out = self.child.wait_with_output().unwrap();
        (
            model["model"].clone(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn messages_in_outputs_and_the_final_model_out() {
    let p = Project::new(&config(""));
    let mut run = Run::start(p.path(), &["ir-eval"]);
    // `rate` comes from the flags, which default to the extension's config.
    run.send(&json!({"let": "unitPrice", "value": times(&int(2), &var(&["rate"]))}));
    assert_eq!(run.output(), json!({"let": "unit-price", "value": 6}));
    run.send(&json!({"eval": times(&var(&["unit", "price"]), &int(7))}));
    assert_eq!(run.output(), json!({"value": 42}));
    run.send(&json!({"eval": var(&["missing"])}));
    assert_eq!(run.output(), json!({"error": "unknown variable `missing`"}));
    // A message the program refuses is an error on stderr; the model stays.
    run.send(&json!({"what": 1}));
    run.send(&json!({"stats": true}));
    assert_eq!(run.output(), json!({"bindings": 2, "evaluated": 2}));
    let (model, code, stderr) = run.finish();
    assert_eq!(model["bindings"], json!({"rate": 3, "unit-price": 6}));
    assert_eq!(code, Some(1), "an update failed: {stderr}");
    assert!(
        stderr.contains("error: extension `ir-eval`, operation `update`: unknown message"),
        "{stderr}"
    );
}

#[test]
fn a_path_flags_and_the_end_of_input_waits_for_pending_commands() {
    let dir = tempfile::tempdir().unwrap();
    let module = guest("ir-eval");
    let mut run = Run::start(
        dir.path(),
        &[
            module.to_str().unwrap(),
            "--flags",
            &json!({"bindings": {"x": int(5)}}).to_string(),
        ],
    );
    run.send(&json!({"eval": var(&["x"]), "after": 200}));
    // Input ends at once; the delayed message is still delivered before the program stops.
    let (model, code, stderr) = {
        drop(run.child.stdin.take());
        let output = run.output();
        assert_eq!(output, json!({"value": 5}));
        run.finish()
    };
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(model["evaluated"], 1);
}

#[test]
fn the_stop_command_ends_the_run_before_the_input_does() {
    let p = Project::new(&config(""));
    let out = Command::new(morphir_bin())
        .current_dir(p.path())
        .args(["run", "ir-eval"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            let mut stdin = child.stdin.take().unwrap();
            writeln!(stdin, "{}", json!({"eval": int(1)}))?;
            writeln!(stdin, "{}", json!({"stop": true}))?;
            // Keep stdin open: the program stops on its own.
            let out = child.wait_with_output();
            drop(stdin);
            out
        })
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["output"]["content"], json!({"value": 1}));
    assert_eq!(lines[1]["model"]["evaluated"], 1);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_timer_subscription_ticks_through_morphir_run() {
    let p = Project::new(&config(""));
    let mut run = Run::start(p.path(), &["ir-eval"]);
    run.send(&json!({"every": 30, "times": 3}));
    for k in 1..=3 {
        assert_eq!(run.output(), json!({"tick": k, "evaluated": 0}));
    }
    let (model, code, stderr) = run.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(model["ticks"], 3);
    assert_eq!(model.get("timer"), None, "the subscription ended");
}

#[test]
fn a_file_watch_sees_changes_in_the_workspace() {
    let p = Project::new(&config(""));
    p.write("model/readme.md", "x");
    let mut run = Run::start(p.path(), &["ir-eval"]);
    run.send(&json!({"watch": "model"}));
    run.send(&json!({"stats": true}));
    // The stats answer comes after the watch is in place.
    assert_eq!(run.output()["bindings"], 1);
    std::thread::sleep(Duration::from_millis(100));
    p.write("model/orders.json", "{}");
    let started = Instant::now();
    loop {
        let changed = run.output();
        if changed["changed"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("model/orders.json")))
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{changed}");
    }
    let (_, code, stderr) = run.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Serves `body` on 127.0.0.1 to one request.
fn serve_once(body: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Some(Ok(mut stream)) = listener.incoming().next() {
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
fn an_http_command_reaches_an_allowed_host() {
    let p = Project::new(&config(r#", allowed_hosts = ["127.0.0.1"]"#));
    let port = serve_once(times(&var(&["rate"]), &int(10)).to_string());
    let mut run = Run::start(p.path(), &["ir-eval"]);
    run.send(&json!({"fetch": format!("http://127.0.0.1:{port}/expr.json")}));
    assert_eq!(run.output(), json!({"value": 30}));
    let (_, code, stderr) = run.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn an_http_command_to_a_host_not_allowed_is_refused_and_logged() {
    let p = Project::new(&config(""));
    let mut run = Run::start(p.path(), &["ir-eval"]);
    run.send(&json!({"fetch": "http://127.0.0.1:9/expr.json"}));
    let refused = run.output();
    assert_eq!(refused["error"]["code"], "permission-denied", "{refused}");
    let (_, code, stderr) = run.finish();
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains(
            "extension `ir-eval`: command `http` refused: http: requested host `127.0.0.1`"
        ),
        "{stderr}"
    );
}

#[test]
fn a_design_time_extension_cannot_be_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(morphir_bin())
        .current_dir(dir.path())
        .args(["run", guest("title-case").to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("extension `title-case` is not a runtime extension"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_extension_name_is_a_usage_error() {
    let p = Project::new(&config(""));
    let out = p.morphir(&["run", "ir-evl"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("did you mean `ir-eval`?"), "{stderr}");
}

#[test]
fn a_component_program_runs_with_commands_subscriptions_and_runtime_imports() {
    let p = Project::new(&crate::fixtures::tally_config());
    let mut run = Run::start(p.path(), &["tally"]);
    // `the` is ignored: the flags default to the extension's config.
    run.send(&json!({"add": "The cat and the hat"}));
    assert_eq!(
        run.output(),
        json!({"counts": {"and": 1, "cat": 1, "hat": 1}})
    );
    // A delay command, then a timer subscription that ends after two ticks.
    run.send(&json!({"add": "cat", "after": 50}));
    assert_eq!(
        run.output(),
        json!({"counts": {"and": 1, "cat": 2, "hat": 1}})
    );
    run.send(&json!({"every": 30, "times": 2}));
    assert_eq!(run.output(), json!({"tick": 1}));
    assert_eq!(run.output(), json!({"tick": 2}));
    // The runtime import `get-env-var`, under permissions.env.
    run.send(&json!({"env": "XDG_CACHE_HOME"}));
    let granted = run.output();
    assert!(
        granted["value"]
            .as_str()
            .is_some_and(|v| v.starts_with('/')),
        "{granted}"
    );
    run.send(&json!({"env": "PATH"}));
    assert_eq!(run.output(), json!({"env": "PATH", "value": null}));
    let (model, code, stderr) = run.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(model["counts"], json!({"and": 1, "cat": 2, "hat": 1}));
    assert_eq!(model["ticks"], 2);
    assert_eq!(model.get("timer"), None, "the subscription ended");
    assert!(stderr.contains("PATH"), "the refusal is logged: {stderr}");
}
