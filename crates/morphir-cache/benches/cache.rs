//! The cache's per-step costs, as `morphir build` pays them (see
//! `crates/morphir-build/src/scheduler.rs`):
//!
//! * `key/*`: building a step's key with the components the scheduler gives it: a frontend
//!   (one ~100-byte input file, hashed) and a transform (a ~100-byte upstream envelope).
//! * `store/lookup-hit`, `store/lookup-miss`: `Store::lookup` of a small entry (one ~200-byte
//!   output envelope), with full verification.
//! * `store/set-last-run-unchanged`: what a build does after every hit.
//! * `store/put-new`: `Store::put` of a new small entry (blob, record, last-run).
//! * `cached-step`: key, then `Store::lookup_step` (hit and last-run refresh together, the
//!   record served from the last-run index), as the scheduler does: the cache's share of one
//!   step of a fully cached build (outputs restored and events excluded).
//!
//! Run with `cargo bench -p morphir-cache`. The store lives in a temporary directory (tmpfs or
//! disk, whatever `TMPDIR` is; the page cache is warm either way).

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use morphir_cache::{Digest, Key, KeyBuilder, KeyManifest, Lookup, NewAction, Store};
use morphir_envelope::{Envelope, FileBundle};
use serde_json::json;

const VERSION: &str = "0.1.0";

/// A backend-like output: a file bundle of one ~100-byte file (about 200 bytes encoded).
fn output(seed: u64) -> Envelope {
    Envelope::files(&FileBundle::new().with_file(
        "src/p00001/input.txt",
        format!("pipeline {seed} input version 0\n{}\n", "x".repeat(64)),
    ))
}

fn base_key() -> KeyBuilder {
    let mut key = KeyBuilder::new(VERSION);
    key.abi_version(1)
        .extension_wasm(&[7; 32])
        .config(&json!({ "mode": "files" }))
        .permissions(&json!({
            "allowed_hosts": [], "env": [], "max_execution_time_ms": null, "max_memory": null
        }));
    key
}

fn frontend_key(input: &[u8]) -> (Key, KeyManifest) {
    let mut key = base_key();
    key.operation("frontend-compile")
        .input_file("src/p00001/input.txt", &Digest::of(input));
    key.finish().unwrap()
}

fn transform_key(upstream: &Envelope, seed: u64) -> (Key, KeyManifest) {
    let mut key = base_key();
    key.operation("transform")
        .upstream("p00001:frontend", upstream)
        .extra("seed", &seed.to_le_bytes());
    key.finish().unwrap()
}

fn keys(c: &mut Criterion) {
    let input = vec![b'x'; 100];
    let upstream = output(0);
    let mut group = c.benchmark_group("key");
    group.bench_function("frontend", |b| b.iter(|| frontend_key(&input)));
    group.bench_function("transform", |b| b.iter(|| transform_key(&upstream, 0)));
    group.finish();
}

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let out = output(0);
    let (key, manifest) = transform_key(&out, 0);
    let put = |key: &Key, manifest: &KeyManifest, out: &Envelope| {
        store
            .put(
                key,
                &NewAction {
                    step_id: "p00001:transform[0]:echo",
                    manifest,
                    outputs: std::slice::from_ref(out),
                    logs: &[],
                    executor_version: VERSION,
                },
            )
            .unwrap();
    };
    put(&key, &manifest, &out);
    let (absent, _) = transform_key(&out, u64::MAX);

    let mut group = c.benchmark_group("store");
    group.bench_function("lookup-hit", |b| {
        b.iter(|| assert!(matches!(store.lookup(&key).unwrap(), Lookup::Hit(_))));
    });
    group.bench_function("lookup-miss", |b| {
        b.iter(|| assert!(matches!(store.lookup(&absent).unwrap(), Lookup::Miss)));
    });
    group.bench_function("set-last-run-unchanged", |b| {
        b.iter(|| {
            store
                .set_last_run("p00001:transform[0]:echo", &key, &manifest)
                .unwrap();
        });
    });
    let seed = AtomicU64::new(1);
    group.bench_function("put-new", |b| {
        b.iter_batched(
            || {
                let s = seed.fetch_add(1, Ordering::Relaxed);
                let out = output(s);
                let (key, manifest) = transform_key(&out, s);
                (key, manifest, out)
            },
            |(key, manifest, out)| put(&key, &manifest, &out),
            BatchSize::SmallInput,
        );
    });
    group.finish();

    c.bench_function("cached-step", |b| {
        b.iter(|| {
            let (key, manifest) = transform_key(&out, 0);
            let step = "p00001:transform[0]:echo";
            let Lookup::Hit(hit) = store.lookup_step(step, &key, &manifest).unwrap() else {
                panic!("expected a hit")
            };
            hit
        });
    });
}

criterion_group!(benches, keys, store);
criterion_main!(benches);
