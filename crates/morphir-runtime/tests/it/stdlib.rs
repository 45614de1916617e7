//! The standard library through a real guest (`echo`): each host function's allowed and refused
//! paths. A refused call is the guest's error with the code `permission-denied`, and the host
//! logs it under the extension's name.

use std::collections::BTreeMap;

use morphir_envelope::stdlib::code;
use morphir_runtime::{
    CallError, Envelope, HostContext, Instance, Limits, Operation, WorkspaceAccess,
};

use crate::support::{http_response, http_server, load};

fn echo() -> Instance {
    load("echo", Limits::default()).instantiate().unwrap()
}

fn call(instance: &mut Instance, kind: &str, content: &str) -> morphir_runtime::Result<Envelope> {
    instance
        .call(
            Operation::Transform,
            &Envelope::new("text/plain", content).with_kind(kind),
        )
        .map(|out| out.envelope)
}

/// The guest's error code and message, for a call that the host refused or that failed.
fn refused(result: morphir_runtime::Result<Envelope>) -> (String, String) {
    let err = result.unwrap_err();
    let Some(CallError::Guest(payload)) = err.call_error() else {
        panic!("{err}")
    };
    (
        payload.code.clone().unwrap_or_default(),
        payload.message.clone(),
    )
}

fn env_context(vars: &[(&str, Option<&str>)]) -> HostContext {
    let mut ctx = HostContext::default();
    for (name, value) in vars {
        ctx.env.insert((*name).to_owned(), value.map(str::to_owned));
    }
    ctx
}

#[test]
fn get_env_var_sees_allowed_names_only() {
    let mut instance = echo();
    instance.set_context(env_context(&[("MODEL", Some("orders")), ("UNSET", None)]));
    assert_eq!(
        call(&mut instance, "getenv", "MODEL").unwrap().text(),
        Some("orders")
    );
    assert_eq!(
        call(&mut instance, "getenv", "UNSET").unwrap().content_type,
        "application/x-empty"
    );
    let out = instance
        .call(
            Operation::Transform,
            &Envelope::new("text/plain", "HOME").with_kind("getenv"),
        )
        .unwrap_err();
    let Some(CallError::Guest(payload)) = out.call_error() else {
        panic!("{out}")
    };
    assert_eq!(payload.code.as_deref(), Some(code::PERMISSION_DENIED));
    assert!(
        payload.message.contains(
            "environment variable `HOME` is not in the extension's permissions.env (MODEL, UNSET)"
        ),
        "{}",
        payload.message
    );
    // A refusal is not fatal: the instance goes on.
    assert_eq!(instance.discarded(), 0);
}

#[test]
fn set_env_var_changes_only_the_extensions_view() {
    let mut instance = echo();
    instance.set_context(env_context(&[("MORPHIR_TEST_VIEW", Some("a"))]));
    assert_eq!(
        call(&mut instance, "setenv", "MORPHIR_TEST_VIEW=b")
            .unwrap()
            .text(),
        Some("b")
    );
    assert_eq!(
        std::env::var_os("MORPHIR_TEST_VIEW"),
        None,
        "the process is untouched"
    );
    assert_eq!(
        instance.context().env["MORPHIR_TEST_VIEW"].as_deref(),
        Some("b")
    );
    assert_eq!(
        call(&mut instance, "setenv", "MORPHIR_TEST_VIEW")
            .unwrap()
            .content_type,
        "application/x-empty"
    );
    let (code, message) = refused(call(&mut instance, "setenv", "PATH=/tmp"));
    assert_eq!(code, code::PERMISSION_DENIED);
    assert!(message.contains("`PATH`"), "{message}");
    // A design-time call gets its context afresh: the set does not leak into the next call.
    let ctx = env_context(&[("MORPHIR_TEST_VIEW", Some("a"))]);
    let out = instance
        .call_with(
            Operation::Transform,
            &Envelope::new("text/plain", "MORPHIR_TEST_VIEW").with_kind("getenv"),
            &ctx,
        )
        .unwrap();
    assert_eq!(out.envelope.text(), Some("a"));
}

