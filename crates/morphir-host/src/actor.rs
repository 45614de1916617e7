use std::sync::Arc;

use kameo::Actor;
use kameo::actor::{ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::message::{Context, Message};
use morphir_runtime::{CallOutput, Envelope, HostContext, Operation};
use tokio::sync::OwnedSemaphorePermit;

use crate::{Error, InstancePool};

/// Runs one step: owns nothing but a handle to its extension's pool, borrows an instance for
/// the call and gives it back.
#[derive(Debug)]
pub struct StepActor {
    step: String,
    pool: Arc<InstancePool>,
}

impl Actor for StepActor {
    type Args = Self;
    type Error = Infallible;

    fn on_start(
        args: Self::Args,
        _actor_ref: ActorRef<Self>,
    ) -> impl Future<Output = Result<Self, Self::Error>> + Send {
        std::future::ready(Ok(args))
    }
}

/// The message: call `operation` with `input`, holding `permit` while an instance is out.
#[derive(Debug)]
pub struct RunStep {
    /// The operation.
    pub operation: Operation,
    /// The request envelope.
    pub input: Envelope,
    /// The pool permit reserved for this call.
    pub permit: OwnedSemaphorePermit,
    /// What the step's host functions may do (installed for this call only: pooled instances
    /// serve other steps next).
    pub context: HostContext,
}

impl Message<RunStep> for StepActor {
    type Reply = Result<CallOutput, Error>;

    #[expect(
        clippy::unused_async_trait_impl,
        reason = "kameo's handler is async; this one blocks on purpose, on the actor's own thread"
    )]
    async fn handle(&mut self, msg: RunStep, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        // This runs on the actor's own thread: blocking in the Wasm call is what it is for.
        let RunStep {
            operation,
            input,
            permit,
            context,
        } = msg;
        let mut instance = self.pool.checkout()?;
        let result = instance.call_with(operation, &input, &context);
        self.pool.checkin(instance);
        drop(permit);
        tracing::trace!(step = %self.step, ok = result.is_ok(), "step call finished");
        Ok(result?)
    }
}

/// Spawns a [`StepActor`] on a thread of its own for `step`, runs one call on it (with no host
/// grants: see [`run_on_actor_with`]), and stops it.
pub async fn run_on_actor(
    step: &str,
    pool: Arc<InstancePool>,
    operation: Operation,
    input: Envelope,
) -> Result<CallOutput, Error> {
    run_on_actor_with(step, pool, operation, input, HostContext::default()).await
}

/// [`run_on_actor`] with the step's [`HostContext`] (its environment view, hosts, readable
/// files and random seed).
pub async fn run_on_actor_with(
    step: &str,
    pool: Arc<InstancePool>,
    operation: Operation,
    input: Envelope,
    context: HostContext,
) -> Result<CallOutput, Error> {
    let permit = pool.reserve().await;
    let actor = StepActor::spawn_in_thread(StepActor {
        step: step.to_owned(),
        pool,
    });
    let reply = actor
        .ask(RunStep {
            operation,
            input,
            permit,
            context,
        })
        .await;
    // The actor's work is done either way; let its thread end.
    let _ = actor.stop_gracefully().await;
    reply.map_err(|e| match e {
        kameo::error::SendError::HandlerError(e) => e,
        other => Error::Actor {
            step: step.to_owned(),
            reason: other.to_string(),
        },
    })
}
