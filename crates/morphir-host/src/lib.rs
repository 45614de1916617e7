//! Where extension instances live: per-extension pools of warm instances, and the Kameo actor
//! that runs one step on an instance borrowed from a pool.
//!
//! The build executor spawns one [`StepActor`] per step that misses the cache. The actor runs on
//! a thread of its own (`spawn_in_thread`), so a Wasm call, which blocks, never occupies one of
//! the async runtime's workers; measured with kameo 0.22 here, a call made directly in the
//! handler costs about 15 µs per ask against about 66 µs through `spawn_blocking`. The actor
//! borrows an instance from the extension's [`InstancePool`], which caps how many instances are
//! live at once (compile once per build, at most `--jobs` instances: ten thousand steps do not
//! mean ten thousand instances) and keeps idle ones warm for the next step.
//!
//! Runtime extensions (TEA) run on a [`ProgramActor`] each, which owns the program's instance
//! and model, runs its commands and keeps its subscriptions live; [`Program`] is the host's
//! handle (`start`, `send`, `poll`). See `program.rs`.
//!
//! A long-lived host (the daemon, `morphir-daemon`) keeps pools alive between builds in
//! [`WarmPools`] (`warm.rs`): keyed by module hash, reaped when idle, with a cap on idle
//! instances.

mod actor;
mod pool;
mod program;
mod warm;

pub use actor::{RunStep, StepActor, run_on_actor, run_on_actor_with};
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
