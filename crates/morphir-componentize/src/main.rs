//! `morphir-componentize IN.wasm OUT.wasm`: wraps a guest's core module into a WebAssembly
//! component. `scripts/build-extensions` runs it for the guest crates whose `Cargo.toml` says
//! `[package.metadata.morphir] protocol = "component"`.
//!
//! Why a tool of our own: the Rust component toolchain (`cargo component`, the
//! `wasm32-wasip2` target) is not something a fresh machine can be assumed to have, and its
//! components import WASI. A component guest here is a plain `wasm32-unknown-unknown` module
//! whose bindings wit-bindgen generated from `wit/`; wit-bindgen records the world in a custom
//! section, and `wit-component` (the library `wasm-tools component new` is built on) reads it
//! and writes the component. No WASI adapter is given, so a module that imports WASI fails
//! here rather than at load time. Same input, same output bytes: the build stays reproducible.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

fn run() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, output] = args.as_slice() else {
        bail!("usage: morphir-componentize IN.wasm OUT.wasm");
    };
    let module = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .with_context(|| {
            format!(
                "{}: not a core module with a wit-bindgen component-type section",
                input.display()
            )
        })?
        .encode()
        .with_context(|| format!("{}: cannot encode a component", input.display()))?;
    // temp + rename: a reader never sees half a component.
    let tmp = output.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, &component).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, output).with_context(|| format!("writing {}", output.display()))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            #[expect(clippy::print_stderr, reason = "a command-line tool's error")]
            {
                eprintln!("morphir-componentize: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
