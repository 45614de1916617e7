//! Small hostile or broken modules, written in WAT. Each must give a typed error that names what
//! went wrong, leave the process healthy, and (for runtime failures) leave the next call working.

use std::time::Duration;

use morphir_runtime::{CallError, Envelope, Limits, LoadError, Operation};

use crate::support::{runtime, wat_guest};

/// Echo body: returns the input buffer itself as the output (the input is a valid envelope).
const ECHO: &str = "(i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len)))";

fn load_err(bytes: Vec<u8>) -> LoadError {
    match runtime().load("hostile", bytes, Limits::default()) {
        Ok(_) => panic!("loaded"),
        Err(e) => {
            assert!(e.to_string().starts_with("extension `hostile`: "), "{e}");
            match e {
                morphir_runtime::Error::Load { source, .. } => *source,
                other => panic!("{other}"),
            }
        }
    }
}

fn call_err(bytes: Vec<u8>, limits: Limits) -> (morphir_runtime::Error, morphir_runtime::Instance) {
    let module = runtime().load("hostile", bytes, limits).unwrap();
    let mut instance = module.instantiate().unwrap();
    let err = instance
        .call(Operation::Transform, &Envelope::new("text/plain", "hi"))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("extension `hostile`, operation `transform`: "),
        "{err}"
    );
    (err, instance)
}

#[test]
fn a_well_behaved_wat_guest_works() {
    let module = runtime()
        .load("hostile", wat_guest("", ECHO), Limits::default())
        .unwrap();
    let mut instance = module.instantiate().unwrap();
    let out = instance
        .call(Operation::Transform, &Envelope::new("text/plain", "hi"))
        .unwrap();
    assert_eq!(out.envelope.content, b"hi");
    assert!(
        module.host_imports().is_empty(),
        "a pure extension imports nothing"
    );
}

#[test]
fn a_trap_is_contained_and_the_next_call_is_served() {
    // Traps on the first call only (a global flips), so the retry proves a fresh instance
    // would be needed for *guest* state but the module itself is fine.
    let body = format!(
        "(if (i32.eqz (global.get $armed)) (then (global.set $armed (i32.const 1)) unreachable)) {ECHO}"
    );
    let (err, mut instance) = call_err(
        wat_guest("(global $armed (mut i32) (i32.const 0))", &body),
        Limits::default(),
    );
    let Some(CallError::Trap(msg)) = err.call_error() else {
        panic!("{err}")
    };
    assert!(msg.contains("unreachable"), "{msg}");
    assert_eq!(instance.discarded(), 1);
    // A fresh instance has the global reset, so it traps again: guest state did not carry over.
    let again = instance
        .call(Operation::Transform, &Envelope::new("text/plain", "hi"))
        .unwrap_err();
    assert!(matches!(again.call_error(), Some(CallError::Trap(_))));
    assert_eq!(instance.discarded(), 2);
}

#[test]
fn an_infinite_loop_is_stopped_by_the_time_limit() {
    let limits = Limits::default().with_max_execution_time(Duration::from_millis(100));
    let body = format!("(loop $l (br $l)) {ECHO}");
    let (err, _) = call_err(wat_guest("", &body), limits);
    assert!(
        matches!(err.call_error(), Some(CallError::Timeout { limit }) if *limit == Duration::from_millis(100)),
        "{err}"
    );
}

#[test]
fn memory_growth_is_stopped_by_the_memory_limit() {
    let limits = Limits::default().with_max_memory(4 << 20);
    let body =
        format!("(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) {ECHO}");
    let (err, _) = call_err(wat_guest("", &body), limits);
    assert!(
        matches!(err.call_error(), Some(CallError::OutOfMemory { limit }) if *limit == 4 << 20),
        "{err}"
    );
}

#[test]
fn deep_recursion_is_a_trap() {
    let extra =
        "(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))";
    let body = format!("(drop (call $down (i32.const 0))) {ECHO}");
    let (err, _) = call_err(wat_guest(extra, &body), Limits::default());
    let Some(CallError::Trap(msg)) = err.call_error() else {
        panic!("{err}")
    };
    assert!(msg.contains("stack"), "{msg}");
}

#[test]
fn an_output_outside_guest_memory_is_an_abi_error() {
    let body = "(i64.or (i64.shl (i64.const 0xfffff000) (i64.const 32)) (i64.const 100000))";
    let (err, instance) = call_err(wat_guest("", body), Limits::default());
    let Some(CallError::Abi(msg)) = err.call_error() else {
        panic!("{err}")
    };
    assert!(msg.contains("outside its memory"), "{msg}");
    assert_eq!(instance.discarded(), 1);
}

#[test]
fn an_output_that_is_not_an_envelope_is_refused() {
    // Points at the capability JSON's content instead of an envelope.
    let body = "(i64.or (i64.shl (i64.const 1054) (i64.const 32)) (i64.const 10))";
    let (err, _) = call_err(wat_guest("", body), Limits::default());
    assert!(
        matches!(err.call_error(), Some(CallError::InvalidOutput(_))),
        "{err}"
    );
}

#[test]
fn an_output_over_the_cap_is_refused() {
    let limits = Limits::default().with_max_output(10);
    let (err, _) = call_err(wat_guest("", ECHO), limits);
    assert!(
        matches!(
            err.call_error(),
            Some(CallError::OutputTooLarge { max: 10, .. })
        ),
        "{err}"
    );
}