#[test]
fn random_is_reproducible_per_seed() {
    let draw = |seed: u8| {
        let mut instance = echo();
        let ctx = HostContext::default().with_seed([seed; 32]);
        let input = Envelope::new("text/plain", "32").with_kind("random");
        let first = instance
            .call_with(Operation::Transform, &input, &ctx)
            .unwrap()
            .envelope
            .content;
        // Same context again: the stream restarts, the step is reproducible.
        let again = instance
            .call_with(Operation::Transform, &input, &ctx)
            .unwrap()
            .envelope
            .content;
        assert_eq!(first, again);
        let next = instance
            .call(Operation::Transform, &input)
            .unwrap()
            .envelope
            .content;
        assert_ne!(first, next, "within a context the stream moves on");
        first
    };
    let a = draw(7);
    assert_eq!(a.len(), 32);
    assert_eq!(draw(7), a);
    assert_ne!(draw(8), a);
    let (code, _) = refused(call(&mut echo(), "random", "1000000"));
    assert_eq!(code, code::INVALID_REQUEST);
}

#[test]
fn http_reaches_allowed_hosts_only() {
    let (port, served) = http_server(1, |line| {
        assert!(line.starts_with("GET /model HTTP/1.1"), "{line}");
        http_response("200 OK", "", "model text")
    });
    let mut instance = echo();
    let url = format!("http://127.0.0.1:{port}/model");
    // Nothing allowed: refused before any connection.
    let (code, message) = refused(call(&mut instance, "http", &url));
    assert_eq!(code, code::PERMISSION_DENIED);
    assert!(message.contains("host `127.0.0.1`"), "{message}");
    assert!(message.contains("allowed_hosts (none)"), "{message}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 0);
    // localhost is not 127.0.0.1: names are compared as written.
    instance.set_context(HostContext::default().with_allowed_hosts(["localhost".to_owned()]));
    let (code, _) = refused(call(&mut instance, "http", &url));
    assert_eq!(code, code::PERMISSION_DENIED);
    instance.set_context(HostContext::default().with_allowed_hosts(["127.0.0.1".to_owned()]));
    let out = call(&mut instance, "http", &url).unwrap();
    let response: serde_json::Value = out.as_json().unwrap();
    assert_eq!(response["status"], 200);
    assert_eq!(response["body"], "model text");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn http_refuses_a_redirect_to_a_host_not_allowed() {
    let (port, _) = http_server(3, |line| {
        if line.starts_with("GET /away") {
            http_response(
                "302 Found",
                "location: http://169.254.169.254/latest\r\n",
                "",
            )
        } else if line.starts_with("GET /here") {
            http_response("301 Moved Permanently", "location: /final\r\n", "")
        } else {
            http_response("200 OK", "", "arrived")
        }
    });
    let mut instance = echo();
    instance.set_context(HostContext::default().with_allowed_hosts(["127.0.0.1".to_owned()]));
    let (code, message) = refused(call(
        &mut instance,
        "http",
        &format!("http://127.0.0.1:{port}/away"),
    ));
    assert_eq!(code, code::PERMISSION_DENIED);
    assert!(
        message.contains("redirected to host `169.254.169.254`"),
        "{message}"
    );
    // A redirect within the allowed host is followed.
    let out = call(
        &mut instance,
        "http",
        &format!("http://127.0.0.1:{port}/here"),
    )
    .unwrap();
    let response: serde_json::Value = out.as_json().unwrap();
    assert_eq!(response["body"], "arrived");
}

#[test]
fn http_caps_the_response_size() {
    let big = "x".repeat(4096);
    let (port, _) = http_server(1, move |_| http_response("200 OK", "", &big));
    let mut instance = echo();
    let mut ctx = HostContext::default().with_allowed_hosts(["127.0.0.1".to_owned()]);
    ctx.http.max_response_bytes = 1000;
    instance.set_context(ctx);
    let (code, message) = refused(call(
        &mut instance,
        "http",
        &format!("http://127.0.0.1:{port}/"),
    ));
    assert_eq!(code, code::TOO_LARGE, "{message}");
    assert!(message.contains("1000-byte limit"), "{message}");
}

#[test]
fn http_failures_are_errors_not_crashes() {
    // A port nobody listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut instance = echo();
    instance.set_context(HostContext::default().with_allowed_hosts(["127.0.0.1".to_owned()]));
    let (code, _) = refused(call(
        &mut instance,
        "http",
        &format!("http://127.0.0.1:{port}/"),
    ));
    assert_eq!(code, code::FAILED);
    let (code, _) = refused(call(&mut instance, "http", "ftp://127.0.0.1/"));
    assert_eq!(code, code::INVALID_REQUEST);
}

fn workspace(dir: &std::path::Path, files: &[&str]) -> WorkspaceAccess {
    let mut map = BTreeMap::new();
    for f in files {
        let hash = std::fs::read(dir.join(f))
            .ok()
            .map(|b| *blake3::hash(&b).as_bytes());
        map.insert((*f).to_owned(), hash);
    }
    WorkspaceAccess {
        root: dir.to_owned(),
        files: map,
    }
}

#[test]
fn workspace_reads_declared_inputs_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/a.json"), "{}").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "no").unwrap();
    let mut instance = echo();
    // Outside a design-time step (no workspace granted): unavailable.
    let (code, _) = refused(call(&mut instance, "read", "src/a.json"));
    assert_eq!(code, code::UNAVAILABLE);
    let ctx = HostContext::default().with_workspace(workspace(dir.path(), &["src/a.json"]));
    instance.set_context(ctx);
    assert_eq!(
        call(&mut instance, "read", "src/a.json").unwrap().content,
        b"{}"
    );
    let list: Vec<String> = call(&mut instance, "read", "").unwrap().as_json().unwrap();
    assert_eq!(list, ["src/a.json"]);
    for path in [
        "secret.txt",
        "../etc/passwd",
        "/etc/passwd",
        "src/../secret.txt",
    ] {
        let (code, message) = refused(call(&mut instance, "read", path));
        assert_eq!(code, code::PERMISSION_DENIED, "{path}");
        assert!(
            message.contains("not one of the step's declared input files"),
            "{message}"
        );
    }
    // Bytes the key did not cover are refused.
    std::fs::write(dir.path().join("src/a.json"), "{\"changed\": 1}").unwrap();
    let (code, message) = refused(call(&mut instance, "read", "src/a.json"));
    assert_eq!(code, code::FAILED);
    assert!(message.contains("changed since"), "{message}");
}

#[cfg(unix)]
#[test]
fn workspace_refuses_a_declared_input_that_links_outside() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x"), "secret").unwrap();
    std::os::unix::fs::symlink(outside.path().join("x"), dir.path().join("link")).unwrap();
    let mut instance = echo();
    let mut access = workspace(dir.path(), &[]);
    access.files.insert("link".to_owned(), None);
    instance.set_context(HostContext::default().with_workspace(access));
    let (code, message) = refused(call(&mut instance, "read", "link"));
    assert_eq!(code, code::PERMISSION_DENIED);
    assert!(message.contains("outside the project"), "{message}");
}

