//! A test extension: implements every step operation and returns its input unchanged, unless
//! the input's `kind` (or the step's config `mode`) asks for something else. The runtime's tests,
//! the build's end-to-end tests and the benchmarks drive it.
//!
//! | input `kind` / config `mode` | behaviour |
//! |---|---|
//! | `fail`  | returns an error envelope |
//! | `panic` | panics (the guest traps) |
//! | `log`   | logs one line at each level (that many rounds when the argument is a number), then echoes |
//! | `spin`  | loops forever (stopped by `max_execution_time`) |
//! | `grow`  | allocates until memory runs out (stopped by `max_memory`) |
//! | `count` | returns how many calls this instance has served (guest state) |
//! | `files` | returns the input files as a file bundle (a backend that copies its input) |
//! | `recurse` | recurses without end (a stack overflow: a trap) |
//! | `getenv` | returns the value of the variable named by the content (`application/x-empty` when unset) |
//! | `setenv` | content `NAME=VALUE` (or `NAME` to unset): sets it, then returns what `get_env_var` sees |
//! | `random` | returns as many random bytes as the content says |
//! | `http` | GETs the URL in the content; returns the response as JSON |
//! | `read` | reads the workspace file named by the content (`list` when empty) |
//! | `ir` | calls `ir_helpers`: content `HELPER ARGS-JSON`, returns the JSON answer |
//!
//! The argument of these modes is the step config's `arg` when there is one (in a build), else the
//! input's content. A refused host call comes back as the guest's error, with the host's code.
//!
//! It is also a runtime (TEA) program, for the host's tests: one module exporting both ABIs.
//! Its model is `{"flags", "seen", "subs"}`; `update` records every message in `seen`
//! (`{kind, content}`), except these kinds: `cmds` (content: commands to return as they are),
//! `subs` (content: the subscriptions to keep), `fail`, `panic`, `spin`, `grow`, `recurse`
//! (misbehave as above), `getenv` (emits the value), and `count` (emits how many updates this
//! instance served).

use std::sync::atomic::{AtomicU64, Ordering};

use morphir_ext_sdk::tea::{Cmd, Sub};
use morphir_ext_sdk::{
    Backend, Envelope, ErrorPayload, Frontend, Program, StepRequest, Transform, content_type, env,
    export, http, ir, log, random, workspace,
};
use serde_json::{Value, json};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Echo;

fn respond(request: StepRequest) -> Result<Envelope, ErrorPayload> {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let input = request.input;
    // The argument of the host-function modes: the config's `arg` (in a build), else the input.
    let arg = request
        .config
        .get("arg")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| text(&input), str::to_owned);
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
            // A number as the argument repeats the five lines (the host's log caps' tests).
            let rounds: u32 = arg.trim().parse().unwrap_or(1);
            for _ in 0..rounds {
                log::trace("trace line");
                log::debug("debug line");
                log::info("info line");
                log::warn("warn line");
                log::error("error line");
            }
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
        Some("recurse") => Ok(Envelope::new("text/plain", recurse(1).to_string())),
        Some("getenv") => getenv(&arg),
        Some("setenv") => {
            let line = arg;
            match line.split_once('=') {
                Some((name, value)) => env::set_var(name, value)?,
                None => env::remove_var(&line)?,
            }
            getenv(line.split('=').next().unwrap_or_default())
        }
        Some("random") => {
            let n = arg.parse().unwrap_or(8);
            Ok(Envelope::new(content_type::OCTET_STREAM, random::bytes(n)?))
        }
        Some("http") => {
            let response = http::get(&arg)?;
            Envelope::json(&response).map_err(|e| ErrorPayload::new(e.to_string()))
        }
        Some("read") => {
            let path = arg;
            if path.is_empty() {
                Envelope::json(&workspace::list()?).map_err(|e| ErrorPayload::new(e.to_string()))
            } else {
                Ok(Envelope::new(
                    content_type::OCTET_STREAM,
                    workspace::read(&path)?,
                ))
            }
        }
        Some("ir") => {
            let line = arg;
            let (helper, args) = line.split_once(' ').unwrap_or((line.as_str(), "null"));
            let args: Value =
                serde_json::from_str(args).map_err(|e| ErrorPayload::new(e.to_string()))?;
            let answer = match helper {
                "name" => json!(ir::name(args.as_str().unwrap_or_default())?),
                "parse_fqname" => json!(ir::parse_fqname(args.as_str().unwrap_or_default())?),
                "print_fqname" => json!(ir::print_fqname(
                    args["package"].as_str().unwrap_or_default(),
                    args["module"].as_str().unwrap_or_default(),
                    args["local"].as_str().unwrap_or_default(),
                )?),
                "convert" => ir::to_canonical(&args)?,
                other => return Err(ErrorPayload::new(format!("unknown helper {other}"))),
            };
            Envelope::json(&answer).map_err(|e| ErrorPayload::new(e.to_string()))
        }
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

