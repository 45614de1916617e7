//! The seam between the executor and a shared remote cache (`morphir-remote` implements it over
//! the Bazel Remote Execution API). Defined here, beside the local store, so the executor does
//! not depend on a gRPC stack and the remote client does not depend on the executor.
//!
//! The contract: a remote cache is an accelerator, never a point of failure. [`RemoteCache::lookup`]
//! answers `None` for a miss *and* for any failure (the implementation warns and counts);
//! whatever it does return has been verified against its digests. [`RemoteCache::upload`]
//! returns at once; the work is awaited by [`RemoteCache::finish`] at the end of the build.

use std::future::Future;
use std::pin::Pin;

use morphir_envelope::Envelope;
use serde::{Deserialize, Serialize};

use crate::{Key, LogLine};

/// A boxed, sendable future (the trait is used as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A step's result found in the remote cache, every blob verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHit {
    /// The output envelopes, in order (headers as stored; the executor restamps them).
    pub outputs: Vec<Envelope>,
    /// What the step logged when it ran.
    pub logs: Vec<LogLine>,
}

/// What the remote cache did during one build, for the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSummary {
    /// The server (`grpc://host:port` or `grpcs://...`).
    pub endpoint: String,
    /// Whether results were uploaded (false in read-only mode).
    pub upload: bool,
    /// Lookups answered with a verified result.
    pub hits: u64,
    /// Lookups the server had no (usable) entry for.
    pub misses: u64,
    /// Results uploaded completely (blobs and action result).
    pub uploads: u64,
    /// Failed requests (unreachable, timed out, refused, malformed answers).
    pub errors: u64,
    /// Entries whose blobs failed verification (treated as misses).
    pub corrupt: u64,
    /// The client stopped asking the server after repeated failures.
    pub disabled: bool,
}

/// A shared cache the executor consults after a local miss and feeds after a run.
pub trait RemoteCache: Send + Sync + std::fmt::Debug {
    /// The verified result of `key`, or `None` (a miss, or a failure already reported).
    fn lookup(&self, step_id: &str, key: Key) -> BoxFuture<'static, Option<RemoteHit>>;

    /// Starts uploading a successful step's result in the background (a no-op in read-only
    /// mode). Must be called from within a tokio runtime.
    fn upload(&self, step_id: &str, key: Key, outputs: Vec<Envelope>, logs: Vec<LogLine>);

    /// Waits for the uploads started so far and says what happened during the build.
    fn finish(&self) -> BoxFuture<'static, RemoteSummary>;
}
