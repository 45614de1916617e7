use std::time::Duration;

use morphir_envelope::{FileBundle, StepRequest, content_type};
use morphir_runtime::{CallError, Envelope, Limits, LogLevel, Operation};

use crate::support::{guest_bytes, load, runtime};

#[test]
fn capabilities_name_the_operations() {
    for (name, ops) in [
        (
            "echo",
            vec![
                "frontend-compile",
                "transform",
                "backend-generate",
                "init",
                "update",
                "subscriptions",
            ],
        ),
        ("docs-frontend", vec!["frontend-compile"]),
        ("title-case", vec!["transform"]),
        ("html-backend", vec!["backend-generate"]),
    ] {
        let module = load(name, Limits::default());
        let caps = module.capabilities();
        assert_eq!(caps.name, name);
        assert_eq!(caps.operations, ops, "{name}");
        assert_ne!(caps.description, "");
        assert_eq!(
            module.hash_string(),
            format!("blake3:{}", blake3::hash(&guest_bytes(name)).to_hex())
        );
    }
}

#[test]
fn a_pipeline_of_example_guests_runs() {
    let files = FileBundle::new()
        .with_file("guide/intro.md", "# getting started\nInstall it.\n")
        .with_file("faq.txt", "frequently asked\nNothing yet.");
    let mut front = load("docs-frontend", Limits::default())
        .instantiate()
        .unwrap();
    let ir = front
        .call(
            Operation::FrontendCompile,
            &StepRequest::new(Envelope::files(&files)).to_envelope(),
        )
        .unwrap();
    assert_eq!(ir.logs.len(), 1);
    assert_eq!(ir.logs[0].message, "read 2 documents");
    let mut transform = load("title-case", Limits::default()).instantiate().unwrap();
    let titled = transform
        .call(
            Operation::Transform,
            &StepRequest::new(ir.envelope)
                .with_config(serde_json::json!({"field": "title"}))
                .to_envelope(),
        )
        .unwrap()
        .envelope;
    let doc: serde_json::Value = titled.as_json().unwrap();
    assert_eq!(doc["documents"][0]["title"], "Frequently Asked");
    assert_eq!(doc["documents"][1]["title"], "Getting Started");
    let mut backend = load("html-backend", Limits::default())
        .instantiate()
        .unwrap();
    let out = backend
        .call(
            Operation::BackendGenerate,
            &StepRequest::new(titled).to_envelope(),
        )
        .unwrap()
        .envelope;
    assert_eq!(out.content_type, content_type::FILES);
    let bundle = out.as_files().unwrap();
    let names: Vec<&str> = bundle.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(names, ["faq.html", "guide-intro.html", "index.html"]);
    let index = String::from_utf8(bundle.get("index.html").unwrap().content.clone()).unwrap();
    assert!(
        index.contains("<a href=\"guide-intro.html\">Getting Started</a>"),
        "{index}"
    );
}

#[test]
fn each_operation_echoes() {
    let module = load("echo", Limits::default());
    let mut instance = module.instantiate().unwrap();
    for op in [
        Operation::FrontendCompile,
        Operation::Transform,
        Operation::BackendGenerate,
    ] {
        let input = Envelope::new("application/octet-stream", vec![1u8, 2, 3]);
        let out = instance.call(op, &input).unwrap();
        assert_eq!(out.envelope.content, [1, 2, 3]);
        assert_eq!(out.envelope.content_type, "application/octet-stream");
    }
}

#[test]
fn a_guest_error_envelope_is_a_typed_error_and_keeps_the_instance() {
    let mut instance = load("echo", Limits::default()).instantiate().unwrap();
    let err = instance
        .call(
            Operation::Transform,
            &Envelope::new("text/plain", "x").with_kind("fail"),
        )
        .unwrap_err();
    let Some(CallError::Guest(payload)) = err.call_error() else {
        panic!("{err}")
    };
    assert_eq!(payload.message, "echo was asked to fail");
    assert_eq!(payload.code.as_deref(), Some("requested"));
    assert_eq!(
        err.to_string(),
        "extension `echo`, operation `transform`: echo was asked to fail [requested]"
    );
    assert_eq!(instance.discarded(), 0);
}

#[test]
fn a_panic_is_reported_with_its_message_and_the_next_call_gets_a_fresh_instance() {
    let mut instance = load("echo", Limits::default()).instantiate().unwrap();
    let count = |i: &mut morphir_runtime::Instance| {
        let out = i
            .call(Operation::Transform, &Envelope::empty().with_kind("count"))
            .unwrap();
        out.envelope.text().unwrap().to_owned()
    };
    assert_eq!(count(&mut instance), "1");
    assert_eq!(count(&mut instance), "2");
    let err = instance
        .call(Operation::Transform, &Envelope::empty().with_kind("panic"))
        .unwrap_err();
    let Some(CallError::Trap(msg)) = err.call_error() else {
        panic!("{err}")
    };
    assert!(msg.contains("echo was asked to panic"), "{msg}");
    assert!(err.call_error().unwrap().is_fatal());
    assert_eq!(instance.discarded(), 1);
    // Guest state (the call counter) starts over: a fresh instance served this call.
    assert_eq!(count(&mut instance), "1");
}

#[test]
fn logs_reach_the_host_with_their_levels() {
    let mut instance = load("echo", Limits::default()).instantiate().unwrap();
    let out = instance
        .call(Operation::Transform, &Envelope::empty().with_kind("log"))
        .unwrap();
    let levels: Vec<LogLevel> = out.logs.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            LogLevel::Trace,
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error
        ]
    );
    assert_eq!(out.logs[2].message, "info line");
    // Logs belong to one call.
    let out = instance
        .call(Operation::Transform, &Envelope::empty())
        .unwrap();
    assert_eq!(out.logs, []);
}

