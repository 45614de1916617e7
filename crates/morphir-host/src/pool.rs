use std::sync::{Arc, Mutex, PoisonError};

use kameo::actor::ActorRef;
use kameo::error::SendError;
use morphir_runtime::{CallOutput, Envelope, HostContext, Module, Operation};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::Error;
use crate::actor::{IdleList, InstanceActor, RunStep};

/// The live instances of one extension, each owned by an [`InstanceActor`] on a thread of its
/// own: at most `max_live` of them busy or idle at once. Idle actors keep their instance and
/// thread warm for the next step.
#[derive(Debug)]
pub struct InstancePool {
    module: Module,
    idle: Arc<IdleList>,
    permits: Arc<Semaphore>,
    max_live: usize,
}

impl InstancePool {
    /// A pool for `module` allowing `max_live` live instances (at least one).
    pub fn new(module: Module, max_live: usize) -> Self {
        Self {
            module,
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(max_live.max(1))),
            max_live: max_live.max(1),
        }
    }

    /// The module the pool makes instances of.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Runs `step`: calls `operation` with `input` under `context` on an idle instance's actor,
    /// or on a new one when none is idle and fewer than `max_live` are busy (otherwise waits for
    /// one). The instance returns to the pool afterwards, also after a failed call (a fatal
    /// failure has already replaced its guest state).
    ///
    /// Dropping the future abandons the call: the actor finishes it and nothing waits for the
    /// result. The instance's place stays taken until then; then the actor is idle again.
    pub async fn run(
        &self,
        step: &str,
        operation: Operation,
        input: Envelope,
        context: HostContext,
    ) -> Result<CallOutput, Error> {
        let permit = self.reserve().await;
        let actor = self.checkout(step)?;
        let reply = actor
            .ask(RunStep {
                step: step.to_owned(),
                operation,
                input,
                permit,
                context,
            })
            .await;
        // The actor has put itself back on the idle list (see `InstanceActor::idle`).
        reply.map_err(|e| match e {
            SendError::HandlerError(e) => e,
            // The actor is gone (it panicked): so is its instance.
            other => Error::Actor {
                step: step.to_owned(),
                reason: other.to_string(),
            },
        })
    }

    /// Waits for the right to hold an instance.
    async fn reserve(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed")
    }

    /// An idle actor, or a new one on a new thread (its instance is made by its first step,
    /// there).
    fn checkout(&self, step: &str) -> Result<ActorRef<InstanceActor>, Error> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(actor) => Ok(actor),
            None => {
                InstanceActor::spawn_on_lane(step, self.module.clone(), Arc::downgrade(&self.idle))
            }
        }
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

    /// Drops idle instances until at most `keep` are left; returns how many were dropped (their
    /// actors stop and their threads end). A long-lived host calls it to hold a cap on idle
    /// instances (`WarmPools`).
    pub fn trim_idle(&self, keep: usize) -> usize {
        let dropped: Vec<ActorRef<InstanceActor>> = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let keep = keep.min(idle.len());
            idle.drain(keep..).collect()
        };
        dropped.len()
    }
}
