use std::sync::{PoisonError, Weak};

use kameo::Actor;
use kameo::actor::{ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::message::{Context, Message};
use morphir_runtime::{Instance, Module};

use crate::pool::{Call, Outcome, Request, Shared};
use crate::{Error, lane};

/// Owns one live instance of an extension and runs the pool's queued steps, one at a time, on
/// a thread of its own (a lane: see `lane.rs`). It lives as long as its pool keeps it, so a
/// build's misses, and a daemon's builds, reuse both the thread and the instance: a step is a
/// queued call, not a thread.
///
/// A [`Drain`] message sets it going: it takes calls from its pool's queue until the queue is
/// empty, then puts itself on the pool's idle list (both under the pool's lock, so a call
/// queued meanwhile either finds it idle or is taken by it). While steps keep coming, an actor
/// goes from one call to the next without waiting for the caller to hand it the next one.
#[derive(Debug)]
pub struct InstanceActor {
    extension: String,
    module: Module,
    /// Its place among the pool's live instances, given back when the actor is dropped.
    slot: Slot,
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
    /// Starts an actor for `module` on a new lane thread, holding `slot`, for `step` (named if
    /// it cannot start; the slot is given back then). The instance itself is made by the first
    /// step.
    pub(crate) fn spawn_on_lane(
        step: &str,
        module: Module,
        slot: Slot,
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
            slot,
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

    /// Runs one queued call on this actor's instance.
    fn call(&mut self, request: &Request) -> Result<morphir_runtime::CallOutput, Error> {
        let result = match &mut self.instance {
            Some(instance) => Ok(instance),
            slot @ None => self.module.instantiate().map(|i| &mut *slot.insert(i)),
        }
        // After a trap, timeout, out-of-memory error or ABI breach the instance has already
        // replaced its guest state (`Instance::call`), so it is fit for the next step.
        .and_then(|instance| {
            instance.call_with(request.operation, &request.input, &request.context)
        });
        tracing::trace!(step = %request.step, extension = %self.extension, ok = result.is_ok(), "step call finished");
        Ok(result?)
    }
}

/// The message: run the pool's queued calls until none is left, then go idle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Drain;

impl Message<Drain> for InstanceActor {
    type Reply = ();

    #[expect(
        clippy::unused_async_trait_impl,
        reason = "kameo's handler is async; this one blocks on purpose, on the actor's own thread"
    )]
    async fn handle(&mut self, _: Drain, ctx: &mut Context<Self, Self::Reply>) {
        let mut next = self.next_call(ctx.actor_ref());
        while let Some(call) = next {
            let result = self.call(&call.request);
            // The next call is taken (or the actor is idle again) before this answer goes: a
            // caller that sees its answer sees the actor back in the pool.
            next = self.next_call(ctx.actor_ref());
            // An abandoned call is finished all the same (a Wasm call cannot be cut short);
            // its result goes nowhere.
            let _ = call.reply.send(Outcome::Done(result));
        }
    }
}

impl InstanceActor {
    /// The next queued call still wanted; with none, the actor puts itself on the idle list
    /// (under the same lock, so a call queued meanwhile either finds it idle or is taken).
    /// Calls abandoned while they waited (an interrupted build) are dropped unrun.
    fn next_call(&self, me: &ActorRef<Self>) -> Option<Call> {
        // A dropped pool has dropped its queue too: nothing left to do, and the actor stops
        // once the last reference to it goes.
        let shared = self.slot.shared.upgrade()?;
        let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        let call = std::iter::from_fn(|| state.queue.pop_front()).find(|c| !c.reply.is_closed());
        if call.is_none() {
            state.idle.push(me.clone());
        }
        call
    }
}

/// One of a pool's `max_live` places, held by an actor (or by its spawn until the actor exists)
/// and given back when that is dropped: when the actor stops (trimmed, its pool dropped, or it
/// panicked) or its thread could not start.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) shared: Weak<Shared>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.release();
        }
    }
}