fn text(envelope: &Envelope) -> String {
    String::from_utf8_lossy(&envelope.content).into_owned()
}

fn getenv(name: &str) -> Result<Envelope, ErrorPayload> {
    Ok(match env::var(name)? {
        Some(value) => Envelope::new(content_type::TEXT, value),
        None => Envelope::empty(),
    })
}

#[expect(unconditional_recursion, reason = "a stack overflow on purpose")]
fn recurse(depth: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(depth + 1))) + 1
}

fn bad(e: impl std::fmt::Display) -> ErrorPayload {
    ErrorPayload::new(e.to_string())
}

impl Program for Echo {
    type Model = Value;

    fn init(flags: Envelope) -> Result<(Value, Vec<Cmd>), ErrorPayload> {
        let flags: Value = if flags.content.is_empty() {
            Value::Null
        } else {
            flags.as_json().map_err(bad)?
        };
        let cmds = match flags.get("cmds") {
            Some(cmds) => serde_json::from_value(cmds.clone()).map_err(bad)?,
            None => Vec::new(),
        };
        let subs = flags.get("subs").cloned().unwrap_or_else(|| json!([]));
        Ok((json!({"flags": flags, "seen": [], "subs": subs}), cmds))
    }

    fn update(msg: Envelope, mut model: Value) -> Result<(Value, Vec<Cmd>), ErrorPayload> {
        let kind = msg.header.kind.clone();
        let content: Value = if msg.content.is_empty() {
            Value::Null
        } else if content_type::is_json(&msg.content_type) {
            msg.as_json().map_err(bad)?
        } else {
            Value::String(text(&msg))
        };
        match kind.as_deref() {
            Some("cmds") => {
                let cmds: Vec<Cmd> = serde_json::from_value(content).map_err(bad)?;
                return Ok((model, cmds));
            }
            Some("subs") => {
                model["subs"] = content;
                return Ok((model, Vec::new()));
            }
            Some("getenv") => {
                let value = env::var(content.as_str().unwrap_or_default())?;
                return Ok((model, vec![Cmd::emit_json(json!(value))]));
            }
            Some("count") => {
                let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
                return Ok((model, vec![Cmd::emit_json(json!(calls))]));
            }
            Some(mode @ ("fail" | "panic" | "spin" | "grow" | "recurse")) => {
                let request = StepRequest::new(Envelope::empty().with_kind(mode));
                respond(request)?;
            }
            _ => {}
        }
        CALLS.fetch_add(1, Ordering::Relaxed);
        if let Some(seen) = model["seen"].as_array_mut() {
            seen.push(json!({"kind": kind, "content": content}));
        }
        Ok((model, Vec::new()))
    }

    fn subscriptions(model: &Value) -> Vec<Sub> {
        serde_json::from_value(model["subs"].clone()).unwrap_or_default()
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
    program: Echo,
}
