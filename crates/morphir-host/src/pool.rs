use std::sync::{Arc, Mutex, PoisonError};

use morphir_runtime::{Instance, Module};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Warm instances of one extension, at most `max_live` of them in use or idle at once.
#[derive(Debug)]
pub struct InstancePool {
    module: Module,
    idle: Mutex<Vec<Instance>>,
    permits: Arc<Semaphore>,
    max_live: usize,
}

impl InstancePool {
    /// A pool for `module` allowing `max_live` live instances (at least one).
    pub fn new(module: Module, max_live: usize) -> Self {
        Self {
            module,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max_live.max(1))),
            max_live: max_live.max(1),
        }
    }

    /// The module the pool makes instances of.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Waits for the right to hold an instance. The permit travels with the work to the actor.
    pub async fn reserve(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed")
    }

    /// An idle instance, or a new one (which may compile a lane: call it off the async
    /// workers). The caller must hold a permit from [`InstancePool::reserve`].
    pub fn checkout(&self) -> morphir_runtime::Result<Instance> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(instance) => Ok(instance),
            None => self.module.instantiate(),
        }
    }

    /// Returns an instance for the next step. One that failed fatally has already replaced its
    /// guest state (see `Instance::call`), so every returned instance is fit for reuse.
    pub fn checkin(&self, instance: Instance) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(instance);
    }

    /// How many instances are idle.
    pub fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// How many instances are lent out (permits held).
    pub fn busy(&self) -> usize {
        self.max_live
            .saturating_sub(self.permits.available_permits())
    }

    /// Drops idle instances until at most `keep` are left; returns how many were dropped. A
    /// long-lived host calls it to hold a cap on idle instances (`WarmPools`).
    pub fn trim_idle(&self, keep: usize) -> usize {
        let dropped: Vec<Instance> = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let keep = keep.min(idle.len());
            idle.drain(keep..).collect()
        };
        dropped.len()
    }
}
