//! The CLI's side: connect (telling a stale socket from a live daemon), say hello, and send one
//! request; start a daemon in the background.

use std::ffi::OsString;
use std::fs::TryLockError;
use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use morphir_build::{BuildReport, Event};
use tokio::io::BufReader;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::protocol::{MAX_RESPONSE_BYTES, read_frame, write_frame};
use crate::{BuildRequest, DaemonPaths, DaemonStatus, Error, Hello, Request, Response};

/// A daemon that accepted the connection must answer hello within this long.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `start` waits for a new daemon to answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// What [`connect`] found.
#[derive(Debug)]
pub enum Connection {
    /// A daemon answered (check [`Client::compatible`] before sending it a build).
    Ready(Client),
    /// No socket: no daemon.
    NotRunning,
    /// A socket nobody listens on, left by a daemon that died; it has been removed.
    Stale,
    /// A daemon seems to be there but cannot be used (why).
    Unavailable(String),
}

/// A connection to a daemon, after hello.
#[derive(Debug)]
pub struct Client {
    /// Buffered: a build's events arrive many frames per read.
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    daemon: Hello,
}

/// Connects to the daemon at `paths`, if one is running. Never waits long: a socket nobody
/// listens on is refused at once, and a daemon that does not answer hello within a few seconds
/// is reported unavailable.
pub async fn connect(paths: &DaemonPaths) -> Connection {
    let socket = paths.socket();
    let stream = match UnixStream::connect(&socket).await {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Connection::NotRunning,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return clean_stale(paths);
        }
        Err(e) => {
            return Connection::Unavailable(format!("cannot connect to {}: {e}", socket.display()));
        }
    };
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 << 10, reader);
    let hello = async {
        write_frame(&mut writer, &Request::Hello(Hello::ours())).await?;
        match read_frame::<_, Response>(&mut reader, MAX_RESPONSE_BYTES).await? {
            Some(Response::Hello(daemon)) => Ok(daemon),
            Some(Response::Error { message }) => Err(Error::Protocol(message)),
            Some(other) => Err(Error::Protocol(format!("expected hello, got {other:?}"))),
            None => Err(Error::Protocol(
                "the daemon closed the connection".to_owned(),
            )),
        }
    };
    match tokio::time::timeout(HELLO_TIMEOUT, hello).await {
        Ok(Ok(daemon)) => Connection::Ready(Client {
            reader,
            writer,
            daemon,
        }),
        Ok(Err(e)) => Connection::Unavailable(e.to_string()),
        Err(_) => Connection::Unavailable(format!(
            "the daemon at {} did not answer within {HELLO_TIMEOUT:?}",
            socket.display()
        )),
    }
}

/// The socket refused us: if no daemon holds the lock, the socket and pid file are leftovers.
fn clean_stale(paths: &DaemonPaths) -> Connection {
    let Ok(lock) = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(paths.lock())
    else {
        return Connection::Unavailable(format!(
            "{} refuses connections and its lock cannot be opened",
            paths.socket().display()
        ));
    };
    match lock.try_lock() {
        Ok(()) => {
            let _ = std::fs::remove_file(paths.socket());
            let _ = std::fs::remove_file(paths.pid());
            Connection::Stale
        }
        Err(TryLockError::WouldBlock) => Connection::Unavailable(format!(
            "a daemon (pid {}) holds {} but does not accept connections (starting, or stuck)",
            paths
                .read_pid()
                .map_or_else(|| "unknown".to_owned(), |p| p.to_string()),
            paths.lock().display()
        )),
        Err(TryLockError::Error(e)) => {
            Connection::Unavailable(format!("cannot check {}: {e}", paths.lock().display()))
        }
    }
}

impl Client {
    /// The daemon's hello.
    pub fn daemon(&self) -> &Hello {
        &self.daemon
    }

    /// True when the daemon runs this very build of morphir (only then does it take builds).
    pub fn compatible(&self) -> bool {
        Hello::ours().compatible(&self.daemon)
    }

    async fn request(&mut self, request: &Request) -> Result<Response, Error> {
        write_frame(&mut self.writer, request).await?;
        self.next().await
    }

