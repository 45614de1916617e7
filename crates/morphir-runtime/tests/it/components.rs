//! Component Model extensions: both WIT worlds, mixed with core modules, under the same limits,
//! errors and permissions.

use std::time::Duration;

use morphir_envelope::{FileBundle, StepRequest, content_type};
use morphir_runtime::{
    CallError, Envelope, HostContext, Instance, Limits, LoadError, LogLevel, Module, Operation,
    Protocol,
};

use crate::support::{guest_bytes, load, runtime};

fn component(name: &str, limits: Limits) -> Module {
    runtime()
        .load_as(Protocol::Component, name, guest_bytes(name), limits)
        .unwrap()
}

fn load_err(protocol: Protocol, bytes: Vec<u8>) -> morphir_runtime::Error {
    runtime()
        .load_as(protocol, "x", bytes, Limits::default())
        .unwrap_err()
}

fn step(input: Envelope, config: serde_json::Value) -> Envelope {
    StepRequest::new(input).with_config(config).to_envelope()
}

fn docs() -> Envelope {
    Envelope::json(&serde_json::json!({"documents": [
        {"path": "a.md", "title": "getting started", "body": "install it"},
        {"path": "b.md", "title": "faq", "body": "none yet"},
    ]}))
    .unwrap()
}

#[test]
fn both_worlds_load_with_their_capabilities() {
    let seed = component("title-case-component", Limits::default());
    assert_eq!(seed.protocol(), Protocol::Component);
    assert_eq!(seed.world(), Some("morphir:extension/morphir-extension"));
    let caps = seed.capabilities();
    // The seed world names no extension: the configured name stands in.
    assert_eq!(caps.name, "title-case-component");
    assert_eq!(caps.operations, ["transform"]);
    assert_eq!(caps.capabilities[0].name, "transform");
    assert!(caps.capabilities[0].params_schema.is_some());
    assert_eq!(
        seed.operations().collect::<Vec<_>>(),
        [Operation::GetCapabilities, Operation::Transform]
    );
    assert_eq!(seed.host_imports(), [] as [String; 0]);

    let ext = component("index-backend-component", Limits::default());
    assert_eq!(ext.world(), Some("morphir:ext/backend@0.1.0"));
    assert_eq!(ext.capabilities().operations, ["backend-generate"]);
    assert_eq!(ext.host_imports(), ["morphir:ext/runtime@0.1.0"]);
    assert_eq!(
        ext.hash_string(),
        format!(
            "blake3:{}",
            blake3::hash(&guest_bytes("index-backend-component")).to_hex()
        )
    );
    assert!(!ext.implements(Operation::Transform));

    let program = component("tally-component", Limits::default());
    assert_eq!(program.world(), Some("morphir:ext/extension@0.1.0"));
    assert_eq!(
        program.operations().collect::<Vec<_>>(),
        [
            Operation::GetCapabilities,
            Operation::Init,
            Operation::Update,
            Operation::Subscriptions
        ]
    );
}

#[test]
fn a_pipeline_mixing_core_modules_and_components_runs() {
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
        .unwrap()
        .envelope;
    let mut transform = component("title-case-component", Limits::default())
        .instantiate()
        .unwrap();
    let mut header = ir.header.clone();
    header.seqnum = 7;
    header.session_id = "b1".into();
    let request = step(ir, serde_json::json!({"field": "title"})).with_header(header);
    let titled = transform
        .call(Operation::Transform, &request)
        .unwrap()
        .envelope;
    assert_eq!(titled.content_type, content_type::JSON);
    assert_eq!(titled.header.seqnum, 7, "the request's header is echoed");
    let doc: serde_json::Value = titled.as_json().unwrap();
    assert_eq!(doc["documents"][0]["title"], "Frequently Asked");

    let mut index = component("index-backend-component", Limits::default())
        .instantiate()
        .unwrap();
    let out = index
        .call(
            Operation::BackendGenerate,
            &StepRequest::new(titled.clone()).to_envelope(),
        )
        .unwrap();
    assert_eq!(out.logs.len(), 1);
    assert_eq!(out.logs[0].message, "indexed 2 documents");
    let bundle = out.envelope.as_files().unwrap();
    let text = String::from_utf8(bundle.get("index.md").unwrap().content.clone()).unwrap();
    assert_eq!(
        text,
        "# Index\n\n- Frequently Asked (faq.txt)\n- Getting Started (guide/intro.md)\n"
    );

    let mut html = load("html-backend", Limits::default())
        .instantiate()
        .unwrap();
    let out = html
        .call(
            Operation::BackendGenerate,
            &StepRequest::new(titled).to_envelope(),
        )
        .unwrap();
    assert!(out.envelope.as_files().unwrap().get("index.html").is_some());
}

