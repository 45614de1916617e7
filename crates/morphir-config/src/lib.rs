//! Loads `morphir.toml` into validated types: the first stage of `morphir build`.
//!
//! A workspace is a root `morphir.toml` (`[project]`, `[cache]`, `[[extensions]]`,
//! `[tasks.*]`), the task files it includes (`[project] include`) and, in a monorepo, the
//! members it lists (`[project] members`), each with a `morphir.toml` of its own whose tasks are
//! namespaced `member/task`. [`Config::load`] reads all of them and checks everything that can be
//! checked without running an extension: unknown keys (with a "did you mean"), types, sizes and
//! durations, names, extension references, `depends_on` targets, output directories, and that
//! the extension modules exist. It reports every problem of a load at once, each at its
//! `file:line:col` ([`ConfigErrors`]), and keeps the [`Location`] of tasks, extension uses and
//! dependencies so that later stages (the step graph, the build) can report against the
//! configuration too. Cycles are the graph crate's business; extension capabilities, which
//! need the runtime, the build's. The file format is documented in `docs/config.md`.

#![deny(missing_docs)]

mod error;
mod hash;
mod json;
mod load;
mod model;
mod names;
mod paths;
mod raw;
mod source;
mod units;

pub use error::{ConfigError, ConfigErrors, Location};
pub use hash::{Blake3Hash, HashError};
pub use load::DEFAULT_CACHE_DIR;
pub use model::{
    Backend, CACHE_DIR_ENV, CacheConfig, Config, Dependency, Extension, ExtensionRef,
    ExtensionSource, Frontend, LoadOptions, Member, Permissions, Project, Protocol,
    REMOTE_CACHE_ENV, REMOTE_CACHE_INSTANCE_ENV, REMOTE_CACHE_UPLOAD_ENV, RemoteCacheConfig, Task,
    check_remote_endpoint,
};
pub use names::did_you_mean;
pub use paths::{CONFIG_FILE, find_config};
pub use units::{ByteSize, parse_duration};
