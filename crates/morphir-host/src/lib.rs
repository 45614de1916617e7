//! Where extension instances live: per-extension pools of live instances, each owned by a Kameo
//! actor on a thread of its own.
//!
//! The build executor runs a step that misses the cache with [`InstancePool::run`]: the step
//! is a message to an [`InstanceActor`], which owns one instance of the extension and makes the
//! Wasm call, which blocks, on its own thread (a *lane*), never on one of the async runtime's
//! workers. The pool caps how many instances are live at once (compile once per build, at most
//! `--jobs` instances: ten thousand steps do not mean ten thousand instances) and keeps idle
//! actors, with their instance and thread, warm for the next step. A step that finds none idle
//! and no free place waits in the pool's queue, which busy actors take from as they finish. Lanes, and the CLI while it
//! awaits a build, wait with [`lane::block_on`], which spins briefly before it parks: on the VMs
//! measured here waking a parked thread cost more than a short call itself (`lane.rs`).
//!
//! Runtime extensions (TEA) run on a [`ProgramActor`] each, which owns the program's instance
//! and model, runs its commands and keeps its subscriptions live; [`Program`] is the host's
//! handle (`start`, `send`, `poll`). See `program.rs`.
//!
//! A long-lived host (the daemon, `morphir-daemon`) keeps pools alive between builds in
//! [`WarmPools`] (`warm.rs`): keyed by module hash, reaped when idle, with a cap on idle
//! instances.

mod actor;
pub mod lane;
mod pool;
mod program;
mod warm;

pub use actor::InstanceActor;
pub use pool::InstancePool;
pub use program::{Program, ProgramActor, ProgramArgs, ProgramEvent, ProgramOptions};
pub use warm::{PoolKey, PoolStatus, WarmPools, WarmSettings, WarmStatus};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The extension failed (load or call); the runtime's error names it and the operation.
    #[error(transparent)]
    Runtime(#[from] morphir_runtime::Error),
    /// The module is not a runtime extension (it exports no `init` and `update`).
    #[error(
        "extension `{extension}` is not a runtime extension: it does not export `init` and \
         `update` (it implements: {operations}); run it in a build instead"
    )]
    NotAProgram {
        /// The extension.
        extension: String,
        /// What it implements.
        operations: String,
    },
    /// The program broke the runtime-extension ABI (an `init` output that is not a model).
    #[error("extension `{extension}`: {reason}")]
    Program {
        /// The extension.
        extension: String,
        /// What is wrong.
        reason: String,
    },
    /// The program has stopped; it takes no more messages.
    #[error("extension `{extension}`: the program has stopped")]
    Stopped {
        /// The extension.
        extension: String,
    },
    /// The actor stopped before it answered (it panicked, or the build is shutting down).
    #[error("the actor running `{step}` stopped before answering: {reason}")]
    Actor {
        /// The step.
        step: String,
        /// Why.
        reason: String,
    },
}
