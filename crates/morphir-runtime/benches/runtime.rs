//! Call latency and instantiation cost of the runtime alone (no actors), for a core module
//! (`echo`, through Extism) and for a component (`echo-component`, the same behaviour through
//! wasmtime's component API), side by side; and the cost of a component that imports WASI
//! (`wasi-component`), called from a plain thread and from inside an async runtime (where each
//! call moves to a thread of its own, `wasi.rs`).
//!
//! Run with `cargo bench -p morphir-runtime`; the guests are built first by
//! `scripts/build-extensions`. Figures are recorded in BENCHMARKS.md.

use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use morphir_runtime::{
    CompileCache, Envelope, Limits, Operation, Protocol, Runtime, RuntimeConfig,
};

fn guest_bytes(name: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let status = std::process::Command::new(root.join("scripts/build-extensions"))
        .status()
        .expect("run scripts/build-extensions");
    assert!(status.success());
    std::fs::read(root.join(format!("extensions/dist/{name}.wasm"))).unwrap()
}

/// The two echo guests: (bench label, module name, protocol).
const GUESTS: [(&str, &str, Protocol); 2] = [
    ("core", "echo", Protocol::Core),
    ("component", "echo-component", Protocol::Component),
];

fn runtime(cache: CompileCache) -> Runtime {
    Runtime::new(&RuntimeConfig {
        compile_cache: cache,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn calls(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(CompileCache::Directory(dir.path().to_owned()));
    let mut group = c.benchmark_group("call");
    for (label, name, protocol) in GUESTS {
        let module = rt
            .load_as(protocol, name, guest_bytes(name), Limits::default())
            .unwrap();
        let mut instance = module.instantiate().unwrap();
        for size in [100usize, 1 << 20] {
            // `size` bytes in total on the wire, header included.
            let header = Envelope::new("application/json", Vec::new()).encoded_len();
            let input = Envelope::new("application/json", vec![b'x'; size - header]);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(
                BenchmarkId::new(format!("echo-transform-{label}"), size),
                &input,
                |b, input| {
                    b.iter(|| instance.call(Operation::Transform, input).unwrap());
                },
            );
        }
    }
    group.finish();
}

fn wasi_calls(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(CompileCache::Directory(dir.path().to_owned()));
    let name = "wasi-component";
    let module = rt
        .load_as(
            Protocol::Component,
            name,
            guest_bytes(name),
            Limits::default(),
        )
        .unwrap();
    let mut instance = module.instantiate().unwrap();
    let header = Envelope::new("application/json", Vec::new())
        .with_kind("echo")
        .encoded_len();
    let input = Envelope::new("application/json", vec![b'x'; 100 - header]).with_kind("echo");
    let mut group = c.benchmark_group("call");
    group.throughput(Throughput::Bytes(100));
    group.bench_function("echo-transform-component-wasi/100", |b| {
        b.iter(|| instance.call(Operation::Transform, &input).unwrap());
    });
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("echo-transform-component-wasi-in-async-runtime/100", |b| {
        tokio.block_on(async {
            b.iter(|| instance.call(Operation::Transform, &input).unwrap());
        });
    });
    group.finish();
}

fn startup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cached = runtime(CompileCache::Directory(dir.path().to_owned()));
    let cold = runtime(CompileCache::Disabled);
    let mut group = c.benchmark_group("startup");
    for (label, name, protocol) in GUESTS {
        let bytes = guest_bytes(name);
        let module = cached
            .load_as(protocol, name, bytes.clone(), Limits::default())
            .unwrap();
        group.sample_size(100);
        group.bench_function(format!("instantiate-compiled-{label}"), |b| {
            b.iter(|| module.instantiate().unwrap());
        });
        group.sample_size(10);
        group.bench_function(format!("load-cold-compile-{label}"), |b| {
            b.iter(|| {
                cold.load_as(protocol, name, bytes.clone(), Limits::default())
                    .unwrap()
            });
        });
        group.bench_function(format!("load-from-compile-cache-{label}"), |b| {
            b.iter(|| {
                cached
                    .load_as(protocol, name, bytes.clone(), Limits::default())
                    .unwrap()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, calls, wasi_calls, startup);
criterion_main!(benches);
