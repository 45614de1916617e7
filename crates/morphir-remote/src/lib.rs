//! A shared remote build cache over the Bazel Remote Execution API v2 (REAPI), so that a step
//! one machine ran is a cache hit on every other (CI runners, a team's laptops).
//!
//! It sits behind the local cache: the executor asks the local store first and, on a miss, this
//! crate's [`RemoteCacheClient`] (through `morphir_cache::RemoteCache`); a step that runs is
//! uploaded in the background. Only the cache services of REAPI are used (Capabilities,
//! `ActionCache`, `ContentAddressableStorage`, `ByteStream`); nothing is executed remotely. How a
//! step's key and outputs map onto an `Action` and an `ActionResult` is specified in
//! `docs/remote-cache.md`, so that another REAPI client could read our entries.
//!
//! The remote is an accelerator, never a point of failure: every failure becomes a miss (with
//! one warning per build), repeated failures stop the client asking for the rest of the build,
//! and every blob read is checked against its digest before anything is served.

mod cache;
mod client;
mod mapping;
mod proto;

use std::path::PathBuf;
use std::time::Duration;

pub use cache::{RemoteCacheClient, ServerInfo, probe};

/// The default time limit of one request (and of connecting).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the remote cache (from `[cache.remote]` and the environment).
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// `grpc://host:port` (plain HTTP/2) or `grpcs://host:port` (TLS).
    pub endpoint: String,
    /// The REAPI instance name (often empty).
    pub instance_name: String,
    /// A bearer token sent as `authorization: Bearer ...` (read from an environment variable,
    /// never from a file).
    pub token: Option<String>,
    /// A PEM file of CA certificates trusted for `grpcs://`, in addition to the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The time limit of one request (and of connecting).
    pub timeout: Duration,
    /// Whether results are uploaded; false makes the cache read-only for this build.
    pub upload: bool,
}

impl std::fmt::Debug for RemoteConfig {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("endpoint", &self.endpoint)
            .field("instance_name", &self.instance_name)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("ca_file", &self.ca_file)
            .field("timeout", &self.timeout)
            .field("upload", &self.upload)
            .finish()
    }
}

/// Why the client could not be set up (the server's own failures are not errors: they are
/// misses, see the crate docs).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint is not a usable address.
    #[error("remote cache endpoint `{endpoint}`: {reason}")]
    Endpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA file cannot be read.
    #[error("cannot read the remote cache's CA file {}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The token cannot be sent.
    #[error("the remote cache token cannot be used: {0}")]
    Token(&'static str),
    /// The server could not be asked or answered unusably.
    #[error("remote cache {endpoint}: {reason}")]
    Server {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RemoteCacheClient>();
    assert_send_sync::<Error>();
};
