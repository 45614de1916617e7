//! Extension calls through the host's actors, beside the runtime's own figures
//! (`crates/morphir-runtime/benches/runtime.rs`), with the `echo` guest and a 100-byte and a
//! 1 MiB envelope.
//!
//! * `actor-call/pool-run`: [`InstancePool::run`], as `morphir build` runs a step that misses:
//!   an idle [`morphir_host::InstanceActor`] (its instance and thread warm) taken from the pool, the
//!   call queued and run, the actor back in the pool; awaited with `morphir_host::lane::block_on`, as the CLI
//!   awaits its build. Includes the copy of the request the build makes for each call.
//! * `actor-call/pool-run-from-tokio`: the same, awaited from a task on tokio's runtime (an
//!   async host's caller), where `InstancePool::run` does its own short spin before the worker
//!   parks (`lane::spin_first`).
//! * `throughput/*`: calls per second on two instances: the runtime alone (one thread per
//!   instance); `InstancePool::run` with a pool of two and two calls in flight, awaited on one
//!   thread (a build with `-j 2`); the same from two tokio tasks; and with 64 calls in flight
//!   on one thread (a wide layer of a build: waiting calls queue in the pool, and each actor
//!   runs them back to back). Criterion's "thrpt" is calls per second, over both.
//!
//! p50/p99 per call are in `benches/latency.rs`; memory per instance in `benches/memory.rs`.
//! Run with `cargo bench -p morphir-host --bench actor` (`RUST_LIB_BACKTRACE=0` for figures
//! comparable with BENCHMARKS.md).

mod support;

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use morphir_host::InstancePool;
use morphir_host::lane::block_on;
use morphir_runtime::{Envelope, Operation};
use support::{SIZES, call, echo_module, envelope, tokio, warm_pool};

/// `n` calls of `input` through `pool`, one after the other.
async fn calls(pool: &InstancePool, input: &Envelope, n: u64) {
    for _ in 0..n {
        call(pool, input).await;
    }
}

fn latency(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let module = echo_module(dir.path());
    let rt = tokio();
    let _context = rt.enter();
    let pool = warm_pool(&module, 1);
    let mut group = c.benchmark_group("actor-call");
    for size in SIZES {
        let input = envelope(size);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("pool-run", size), &input, |b, input| {
            b.iter_custom(|iters| {
                block_on(async {
                    let start = Instant::now();
                    calls(&pool, input, iters).await;
                    start.elapsed()
                })
            });
        });
        group.bench_with_input(
            BenchmarkId::new("pool-run-from-tokio", size),
            &input,
            |b, input| {
                b.iter_custom(|iters| {
                    let (pool, input) = (Arc::clone(&pool), input.clone());
                    rt.block_on(tokio::spawn(async move {
                        let start = Instant::now();
                        calls(&pool, &input, iters).await;
                        start.elapsed()
                    }))
                    .unwrap()
                });
            },
        );
    }
    group.finish();
}

/// `n` calls of `input` through `pool`, `in_flight` of them at once, all awaited on this
/// thread.
async fn calls_in_flight(pool: &InstancePool, input: &Envelope, n: u64, in_flight: u64) {
    let mut callers: Vec<Option<Pin<Box<dyn Future<Output = ()> + '_>>>> = (0..in_flight)
        .map(|i| {
            let share = n / in_flight + u64::from(i < n % in_flight);
            Some(Box::pin(calls(pool, input, share)) as Pin<Box<dyn Future<Output = ()>>>)
        })
        .collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for caller in &mut callers {
            if let Some(future) = caller {
                if future.as_mut().poll(cx).is_ready() {
                    *caller = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

/// `iters` calls split over two workers; the wall time until both are done.
fn split(iters: u64) -> (u64, u64) {
    (iters / 2, iters - iters / 2)
}

fn throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let module = echo_module(dir.path());
    let rt = tokio();
    let _context = rt.enter();
    let input = envelope(100);
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(1));

    let mut instances = [module.instantiate().unwrap(), module.instantiate().unwrap()];
    group.bench_function(BenchmarkId::new("runtime-2-threads", 100), |b| {
        b.iter_custom(|iters| {
            let (n0, n1) = split(iters);
            let [i0, i1] = &mut instances;
            let input = &input;
            let start = Instant::now();
            std::thread::scope(|s| {
                for (instance, n) in [(i0, n0), (i1, n1)] {
                    s.spawn(move || {
                        for _ in 0..n {
                            instance.call(Operation::Transform, input).unwrap();
                        }
                    });
                }
            });
            start.elapsed()
        });
    });
    drop(instances);

    let pool = warm_pool(&module, 2);
    group.bench_function(BenchmarkId::new("pool-run-2-in-flight", 100), |b| {
        b.iter_custom(|iters| {
            let (n0, n1) = split(iters);
            block_on(async {
                let start = Instant::now();
                tokio::join!(calls(&pool, &input, n0), calls(&pool, &input, n1));
                start.elapsed()
            })
        });
    });
    group.bench_function(BenchmarkId::new("pool-run-64-in-flight", 100), |b| {
        b.iter_custom(|iters| {
            block_on(async {
                let start = Instant::now();
                calls_in_flight(&pool, &input, iters, 64).await;
                start.elapsed()
            })
        });
    });
    group.bench_function(BenchmarkId::new("pool-run-2-tokio-tasks", 100), |b| {
        b.iter_custom(|iters| {
            let (n0, n1) = split(iters);
            let run = |n: u64| {
                let (pool, input) = (Arc::clone(&pool), input.clone());
                tokio::spawn(async move { calls(&pool, &input, n).await })
            };
            rt.block_on(async {
                let start = Instant::now();
                let (a, b) = (run(n0), run(n1));
                a.await.unwrap();
                b.await.unwrap();
                start.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = latency, throughput
}
criterion_main!(benches);
