//! Ready-set bookkeeping for a scheduler.

use std::collections::BTreeSet;

use crate::graph::{StepGraph, StepIndex};

/// Where a step is in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepState {
    /// Some dependency has not completed yet.
    Waiting,
    /// Every dependency completed; not handed out yet.
    Ready,
    /// Handed out by [`ReadySet::pop`].
    Running,
    /// Completed (ran, or was served from the cache).
    Done,
    /// Failed.
    Failed,
    /// Will not run because a step it needs failed.
    Skipped,
}

/// Tracks which steps of a [`StepGraph`] may run: a step becomes ready when all of its
/// dependencies are done. Owns its data (no borrow of the graph), so a scheduler can keep it
/// next to an `Arc<StepGraph>` and mutate it from one place.
///
/// ```text
/// let mut ready = graph.ready_set();
/// while let Some(step) = ready.pop() { /* dispatch; later: */ ready.complete(step); }
/// ```
#[derive(Debug, Clone)]
pub struct ReadySet {
    /// Dependencies not done yet, per step.
    waiting_on: Vec<usize>,
    /// Direct dependents, per step.
    dependents: Vec<Vec<StepIndex>>,
    state: Vec<StepState>,
    ready: BTreeSet<StepIndex>,
    running: usize,
}

impl ReadySet {
    /// A run of `graph` where nothing has happened yet: the roots are ready.
    pub fn new(graph: &StepGraph) -> Self {
        let mut waiting_on = vec![0; graph.len()];
        let mut dependents = vec![Vec::new(); graph.len()];
        for (index, _) in graph.steps() {
            let mut next = graph.dependents(index);
            for &n in &next {
                waiting_on[n.index()] += 1;
            }
            next.shrink_to_fit();
            dependents[index.index()] = next;
        }
        let mut state = vec![StepState::Waiting; graph.len()];
        let mut ready = BTreeSet::new();
        for (index, _) in graph.steps() {
            if waiting_on[index.index()] == 0 {
                state[index.index()] = StepState::Ready;
                ready.insert(index);
            }
        }
        Self {
            waiting_on,
            dependents,
            state,
            ready,
            running: 0,
        }
    }

    /// The steps ready to run, smallest index first.
    pub fn ready(&self) -> impl Iterator<Item = StepIndex> {
        self.ready.iter().copied()
    }

    /// Hands out the ready step with the smallest index and marks it running.
    pub fn pop(&mut self) -> Option<StepIndex> {
        let step = self.ready.pop_first()?;
        self.state[step.index()] = StepState::Running;
        self.running += 1;
        Some(step)
    }

    /// Marks a running (or ready) step done; returns the steps that became ready, sorted.
    /// Any other state is left alone and returns nothing.
    pub fn complete(&mut self, step: StepIndex) -> Vec<StepIndex> {
        if !self.leave_running_or_ready(step, StepState::Done) {
            return Vec::new();
        }
        let mut newly_ready = Vec::new();
        for &next in &self.dependents[step.index()] {
            let waiting = &mut self.waiting_on[next.index()];
            *waiting -= 1;
            if *waiting == 0 && self.state[next.index()] == StepState::Waiting {
                self.state[next.index()] = StepState::Ready;
                self.ready.insert(next);
                newly_ready.push(next);
            }
        }
        newly_ready
    }

    /// Marks a running (or ready) step failed; every step that needs it, directly or not, is
    /// skipped and returned, sorted. Steps that do not need it go on.
    pub fn fail(&mut self, step: StepIndex) -> Vec<StepIndex> {
        if !self.leave_running_or_ready(step, StepState::Failed) {
            return Vec::new();
        }
        let mut skipped = Vec::new();
        let mut stack = vec![step];
        while let Some(at) = stack.pop() {
            for &next in &self.dependents[at.index()] {
                if matches!(
                    self.state[next.index()],
                    StepState::Waiting | StepState::Ready
                ) {
                    self.state[next.index()] = StepState::Skipped;
                    self.ready.remove(&next);
                    skipped.push(next);
                    stack.push(next);
                }
            }
        }
        skipped.sort_unstable();
        skipped
    }

    /// The state of a step.
    pub fn state(&self, step: StepIndex) -> StepState {
        self.state[step.index()]
    }

    /// How many steps are running.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Nothing is ready or running: the run is over (every step is done, failed or skipped).
    pub fn is_finished(&self) -> bool {
        self.ready.is_empty() && self.running == 0
    }

    fn leave_running_or_ready(&mut self, step: StepIndex, to: StepState) -> bool {
        match self.state[step.index()] {
            StepState::Running => self.running -= 1,
            StepState::Ready => {
                self.ready.remove(&step);
            }
            _ => return false,
        }
        self.state[step.index()] = to;
        true
    }
}
