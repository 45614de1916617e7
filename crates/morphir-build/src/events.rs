use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::report::StepStatus;

/// Progress of a build, as it happens. Serialisable, so a daemon can stream a build's events to
/// the CLI that asked for it (`morphir-daemon`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The build knows its steps.
    Planned {
        /// How many steps it has.
        steps: usize,
    },
    /// A step missed the cache and was dispatched.
    Started {
        /// The step id.
        step: String,
    },
    /// A step ended (ran, was restored from the cache, failed, was skipped or cancelled).
    Finished {
        /// The step id.
        step: String,
        /// How.
        status: StepStatus,
        /// How long it ran (zero for restored steps).
        duration: Duration,
        /// Why it failed.
        error: Option<String>,
    },
    /// A line a step logged (live, or replayed from the cache).
    Log {
        /// The step id.
        step: String,
        /// The extension.
        extension: String,
        /// `error`, `warn`, `info`, `debug`, `trace`.
        level: String,
        /// The message.
        message: String,
        /// True when replayed from the cache.
        replayed: bool,
    },
}

/// Receives events. Called from the scheduler's task: keep it quick.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;