#[test]
fn ir_helpers_render_names_and_fully_qualified_names() {
    let mut instance = echo();
    let forms: serde_json::Value = call(&mut instance, "ir", r#"name "valueInUSD""#)
        .unwrap()
        .as_json()
        .unwrap();
    assert_eq!(
        forms,
        serde_json::json!({
            "words": ["value", "in", "u", "s", "d"],
            "camel_case": "valueInUSD",
            "title_case": "ValueInUSD",
            "snake_case": "value_in_USD",
            "canonical": "value-in-u-s-d"
        })
    );
    let parts: serde_json::Value = call(
        &mut instance,
        "ir",
        r#"parse_fqname "morphir/s-d-k:basics#int""#,
    )
    .unwrap()
    .as_json()
    .unwrap();
    assert_eq!(parts["package"], "morphir/s-d-k");
    assert_eq!(
        parts["words"]["package"][1],
        serde_json::json!(["s", "d", "k"])
    );
    let printed: String = call(
        &mut instance,
        "ir",
        r#"print_fqname {"package": "my/pkg", "module": "orders", "local": "total-amount"}"#,
    )
    .unwrap()
    .as_json()
    .unwrap();
    assert_eq!(printed, "my/pkg:orders#total-amount");
    let (code, message) = refused(call(&mut instance, "ir", r#"parse_fqname "Not.Canonical""#));
    assert_eq!(code, code::INVALID_REQUEST);
    assert!(message.contains("package:module#local"), "{message}");
}

#[test]
fn ir_helpers_convert_classic_ir_to_the_canonical_form() {
    let mut instance = echo();
    let classic = serde_json::json!({
        "formatVersion": 3,
        "distribution": ["Library", [["my"], ["pkg"]], [], {"modules": []}]
    });
    let out = call(&mut instance, "ir", &format!("convert {classic}"));
    let canonical: serde_json::Value = out.unwrap().as_json().unwrap();
    assert_eq!(canonical["format"], "morphir-ir-canonical", "{canonical}");
    let (code, message) = refused(call(&mut instance, "ir", r#"convert {"formatVersion": 9}"#));
    assert_eq!(code, code::INVALID_REQUEST);
    assert!(message.contains("formatVersion"), "{message}");
}