#[test]
fn initialize_receives_the_step_config_and_its_status_is_checked() {
    let mut instance = component("title-case-component", Limits::default())
        .instantiate()
        .unwrap();
    let out = instance
        .call(
            Operation::Transform,
            &step(docs(), serde_json::json!({"field": "body"})),
        )
        .unwrap();
    let doc: serde_json::Value = out.envelope.as_json().unwrap();
    assert_eq!(doc["documents"][0]["body"], "Install It");
    assert_eq!(doc["documents"][0]["title"], "getting started");
    // A new config re-initializes the same instance.
    let out = instance
        .call(Operation::Transform, &step(docs(), serde_json::json!({})))
        .unwrap();
    let doc: serde_json::Value = out.envelope.as_json().unwrap();
    assert_eq!(doc["documents"][0]["title"], "Getting Started");

    let err = instance
        .call(
            Operation::Transform,
            &step(docs(), serde_json::json!({"field": 3})),
        )
        .unwrap_err();
    let Some(CallError::Guest(payload)) = err.call_error() else {
        panic!("{err}")
    };
    assert_eq!(payload.code.as_deref(), Some("initialize"));
    assert!(
        payload.message.contains("`field` must be a string"),
        "{payload:?}"
    );
    // `transform`'s own error case is a guest error too, and keeps the instance.
    let err = instance
        .call(
            Operation::Transform,
            &step(Envelope::json(&[1]).unwrap(), serde_json::json!({})),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "extension `title-case-component`, operation `transform`: no `documents` array"
    );
    assert_eq!(instance.discarded(), 0);
    let err = instance
        .call(Operation::BackendGenerate, &docs())
        .unwrap_err();
    assert!(matches!(err.call_error(), Some(CallError::NotImplemented)));
}

fn call_kind(instance: &mut Instance, kind: &str) -> morphir_runtime::Result<Envelope> {
    instance
        .call(
            Operation::Transform,
            &Envelope::new(content_type::TEXT, "x").with_kind(kind),
        )
        .map(|o| o.envelope)
}

fn count(instance: &mut Instance) -> String {
    call_kind(instance, "count")
        .unwrap()
        .text()
        .unwrap()
        .to_owned()
}

#[test]
fn every_design_time_operation_echoes_and_logs_arrive_with_their_levels() {
    let module = component("echo-component", Limits::default());
    assert_eq!(module.world(), Some("morphir:ext/design-time@0.1.0"));
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
    let err = call_kind(&mut instance, "fail").unwrap_err();
    assert_eq!(
        err.to_string(),
        "extension `echo-component`, operation `transform`: echo-component was asked to fail \
         [requested]"
    );
    assert_eq!(instance.discarded(), 0);
}

#[test]
fn a_trap_is_contained_and_the_next_call_gets_a_fresh_instance() {
    let mut instance = component("echo-component", Limits::default())
        .instantiate()
        .unwrap();
    assert_eq!(count(&mut instance), "1");
    assert_eq!(count(&mut instance), "2");
    let err = call_kind(&mut instance, "panic").unwrap_err();
    let Some(CallError::Trap(msg)) = err.call_error() else {
        panic!("{err}")
    };
    assert!(msg.contains("unreachable"), "{msg}");
    assert_eq!(instance.discarded(), 1);
    assert_eq!(count(&mut instance), "1", "guest state starts over");
}

