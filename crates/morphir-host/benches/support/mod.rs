//! What the host benches share: the `echo` guest, envelopes of a given size, a warm pool.
//!
//! Included by each bench with `mod support;`; not every bench uses every item.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "shared by several bench binaries, each using part of it"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use morphir_host::InstancePool;
use morphir_runtime::{
    CompileCache, Envelope, HostContext, Limits, Module, Operation, Runtime, RuntimeConfig,
};

/// The two envelope sizes of the benchmarks: 100 bytes and 1 MiB on the wire, header included.
pub const SIZES: [usize; 2] = [100, 1 << 20];

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `echo` guest's bytes, built first (incrementally) by `scripts/build-extensions`.
pub fn echo_bytes() -> Vec<u8> {
    let root = repo();
    let status = std::process::Command::new(root.join("scripts/build-extensions"))
        .status()
        .expect("run scripts/build-extensions");
    assert!(status.success(), "scripts/build-extensions failed");
    std::fs::read(root.join("extensions/dist/echo.wasm")).expect("extensions/dist/echo.wasm")
}

/// A runtime whose compiled code goes to `cache_dir` (a second load there is a cache load).
pub fn runtime(cache_dir: &Path) -> Runtime {
    Runtime::new(&RuntimeConfig {
        compile_cache: CompileCache::Directory(cache_dir.to_owned()),
        ..RuntimeConfig::default()
    })
    .expect("runtime")
}

/// `echo`, loaded with default limits.
pub fn echo_module(cache_dir: &Path) -> Module {
    runtime(cache_dir)
        .load("echo", echo_bytes(), Limits::default())
        .expect("load echo")
}

/// An envelope of `size` bytes in wire form (as the runtime bench makes them). `echo` takes a
/// bare envelope as a step's input and returns it, so output size = input size.
pub fn envelope(size: usize) -> Envelope {
    let header = Envelope::new("application/json", Vec::new()).encoded_len();
    Envelope::new("application/json", vec![b'x'; size - header])
}

/// "100 B" or "1 MiB".
pub fn size_name(size: usize) -> String {
    if size >= 1 << 20 {
        format!("{} MiB", size >> 20)
    } else {
        format!("{size} B")
    }
}

/// One `transform` of `input` through `pool`, as a build runs a miss (with the copy of the
/// request the build makes).
pub async fn call(pool: &InstancePool, input: &Envelope) {
    pool.run(
        "bench",
        Operation::Transform,
        input.clone(),
        HostContext::default(),
    )
    .await
    .expect("echo call");
}

/// A pool of up to `live` instances of `module`, one of them made by a first call.
pub fn warm_pool(module: &Module, live: usize) -> Arc<InstancePool> {
    let pool = Arc::new(InstancePool::new(module.clone(), live));
    morphir_host::lane::block_on(call(&pool, &envelope(100)));
    pool
}

/// The tokio runtime the CLI builds (two workers; actors run on threads of their own).
pub fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
