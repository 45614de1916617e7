use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kameo::actor::ActorRef;
use morphir_runtime::{CallOutput, Envelope, HostContext, Module, Operation};
use tokio::sync::oneshot;

use crate::actor::{Drain, InstanceActor, Slot};
use crate::{Error, lane};

/// The live instances of one extension, each owned by an [`InstanceActor`] on a thread of its
/// own: at most `max_live` of them busy or idle at once. Idle actors keep their instance and
/// thread warm for the next step.
///
/// Steps wait in one queue per pool, which the busy actors take from as they finish: a step
/// that finds no idle actor and no free place waits there for whichever actor is free first,
/// and an actor with steps waiting runs them back to back, without a round trip to the
/// caller between two of them.
#[derive(Debug)]
pub struct InstancePool {
    module: Module,
    shared: Arc<Shared>,
}

/// What a pool's actors share with it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    max_live: usize,
}

/// Under the pool's lock. Actors go idle only when the queue is empty, and calls are queued
/// beside an idle actor only when one is taken from the list to run them: so an idle actor
/// never sits beside a waiting call.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Actors with nothing to do.
    pub(crate) idle: Vec<ActorRef<InstanceActor>>,
    /// Calls no actor has taken yet.
    pub(crate) queue: VecDeque<Call>,
    /// Places taken: actors alive or starting (idle ones included).
    live: usize,
}

/// What a step asks of an instance.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) step: String,
    pub(crate) operation: Operation,
    pub(crate) input: Envelope,
    /// What the step's host functions may do (installed for this call only: the instance
    /// serves other steps next).
    pub(crate) context: HostContext,
}

/// A queued request and where its answer goes.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) request: Request,
    pub(crate) reply: oneshot::Sender<Outcome>,
}

/// The answer to a queued call.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// An actor ran it.
    Done(Result<CallOutput, Error>),
    /// A place came free while it waited (an actor stopped): the caller starts an actor there.
    Retry(Request),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives back a place. A call still waiting goes back to its caller to take it: otherwise,
    /// with no actor left to run the queue (the last one panicked, say), it would wait forever.
    pub(crate) fn release(&self) {
        let retry = {
            let mut state = self.lock();
            state.live = state.live.saturating_sub(1);
            std::iter::from_fn(|| state.queue.pop_front()).find(|call| !call.reply.is_closed())
        };
        if let Some(Call { request, reply }) = retry {
            // Its caller may have gone meanwhile; then the place simply stays free.
            let _ = reply.send(Outcome::Retry(request));
        }
    }
}

impl InstancePool {
    /// A pool for `module` allowing `max_live` live instances (at least one).
    pub fn new(module: Module, max_live: usize) -> Self {
        Self {
            module,
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                max_live: max_live.max(1),
            }),
        }
    }

    /// The module the pool makes instances of.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Runs `step`: calls `operation` with `input` under `context` on an idle instance's actor,
    /// or on a new one when none is idle and fewer than `max_live` are live; otherwise the call
    /// waits for the first actor to finish. The instance returns to the pool afterwards, also
    /// after a failed call (a fatal failure has already replaced its guest state).
    ///
    /// Dropping the future abandons the call: a call still waiting is never run; one already
    /// running is finished by its actor, and nothing waits for the result. Its place stays
    /// taken until then; then the actor serves the next step.
    pub async fn run(
        &self,
        step: &str,
        operation: Operation,
        input: Envelope,
        context: HostContext,
    ) -> Result<CallOutput, Error> {
        let mut request = Request {
            step: step.to_owned(),
            operation,
            input,
            context,
        };
        loop {
            let (reply, answer) = oneshot::channel();
            self.submit(Call { request, reply })?;
            // A caller on tokio spins for a short call's answer as `lane::block_on` does.
            match lane::spin_first(answer).await {
                Ok(Outcome::Done(result)) => return result,
                Ok(Outcome::Retry(back)) => request = back,
                // The actor that took the call is gone: it panicked while running it.
                Err(_) => {
                    return Err(Error::Actor {
                        step: step.to_owned(),
                        reason: "its thread panicked during the call".to_owned(),
                    });
                }
            }
        }
    }

    /// Queues `call`, and sets an actor going on it: an idle one, or a new one in a free place.
    /// With neither, a busy actor takes it when it is done with its own.
    fn submit(&self, call: Call) -> Result<(), Error> {
        let mut state = self.shared.lock();
        if let Some(actor) = state.idle.pop() {
            state.queue.push_back(call);
            drop(state);
            wake(&actor);
            return Ok(());
        }
        if state.live >= self.shared.max_live {
            state.queue.push_back(call);
            return Ok(());
        }
        state.live += 1;
        drop(state);
        // Outside the lock: starting a thread takes tens of microseconds.
        let slot = Slot {
            shared: Arc::downgrade(&self.shared),
        };
        let actor = InstanceActor::spawn_on_lane(&call.request.step, self.module.clone(), slot)?;
        self.shared.lock().queue.push_back(call);
        wake(&actor);
        Ok(())
    }

    /// How many instances are idle.
    pub fn idle(&self) -> usize {
        self.shared.lock().idle.len()
    }

    /// How many instances are busy: running a step, finishing an abandoned one, or starting.
    /// An actor started for a call that another actor took first counts here until it finds
    /// the queue empty and goes idle, which can be just after every caller has its answer.
    pub fn busy(&self) -> usize {
        let state = self.shared.lock();
        state.live.saturating_sub(state.idle.len())
    }

    /// Drops idle instances until at most `keep` are left; returns how many were dropped (their
    /// actors stop and their threads end). A long-lived host calls it to hold a cap on idle
    /// instances (`WarmPools`).
    pub fn trim_idle(&self, keep: usize) -> usize {
        let dropped: Vec<ActorRef<InstanceActor>> = {
            let mut state = self.shared.lock();
            let keep = keep.min(state.idle.len());
            state.idle.drain(keep..).collect()
        };
        dropped.len()
    }
}

/// Sets an actor taken off the idle list, or just started, going on the queue. Its mailbox
/// holds at most this one message (it is told only when taken or started), so it cannot be
/// full; and an idle actor cannot have stopped (the list holds it).
fn wake(actor: &ActorRef<InstanceActor>) {
    if let Err(e) = actor.tell(Drain).try_send() {
        // Should it happen anyway, the actor's place is given back as it stops, and a waiting
        // call is handed that place (`Shared::release`): nothing waits forever.
        tracing::warn!(extension_actor = %actor.id(), "cannot wake an extension actor: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(step: &str) -> Request {
        Request {
            step: step.to_owned(),
            operation: Operation::Transform,
            input: Envelope::new("text/plain", Vec::new()),
            context: HostContext::default(),
        }
    }

    #[test]
    fn a_released_place_goes_to_the_first_call_still_waiting() {
        let shared = Shared {
            state: Mutex::new(State::default()),
            max_live: 1,
        };
        let (gone, abandoned) = oneshot::channel();
        drop(abandoned);
        let (waiting, mut answer) = oneshot::channel();
        {
            let mut state = shared.lock();
            state.live = 1;
            state.queue.push_back(Call {
                request: request("abandoned"),
                reply: gone,
            });
            state.queue.push_back(Call {
                request: request("waiting"),
                reply: waiting,
            });
        }
        shared.release();
        match answer.try_recv() {
            Ok(Outcome::Retry(request)) => assert_eq!(request.step, "waiting"),
            other => panic!("expected the waiting call back, got {other:?}"),
        }
        let state = shared.lock();
        assert_eq!(state.live, 0);
        assert!(state.queue.is_empty(), "the abandoned call is dropped");
    }
}
