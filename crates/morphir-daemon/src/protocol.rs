//! The wire protocol between the CLI and the daemon (`docs/daemon.md`).
//!
//! Frames: a 4-byte big-endian length, then that many bytes of JSON (one [`Request`] or
//! [`Response`]). JSON because every message is small except a build's final report, and the
//! report already has a JSON form (`--json`); envelopes never cross this socket.
//!
//! A connection carries one exchange: the client's [`Request::Hello`] and the daemon's
//! [`Response::Hello`] first (each side checks the other's protocol and build), then one request
//! (`Build`, `Status`, `Stop`) and its responses. During a build the client may send
//! [`Request::Cancel`]; closing the connection cancels too.

use std::collections::BTreeMap;
use std::path::PathBuf;

use morphir_build::{BuildReport, Event};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Error;

/// Changes whenever a message changes shape.
pub const PROTOCOL_VERSION: u32 = 2;

/// The largest request the daemon reads (a build request with its environment is a few KiB).
pub const MAX_REQUEST_BYTES: u32 = 1 << 20;

/// The largest response the client reads (a 10,000-step report is a few MiB).
pub const MAX_RESPONSE_BYTES: u32 = 256 << 20;

/// Who is talking: each side sends its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The morphir version (`morphir --version`).
    pub version: String,
    /// Which binary: its size and modification time (see [`crate::build_id`]), so a rebuilt
    /// `morphir` never talks to a daemon started from the previous one.
    pub build: String,
    /// The process id.
    pub pid: u32,
}

impl Hello {
    /// This process's hello.
    pub fn ours() -> Self {
        Self {
            protocol: PROTOCOL_VERSION,
            version: morphir_build::MORPHIR_VERSION.to_owned(),
            build: crate::build_id().to_owned(),
            pid: std::process::id(),
        }
    }

    /// True when `other` speaks our protocol from the same build of morphir.
    pub fn compatible(&self, other: &Hello) -> bool {
        self.protocol == other.protocol
            && self.version == other.version
            && self.build == other.build
    }
}

/// What the client asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// First on every connection.
    Hello(Hello),
    /// Run a build and stream its events.
    Build(Box<BuildRequest>),
    /// Stop the build this connection asked for.
    Cancel,
    /// Report on the daemon.
    Status,
    /// Shut down: cancel running builds, remove the socket, exit.
    Stop,
    /// A TEA session (`morphir session`): start one, send to it, poll it, stop it, list them.
    Session(Box<SessionRequest>),
}

/// What a client asks of the daemon's TEA sessions (`morphir session`). A session is a
/// runtime extension's program on an actor of the daemon, named by the id the daemon gives it
/// (the `session_id` in the header of every envelope the program sees), so separate CLI
/// invocations can drive one program.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SessionRequest {
    /// Start a program; answered with [`SessionResponse::Started`].
    Start(SessionStart),
    /// Send one message (a JSON value) to the program's `update`.
    Send {
        /// The session.
        id: String,
        /// The message.
        message: serde_json::Value,
    },
    /// What the program emitted, logged or failed since the last poll; waits up to `wait_ms`
    /// for the first event when there is none yet.
    Poll {
        /// The session.
        id: String,
        /// Milliseconds to wait for an event (0: answer at once).
        wait_ms: u64,
    },
    /// Stop the program; answered with its last events and final model.
    Stop {
        /// The session.
        id: String,
    },
    /// The sessions running now.
    List,
}

/// How to start a session, as `morphir run` would start its program in process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionStart {
    /// The client's working directory (absolute).
    pub cwd: PathBuf,
    /// The `morphir.toml` (relative to `cwd` or absolute); `None` when `extension` is a path.
    pub config: Option<PathBuf>,
    /// The extension's name in the configuration, or the path of a `.wasm` module.
    pub extension: String,
    /// The flags `init` receives (default: the extension's `config`).
    pub flags: Option<serde_json::Value>,
    /// Seed of `random` (default: a new one).
    pub seed: Option<u64>,
    /// The client's environment: the program's host functions see these values.
    pub env: BTreeMap<String, String>,
}

/// One thing a session's program did, as `morphir session poll` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEvent {
    /// An `emit` command's output (`morphir_envelope::tea::Output` as JSON).
    Output(serde_json::Value),
    /// A line the program logged.
    Log {
        /// `error`, `warn`, `info`, `debug`, `trace`.
        level: String,
        /// The message.
        message: String,
    },
    /// A call or command failed; the program goes on with its previous model.
    Error(String),
    /// The program stopped (its own `stop` command); the session is gone.
    Stopped,
}

/// A running session, as `morphir session list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Its id.
    pub id: String,
    /// The extension it runs.
    pub extension: String,
    /// Messages and commands in flight (not answered yet).
    pub pending: usize,
    /// Milliseconds since a client last used it.
    pub idle_ms: u64,
}