    async fn next(&mut self) -> Result<Response, Error> {
        read_frame::<_, Response>(&mut self.reader, MAX_RESPONSE_BYTES)
            .await?
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "the daemon (pid {}) closed the connection before answering",
                    self.daemon.pid
                ))
            })
    }

    /// The daemon's status.
    pub async fn status(mut self) -> Result<DaemonStatus, Error> {
        match self.request(&Request::Status).await? {
            Response::Status(status) => Ok(*status),
            Response::Error { message } => Err(Error::Protocol(message)),
            other => Err(Error::Protocol(format!("expected a status, got {other:?}"))),
        }
    }

    /// One request about TEA sessions. `Ok(Err(message))` is the daemon's refusal (an unknown
    /// session, an extension that cannot start).
    pub async fn session(
        mut self,
        request: crate::SessionRequest,
    ) -> Result<Result<crate::SessionResponse, String>, Error> {
        match self.request(&Request::Session(Box::new(request))).await? {
            Response::Session(answer) => Ok(Ok(*answer)),
            Response::Error { message } => Ok(Err(message)),
            other => Err(Error::Protocol(format!(
                "expected a session answer, got {other:?}"
            ))),
        }
    }

    /// Asks the daemon to stop; returns once it has acknowledged (it then cancels its builds
    /// and removes its socket).
    pub async fn stop(mut self) -> Result<(), Error> {
        match self.request(&Request::Stop).await? {
            Response::Stopping => Ok(()),
            Response::Error { message } => Err(Error::Protocol(message)),
            other => Err(Error::Protocol(format!("expected stopping, got {other:?}"))),
        }
    }

    /// Runs a build on the daemon. `on_event` sees every event as it happens; when `cancel`
    /// resolves the build is cancelled (and still reports, as `cancelled`). `Ok(Err(message))`
    /// is the daemon's refusal of the build (bad configuration, unknown task).
    pub async fn build(
        self,
        request: BuildRequest,
        mut on_event: impl FnMut(&Response),
        cancel: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Result<BuildReport, String>, Error> {
        let Client {
            mut reader,
            mut writer,
            daemon,
        } = self;
        write_frame(&mut writer, &Request::Build(Box::new(request))).await?;
        // Reading is not cancel-safe (a frame half read is lost), so the cancellation writes
        // from a task of its own while this one only reads.
        // Aborted when this future ends or is dropped: the connection then closes, and the
        // daemon cancels the build of a client that went away.
        let canceller = AbortOnDrop(tokio::spawn(async move {
            cancel.await;
            let _ = write_frame(&mut writer, &Request::Cancel).await;
            // Keep the connection open: closing it now would look like a client that died.
            std::future::pending::<()>().await;
        }));
        let result = loop {
            let Some(response) = read_frame::<_, Response>(&mut reader, MAX_RESPONSE_BYTES).await?
            else {
                break Err(Error::Protocol(format!(
                    "the daemon (pid {}) stopped before the build ended",
                    daemon.pid
                )));
            };
            match response {
                Response::Report(report) => break Ok(Ok(*report)),
                Response::Error { message } => break Ok(Err(message)),
                event @ (Response::Event(_) | Response::Log { .. }) => on_event(&event),
                other => {
                    break Err(Error::Protocol(format!(
                        "unexpected message during a build: {other:?}"
                    )));
                }
            }
        };
        drop(canceller);
        result
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An event of a build response, if it is one.
pub fn as_event(response: &Response) -> Option<&Event> {
    match response {
        Response::Event(event) => Some(event),
        _ => None,
    }
}

/// Starts `exe daemon run ARGS` in the background (its own process group, so the terminal's
/// Ctrl-C does not reach it; output to `daemon.log`) and waits until it answers. Returns its
/// pid.
pub async fn start(paths: &DaemonPaths, exe: &Path, args: &[OsString]) -> Result<u32, Error> {
    use std::os::unix::process::CommandExt as _;
    paths.ensure()?;
    let log = std::fs::File::create(paths.log()).map_err(|source| Error::Dir {
        path: paths.log(),
        source,
    })?;
    let log_err = log.try_clone().map_err(Error::Io)?;
    let mut child = std::process::Command::new(exe)
        .arg("daemon")
        .arg("run")
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| Error::Start(format!("cannot run {}: {e}", exe.display())))?;
    let started = Instant::now();
    loop {
        if let Connection::Ready(client) = connect(paths).await
            && client.compatible()
        {
            return Ok(client.daemon.pid);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(paths.log()).unwrap_or_default();
            return Err(Error::Start(format!(
                "it exited ({status}): {}",
                log.trim().lines().last().unwrap_or("no output")
            )));
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(Error::Start(format!(
                "no answer within {START_TIMEOUT:?}; see {}",
                paths.log().display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
