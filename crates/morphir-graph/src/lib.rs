//! The build graph: the second stage of `morphir build`, between the configuration
//! (`morphir-config`) and the scheduler.
//!
//! [`StepGraph::build`] turns a loaded [`morphir_config::Config`] into a DAG of [`Step`]s, one
//! per extension call. Each task expands into its frontend, its transforms in order, and a
//! fan-out to each backend:
//!
//! ```text
//! model:frontend -> model:transform[0]:strip-docs -> model:transform[1]:keep -> model:backend:json-schema
//!                                                                             \-> model:backend:typescript
//! ```
//!
//! A task's `depends_on` adds an edge from the upstream task's final IR step (its last
//! transform, or its frontend) to the downstream task's frontend, which receives that IR as an
//! extra input; the upstream backends run in parallel with the downstream task. Dependency
//! cycles are refused with every cycle named in order and each `depends_on` located
//! ([`GraphError::Cycles`]).
//!
//! Step ids are stable and readable, and unique because task names contain neither `:` nor
//! brackets and a task uses a backend extension once: `TASK:frontend`,
//! `TASK:transform[I]:EXTENSION` (0-based; the same transform may appear twice in a task) and
//! `TASK:backend:EXTENSION`, where `TASK` is the qualified name (`member/task` in a monorepo).
//!
//! Then: [`StepGraph::subgraph_for`] selects targets and what they need;
//! [`StepGraph::topo_order`], [`StepGraph::dependencies`], [`StepGraph::dependents`] and
//! [`ReadySet`] drive a scheduler; [`StepGraph::to_dot`] and [`StepGraph::to_json`] show the
//! graph. Nothing here does I/O.

#![deny(missing_docs)]

mod error;
mod export;
mod graph;
mod ready;

pub use error::{Cycle, CycleLink, GraphError};
pub use graph::{EdgeKind, Step, StepGraph, StepIndex, StepKind};
pub use ready::{ReadySet, StepState};

#[cfg(test)]
mod tests;
