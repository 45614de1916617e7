//! Steps through an `InstancePool`: the actors that own its instances are reused, never more
//! than `max_live` of them, a failed call keeps its actor fit for the next step, and an
//! abandoned call holds its place until it ends, then its actor serves the next step; a call
//! abandoned before an actor took it never runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use morphir_host::InstancePool;
use morphir_runtime::{Envelope, HostContext, Limits, Operation};

use crate::support::load;

/// Default limits but a time limit of `ms` (for `spin`).
fn time_limit(ms: u64) -> Limits {
    Limits {
        max_execution_time: Duration::from_millis(ms),
        ..Limits::default()
    }
}

fn pool(max_live: usize, limits: Limits) -> Arc<InstancePool> {
    Arc::new(InstancePool::new(load("echo", limits), max_live))
}

async fn echo(pool: &InstancePool, step: &str, kind: Option<&str>) -> Result<Envelope, String> {
    let mut input = Envelope::new("text/plain", step.as_bytes().to_vec());
    if let Some(kind) = kind {
        input = input.with_kind(kind);
    }
    pool.run(step, Operation::Transform, input, HostContext::default())
        .await
        .map(|output| output.envelope)
        .map_err(|e| e.to_string())
}

/// Waits until no actor of `pool` is busy. Every caller has its answer before this, but an
/// actor started for a call that the other actor took first still has to find the queue empty
/// and go idle (a few microseconds, on its own thread).
async fn settle(pool: &InstancePool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.busy() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} actors still busy with every call answered",
            pool.busy()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_steps_share_at_most_max_live_actors() {
    let pool = pool(2, Limits::default());
    let calls: Vec<_> = (0..16)
        .map(|i| {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { echo(&pool, &format!("step-{i}"), None).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let output = call.await.unwrap().unwrap();
        assert_eq!(output.content, format!("step-{i}").into_bytes());
    }
    settle(&pool).await;
    let idle = pool.idle();
    assert!((1..=2).contains(&idle), "{idle} idle actors");
    // One after the other, steps keep using the actors already there.
    for i in 0..8 {
        echo(&pool, &format!("again-{i}"), None).await.unwrap();
    }
    assert_eq!(pool.idle(), idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_timed_out_call_keeps_the_actor_fit_for_the_next_step() {
    let pool = pool(1, time_limit(200));
    let failed = echo(&pool, "fails", Some("fail")).await.unwrap_err();
    assert!(failed.contains("echo was asked to fail"), "{failed}");
    let timed_out = echo(&pool, "spins", Some("spin")).await.unwrap_err();
    assert!(
        timed_out.contains("exceeded max_execution_time"),
        "{timed_out}"
    );
    assert_eq!(pool.idle(), 1);
    let output = echo(&pool, "after", None).await.unwrap();
    assert_eq!(output.content, b"after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_call_holds_its_place_until_it_ends_then_its_actor_serves_again() {
    let pool = pool(1, time_limit(500));
    echo(&pool, "warm", None).await.unwrap();
    assert_eq!(pool.idle(), 1);
    // Abandon a call that spins until its time limit.
    let spinning = {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { echo(&pool, "abandoned", Some("spin")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    spinning.abort();
    let _ = spinning.await;
    assert_eq!(
        pool.idle(),
        0,
        "the abandoned call's actor went back to the pool"
    );
    assert_eq!(pool.busy(), 1, "the abandoned call still holds its place");
    // The next step waits for that place, then gets a new actor.
    let started = Instant::now();
    let output = echo(&pool, "next", None).await.unwrap();
    assert_eq!(output.content, b"next");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the next step started beside the abandoned call"
    );
    assert_eq!(pool.idle(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_abandoned_while_it_waits_is_never_run() {
    let pool = pool(1, time_limit(1000));
    echo(&pool, "warm", None).await.unwrap();
    let started = Instant::now();
    let spin = |step: &'static str| {
        let pool = Arc::clone(&pool);
        tokio::spawn(async move { echo(&pool, step, Some("spin")).await })
    };
    // The only actor spins for a second; a second spinning call waits behind it, and is given up.
    let running = spin("running");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = spin("waiting");
    tokio::time::sleep(Duration::from_millis(50)).await;
    waiting.abort();
    let _ = waiting.await;
    // The next step runs when the first call ends, not a second later (after the abandoned one).
    let output = echo(&pool, "next", None).await.unwrap();
    assert_eq!(output.content, b"next");
    let waited = started.elapsed();
    assert!(
        running.await.unwrap().is_err(),
        "the spinning call hit its time limit"
    );
    assert!(
        waited < Duration::from_millis(1800),
        "the abandoned call ran too: the next step waited {waited:?}"
    );
    assert_eq!(pool.idle(), 1);
}
