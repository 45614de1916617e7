use std::sync::{Mutex, PoisonError, Weak};

use kameo::Actor;
use kameo::actor::{ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::message::{Context, Message};
use morphir_runtime::{CallOutput, Envelope, HostContext, Instance, Module, Operation};
use tokio::sync::OwnedSemaphorePermit;

use crate::{Error, lane};

/// A pool's idle actors.
pub(crate) type IdleList = Mutex<Vec<ActorRef<InstanceActor>>>;

/// Owns one live instance of an extension and runs the steps sent to it, one at a time, on a
/// thread of its own (a lane: see `lane.rs`). It lives as long as its pool keeps it, so a
/// build's misses, and a daemon's builds, reuse both the thread and the instance: a step is a
/// message, not a thread.
#[derive(Debug)]
pub struct InstanceActor {
    extension: String,
    module: Module,
    /// The pool's idle list, which the actor puts itself back on when a call ends, before it
    /// releases the call's permit: a step that gets the permit then finds this actor idle
    /// instead of starting another (the live cap holds for actors, not only for calls). Weak:
    /// the list holds the actors, and a dropped pool must stop them.
    idle: Weak<IdleList>,
    /// Created on the actor's own thread by its first step (instantiating can compile a lane
    /// of the module, which must not happen on the async workers).
    instance: Option<Instance>,
}

impl Actor for InstanceActor {
    type Args = Self;
    type Error = Infallible;

    fn name() -> &'static str {
        "morphir-instance"
    }

    fn on_start(
        args: Self::Args,
        _actor_ref: ActorRef<Self>,
    ) -> impl Future<Output = Result<Self, Self::Error>> + Send {
        std::future::ready(Ok(args))
    }
}

impl InstanceActor {
    /// Starts an actor for `module` on a new lane thread, for `step` (named if it cannot
    /// start). The instance itself is made by the first step.
    pub(crate) fn spawn_on_lane(
        step: &str,
        module: Module,
        idle: Weak<IdleList>,
    ) -> Result<ActorRef<Self>, Error> {
        let prepared = Self::prepare();
        let actor_ref = prepared.actor_ref().clone();
        let extension = module.name().to_owned();
        let failed = |reason: String| Error::Actor {
            step: step.to_owned(),
            reason,
        };
        let thread_name = format!("morphir-lane-{extension}");
        let actor = Self {
            extension,
            module,
            idle,
            instance: None,
        };
        // kameo spawns a task when an actor stops (to tell its links), which needs a tokio
        // context. The lane's own: the caller's runtime may be shutting down by the time a
        // pool's last actors stop, and a task spawned on a runtime that is gone panics. Nothing
        // drives this one; the task it is given has nothing to do (no links) and goes with it.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| {
                failed(format!(
                    "cannot start a runtime for the extension's thread: {e}"
                ))
            })?;
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let _context = runtime.enter();
                lane::block_on(prepared.run(actor))
            })
            .map_err(|e| failed(format!("cannot start a thread for the extension: {e}")))?;
        Ok(actor_ref)
    }
}

/// The message: call `operation` with `input`.
#[derive(Debug)]
pub struct RunStep {
    /// The step, for the trace.
    pub step: String,
    /// The operation.
    pub operation: Operation,
    /// The request envelope.
    pub input: Envelope,
    /// The pool permit this call holds. It travels with the message, so it is released when
    /// the call ends, not when the caller stops waiting for it: a build that abandons a call
    /// (Ctrl-C) cannot start a second instance beside one that is still running.
    pub permit: OwnedSemaphorePermit,
    /// What the step's host functions may do (installed for this call only: the instance
    /// serves other steps next).
    pub context: HostContext,
}

impl Message<RunStep> for InstanceActor {
    type Reply = Result<CallOutput, Error>;

    #[expect(
        clippy::unused_async_trait_impl,
        reason = "kameo's handler is async; this one blocks on purpose, on the actor's own thread"
    )]
    async fn handle(&mut self, msg: RunStep, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let RunStep {
            step,
            operation,
            input,
            permit,
            context,
        } = msg;
        let result = match &mut self.instance {
            Some(instance) => Ok(instance),
            slot @ None => self.module.instantiate().map(|i| &mut *slot.insert(i)),
        }
        // After a trap, timeout, out-of-memory error or ABI breach the instance has already
        // replaced its guest state (`Instance::call`), so it is fit for the next step.
        .and_then(|instance| instance.call_with(operation, &input, &context));
        // Back on the idle list, then the permit: also when the caller has stopped waiting
        // (an abandoned call), since the instance is fit either way.
        if let Some(idle) = self.idle.upgrade() {
            idle.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(ctx.actor_ref().clone());
        }
        drop(permit);
        tracing::trace!(%step, extension = %self.extension, ok = result.is_ok(), "step call finished");
        Ok(result?)
    }
}
