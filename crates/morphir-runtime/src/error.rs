use std::path::PathBuf;
use std::time::Duration;

use morphir_envelope::abi::Operation;
use morphir_envelope::{DecodeError, ErrorPayload};

use crate::Protocol;

/// A result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong loading or calling an extension. Each variant names the
/// extension (and the operation, for calls), so a message is useful on its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The extension could not be loaded: nothing of it ran.
    #[error("extension `{extension}`: {source}")]
    Load {
        /// The extension's name (from `morphir.toml`, or the file name).
        extension: String,
        /// What is wrong with it.
        #[source]
        source: Box<LoadError>,
    },
    /// A call into a loaded extension failed.
    #[error("extension `{extension}`, operation `{operation}`: {source}")]
    Call {
        /// The extension's name.
        extension: String,
        /// The operation called.
        operation: Operation,
        /// What went wrong.
        #[source]
        source: Box<CallError>,
    },
    /// The runtime itself could not start (compile-cache directory, engine configuration).
    #[error("the Wasm runtime could not start: {0}")]
    Setup(String),
}

impl Error {
    pub(crate) fn load(extension: impl Into<String>, source: LoadError) -> Self {
        Error::Load {
            extension: extension.into(),
            source: Box::new(source),
        }
    }

    pub(crate) fn call(
        extension: impl Into<String>,
        operation: Operation,
        source: CallError,
    ) -> Self {
        Error::Call {
            extension: extension.into(),
            operation,
            source: Box::new(source),
        }
    }
    /// The call error, if this is one.
    pub fn call_error(&self) -> Option<&CallError> {
        match self {
            Error::Call { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The load error, if this is one.
    pub fn load_error(&self) -> Option<&LoadError> {
        match self {
            Error::Load { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why a module was refused before running.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a Wasm binary at all (JSON, TOML, text, garbage).
    #[error(
        "not a WebAssembly module: {what}. Point the extension's source.path at a compiled .wasm file"
    )]
    NotWasm {
        /// What the bytes look like instead.
        what: &'static str,
    },
    /// Larger than the configured cap.
    #[error("module is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// A Wasm binary of an unknown version or layer.
    #[error("not a core WebAssembly module nor a component (binary version/layer {version:#010x})")]
    NotCoreModule {
        /// The version/layer field found.
        version: u32,
    },
    /// A core module configured as a component, or the reverse.
    #[error("{}", protocol_mismatch(*configured, *found))]
    ProtocolMismatch {
        /// The protocol of the configuration.
        configured: Protocol,
        /// What the bytes are.
        found: Protocol,
    },
    /// A component that exports none of the Morphir WIT worlds, or exports one with functions of
    /// the wrong types.
    #[error("the component does not implement a Morphir world: {reason}. {help}")]
    WrongWorld {
        /// What is wrong.
        reason: String,
        /// The worlds it could export.
        help: String,
    },
    /// A component import the host does not provide (WASI, or anything else).
    #[error("the component imports `{name}`; {help}")]
    ComponentImport {
        /// The import.
        name: String,
        /// What is allowed.
        help: &'static str,
    },
    /// Wasm validation failed (truncated, malformed).
    #[error("invalid WebAssembly: {0}")]
    Invalid(String),
    /// An import from a module other than ours (Extism's, WASI, ...).
    #[error(
        "imports `{name}` from `{module}`; a Morphir extension may import only from `{}` \
         (build it against the morphir-ext-sdk, not an engine SDK)",
        morphir_envelope::abi::HOST_MODULE
    )]
    ForeignImport {
        /// The module imported from.
        module: String,
        /// The item imported.
        name: String,
    },
    /// An import from our module that we do not provide or that has the wrong type.
    #[error("imports host function `{name}`: {reason}")]
    BadImport {
        /// The function.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// An export the ABI requires is missing.
    #[error("missing export `{name}` required by the Morphir extension ABI (docs/abi.md)")]
    MissingExport {
        /// The export.
        name: &'static str,
    },
    /// An ABI export has the wrong kind or type.
    #[error("export `{name}` does not match the ABI: {reason}")]
    BadExport {
        /// The export.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// Only `get-capabilities` is exported.
    #[error("exports no operation (frontend-compile, transform, backend-generate, ...)")]
    NoOperations,
    /// Built against another ABI version.
    #[error(
        "built for ABI version {found}, this runtime speaks version {expected}; rebuild it against a matching morphir-ext-sdk"
    )]
    AbiVersion {
        /// The module's version.
        found: u32,
        /// Ours.
        expected: u32,
    },
    /// Its capabilities document is missing, malformed or inconsistent with its exports.
    #[error("bad capabilities: {0}")]
    Capabilities(String),
    /// Its declared initial memory is already over the memory limit.
    #[error("its initial memory ({initial} bytes) is over max_memory ({limit} bytes)")]
    InitialMemory {
        /// Bytes the module starts with.
        initial: u64,
        /// The limit.
        limit: u64,
    },
    /// The engine refused to compile or link it.
    #[error("the engine could not compile or link it: {0}")]
    Engine(String),
}

/// Why a call failed. [`CallError::is_fatal`] says whether the instance was discarded.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The guest reported a failure with an error envelope.
    #[error("{0}")]
    Guest(Box<ErrorPayload>),
    /// The guest trapped (panic, unreachable, out-of-bounds access, stack overflow).
    #[error("the extension crashed (Wasm trap): {0}")]
    Trap(String),
    /// It ran past `max_execution_time`.
    #[error("exceeded max_execution_time ({}); raise the limit in [extensions.permissions] if the work is legitimate", humantime(*limit))]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// It tried to grow its memory past `max_memory`.
    #[error(
        "exceeded max_memory ({limit} bytes); raise the limit in [extensions.permissions] if the work is legitimate"
    )]
    OutOfMemory {
        /// The limit.
        limit: u64,
    },
    /// It returned bytes that are not an envelope.
    #[error("returned an output that is not a valid envelope: {0}")]
    InvalidOutput(#[source] DecodeError),
    /// Its output is larger than allowed.
    #[error("returned {size} bytes, over the {max}-byte output limit")]
    OutputTooLarge {
        /// Output size.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// The input envelope is larger than a Wasm32 guest can take.
    #[error("the input envelope is {0} bytes, more than a 32-bit guest can address")]
    InputTooLarge(u64),
    /// The module does not export that operation.
    #[error("the extension does not implement this operation")]
    NotImplemented,
    /// The bridge between host and guest found the guest misbehaving (allocator failure,
    /// out-of-bounds output pointer).
    #[error("broke the ABI: {0}")]
    Abi(String),
    /// Any other engine failure.
    #[error("engine error: {0}")]
    Engine(String),
}

impl CallError {
    /// True when the instance that failed was thrown away (traps, timeouts, out-of-memory and
    /// ABI breaches leave guest state that cannot be trusted); the next call gets a fresh one.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            CallError::Guest(_) | CallError::NotImplemented | CallError::InputTooLarge(_)
        )
    }
}

fn protocol_mismatch(configured: Protocol, found: Protocol) -> String {
    match (configured, found) {
        (Protocol::Core, Protocol::Component) => "the file is a WebAssembly component, but the \
            extension is configured with protocol = \"core\"; set protocol = \"component\" and \
            source type = \"wasm-component\" in its [[extensions]] entry"
            .to_owned(),
        (Protocol::Component, Protocol::Core) => "the file is a core WebAssembly module, but the \
            extension is configured with protocol = \"component\"; set protocol = \"core\" and \
            source type = \"wasm\" in its [[extensions]] entry, or build it as a component \
            (scripts/build-extensions)"
            .to_owned(),
        (a, b) => format!("protocol {a} configured, {b} found"),
    }
}

pub(crate) fn humantime(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
