//! Call latency and instantiation cost of the runtime alone (no actors).
//!
//! Run with `cargo bench -p morphir-runtime`; the guests are built first by
//! `scripts/build-extensions`. Figures are recorded in BENCHMARKS.md.

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use morphir_runtime::{CompileCache, Envelope, Limits, Operation, Runtime, RuntimeConfig};

fn echo_bytes() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(root.join("scripts/build-extensions"))
        .status()
        .expect("run scripts/build-extensions");
    assert!(status.success());
    std::fs::read(root.join("extensions/dist/echo.wasm")).unwrap()
}

fn runtime(cache: CompileCache) -> Runtime {
    Runtime::new(&RuntimeConfig {
        compile_cache: cache,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn calls(c: &mut Criterion) {
    let bytes = echo_bytes();
    let dir = tempfile::tempdir().unwrap();
    let module = runtime(CompileCache::Directory(dir.path().to_owned()))
        .load("echo", bytes, Limits::default())
        .unwrap();
    let mut instance = module.instantiate().unwrap();
    let mut group = c.benchmark_group("call");
    for size in [100usize, 1 << 20] {
        // `size` bytes in total on the wire, header included.
        let header = Envelope::new("application/json", Vec::new()).encoded_len();
        let input = Envelope::new("application/json", vec![b'x'; size - header]);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("echo-transform", size),
            &input,
            |b, input| {
                b.iter(|| instance.call(Operation::Transform, input).unwrap());
            },
        );
    }
    group.finish();
}

fn startup(c: &mut Criterion) {
    let bytes = echo_bytes();
    let dir = tempfile::tempdir().unwrap();
    let cached = runtime(CompileCache::Directory(dir.path().to_owned()));
    let module = cached
        .load("echo", bytes.clone(), Limits::default())
        .unwrap();
    let mut group = c.benchmark_group("startup");
    group.bench_function("instantiate-compiled", |b| {
        b.iter(|| module.instantiate().unwrap());
    });
    group.sample_size(10);
    let cold = runtime(CompileCache::Disabled);
    group.bench_function("load-cold-compile", |b| {
        b.iter(|| cold.load("echo", bytes.clone(), Limits::default()).unwrap());
    });
    group.bench_function("load-from-compile-cache", |b| {
        b.iter(|| {
            cached
                .load("echo", bytes.clone(), Limits::default())
                .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, calls, startup);
criterion_main!(benches);
