//! The step graph: building, cycle detection, selection and traversal.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::path::PathBuf;

use morphir_config::{Config, ExtensionRef, Location, Task, did_you_mean};
use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::error::{Cycle, CycleLink, GraphError};

/// What a step does within its task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    /// Reads the task's inputs (and the IR of the tasks it depends on) and produces IR.
    Frontend,
    /// The n-th transform (0-based) of the task: IR in, IR out.
    Transform(usize),
    /// The n-th backend (0-based) of the task: IR in, files out (to its output directory).
    Backend(usize),
}

impl StepKind {
    /// `frontend`, `transform` or `backend`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Frontend => "frontend",
            Self::Transform(_) => "transform",
            Self::Backend(_) => "backend",
        }
    }
}

/// One node of the graph: one call of one extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The stable, unique id (see the crate docs): `model:frontend`,
    /// `model:transform[0]:strip-docs`, `model:backend:typescript`.
    pub id: String,
    /// The qualified task name.
    pub task: String,
    /// Its place in the task.
    pub kind: StepKind,
    /// The extension it calls.
    pub extension: String,
    /// For a backend, its output directory relative to the workspace root.
    pub output: Option<PathBuf>,
}

impl Step {
    /// The id of a step: `task:frontend`, `task:transform[i]:extension` or
    /// `task:backend:extension`. Task names never contain `:`, so the id splits at its first one.
    pub fn id_for(task: &str, kind: StepKind, extension: &str) -> String {
        match kind {
            StepKind::Frontend => format!("{task}:frontend"),
            StepKind::Transform(i) => format!("{task}:transform[{i}]:{extension}"),
            StepKind::Backend(_) => format!("{task}:backend:{extension}"),
        }
    }

    /// The task this step belongs to, in `config`.
    pub fn task<'c>(&self, config: &'c Config) -> Option<&'c Task> {
        config.task(&self.task)
    }

    /// The extension use of this step in `config`: the extension name, the merged configuration
    /// the step passes to it, and where the use is written.
    pub fn extension_ref<'c>(&self, config: &'c Config) -> Option<&'c ExtensionRef> {
        let task = self.task(config)?;
        match self.kind {
            StepKind::Frontend => Some(&task.frontend.extension),
            StepKind::Transform(i) => task.transforms.get(i),
            StepKind::Backend(i) => task.backends.get(i).map(|b| &b.extension),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Why an edge exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// Within a task: the IR of one step is the input of the next (frontend -> transforms ->
    /// each backend).
    Pipeline,
    /// Across tasks: the upstream task's final IR is an extra input of the downstream frontend.
    Dependency,
}

impl EdgeKind {
    /// `pipeline` or `dependency`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pipeline => "pipeline",
            Self::Dependency => "dependency",
        }
    }
}

/// A step's position in a [`StepGraph`]. Indices are dense (`0..graph.len()`), follow the
/// order of tasks by name and of steps within a task, and are only meaningful for the graph
/// that returned them (a subgraph numbers its steps anew).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepIndex(NodeIndex);

impl StepIndex {
    /// The index as a number in `0..graph.len()`, for side tables.
    pub fn index(self) -> usize {
        self.0.index()
    }
}

/// The steps of one task, in pipeline order.
#[derive(Debug, Clone)]
struct TaskSteps {
    /// Frontend, transforms, backends.
    steps: Vec<StepIndex>,
    /// The last transform, or the frontend.
    final_ir: StepIndex,
    /// Qualified names, in written order.
    depends_on: Vec<String>,
}

/// The DAG of build steps of a configuration. Each task becomes
/// `frontend -> transform[0] -> ... -> transform[n-1] -> every backend`, and each `depends_on`
/// an edge from the upstream task's final IR step to the downstream frontend. Built by
/// [`StepGraph::build`], which refuses cycles; read-only afterwards.
#[derive(Debug, Clone)]
pub struct StepGraph {
    graph: DiGraph<Step, EdgeKind>,
    by_id: HashMap<String, StepIndex>,
    tasks: BTreeMap<String, TaskSteps>,
}

