//! The morphir daemon: a long-lived process per user that runs builds for the CLI, keeping
//! extensions compiled and instances warm between them (`docs/daemon.md`).
//!
//! Where it sits: `morphir build` (the CLI) connects to the daemon's Unix socket
//! ([`DaemonPaths`]), says hello (protocol and build must match, or the CLI builds in process),
//! and sends a [`BuildRequest`]: its working directory, the configuration it found, its flags
//! and its environment. The daemon runs the build with `morphir_build::build_with`, with the
//! client's environment, the daemon's [`morphir_host::WarmPools`] and a cancellation that fires
//! when the client cancels or disconnects, and streams every `morphir_build::Event` back as it
//! happens; the client renders them exactly as an in-process build would.
//!
//! This crate is the transport and the process: the [`protocol`], the [`server`] (socket, lock
//! and pid files, accepting, cancelling, reaping idle pools, shutting down) and the [`client`]
//! (connecting, detecting stale sockets and mismatched daemons, starting one). What a build
//! request *means* (loading `morphir.toml`, selecting tasks) is the CLI's, given to the server
//! as a [`Service`], so the daemon and the in-process path share one implementation.
//!
//! Unix only: the socket is a Unix domain socket and the directory's privacy rests on its mode.

#![cfg(unix)]

pub mod client;
mod forward;
mod paths;
pub mod protocol;
pub mod server;
mod session;
mod status;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

pub use client::{Client, Connection};
pub use forward::layer as log_forwarding_layer;
pub use paths::DaemonPaths;
pub use protocol::{
    BuildRequest, Hello, Request, Response, SessionEvent, SessionInfo, SessionRequest,
    SessionResponse, SessionStart,
};
pub use server::{ServerOptions, serve};
pub use status::{DaemonStatus, PoolInfo, WarmInfo, WorkspaceInfo};

/// What a build request does, supplied by the binary (see the crate docs).
pub trait Service: Send + Sync + 'static {
    /// Runs `request`. `Err` is a message for the user (bad configuration, unknown task): the
    /// CLI prints it as `error: <message>` and exits with code 2.
    fn build(
        &self,
        request: BuildRequest,
        context: BuildContext,
    ) -> Pin<Box<dyn Future<Output = Result<morphir_build::BuildReport, String>> + Send>>;

    /// Starts the program of a TEA session (`morphir session start`) whose envelopes carry
    /// `session_id`. `Err` is a message for the user, as for a build.
    fn start_session(
        &self,
        request: SessionStart,
        session_id: String,
    ) -> Pin<Box<dyn Future<Output = Result<morphir_host::Program, String>> + Send>>;
}

/// What the daemon gives a build besides its request.
pub struct BuildContext {
    /// Where the build's events go (to the client, as they happen).
    pub events: morphir_build::EventSink,
    /// Resolves when the client cancels or goes away, or the daemon stops.
    pub cancel: morphir_build::Cancel,
    /// The daemon's warm pools.
    pub pools: Arc<morphir_host::WarmPools>,
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext").finish_non_exhaustive()
    }
}

/// Errors of the daemon and its client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the socket failed.
    #[error("daemon connection: {0}")]
    Io(#[source] std::io::Error),
    /// A frame was longer than allowed.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Its length.
        len: u32,
        /// The limit.
        max: u32,
    },
    /// A frame was not a message of the protocol.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The other side broke the protocol (an unexpected message).
    #[error("daemon protocol: {0}")]
    Protocol(String),
    /// The daemon's directory cannot be created or read.
    #[error("daemon directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The daemon's directory is not private to this user.
    #[error(
        "daemon directory {} is not a directory owned by this user with mode 0700; remove it \
         or set XDG_RUNTIME_DIR to a private directory",
        path.display()
    )]
    InsecureDir {
        /// The directory.
        path: PathBuf,
    },
    /// The socket path does not fit a Unix socket address.
    #[error(
        "daemon socket path {} is too long for a Unix socket (at most 103 bytes); set \
         XDG_RUNTIME_DIR to a shorter directory",
        .0.display()
    )]
    SocketPathTooLong(PathBuf),
    /// Another daemon holds the lock.
    #[error("a daemon is already running (pid {pid}, lock {})", lock.display())]
    AlreadyRunning {
        /// Its pid, when the pid file says.
        pid: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// The daemon could not be started.
    #[error("the daemon did not start: {0}")]
    Start(String),
}

/// Which binary this is: the size and modification time of the running executable. Two
/// processes with the same id run the same `morphir` (a rebuilt binary gets a new one), so the
/// CLI never hands a build to a daemon running other code. Cheap (one `stat`), computed once.
pub fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let meta = std::env::current_exe().and_then(std::fs::metadata);
        match meta {
            Ok(meta) => {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                format!("{}-{mtime}", meta.len())
            }
            Err(_) => "unknown".to_owned(),
        }
    })
}
