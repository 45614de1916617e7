use std::time::Duration;

use morphir_host::{Error, Program, ProgramEvent};
use morphir_runtime::{Envelope, HostContext, Limits, LogLevel};
use serde_json::json;

use crate::support::{http_server, load, msg, next_event, options, seen, start, wait_seen};

fn root() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_send_poll() {
    let dir = root();
    let mut program = start(Limits::default(), options(dir.path())).await;
    assert_eq!(program.name(), "echo");
    assert_eq!(program.model()["seen"], json!([]));
    program.send(msg("hello", &json!({"a": 1}))).await.unwrap();
    assert_eq!(seen(&program), [(Some("hello".into()), json!({"a": 1}))]);
    // A message from outside has no kind.
    program
        .send(Envelope::json(&json!(2)).unwrap())
        .await
        .unwrap();
    assert_eq!(seen(&program)[1], (None, json!(2)));
    assert_eq!(program.poll(), Vec::new());
    program
        .send(msg(
            "cmds",
            &json!([
                {"cmd": "log", "level": "warn", "message": "careful"},
                {"cmd": "emit", "content": {"x": 1}},
                {"cmd": "emit", "content_type": "text/plain", "content": "hi", "kind": "note"},
                {"cmd": "emit", "content_type": "text/plain", "content_base64": "!!"}
            ]),
        ))
        .await
        .unwrap();
    let events = program.poll();
    assert_eq!(events.len(), 4, "{events:?}");
    let ProgramEvent::Log(line) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (line.level, line.message.as_str()),
        (LogLevel::Warn, "careful")
    );
    let ProgramEvent::Output(out) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(out.as_json::<serde_json::Value>().unwrap(), json!({"x": 1}));
    let ProgramEvent::Output(out) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (
            out.content_type.as_str(),
            out.text(),
            out.header.kind.as_deref()
        ),
        ("text/plain", Some("hi"), Some("note"))
    );
    let ProgramEvent::Error(why) = &events[3] else {
        panic!("{events:?}")
    };
    assert!(
        why.contains("invalid emit") && why.contains("base64"),
        "{why}"
    );
    let model = program.stop().await.unwrap();
    assert_eq!(model["seen"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_subscription_fires_until_dropped() {
    let dir = root();
    let program = start(Limits::default(), options(dir.path())).await;
    program
        .send(msg(
            "subs",
            &json!([{"sub": "every", "ms": 20, "tag": "tick"}]),
        ))
        .await
        .unwrap();
    let ticks = wait_seen(&program, "three ticks", |seen| {
        seen.iter()
            .filter(|(k, _)| k.as_deref() == Some("tick"))
            .count()
            >= 3
    })
    .await;
    assert!(ticks[0].1["time_ms"].as_u64().unwrap() > 0, "{ticks:?}");
    // An update that keeps the subscription does not restart it; one that drops it ends it.
    program.send(msg("subs", &json!([]))).await.unwrap();
    let after = seen(&program).len();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let later = seen(&program).len();
    // At most one tick that was already in the mailbox.
    assert!(later <= after + 1, "{after} -> {later}");
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_watch_sees_a_change_under_the_workspace() {
    let dir = root();
    std::fs::create_dir_all(dir.path().join("src/model")).unwrap();
    let program = start(Limits::default(), options(dir.path())).await;
    program
        .send(msg(
            "subs",
            &json!([{"sub": "watch", "path": "src", "tag": "changed"}]),
        ))
        .await
        .unwrap();
    // Give the watcher a moment to be registered by the OS.
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::fs::write(dir.path().join("src/model/orders.json"), "{}").unwrap();
    let seen = wait_seen(&program, "a change", |seen| {
        seen.iter().any(|(k, c)| {
            k.as_deref() == Some("changed")
                && c["paths"]
                    .as_array()
                    .is_some_and(|p| p.contains(&json!("src/model/orders.json")))
        })
    })
    .await;
    assert!(seen.iter().all(|(k, _)| k.as_deref() == Some("changed")));
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_outside_the_workspace_is_refused() {
    let dir = root();
    let mut program = start(Limits::default(), options(dir.path())).await;
    for path in ["../", "/etc", "a/../../b"] {
        program
            .send(msg(
                "subs",
                &json!([{"sub": "watch", "path": path, "tag": "x"}]),
            ))
            .await
            .unwrap();
        let ProgramEvent::Error(why) = next_event(&mut program).await else {
            panic!("{path}")
        };
        assert!(why.contains("cannot watch"), "{why}");
    }
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_command_is_answered_by_a_message() {
    let dir = root();
    let port = http_server(1, r#"{"modules": 3}"#);
    let mut opts = options(dir.path());
    opts.context = HostContext::default().with_allowed_hosts(["127.0.0.1".to_owned()]);
    let program = start(Limits::default(), opts).await;
    let url = format!("http://127.0.0.1:{port}/stats");
    program
        .send(msg(
            "cmds",
            &json!([{"cmd": "http", "tag": "got", "request": {"url": url}}]),
        ))
        .await
        .unwrap();
    let seen = wait_seen(&program, "the response", |seen| {
        seen.iter().any(|(k, _)| k.as_deref() == Some("got"))
    })
    .await;
    let (_, response) = &seen[0];
    assert_eq!(response["status"], 200);
    assert_eq!(response["body"], r#"{"modules": 3}"#);
    assert_eq!(program.pending(), 0);
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_command_to_a_host_not_allowed_is_answered_with_an_error() {
    let dir = root();
    let port = http_server(1, "{}");
    let program = start(Limits::default(), options(dir.path())).await;
    program
        .send(msg(
            "cmds",
            &json!([{"cmd": "http", "tag": "got", "request": {"url": format!("http://127.0.0.1:{port}/")}}]),
        ))
        .await
        .unwrap();
    let seen = wait_seen(&program, "the refusal", |seen| !seen.is_empty()).await;
    assert_eq!(seen[0].1["error"]["code"], "permission-denied", "{seen:?}");
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_message_arrives_and_stop_ends_the_program() {
    let dir = root();
    let mut program = start(Limits::default(), options(dir.path())).await;
    program
        .send(msg(
            "cmds",
            &json!([{"cmd": "delay", "ms": 50, "tag": "later", "content": 5}]),
        ))
        .await
        .unwrap();
    assert_eq!(program.pending(), 1);
    let seen = wait_seen(&program, "the delayed message", |seen| !seen.is_empty()).await;
    assert_eq!(seen, [(Some("later".into()), json!(5))]);
    program
        .send(msg(
            "cmds",
            &json!([{"cmd": "stop"}, {"cmd": "emit", "content": 1}]),
        ))
        .await
        .unwrap();
    assert_eq!(next_event(&mut program).await, ProgramEvent::Stopped);
    let err = program.send(msg("hello", &json!(1))).await.unwrap_err();
    assert!(matches!(err, Error::Stopped { .. }), "{err}");
    assert_eq!(err.to_string(), "extension `echo`: the program has stopped");
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_deliver_only_to_subscribers() {
    let dir = root();
    let program = start(Limits::default(), options(dir.path())).await;
    assert!(
        !program
            .publish("events", msg("e", &json!(1)))
            .await
            .unwrap()
    );
    program
        .send(msg(
            "subs",
            &json!([{"sub": "port", "name": "events", "tag": "ev"}]),
        ))
        .await
        .unwrap();
    assert!(
        program
            .publish("events", msg("e", &json!(2)))
            .await
            .unwrap()
    );
    assert!(!program.publish("other", msg("e", &json!(3))).await.unwrap());
    assert_eq!(seen(&program), [(Some("ev".into()), json!(2))]);
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_is_the_programs_own_view() {
    let dir = root();
    let mut opts = options(dir.path());
    opts.context
        .env
        .insert("MODEL".into(), Some("orders".into()));
    let mut program = start(Limits::default(), opts).await;
    program.send(msg("getenv", &json!("MODEL"))).await.unwrap();
    let ProgramEvent::Output(out) = next_event(&mut program).await else {
        panic!()
    };
    assert_eq!(out.as_json::<serde_json::Value>().unwrap(), json!("orders"));
    program.send(msg("getenv", &json!("HOME"))).await.unwrap();
    let ProgramEvent::Error(why) = next_event(&mut program).await else {
        panic!()
    };
    assert!(
        why.contains("`HOME` is not in the extension's permissions.env"),
        "{why}"
    );
    program.stop().await.unwrap();
}

/// Each breach names the extension, the limit and its value; the model is kept, the next
/// message is served by a fresh instance (its call counter starts over), the process lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_for_every_call_and_a_fresh_instance_follows() {
    let dir = root();
    let limits = Limits::default()
        .with_max_execution_time(Duration::from_millis(300))
        .with_max_memory(32 << 20);
    let mut program = start(limits, options(dir.path())).await;
    program.send(msg("hello", &json!(1))).await.unwrap();
    for (kind, expected) in [
        ("spin", "exceeded max_execution_time (300ms)"),
        ("grow", "exceeded max_memory (33554432 bytes)"),
        ("recurse", "the extension crashed (Wasm trap)"),
        ("panic", "echo was asked to panic"),
    ] {
        program.send(msg("count", &json!(null))).await.unwrap();
        let ProgramEvent::Output(before) = next_event(&mut program).await else {
            panic!()
        };
        assert_ne!(before.text(), None);
        program.send(msg(kind, &json!(null))).await.unwrap();
        let ProgramEvent::Error(why) = next_event(&mut program).await else {
            panic!("{kind}")
        };
        assert!(
            why.starts_with("extension `echo`, operation `update`: ") && why.contains(expected),
            "{kind}: {why}"
        );
        assert!(why.contains("the model kept"), "{why}");
        // The model is the one before the failed message.
        assert_eq!(seen(&program), [(Some("hello".into()), json!(1))]);
        // A fresh instance: echo's per-instance counter starts at 1 again.
        program.send(msg("count", &json!(null))).await.unwrap();
        let ProgramEvent::Output(after) = next_event(&mut program).await else {
            panic!()
        };
        assert_eq!(after.text(), Some("1"), "{kind}");
    }
    program.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_program_timing_out_does_not_interrupt_another() {
    let dir = root();
    let limits = Limits::default().with_max_execution_time(Duration::from_millis(300));
    let module = load("echo", limits);
    let flags = || Envelope::json(&json!({})).unwrap();
    let mut spinner = Program::start(module.clone(), flags(), options(dir.path()))
        .await
        .unwrap();
    let worker = Program::start(module, flags(), options(dir.path()))
        .await
        .unwrap();
    let busy = tokio::spawn(async move {
        for _ in 0..2 {
            spinner.send(msg("spin", &json!(null))).await.unwrap();
            let ProgramEvent::Error(why) = next_event(&mut spinner).await else {
                panic!()
            };
            assert!(why.contains("max_execution_time"), "{why}");
        }
        spinner
    });
    let mut served = 0;
    while !busy.is_finished() {
        worker.send(msg("w", &json!(served))).await.unwrap();
        served += 1;
    }
    let spinner = busy.await.unwrap();
    assert!(served > 10, "the worker served only {served} messages");
    assert_eq!(
        seen(&worker).len(),
        served,
        "no message of the worker was lost"
    );
    spinner.stop().await.unwrap();
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_design_time_extension_is_not_a_program() {
    let module = load("title-case", Limits::default());
    let err = Program::start(
        module,
        Envelope::empty(),
        options(std::path::Path::new(".")),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "extension `title-case` is not a runtime extension: it does not export `init` and \
         `update` (it implements: get-capabilities, transform); run it in a build instead"
    );
}