impl StepGraph {
    /// Builds the graph of every task of `config`. Fails with every dependency cycle, each
    /// naming its tasks in order and where each `depends_on` is written.
    pub fn build(config: &Config) -> Result<Self, GraphError> {
        let step_count: usize = config
            .tasks
            .values()
            .map(|t| 1 + t.transforms.len() + t.backends.len())
            .sum();
        let dependency_count: usize = config.tasks.values().map(|t| t.depends_on.len()).sum();
        let mut graph = DiGraph::with_capacity(step_count, step_count + dependency_count);
        let mut by_id = HashMap::with_capacity(step_count);
        let mut tasks = BTreeMap::new();

        for task in config.tasks.values() {
            let mut add = |kind: StepKind, ext: &ExtensionRef, output: Option<PathBuf>| {
                let id = Step::id_for(&task.name, kind, &ext.name);
                let index = StepIndex(graph.add_node(Step {
                    id: id.clone(),
                    task: task.name.clone(),
                    kind,
                    extension: ext.name.clone(),
                    output,
                }));
                match by_id.insert(id.clone(), index) {
                    None => Ok(index),
                    Some(_) => Err(GraphError::DuplicateStep {
                        id,
                        location: ext.location.clone(),
                    }),
                }
            };
            let frontend = add(StepKind::Frontend, &task.frontend.extension, None)?;
            let mut steps = vec![frontend];
            let mut previous = frontend;
            for (i, transform) in task.transforms.iter().enumerate() {
                let step = add(StepKind::Transform(i), transform, None)?;
                steps.push(step);
                previous = step;
            }
            let final_ir = previous;
            for (i, backend) in task.backends.iter().enumerate() {
                let step = add(
                    StepKind::Backend(i),
                    &backend.extension,
                    Some(backend.output.clone()),
                )?;
                steps.push(step);
            }
            // Pipeline edges: a chain through the transforms, then a fan-out.
            for pair in steps[..=task.transforms.len()].windows(2) {
                graph.add_edge(pair[0].0, pair[1].0, EdgeKind::Pipeline);
            }
            for backend in &steps[task.transforms.len() + 1..] {
                graph.add_edge(final_ir.0, backend.0, EdgeKind::Pipeline);
            }
            tasks.insert(
                task.name.clone(),
                TaskSteps {
                    steps,
                    final_ir,
                    depends_on: task.depends_on.iter().map(|d| d.task.clone()).collect(),
                },
            );
        }

        for task in config.tasks.values() {
            let frontend = tasks[&task.name].steps[0];
            for dependency in &task.depends_on {
                let Some(upstream) = tasks.get(&dependency.task) else {
                    return Err(GraphError::UnknownDependency {
                        task: task.name.clone(),
                        dependency: dependency.task.clone(),
                        location: dependency.location.clone(),
                    });
                };
                graph.add_edge(upstream.final_ir.0, frontend.0, EdgeKind::Dependency);
            }
        }

        let cycles = find_cycles(config);
        if !cycles.is_empty() {
            return Err(GraphError::Cycles(cycles));
        }
        Ok(Self {
            graph,
            by_id,
            tasks,
        })
    }

