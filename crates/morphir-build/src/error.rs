use morphir_config::Location;

/// Why a build could not start (a step's own failure is in the report, not here).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A pinned module hash does not match the file.
    #[error(
        "{location}: extension `{extension}`: {source}; update the pinned hash if the new module is intended"
    )]
    HashMismatch {
        /// The extension.
        extension: String,
        /// Where the hash is pinned.
        location: Location,
        /// Expected and found.
        #[source]
        source: morphir_config::HashError,
    },
    /// The module could not be read or loaded.
    #[error("{location}: {source}")]
    Extension {
        /// Where the extension's module path is declared.
        location: Location,
        /// The runtime's error (names the extension).
        #[source]
        source: morphir_runtime::Error,
    },
    /// A module the runtime refuses: it does not validate, breaks the ABI, starts with more
    /// memory than `max_memory`, or the engine cannot compile or instantiate it.
    #[error(
        "{location}: extension `{extension}` ({}) cannot be loaded: {reason}",
        module.display()
    )]
    Unloadable {
        /// The extension.
        extension: String,
        /// Its module file.
        module: std::path::PathBuf,
        /// Where the module's path is declared.
        location: Location,
        /// What the runtime said.
        reason: String,
    },
    /// An extension is used in a role it does not declare.
    #[error(
        "{location}: extension `{extension}` is used as a {role} here, but it does not implement \
         `{operation}` (it declares: {declared}); use an extension that does, or remove this use"
    )]
    Capability {
        /// The extension.
        extension: String,
        /// Where it is used.
        location: Location,
        /// `frontend`, `transform`, `backend`.
        role: &'static str,
        /// The operation it lacks.
        operation: &'static str,
        /// What it declares.
        declared: String,
    },
    /// The cache could not be opened.
    #[error("cache at {path}: {source}")]
    Cache {
        /// The cache directory.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: morphir_cache::Error,
    },
    /// The Wasm runtime could not start.
    #[error(transparent)]
    Runtime(morphir_runtime::Error),
}
