//! The Morphir extension runtime: loads WebAssembly extensions and calls them through our own
//! guest ABI (`docs/abi.md`).
//!
//! This is the only crate in the workspace that knows the engine. Extism (wasmtime underneath)
//! runs the Wasm, but nothing of it appears in this crate's API, and guests never import from
//! it: [`Runtime::load`] validates a module against our ABI, generates a small adapter module
//! that maps our `(ptr, len)` calls onto Extism's kernel, and links the three in a manifest of
//! our own making. Replacing the engine means replacing `engine.rs` and `adapter.rs`; the
//! guests do not change.
//!
//! Where it sits: the build executor (`morphir-build`) owns [`Instance`]s inside Kameo actors
//! and calls [`Instance::call`] with envelopes; this crate knows nothing of builds, caches or
//! configuration files.
//!
//! Guarantees:
//! * bytes that are not a valid core Wasm module with our exports never reach the engine;
//! * limits ([`Limits`]) hold per call: memory, wall-clock time, output size;
//! * host functions (the standard library) do only what the instance's [`HostContext`] grants;
//! * an instance that trapped, timed out or ran out of memory is discarded, and one step's
//!   timeout never interrupts another instance (see `engine.rs` on lanes);
//! * every error names the extension and the operation.

mod adapter;
mod component;
mod context;
mod engine;
mod error;
mod http;
mod limits;
mod module;
mod names;
mod stdlib;
mod validate;
mod wasi;

pub use context::{HostContext, HttpPolicy, WorkspaceAccess};
pub use engine::{CallOutput, CompileCache, Runtime, RuntimeConfig};
pub use error::{CallError, Error, LoadError, Result};
pub use http::{HttpError, fetch as http_fetch};
pub use limits::Limits;
pub use module::{Instance, Module, Protocol, check_protocol};
pub use stdlib::{
    LogLevel, LogRecord, MAX_LOG_BYTES_PER_CALL, MAX_LOG_LINES_PER_CALL, emit as emit_extension_log,
};

/// Re-exported so callers need not depend on the envelope crate for the basic types.
pub use morphir_envelope::{Capabilities, Envelope, Header, abi::Operation};

#[cfg(test)]
mod tests {
    fn assert_send<T: Send>() {}
    fn assert_sync<T: Sync>() {}

    #[test]
    fn public_types_can_cross_threads() {
        // Instances move into actor threads; modules are shared between them.
        assert_send::<super::Instance>();
        assert_send::<super::Module>();
        assert_sync::<super::Module>();
        assert_send::<super::Runtime>();
        assert_sync::<super::Runtime>();
    }
}
