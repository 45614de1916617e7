//! A test extension: implements every step operation and returns its input unchanged, unless
//! the input's `kind` (or the step's config `mode`) asks for something else. The runtime's tests,
//! the build's end-to-end tests and the benchmarks drive it.
//!
//! | input `kind` / config `mode` | behaviour |
//! |---|---|
//! | `fail`  | returns an error envelope |
//! | `panic` | panics (the guest traps) |
//! | `log`   | logs one line at each level, then echoes |
//! | `spin`  | loops forever (stopped by `max_execution_time`) |
//! | `grow`  | allocates until memory runs out (stopped by `max_memory`) |
//! | `count` | returns how many calls this instance has served (guest state) |
//! | `files` | returns the input files as a file bundle (a backend that copies its input) |

use std::sync::atomic::{AtomicU64, Ordering};

use morphir_ext_sdk::{
    Backend, Envelope, ErrorPayload, Frontend, StepRequest, Transform, export, log,
};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Echo;

fn respond(request: StepRequest) -> Result<Envelope, ErrorPayload> {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let input = request.input;
    let mode = request
        .config
        .get("mode")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .or_else(|| input.header.kind.clone());
    match mode.as_deref() {
        Some("fail") => Err(ErrorPayload::new("echo was asked to fail").with_code("requested")),
        Some("panic") => panic!("echo was asked to panic"),
        Some("log") => {
            log::trace("trace line");
            log::debug("debug line");
            log::info("info line");
            log::warn("warn line");
            log::error("error line");
            Ok(Envelope::new(input.content_type, input.content))
        }
        Some("spin") => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        Some("grow") => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        Some("count") => Ok(Envelope::new("text/plain", calls.to_string())),
        // For backends in a build: every input file (or the input itself) as an output file.
        Some("files") => {
            let bundle = input.as_files().unwrap_or_else(|_| {
                morphir_ext_sdk::FileBundle::new().with_file("echo.out", input.content.clone())
            });
            Ok(Envelope::files(&bundle))
        }
        _ => Ok(Envelope::new(input.content_type, input.content)),
    }
}

impl Frontend for Echo {
    fn frontend_compile(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        respond(request)
    }
}

impl Transform for Echo {
    fn transform(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        respond(request)
    }
}

impl Backend for Echo {
    fn backend_generate(request: StepRequest) -> Result<Envelope, ErrorPayload> {
        respond(request)
    }
}

export! {
    name: "echo",
    description: "Returns its input unchanged (a test extension).",
    frontend: Echo,
    transform: Echo,
    backend: Echo,
}
