//! Extension calls through the host's actors, beside the runtime's own figures
//! (`crates/morphir-runtime/benches/runtime.rs`), with the `echo` guest and a 100-byte and a
//! 1 MiB envelope.
//!
//! * `actor-call/spawn-per-call`: [`morphir_host::run_on_actor`], as `morphir build` runs a step
//!   that misses: reserve a pool permit, spawn a `StepActor` on a thread of its own, ask it,
//!   stop it. Includes the copy of the request the build makes for each call.
//! * `actor-call/long-lived`: one actor on its own thread, asked again and again (what a daemon
//!   would do); see `support::Caller`.
//! * `throughput/*`: calls per second on two instances from two threads: the runtime alone
//!   (one thread per instance), two long-lived actors, and `run_on_actor` with a pool of two
//!   (a build with `-j 2`). Criterion's "thrpt" is calls per second, over both.
//!
//! p50/p99 per call are in `benches/latency.rs`; memory per instance in `benches/memory.rs`.
//! Run with `cargo bench -p morphir-host --bench actor` (`RUST_LIB_BACKTRACE=0` for figures
//! comparable with BENCHMARKS.md).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kameo::actor::Spawn as _;
use morphir_host::run_on_actor;
use morphir_runtime::Operation;
use support::{Call, Caller, SIZES, echo_module, envelope, tokio, warm_pool};

fn latency(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let module = echo_module(dir.path());
    let rt = tokio();
    let pool = warm_pool(&module, 1);
    let actor = {
        let _guard = rt.enter();
        Caller::spawn_in_thread(Caller {
            pool: Arc::clone(&pool),
        })
    };
    let mut group = c.benchmark_group("actor-call");
    for size in SIZES {
        let input = envelope(size);
        let shared = Arc::new(input.clone());
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("spawn-per-call", size),
            &input,
            |b, input| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            run_on_actor(
                                "bench",
                                Arc::clone(&pool),
                                Operation::Transform,
                                input.clone(),
                            )
                            .await
                            .unwrap();
                        }
                        start.elapsed()
                    })
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("long-lived", size), &shared, |b, input| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        actor.ask(Call(Arc::clone(input))).await.unwrap();
                    }
                    start.elapsed()
                })
            });
        });
    }
    group.finish();
    rt.block_on(actor.stop_gracefully()).unwrap();
}

/// `iters` calls split over two workers; the wall time until both are done.
fn split(iters: u64) -> (u64, u64) {
    (iters / 2, iters - iters / 2)
}

fn throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let module = echo_module(dir.path());
    let rt = tokio();
    let input = envelope(100);
    let shared = Arc::new(input.clone());
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
    let actors = {
        let _guard = rt.enter();
        [(); 2].map(|()| {
            Caller::spawn_in_thread(Caller {
                pool: Arc::clone(&pool),
            })
        })
    };
    group.bench_function(BenchmarkId::new("actors-2-long-lived", 100), |b| {
        b.iter_custom(|iters| {
            let (n0, n1) = split(iters);
            rt.block_on(async {
                let ask = |actor: &kameo::actor::ActorRef<Caller>, n: u64| {
                    let (actor, input) = (actor.clone(), Arc::clone(&shared));
                    tokio::spawn(async move {
                        for _ in 0..n {
                            actor.ask(Call(Arc::clone(&input))).await.unwrap();
                        }
                    })
                };
                let start = Instant::now();
                let (a, b) = (ask(&actors[0], n0), ask(&actors[1], n1));
                a.await.unwrap();
                b.await.unwrap();
                start.elapsed()
            })
        });
    });
    for actor in &actors {
        rt.block_on(actor.stop_gracefully()).unwrap();
    }

    group.bench_function(BenchmarkId::new("run-on-actor-pool-2", 100), |b| {
        b.iter_custom(|iters| {
            let (n0, n1) = split(iters);
            rt.block_on(async {
                let run = |n: u64| {
                    let (pool, input) = (Arc::clone(&pool), input.clone());
                    tokio::spawn(async move {
                        for _ in 0..n {
                            run_on_actor(
                                "bench",
                                Arc::clone(&pool),
                                Operation::Transform,
                                input.clone(),
                            )
                            .await
                            .unwrap();
                        }
                    })
                };
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
