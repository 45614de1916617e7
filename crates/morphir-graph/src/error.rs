//! The errors of graph building and target selection.

use std::fmt;

use morphir_config::Location;

/// One `depends_on` link of a cycle: `task` lists `depends_on` at `location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleLink {
    /// The downstream task.
    pub task: String,
    /// The task it depends on.
    pub depends_on: String,
    /// The `depends_on` entry.
    pub location: Location,
}

/// A dependency cycle between tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The tasks of the cycle in order, starting with the smallest name: each depends on the
    /// next, and the last on the first. One task for a self-dependency.
    pub tasks: Vec<String>,
    /// The links, one per task: `links[i]` is `tasks[i]` depending on the next.
    pub links: Vec<CycleLink>,
    /// Other tasks tangled in the same strongly connected component (they sit on other cycles
    /// through the same tasks); empty for a simple cycle.
    pub also_involved: Vec<String>,
}

impl fmt::Display for Cycle {
    /// `dependency cycle: a -> b -> a`, then one line per link with its location.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dependency cycle: ")?;
        for task in &self.tasks {
            write!(f, "{task} -> ")?;
        }
        f.write_str(self.tasks.first().map_or("", String::as_str))?;
        for link in &self.links {
            write!(
                f,
                "\n  {}: `{}` depends on `{}`",
                link.location, link.task, link.depends_on
            )?;
        }
        if !self.also_involved.is_empty() {
            write!(
                f,
                "\n  also caught in cycles with these tasks: {}",
                self.also_involved.join(", ")
            )?;
        }
        f.write_str("\n  remove one of these depends_on entries to break the cycle")
    }
}

/// What can go wrong building or selecting from a [`crate::StepGraph`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The tasks' `depends_on` form one or more cycles; all are listed.
    #[error("{}", Cycles(.0))]
    Cycles(Vec<Cycle>),
    /// A target named on the command line is not a task.
    #[error("unknown task `{name}`{}", match (suggestion, known.as_slice()) {
        (Some(s), _) => format!("; did you mean `{s}`?"),
        (None, []) => "; the configuration has no tasks".to_owned(),
        (None, known) => format!("; the tasks are: {}", known.join(", ")),
    })]
    UnknownTask {
        /// The name as given.
        name: String,
        /// The closest task name, if any is close.
        suggestion: Option<String>,
        /// Every task of the graph, sorted (said when no name is close).
        known: Vec<String>,
    },
    /// A `depends_on` entry names no task. The loader already refuses this; it can only come
    /// from a configuration built by hand.
    #[error("{location}: task `{task}` depends on unknown task `{dependency}`")]
    UnknownDependency {
        /// The downstream task.
        task: String,
        /// The missing task.
        dependency: String,
        /// The entry.
        location: Location,
    },
    /// Two steps would get the same id (a task using one backend twice). The loader already
    /// refuses this; it can only come from a configuration built by hand.
    #[error("{location}: step id `{id}` is used twice")]
    DuplicateStep {
        /// The id.
        id: String,
        /// The second use.
        location: Location,
    },
}

/// Renders a list of cycles.
struct Cycles<'a>(&'a [Cycle]);

impl fmt::Display for Cycles<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} dependency cycles:", many.len())?;
                for cycle in many {
                    write!(f, "\n{cycle}")?;
                }
                Ok(())
            }
        }
    }
}
