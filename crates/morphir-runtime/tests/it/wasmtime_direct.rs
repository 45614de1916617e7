//! The ABI is engine-independent: a few dozen lines of plain wasmtime implement it directly, and
//! the same guest binaries give the same outputs as through the runtime (Extism).

use morphir_envelope::abi::{self, Operation};
use morphir_envelope::{Envelope, FileBundle, StepRequest};
use morphir_runtime::Limits;
use wasmtime::{Caller, Engine, Extern, Linker, Module, Store};

use crate::support::{guest_bytes, load};

/// Our whole ABI on plain wasmtime: instantiate, write the input, call, read the output.
struct Direct {
    store: Store<Vec<String>>,
    instance: wasmtime::Instance,
}

impl Direct {
    fn new(bytes: &[u8]) -> Self {
        let engine = Engine::default();
        let module = Module::new(&engine, bytes).unwrap();
        let mut linker = Linker::new(&engine);
        linker
            .func_wrap(
                abi::HOST_MODULE,
                "log",
                |mut caller: Caller<'_, Vec<String>>, ptr: i32, len: i32| -> i64 {
                    let Some(Extern::Memory(mem)) = caller.get_export(abi::EXPORT_MEMORY) else {
                        return 0;
                    };
                    let bytes = mem.data(&caller)[ptr as usize..][..len as usize].to_vec();
                    let env = Envelope::decode(&bytes).unwrap();
                    caller
                        .data_mut()
                        .push(String::from_utf8(env.content).unwrap());
                    0
                },
            )
            .unwrap();
        // The other host functions are not exercised here: a guest that imports them (echo)
        // instantiates, and a call to one of them would trap.
        linker.define_unknown_imports_as_traps(&module).unwrap();
        let mut store = Store::new(&engine, Vec::new());
        let instance = linker.instantiate(&mut store, &module).unwrap();
        let version = instance
            .get_typed_func::<(), i32>(&mut store, abi::EXPORT_ABI_VERSION)
            .unwrap()
            .call(&mut store, ())
            .unwrap();
        assert_eq!(version as u32, abi::ABI_VERSION);
        Self { store, instance }
    }

    fn call(&mut self, op: Operation, input: &Envelope) -> Envelope {
        let s = &mut self.store;
        let memory = self
            .instance
            .get_memory(&mut *s, abi::EXPORT_MEMORY)
            .unwrap();
        let alloc = self
            .instance
            .get_typed_func::<i32, i32>(&mut *s, abi::EXPORT_ALLOC)
            .unwrap();
        let free = self
            .instance
            .get_typed_func::<(i32, i32), ()>(&mut *s, abi::EXPORT_FREE)
            .unwrap();
        let func = self
            .instance
            .get_typed_func::<(i32, i32), i64>(&mut *s, op.export_name())
            .unwrap();
        let bytes = input.encode();
        let ptr = alloc.call(&mut *s, bytes.len() as i32).unwrap();
        memory.write(&mut *s, ptr as usize, &bytes).unwrap();
        let (out_ptr, out_len) =
            abi::unpack(func.call(&mut *s, (ptr, bytes.len() as i32)).unwrap());
        let out = memory.data(&*s)[out_ptr as usize..][..out_len as usize].to_vec();
        free.call(&mut *s, (out_ptr as i32, out_len as i32))
            .unwrap();
        free.call(&mut *s, (ptr, bytes.len() as i32)).unwrap();
        Envelope::decode(&out).unwrap()
    }
}

#[test]
fn the_same_guests_give_the_same_outputs_on_plain_wasmtime() {
    let files = FileBundle::new()
        .with_file("a.md", "# alpha beta\nbody a")
        .with_file("b.txt", "gamma\nbody b");
    let cases: Vec<(&str, Operation, Envelope)> = vec![
        ("echo", Operation::GetCapabilities, Envelope::empty()),
        (
            "echo",
            Operation::Transform,
            Envelope::new("text/plain", vec![7u8; 100_000]),
        ),
        (
            "echo",
            Operation::Transform,
            Envelope::empty().with_kind("fail"),
        ),
        (
            "docs-frontend",
            Operation::FrontendCompile,
            StepRequest::new(Envelope::files(&files)).to_envelope(),
        ),
        (
            "docs-frontend",
            Operation::FrontendCompile,
            StepRequest::new(Envelope::new("text/plain", "x")).to_envelope(),
        ),
    ];
    for (name, op, input) in cases {
        let mut direct = Direct::new(&guest_bytes(name));
        let expected = direct.call(op, &input);
        let mut ours = load(name, Limits::default()).instantiate().unwrap();
        match ours.call(op, &input) {
            Ok(out) => {
                assert_eq!(out.envelope, expected, "{name} {op}");
                let direct_logs = direct.store.data().clone();
                let our_logs: Vec<String> = out.logs.into_iter().map(|l| l.message).collect();
                assert_eq!(our_logs, direct_logs, "{name} {op} logs");
            }
            Err(e) => {
                // An error envelope on the direct path is the same typed guest error on ours.
                assert!(expected.is_error(), "{name} {op}: {e}");
                let payload = expected.error_payload().unwrap();
                let Some(morphir_runtime::CallError::Guest(ours)) = e.call_error() else {
                    panic!("{e}")
                };
                assert_eq!(**ours, payload);
            }
        }
    }
}