    /// The graph restricted to `targets` and every task they transitively depend on. A target
    /// is a qualified task name; a plain name that is no root task selects that task in every
    /// member that has it (`model` -> `api/model`, `web/model`). Unknown names are an error with
    /// a suggestion.
    pub fn subgraph_for(&self, targets: &[&str]) -> Result<Self, GraphError> {
        let mut selected: HashSet<&str> = HashSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        for &target in targets {
            let matches: Vec<&str> = if let Some((name, _)) = self.tasks.get_key_value(target) {
                vec![name.as_str()]
            } else if target.contains('/') {
                Vec::new()
            } else {
                self.tasks
                    .keys()
                    .filter(|name| {
                        name.split_once('/')
                            .is_some_and(|(_, local)| local == target)
                    })
                    .map(String::as_str)
                    .collect()
            };
            if matches.is_empty() {
                return Err(GraphError::UnknownTask {
                    name: target.to_owned(),
                    suggestion: did_you_mean(target, self.tasks.keys().map(String::as_str)),
                    known: self.tasks.keys().cloned().collect(),
                });
            }
            queue.extend(matches);
        }
        while let Some(task) = queue.pop_front() {
            if selected.insert(task) {
                queue.extend(self.tasks[task].depends_on.iter().map(String::as_str));
            }
        }

        let graph = self.graph.filter_map(
            |_, step| selected.contains(step.task.as_str()).then(|| step.clone()),
            |_, kind| Some(*kind),
        );
        let by_id = graph
            .node_indices()
            .map(|i| (graph[i].id.clone(), StepIndex(i)))
            .collect::<HashMap<_, _>>();
        let tasks = self
            .tasks
            .iter()
            .filter(|(name, _)| selected.contains(name.as_str()))
            .map(|(name, steps)| {
                let remap = |s: StepIndex| by_id[&self.graph[s.0].id];
                let task = TaskSteps {
                    steps: steps.steps.iter().map(|&s| remap(s)).collect(),
                    final_ir: remap(steps.final_ir),
                    depends_on: steps.depends_on.clone(),
                };
                (name.clone(), task)
            })
            .collect();
        Ok(Self {
            graph,
            by_id,
            tasks,
        })
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether there are no steps (no tasks).
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// The step at `index`.
    pub fn step(&self, index: StepIndex) -> &Step {
        &self.graph[index.0]
    }

    /// The step with this id.
    pub fn find(&self, id: &str) -> Option<StepIndex> {
        self.by_id.get(id).copied()
    }

    /// Every step, in index order.
    pub fn steps(&self) -> impl ExactSizeIterator<Item = (StepIndex, &Step)> {
        self.graph
            .node_indices()
            .map(|i| (StepIndex(i), &self.graph[i]))
    }

    /// Every edge as `(from, to, kind)`, sorted by `from` then `to`.
    pub fn edges(&self) -> Vec<(StepIndex, StepIndex, EdgeKind)> {
        let mut edges: Vec<_> = self
            .graph
            .raw_edges()
            .iter()
            .map(|e| (StepIndex(e.source()), StepIndex(e.target()), e.weight))
            .collect();
        edges.sort_by_key(|&(from, to, _)| (from, to));
        edges
    }

    /// The task names, sorted.
    pub fn tasks(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }

    /// The steps of a task: frontend, transforms in order, backends in order.
    pub fn task_steps(&self, task: &str) -> Option<&[StepIndex]> {
        self.tasks.get(task).map(|t| t.steps.as_slice())
    }

    /// The step whose IR a task hands to the tasks that depend on it: its last transform, or
    /// its frontend.
    pub fn final_ir(&self, task: &str) -> Option<StepIndex> {
        self.tasks.get(task).map(|t| t.final_ir)
    }

    /// The tasks a task depends on directly (qualified names, in written order).
    pub fn task_dependencies(&self, task: &str) -> Option<&[String]> {
        self.tasks.get(task).map(|t| t.depends_on.as_slice())
    }

    /// The steps `step` waits for directly, sorted. For a frontend, these are the final IR steps
    /// of the tasks it depends on; for any other step, the previous step of its task.
    pub fn dependencies(&self, step: StepIndex) -> Vec<StepIndex> {
        self.neighbors(step, Direction::Incoming)
    }

    /// The steps that wait for `step` directly, sorted.
    pub fn dependents(&self, step: StepIndex) -> Vec<StepIndex> {
        self.neighbors(step, Direction::Outgoing)
    }

    /// Every step that needs `step`, directly or not, sorted: what must not run (or must re-run)
    /// when `step` fails (or changes).
    pub fn transitive_dependents(&self, step: StepIndex) -> Vec<StepIndex> {
        self.reachable(step, Direction::Outgoing)
    }

    /// Every step `step` needs, directly or not, sorted.
    pub fn transitive_dependencies(&self, step: StepIndex) -> Vec<StepIndex> {
        self.reachable(step, Direction::Incoming)
    }

    /// Steps with no dependencies: what can run first.
    pub fn roots(&self) -> Vec<StepIndex> {
        self.graph
            .node_indices()
            .filter(|&i| {
                self.graph
                    .neighbors_directed(i, Direction::Incoming)
                    .next()
                    .is_none()
            })
            .map(StepIndex)
            .collect()
    }

    /// Every step, each after all of its dependencies. Deterministic: among the steps ready at
    /// any point, the one with the smallest index comes first.
    pub fn topo_order(&self) -> Vec<StepIndex> {
        let mut waiting: Vec<usize> = self
            .graph
            .node_indices()
            .map(|i| {
                self.graph
                    .neighbors_directed(i, Direction::Incoming)
                    .count()
            })
            .collect();
        let mut ready: BinaryHeap<Reverse<NodeIndex>> = self
            .graph
            .node_indices()
            .filter(|i| waiting[i.index()] == 0)
            .map(Reverse)
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(Reverse(next)) = ready.pop() {
            order.push(StepIndex(next));
            for dependent in self.graph.neighbors_directed(next, Direction::Outgoing) {
                waiting[dependent.index()] -= 1;
                if waiting[dependent.index()] == 0 {
                    ready.push(Reverse(dependent));
                }
            }
        }
        debug_assert_eq!(
            order.len(),
            self.len(),
            "the graph is acyclic by construction"
        );
        order
    }

    /// A fresh [`crate::ReadySet`] for scheduling this graph.
    pub fn ready_set(&self) -> crate::ReadySet {
        crate::ReadySet::new(self)
    }

    fn neighbors(&self, step: StepIndex, direction: Direction) -> Vec<StepIndex> {
        // A step can be linked twice to another only through two `depends_on` of one task,
        // which the loader removes; dedup anyway.
        let mut out: Vec<StepIndex> = self
            .graph
            .neighbors_directed(step.0, direction)
            .map(StepIndex)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn reachable(&self, step: StepIndex, direction: Direction) -> Vec<StepIndex> {
        let mut seen = vec![false; self.len()];
        let mut stack = vec![step.0];
        let mut out = Vec::new();
        while let Some(node) = stack.pop() {
            for next in self.graph.neighbors_directed(node, direction) {
                if !seen[next.index()] {
                    seen[next.index()] = true;
                    out.push(StepIndex(next));
                    stack.push(next);
                }
            }
        }
        out.sort_unstable();
        out
    }
}

impl std::ops::Index<StepIndex> for StepGraph {
    type Output = Step;

    fn index(&self, index: StepIndex) -> &Step {
        self.step(index)
    }
}

/// Every cycle among the tasks' `depends_on`, one per strongly connected component, sorted.
fn find_cycles(config: &Config) -> Vec<Cycle> {
    // The task graph: an edge a -> b when a depends on b, weighted with the entry's location.
    let mut graph: DiGraph<&str, &Location> = DiGraph::with_capacity(config.tasks.len(), 0);
    let index: HashMap<&str, NodeIndex> = config
        .tasks
        .keys()
        .map(|name| (name.as_str(), graph.add_node(name.as_str())))
        .collect();
    for task in config.tasks.values() {
        for dependency in &task.depends_on {
            if let Some(&upstream) = index.get(dependency.task.as_str()) {
                graph.add_edge(index[task.name.as_str()], upstream, &dependency.location);
            }
        }
    }

    let mut cycles = Vec::new();
    for component in petgraph::algo::tarjan_scc(&graph) {
        let is_cycle = component.len() > 1 || graph.contains_edge(component[0], component[0]);
        if !is_cycle {
            continue;
        }
        let members: HashSet<NodeIndex> = component.iter().copied().collect();
        let start = *component
            .iter()
            .min_by_key(|&&n| graph[n])
            .expect("components are not empty");
        let path = shortest_cycle(&graph, start, &members);
        let links = path
            .iter()
            .enumerate()
            .map(|(i, &from)| {
                let to = path[(i + 1) % path.len()];
                let edge = graph.find_edge(from, to).expect("the path follows edges");
                CycleLink {
                    task: graph[from].to_owned(),
                    depends_on: graph[to].to_owned(),
                    location: graph[edge].clone(),
                }
            })
            .collect();
        let on_path: HashSet<NodeIndex> = path.iter().copied().collect();
        let also_involved: BTreeSet<&str> = component
            .iter()
            .filter(|n| !on_path.contains(n))
            .map(|&n| graph[n])
            .collect();
        cycles.push(Cycle {
            tasks: path.iter().map(|&n| graph[n].to_owned()).collect(),
            links,
            also_involved: also_involved.into_iter().map(str::to_owned).collect(),
        });
    }
    cycles.sort_by(|a, b| a.tasks.cmp(&b.tasks));
    cycles
}

/// The shortest cycle through `start` within `members` (breadth-first, neighbours in name
/// order so that ties break the same way every time), as the list of its nodes from `start`.
fn shortest_cycle(
    graph: &DiGraph<&str, &Location>,
    start: NodeIndex,
    members: &HashSet<NodeIndex>,
) -> Vec<NodeIndex> {
    let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph
            .neighbors(node)
            .filter(|n| members.contains(n))
            .collect();
        next.sort_by_key(|&n| graph[n]);
        for n in next {
            if n == start {
                let mut path = vec![node];
                let mut at = node;
                while at != start {
                    at = parent[&at];
                    path.push(at);
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(n) {
                e.insert(node);
                queue.push_back(n);
            }
        }
    }
    unreachable!("every member of a strongly connected component lies on a cycle")
}