/// The daemon's answer to a [`SessionRequest`] (errors are [`Response::Error`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum SessionResponse {
    /// The new session's id.
    Started {
        /// The id to send to and poll.
        id: String,
    },
    /// The message was handed to the program.
    Sent,
    /// Events since the last poll, oldest first.
    Events {
        /// The events.
        events: Vec<SessionEvent>,
    },
    /// The program stopped: its last events and final model.
    Stopped {
        /// Events not polled before the stop.
        events: Vec<SessionEvent>,
        /// The final model.
        model: serde_json::Value,
    },
    /// The sessions running now.
    List {
        /// The sessions.
        sessions: Vec<SessionInfo>,
    },
}

/// A build, as the CLI would run it in process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuildRequest {
    /// The client's working directory (absolute).
    pub cwd: PathBuf,
    /// The `morphir.toml` the client found or was given, as it would load it: relative to
    /// `cwd` (`morphir.toml`, `../morphir.toml`) or absolute.
    pub config: PathBuf,
    /// Tasks to build (empty: all).
    pub tasks: Vec<String>,
    /// `--jobs`, resolved.
    pub jobs: usize,
    /// `--keep-going`.
    pub keep_going: bool,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--explain`.
    pub explain: bool,
    /// The client's environment: host functions see these values, not the daemon's.
    pub env: BTreeMap<String, String>,
}

/// What the daemon answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    /// The answer to [`Request::Hello`].
    Hello(Hello),
    /// A build's progress, as it happens.
    Event(Event),
    /// A log line of the daemon's own about this build (`tracing` at warn or above, as the
    /// in-process build would print it).
    Log {
        /// `WARN`, `ERROR`.
        level: String,
        /// The tracing target.
        target: String,
        /// The message.
        message: String,
    },
    /// The build ended; the last message of a build.
    Report(Box<BuildReport>),
    /// The request failed (bad configuration, unknown task, malformed request). For a build,
    /// the CLI prints `error: <message>` and exits with code 2, as in process.
    Error {
        /// What went wrong, saying what to fix.
        message: String,
    },
    /// The answer to [`Request::Status`].
    Status(Box<crate::DaemonStatus>),
    /// The answer to [`Request::Stop`]: the daemon is shutting down.
    Stopping,
    /// The answer to a [`Request::Session`].
    Session(Box<SessionResponse>),
}

/// Appends one frame (length, then JSON) to `out`.
fn encode_frame<T: Serialize>(out: &mut Vec<u8>, message: &T) -> Result<(), Error> {
    let body = serde_json::to_vec(message).map_err(|e| Error::Protocol(e.to_string()))?;
    let len = u32::try_from(body.len())
        .map_err(|_| Error::Protocol(format!("a message of {} bytes", body.len())))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// Writes one frame.
pub async fn write_frame<W, T>(writer: &mut W, message: &T) -> Result<(), Error>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    write_frames(writer, std::slice::from_ref(message)).await
}

/// Writes several frames with one write: a build's events come in bursts (a fully cached
/// build finishes a step every few microseconds), and a write per event cost the daemon more
/// than the steps.
pub async fn write_frames<W, T>(writer: &mut W, messages: &[T]) -> Result<(), Error>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let mut frames = Vec::new();
    for message in messages {
        encode_frame(&mut frames, message)?;
    }
    writer.write_all(&frames).await.map_err(Error::Io)?;
    writer.flush().await.map_err(Error::Io)
}

/// Reads one frame of at most `max` bytes; `Ok(None)` at a clean end of stream.
pub async fn read_frame<R, T>(reader: &mut R, max: u32) -> Result<Option<T>, Error>
where
    R: AsyncRead + Unpin,
    T: for<'de> Deserialize<'de>,
{
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::Io(e)),
    }
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(Error::TooLarge { len, max });
    }
    let mut body = vec![0u8; len as usize];
    reader.read_exact(&mut body).await.map_err(Error::Io)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Error::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_limits_hold() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let request = Request::Build(Box::new(BuildRequest {
            cwd: "/w".into(),
            config: "morphir.toml".into(),
            tasks: vec!["site".to_owned()],
            jobs: 2,
            env: BTreeMap::from([("A".to_owned(), "1".to_owned())]),
            ..BuildRequest::default()
        }));
        write_frame(&mut a, &request).await.unwrap();
        let back: Request = read_frame(&mut b, MAX_REQUEST_BYTES)
            .await
            .unwrap()
            .unwrap();
        let Request::Build(back) = back else {
            panic!("not a build: {back:?}")
        };
        assert_eq!(back.tasks, ["site"]);
        assert_eq!(back.env["A"], "1");

        write_frame(&mut a, &Request::Status).await.unwrap();
        assert!(matches!(
            read_frame::<_, Request>(&mut b, 4).await,
            Err(Error::TooLarge { max: 4, .. })
        ));

        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&3u32.to_be_bytes()).await.unwrap();
        a.write_all(b"{{{").await.unwrap();
        assert!(matches!(
            read_frame::<_, Request>(&mut b, 100).await,
            Err(Error::Malformed(_))
        ));
        drop(a);
        assert!(matches!(
            read_frame::<_, Request>(&mut b, 100).await,
            Ok(None)
        ));
    }
}