#[test]
fn a_call_keeps_at_most_the_log_cap_and_says_how_many_lines_it_dropped() {
    let mut instance = load("echo", Limits::default()).instantiate().unwrap();
    // 5 lines a round: 2,000 rounds log 10,000 lines.
    let out = instance
        .call(
            Operation::Transform,
            &Envelope::new("text/plain", "2000").with_kind("log"),
        )
        .unwrap();
    assert_eq!(out.logs.len(), morphir_runtime::MAX_LOG_LINES_PER_CALL + 1);
    let note = out.logs.last().unwrap();
    assert_eq!(note.level, LogLevel::Warn);
    let dropped = 10_000 - morphir_runtime::MAX_LOG_LINES_PER_CALL;
    assert!(
        note.message.contains(&format!("{dropped} more lines")),
        "{}",
        note.message
    );
    // The next call is not capped by the last one.
    let out = instance
        .call(Operation::Transform, &Envelope::empty().with_kind("log"))
        .unwrap();
    assert_eq!(out.logs.len(), 5);
}

#[test]
fn a_one_megabyte_envelope_round_trips() {
    let mut instance = load("echo", Limits::default()).instantiate().unwrap();
    let content: Vec<u8> = (0..(1 << 20) + 3)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let input = Envelope::new(content_type::MORPHIR_IR_JSON, content.clone());
    let out = instance.call(Operation::Transform, &input).unwrap();
    assert_eq!(out.envelope.content_type, content_type::MORPHIR_IR_JSON);
    assert!(
        out.envelope.content == content,
        "content changed in the round trip"
    );
}

#[test]
fn many_calls_on_one_instance() {
    let mut instance = load("echo", Limits::default()).instantiate().unwrap();
    for i in 0..5_000u32 {
        let input = Envelope::new("text/plain", i.to_string());
        let out = instance.call(Operation::Transform, &input).unwrap();
        assert_eq!(out.envelope.content, i.to_string().as_bytes());
    }
    assert_eq!(instance.discarded(), 0);
}

#[test]
fn a_rust_guest_that_spins_is_stopped_by_the_time_limit() {
    let limits = Limits::default().with_max_execution_time(Duration::from_millis(200));
    let mut instance = load("echo", limits).instantiate().unwrap();
    let err = instance
        .call(Operation::Transform, &Envelope::empty().with_kind("spin"))
        .unwrap_err();
    assert!(
        matches!(err.call_error(), Some(CallError::Timeout { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("max_execution_time (200ms)"),
        "{err}"
    );
    let out = instance
        .call(Operation::Transform, &Envelope::new("text/plain", "ok"))
        .unwrap();
    assert_eq!(out.envelope.content, b"ok");
}

#[test]
fn a_rust_guest_that_hoards_memory_is_stopped_by_the_memory_limit() {
    let limits = Limits::default().with_max_memory(32 << 20);
    let mut instance = load("echo", limits).instantiate().unwrap();
    let err = instance
        .call(Operation::Transform, &Envelope::empty().with_kind("grow"))
        .unwrap_err();
    assert!(
        matches!(err.call_error(), Some(CallError::OutOfMemory { limit }) if *limit == 32 << 20),
        "{err}"
    );
    let out = instance
        .call(Operation::Transform, &Envelope::new("text/plain", "ok"))
        .unwrap();
    assert_eq!(out.envelope.content, b"ok");
}

#[test]
fn one_instance_timing_out_does_not_stop_another() {
    // Both instances come from one compiled module. Extism stops a call by advancing the
    // engine's epoch; each live instance has an engine (lane) of its own, so only the spinning
    // one stops.
    let limits = Limits::default().with_max_execution_time(Duration::from_millis(300));
    let module = load("echo", limits);
    let mut spinner = module.instantiate().unwrap();
    let mut worker = module.instantiate().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let worker_thread = std::thread::spawn(move || {
        let mut calls = 0u64;
        let mut errors = Vec::new();
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            match worker.call(Operation::Transform, &Envelope::new("text/plain", "w")) {
                Ok(_) => calls += 1,
                Err(e) => errors.push(e.to_string()),
            }
        }
        (calls, errors)
    });
    for _ in 0..3 {
        let err = spinner
            .call(Operation::Transform, &Envelope::empty().with_kind("spin"))
            .unwrap_err();
        assert!(
            matches!(err.call_error(), Some(CallError::Timeout { .. })),
            "{err}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (calls, errors) = worker_thread.join().unwrap();
    assert!(errors.is_empty(), "the worker was interrupted: {errors:?}");
    assert!(calls > 0);
}

#[test]
fn the_compile_cache_is_ours_and_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let rt = morphir_runtime::Runtime::new(&morphir_runtime::RuntimeConfig {
        compile_cache: morphir_runtime::CompileCache::Directory(dir.path().join("wasmtime")),
        ..Default::default()
    })
    .unwrap();
    rt.load("echo", guest_bytes("echo"), Limits::default())
        .unwrap();
    let code = dir.path().join("wasmtime/code");
    let entries = walk(&code);
    assert!(entries > 0, "nothing compiled into {}", code.display());
    // The default is under the user's cache directory, never the project's shared cache.
    if let morphir_runtime::CompileCache::Directory(d) = morphir_runtime::CompileCache::per_user() {
        assert!(d.ends_with("morphir/wasmtime"), "{}", d.display());
    }
    let _ = runtime();
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}