#[test]
fn a_missing_export_is_named() {
    let bytes = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    let err = load_err(bytes);
    assert!(
        matches!(
            err,
            LoadError::MissingExport {
                name: "morphir_abi_version"
            }
        ),
        "{err}"
    );
}

#[test]
fn an_export_with_the_wrong_type_is_named() {
    let bad = wat::parse_str(
        r#"(module (memory (export "memory") 1)
          (func (export "morphir_abi_version") (result i32) i32.const 1)
          (func (export "morphir_alloc") (param i64) (result i32) i32.const 0)
          (func (export "morphir_free") (param i32 i32)))"#,
    )
    .unwrap();
    let err = load_err(bad);
    assert!(
        err.to_string()
            .contains("export `morphir_alloc` does not match the ABI"),
        "{err}"
    );
}

#[test]
fn a_wrong_abi_version_is_refused() {
    // A complete module, but reporting version 2.
    let text = r#"(module (memory (export "memory") 1)
      (func (export "morphir_abi_version") (result i32) i32.const 2)
      (func (export "morphir_alloc") (param i32) (result i32) i32.const 8)
      (func (export "morphir_free") (param i32 i32))
      (func (export "morphir_get_capabilities") (param i32 i32) (result i64) i64.const 0)
      (func (export "morphir_transform") (param i32 i32) (result i64) i64.const 0))"#;
    let err = load_err(wat::parse_str(text).unwrap());
    assert!(
        matches!(
            err,
            LoadError::AbiVersion {
                found: 2,
                expected: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn a_json_file_named_wasm_never_reaches_the_engine() {
    // An Extism manifest that would grant itself the file system, if Extism ever saw it.
    let manifest = br#"{"wasm":[{"path":"/etc/passwd"}],"allowed_paths":{"/":"/"}}"#.to_vec();
    let err = load_err(manifest);
    assert!(
        matches!(
            err,
            LoadError::NotWasm {
                what: "it looks like JSON"
            }
        ),
        "{err}"
    );
    let toml = b"[[wasm]]\npath = \"x.wasm\"\n".to_vec();
    assert!(matches!(load_err(toml), LoadError::NotWasm { .. }));
    let wat_text = b"(module)".to_vec();
    assert!(load_err(wat_text).to_string().contains("WAT"));
}

#[test]
fn garbage_and_truncated_bytes_are_refused() {
    assert!(matches!(
        load_err(vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5]),
        LoadError::NotWasm { .. }
    ));
    assert!(matches!(load_err(Vec::new()), LoadError::NotWasm { .. }));
    let good = wat_guest("", ECHO);
    let truncated = good[..good.len() / 2].to_vec();
    assert!(matches!(load_err(truncated), LoadError::Invalid(_)));
    let mut component = b"\0asm".to_vec();
    component.extend_from_slice(&[0x0d, 0x00, 0x01, 0x00]);
    assert!(matches!(
        load_err(component),
        LoadError::ProtocolMismatch { .. }
    ));
    let mut unknown = b"\0asm".to_vec();
    unknown.extend_from_slice(&[0x0e, 0x00, 0x01, 0x00]);
    assert!(matches!(load_err(unknown), LoadError::NotCoreModule { .. }));
}

#[test]
fn an_oversized_module_is_refused_before_parsing() {
    let rt = morphir_runtime::Runtime::new(&morphir_runtime::RuntimeConfig {
        compile_cache: morphir_runtime::CompileCache::Disabled,
        max_module_size: 1024,
    })
    .unwrap();
    let err = rt
        .load("big", vec![0u8; 4096], Limits::default())
        .unwrap_err();
    assert!(
        matches!(
            err.load_error(),
            Some(LoadError::TooLarge {
                size: 4096,
                max: 1024
            })
        ),
        "{err}"
    );
}

#[test]
fn imports_from_extism_or_wasi_are_refused() {
    for module in [
        "extism:host/env",
        "wasi_snapshot_preview1",
        "morphir:runtime-internal",
    ] {
        let extra = format!(r#"(import "{module}" "input_length" (func (result i64)))"#);
        // Imports must precede other definitions; put the import first.
        let bytes = wat_guest(&extra, ECHO);
        let err = load_err(bytes);
        assert!(
            matches!(&err, LoadError::ForeignImport { module: m, .. } if m == module),
            "{module}: {err}"
        );
    }
}

#[test]
fn unknown_host_functions_are_refused() {
    let extra = r#"(import "morphir:host" "launch_missiles" (func (param i32 i32) (result i64)))"#;
    let err = load_err(wat_guest(extra, ECHO));
    assert!(err.to_string().contains("launch_missiles"), "{err}");
}

#[test]
fn initial_memory_over_the_limit_is_refused() {
    // One 64 KiB page against a 32 KiB limit.
    let err = runtime()
        .load(
            "hostile",
            wat_guest("", ECHO),
            Limits::default().with_max_memory(32 << 10),
        )
        .unwrap_err();
    assert!(
        matches!(err.load_error(), Some(LoadError::InitialMemory { .. })),
        "{err}"
    );
}

#[test]
fn a_start_function_is_refused_before_it_can_run() {
    // It would run at instantiation, before the call's time limit is armed, and loop forever.
    let extra = "(func $forever (loop $l (br $l))) (start $forever)";
    let err = load_err(wat_guest(extra, ECHO));
    assert!(err.to_string().contains("start function"), "{err}");
}
