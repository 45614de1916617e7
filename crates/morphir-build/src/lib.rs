//! The build executor: the stage of `morphir build` after the configuration is loaded and the
//! step graph built.
//!
//! [`build`] checks every extension the graph uses before anything runs (module pin, capability
//! for the role it plays), then walks the graph: a step whose inputs are known gets its cache key
//! (`morphir-cache`); a hit restores its outputs and replays its logs without loading any
//! module; a miss runs on a Kameo actor with an instance from its extension's pool
//! (`morphir-host`), and its result is written (backend files) and stored. Keys hash upstream
//! *outputs*, so a step that re-runs but produces the same output leaves its dependents cached
//! (early cutoff). Progress goes out as [`Event`]s; the result is a [`BuildReport`].

// A `BuildError` is made at most once per build, on the way out; boxing its fields would buy
// nothing measurable and cost readability.
#![expect(clippy::result_large_err, reason = "cold path, see above")]

mod error;
mod events;
mod extensions;
mod grants;
mod hosting;
mod interrupt;
mod outputs;
mod report;
mod scheduler;
mod stamps;

pub use error::BuildError;
pub use events::{Event, EventSink};
pub use extensions::limits;
pub use hosting::{BuildHost, Cancel};
pub use interrupt::Interrupt;
pub use outputs::{OUTPUT_MANIFEST, write_outputs};
pub use report::{BuildReport, StepReport, StepStatus};
pub use scheduler::{BuildOptions, build, build_with};

/// This executor's version; part of every cache key.
pub const MORPHIR_VERSION: &str = env!("CARGO_PKG_VERSION");
