//! Per-call latency percentiles (p50, p90, p99, max), which criterion does not report: times
//! every call of a long run on its own, with the `echo` guest and 100-byte and 1 MiB envelopes,
//! through the runtime alone and through `InstancePool::run` (as a build runs a miss), awaited
//! on the CLI's `lane::block_on` and from a tokio task (an async host). See
//! `benches/actor.rs` for what each path is.
//!
//! `cargo bench -p morphir-host --bench latency` prints a table; with `MORPHIR_BENCH_JSON=FILE`
//! it also appends one JSON object per line to FILE (`bench/run` reads them). Run without
//! `--bench` (as `cargo test --benches` does) it only checks that every path works.

mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use morphir_host::lane::block_on;
use morphir_runtime::Operation;
use support::{SIZES, call, echo_module, envelope, size_name, tokio, warm_pool};

/// Calls timed per path: (warm-up, measured) for 100 B, and for 1 MiB.
fn counts(size: usize, quick: bool) -> (usize, usize) {
    match (quick, size < 1 << 20) {
        (true, _) => (2, 10),
        (false, true) => (2_000, 20_000),
        (false, false) => (20, 300),
    }
}

struct Summary {
    path: &'static str,
    size: usize,
    n: usize,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
}

fn summarize(path: &'static str, size: usize, mut samples: Vec<Duration>) -> Summary {
    samples.sort_unstable();
    // Nearest rank, in thousandths.
    let at = |permille: usize| samples[((samples.len() - 1) * permille + 500) / 1000];
    let total: Duration = samples.iter().sum();
    Summary {
        path,
        size,
        n: samples.len(),
        p50: at(500),
        p90: at(900),
        p99: at(990),
        max: *samples.last().expect("samples"),
        mean: total / u32::try_from(samples.len()).expect("few samples"),
    }
}

/// Runs `call` `warm` times untimed, then `n` times timed one by one.
fn sample(warm: usize, n: usize, mut call: impl FnMut()) -> Vec<Duration> {
    for _ in 0..warm {
        call();
    }
    (0..n)
        .map(|_| {
            let start = Instant::now();
            call();
            start.elapsed()
        })
        .collect()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[expect(
    clippy::print_stdout,
    reason = "a bench binary without criterion: its output is the result"
)]
fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();
    let module = echo_module(dir.path());
    let rt = tokio();
    let _context = rt.enter();
    let pool = warm_pool(&module, 1);
    let mut results = Vec::new();
    for size in SIZES {
        let (warm, n) = counts(size, quick);
        let input = envelope(size);
        {
            let mut instance = pool.module().instantiate().unwrap();
            let samples = sample(warm, n, || {
                instance.call(Operation::Transform, &input).unwrap();
            });
            results.push(summarize("runtime", size, samples));
        }
        // Timed inside one wait, as a build awaits its steps: the CLI's `lane::block_on`, and
        // a tokio task (an async host's caller).
        let timed = || {
            let (pool, input) = (Arc::clone(&pool), input.clone());
            async move {
                let mut samples = Vec::with_capacity(n);
                for i in 0..warm + n {
                    let start = Instant::now();
                    call(&pool, &input).await;
                    if i >= warm {
                        samples.push(start.elapsed());
                    }
                }
                samples
            }
        };
        results.push(summarize("pool-run", size, block_on(timed())));
        let samples = rt.block_on(tokio::spawn(timed())).unwrap();
        results.push(summarize("pool-run-from-tokio", size, samples));
    }

    println!(
        "{:<22} {:>7} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "latency (µs)", "size", "calls", "p50", "p90", "p99", "max", "mean"
    );
    let mut json = String::new();
    for r in &results {
        println!(
            "{:<22} {:>7} {:>7} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            r.path,
            size_name(r.size),
            r.n,
            us(r.p50),
            us(r.p90),
            us(r.p99),
            us(r.max),
            us(r.mean)
        );
        writeln!(
            json,
            r#"{{"bench":"latency","path":"{}","size":{},"n":{},"p50_us":{:.3},"p90_us":{:.3},"p99_us":{:.3},"max_us":{:.3},"mean_us":{:.3}}}"#,
            r.path,
            r.size,
            r.n,
            us(r.p50),
            us(r.p90),
            us(r.p99),
            us(r.max),
            us(r.mean)
        )
        .unwrap();
    }
    if let Some(path) = std::env::var_os("MORPHIR_BENCH_JSON").filter(|_| !quick) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(json.as_bytes()))
            .expect("append to MORPHIR_BENCH_JSON");
    }
}