#[test]
fn an_infinite_loop_is_stopped_by_the_time_limit() {
    let limits = Limits::default().with_max_execution_time(Duration::from_millis(200));
    let mut instance = component("echo-component", limits).instantiate().unwrap();
    assert_eq!(count(&mut instance), "1");
    let err = call_kind(&mut instance, "spin").unwrap_err();
    assert!(
        matches!(err.call_error(), Some(CallError::Timeout { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("max_execution_time (200ms)"),
        "{err}"
    );
    assert_eq!(instance.discarded(), 1);
    assert_eq!(count(&mut instance), "1");
}

#[test]
fn memory_growth_is_stopped_by_the_memory_limit() {
    let limits = Limits::default().with_max_memory(16 << 20);
    let mut instance = component("echo-component", limits).instantiate().unwrap();
    let err = call_kind(&mut instance, "grow").unwrap_err();
    assert!(
        matches!(err.call_error(), Some(CallError::OutOfMemory { .. })),
        "{err}"
    );
    assert_eq!(instance.discarded(), 1);
    assert_eq!(count(&mut instance), "1");
    // An input larger than the limit cannot even be copied in: the same error.
    let big = Envelope::new("application/octet-stream", vec![0u8; 20 << 20]);
    let err = instance.call(Operation::Transform, &big).unwrap_err();
    assert!(
        matches!(err.call_error(), Some(CallError::OutOfMemory { .. })),
        "{err}"
    );
}

#[test]
fn one_instance_timing_out_never_stops_another() {
    let limits = Limits::default().with_max_execution_time(Duration::from_millis(800));
    let module = component("echo-component", limits);
    let mut spinner = module.instantiate().unwrap();
    let mut worker = module.instantiate().unwrap();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let spin = std::thread::spawn(move || {
        let err = call_kind(&mut spinner, "spin").unwrap_err();
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        err
    });
    // Calls keep succeeding on the other instance while the first runs into its limit.
    let mut served = 0u32;
    while !done.load(std::sync::atomic::Ordering::SeqCst) || served == 0 {
        let out = worker
            .call(
                Operation::Transform,
                &Envelope::new(content_type::TEXT, "ok"),
            )
            .unwrap();
        assert_eq!(out.envelope.text(), Some("ok"));
        served += 1;
    }
    let err = spin.join().unwrap();
    assert!(
        matches!(err.call_error(), Some(CallError::Timeout { .. })),
        "{err}"
    );
    assert_eq!(worker.discarded(), 0);
}

#[test]
fn runtime_imports_follow_the_permissions() {
    let mut instance = component("echo-component", Limits::default())
        .instantiate()
        .unwrap();
    let mut context = HostContext::default();
    context
        .env
        .insert("MORPHIR_TEST_VAR".into(), Some("hello".into()));
    context.env.insert("MORPHIR_UNSET".into(), None);
    instance.set_context(context);
    let get = |i: &mut Instance, name: &str| {
        i.call(
            Operation::Transform,
            &Envelope::new(content_type::TEXT, name).with_kind("getenv"),
        )
        .unwrap()
        .envelope
    };
    assert_eq!(get(&mut instance, "MORPHIR_TEST_VAR").text(), Some("hello"));
    assert_eq!(
        get(&mut instance, "MORPHIR_UNSET").content_type,
        content_type::EMPTY
    );
    // Not granted: reads as unset (the WIT has no error case) and the refusal is logged.
    assert_eq!(get(&mut instance, "PATH").content_type, content_type::EMPTY);
    let set = instance
        .call(
            Operation::Transform,
            &Envelope::new(content_type::TEXT, "MORPHIR_UNSET=now").with_kind("setenv"),
        )
        .unwrap()
        .envelope;
    assert_eq!(set.text(), Some("now"));
    assert_eq!(
        instance.context().env["MORPHIR_UNSET"].as_deref(),
        Some("now")
    );
    let set = instance
        .call(
            Operation::Transform,
            &Envelope::new(content_type::TEXT, "HOME=/tmp").with_kind("setenv"),
        )
        .unwrap()
        .envelope;
    assert_eq!(set.content_type, content_type::EMPTY);
    assert!(!instance.context().env.contains_key("HOME"));
}

#[test]
fn a_module_of_the_other_protocol_is_refused_before_it_runs() {
    let err = load_err(Protocol::Component, guest_bytes("echo"));
    assert!(
        matches!(
            err.load_error(),
            Some(LoadError::ProtocolMismatch {
                configured: Protocol::Component,
                found: Protocol::Core
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("set protocol = \"core\""), "{err}");
    let err = load_err(Protocol::Core, guest_bytes("echo-component"));
    assert!(
        matches!(
            err.load_error(),
            Some(LoadError::ProtocolMismatch {
                configured: Protocol::Core,
                found: Protocol::Component
            })
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("set protocol = \"component\""),
        "{err}"
    );
    assert_eq!(
        Protocol::detect(&guest_bytes("title-case-component")),
        Some(Protocol::Component)
    );
    assert_eq!(Protocol::detect(b"{}"), None);
}

fn component_wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap()
}

#[test]
fn a_component_of_no_morphir_world_is_refused() {
    let err = load_err(Protocol::Component, component_wat("(component)"));
    let Some(LoadError::WrongWorld { reason, .. }) = err.load_error() else {
        panic!("{err}")
    };
    assert_eq!(
        reason,
        "it exports nothing and none of the Morphir interfaces"
    );
    assert!(
        err.to_string().contains("morphir:extension/extension"),
        "{err}"
    );

    // The seed's interface name, with functions of the wrong type.
    let wrong_types = component_wat(
        r#"(component
          (core module $m (func (export "f")))
          (core instance $i (instantiate $m))
          (func $f (canon lift (core func $i "f")))
          (instance $e
            (export "initialize" (func $f))
            (export "capabilities" (func $f))
            (export "transform" (func $f)))
          (export "morphir:extension/extension" (instance $e)))"#,
    );
    let err = load_err(Protocol::Component, wrong_types);
    let Some(LoadError::WrongWorld { reason, .. }) = err.load_error() else {
        panic!("{err}")
    };
    assert!(reason.contains("does not have the type"), "{reason}");

    // Design-time interfaces without capability discovery.
    let no_caps = component_wat(
        r#"(component
          (core module $m (func (export "f")))
          (core instance $i (instantiate $m))
          (func $f (canon lift (core func $i "f")))
          (instance $e (export "transform" (func $f)))
          (export "morphir:ext/design-time-transform@0.1.0" (instance $e)))"#,
    );
    let err = load_err(Protocol::Component, no_caps);
    assert!(
        err.to_string()
            .contains("not `morphir:ext/common-backend@0.1.0`"),
        "{err}"
    );
}

#[test]
fn an_import_the_host_does_not_provide_is_refused() {
    for (import, help) in [
        ("acme:net/sockets@1.0.0", "may import only"),
        // WASI, but not the version provided.
        ("wasi:cli/environment@0.3.0", "only WASI 0.2"),
    ] {
        let err = load_err(
            Protocol::Component,
            component_wat(&format!("(component (import \"{import}\" (instance)))")),
        );
        let Some(LoadError::ComponentImport { name, .. }) = err.load_error() else {
            panic!("{err}")
        };
        assert_eq!(name, import);
        assert!(err.to_string().contains(help), "{err}");
    }
}

// ---- WASI: extensions/wasi-component is built for wasm32-wasip2, so its std imports WASI ----

fn wasi_report(instance: &mut Instance) -> (serde_json::Value, Vec<(LogLevel, String)>) {
    let out = instance
        .call(
            Operation::Transform,
            &step(
                Envelope::json(&serde_json::json!({})).unwrap(),
                serde_json::json!({}),
            ),
        )
        .unwrap();
    let logs = out
        .logs
        .iter()
        .map(|l| (l.level, l.message.clone()))
        .collect();
    (out.envelope.as_json().unwrap(), logs)
}

fn granted(seed: u8) -> HostContext {
    let mut context = HostContext::default().with_seed([seed; 32]);
    context
        .env
        .insert("MORPHIR_TEST_VAR".into(), Some("hello".into()));
    context.env.insert("MORPHIR_UNSET".into(), None);
    context
}

#[test]
fn a_component_importing_wasi_gets_a_context_that_denies_what_is_not_granted() {
    let module = component("wasi-component", Limits::default());
    assert_eq!(module.world(), Some("morphir:ext/design-time@0.1.0"));
    assert!(
        module
            .host_imports()
            .iter()
            .any(|i| i.starts_with("wasi:cli/environment@0.2.")),
        "{:?}",
        module.host_imports()
    );
    let mut instance = module.instantiate().unwrap();
    instance.set_context(granted(1));
    let (report, logs) = wasi_report(&mut instance);
    // Only the granted variable that is set; nothing of the process's environment.
    assert_eq!(
        report["env"],
        serde_json::json!([["MORPHIR_TEST_VAR", "hello"]])
    );
    assert_eq!(report["args"], serde_json::json!([]));
    assert_eq!(report["wall_clock_secs"], 0, "the wall clock is the epoch");
    for denied in ["read_dir_root", "read_file", "tcp", "dns"] {
        let seen = report[denied].as_str().unwrap();
        assert!(seen.starts_with("error"), "{denied}: {seen}");
    }
    // stdout and stderr are the step's log lines.
    assert_eq!(
        logs,
        [
            (
                LogLevel::Info,
                "to stdout: hello from wasi-component".to_owned()
            ),
            (LogLevel::Warn, "to stderr: careful".to_owned()),
        ]
    );
}

#[test]
fn wasi_random_follows_the_seed() {
    let module = component("wasi-component", Limits::default());
    let hash = |seed: u8| {
        let mut instance = module.instantiate().unwrap();
        instance.set_context(granted(seed));
        wasi_report(&mut instance).0["hash"].clone()
    };
    assert_eq!(hash(1), hash(1), "the same seed gives the same hash keys");
    assert_ne!(hash(1), hash(2));
}

#[test]
fn a_partial_line_is_logged_at_the_end_of_the_call() {
    let mut instance = component("wasi-component", Limits::default())
        .instantiate()
        .unwrap();
    let out = instance
        .call(
            Operation::Transform,
            &Envelope::new(content_type::TEXT, "one\r\ntwo").with_kind("print"),
        )
        .unwrap();
    let lines: Vec<&str> = out.logs.iter().map(|l| l.message.as_str()).collect();
    // `two` has no newline: it waits until the call ends, after the lines printed later.
    assert_eq!(
        lines,
        [
            "one",
            "twoto stdout: hello from wasi-component",
            "to stderr: careful"
        ]
    );
}

#[test]
fn a_wasi_sleep_past_the_time_limit_is_cut_and_times_out() {
    let limits = Limits::default().with_max_execution_time(Duration::from_millis(300));
    let mut instance = component("wasi-component", limits).instantiate().unwrap();
    let sleep = |instance: &mut Instance, millis: &str| {
        instance.call(
            Operation::Transform,
            &Envelope::new(content_type::TEXT, millis).with_kind("sleep"),
        )
    };
    sleep(&mut instance, "10").unwrap();
    let started = std::time::Instant::now();
    let err = sleep(&mut instance, "600000").unwrap_err();
    assert!(
        matches!(err.call_error(), Some(CallError::Timeout { .. })),
        "{err}"
    );
    // Not ten minutes: the wait ended at the deadline (the bound is loose for busy machines).
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(instance.discarded(), 1);
    sleep(&mut instance, "10").unwrap();
}

#[test]
fn a_wasi_exit_is_a_trap_that_discards_the_instance() {
    let mut instance = component("wasi-component", Limits::default())
        .instantiate()
        .unwrap();
    let err = instance
        .call(Operation::Transform, &Envelope::empty().with_kind("exit"))
        .unwrap_err();
    let Some(CallError::Trap(msg)) = err.call_error() else {
        panic!("{err}")
    };
    // `exit(3)`: WASI 0.2's `exit` carries only success or failure.
    assert_eq!(msg, "the component called WASI exit with status 1");
    assert_eq!(instance.discarded(), 1);
    wasi_report(&mut instance);
}

#[test]
fn a_wasi_component_runs_on_a_thread_inside_an_async_runtime() {
    // Actors call extensions on threads that are inside a tokio runtime, where wasmtime-wasi's
    // blocking host functions would panic if called directly.
    let mut instance = component("wasi-component", Limits::default())
        .instantiate()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (report, logs) = runtime.block_on(async { wasi_report(&mut instance) });
    assert_eq!(report["wall_clock_secs"], 0);
    assert_eq!(logs.len(), 2);
}

#[test]
fn initial_memory_over_the_limit_is_refused_at_load() {
    let err = runtime()
        .load_as(
            Protocol::Component,
            "echo-component",
            guest_bytes("echo-component"),
            Limits::default().with_max_memory(64 << 10),
        )
        .unwrap_err();
    let Some(LoadError::InitialMemory { initial, limit }) = err.load_error() else {
        panic!("{err}")
    };
    assert!(*initial > *limit, "{err}");
    assert_eq!(*limit, 64 << 10);
}
