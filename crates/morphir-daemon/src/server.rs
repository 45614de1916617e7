//! The daemon process: the socket, the lock and pid files, one task per connection, idle
//! reaping, and a shutdown that cancels running builds before the socket goes away.

use std::fs::{File, TryLockError};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use morphir_build::{Cancel, Event, EventSink};
use morphir_host::{WarmPools, WarmSettings};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::protocol::{MAX_REQUEST_BYTES, read_frame, write_frame, write_frames};
use crate::{
    BuildContext, BuildRequest, DaemonPaths, DaemonStatus, Error, Hello, Request, Response,
    Service, SessionRequest, SessionResponse, WarmInfo,
};

/// A client that connects must say hello within this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many of a build's events go to its client in one write.
const EVENT_BATCH: usize = 256;

/// How long shutdown waits for cancelled builds to wind down before exiting anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the daemon runs.
#[derive(Debug, Clone, Copy)]
pub struct ServerOptions {
    /// Idle timeout and idle-instance cap of the warm pools.
    pub warm: WarmSettings,
    /// How often idle pools are reaped.
    pub reap_interval: Duration,
    /// Exit after this long without a connection (`None`: never). For tests and CI, where a
    /// killed test must not leave a daemon behind.
    pub exit_when_idle: Option<Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            warm: WarmSettings::default(),
            reap_interval: Duration::from_secs(30),
            exit_when_idle: None,
        }
    }
}

struct Shared {
    service: Arc<dyn Service>,
    pools: Arc<WarmPools>,
    shutdown: watch::Sender<bool>,
    active: AtomicUsize,
    builds: AtomicU64,
    started: Instant,
    socket: PathBuf,
    hello: Hello,
    sessions: crate::session::Sessions,
    /// A session no client used for this long is stopped (the warm pools' idle timeout).
    session_idle: Duration,
}

/// Runs the daemon in this process until it is stopped (`Stop` request, SIGTERM or SIGINT):
/// takes the lock (failing when another daemon holds it), replaces a stale socket, serves, and
/// on the way out cancels running builds and removes the socket and pid file.
pub fn serve(
    paths: &DaemonPaths,
    service: Arc<dyn Service>,
    options: ServerOptions,
) -> Result<(), Error> {
    paths.ensure()?;
    let hello = Hello::ours();
    let dir_error = |source| Error::Dir {
        path: paths.dir().to_owned(),
        source,
    };
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(paths.lock())
        .map_err(dir_error)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(Error::AlreadyRunning {
                pid: paths
                    .read_pid()
                    .map_or_else(|| "unknown".to_owned(), |p| p.to_string()),
                lock: paths.lock(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(dir_error(e)),
    }
    // We hold the lock, so a socket left here belongs to a daemon that died: replace it.
    let socket = paths.socket();
    match std::fs::remove_file(&socket) {
        Ok(()) => tracing::info!("removed a stale socket at {}", socket.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(dir_error(e)),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("morphir-daemon")
        .enable_all()
        .build()
        .map_err(Error::Io)?;
    let result = runtime.block_on(async {
        let listener = tokio::net::UnixListener::bind(&socket).map_err(dir_error)?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .map_err(dir_error)?;
        write_pid(paths).map_err(dir_error)?;
        tracing::info!(pid = hello.pid, socket = %socket.display(), "daemon listening");
        let shared = Arc::new(Shared {
            service,
            pools: Arc::new(WarmPools::new(options.warm)),
            shutdown: watch::channel(false).0,
            active: AtomicUsize::new(0),
            builds: AtomicU64::new(0),
            started: Instant::now(),
            socket: socket.clone(),
            hello,
            sessions: crate::session::Sessions::default(),
            session_idle: options.warm.idle_timeout,
        });
        accept_loop(&shared, &listener, options).await
    });
    // Abandoned Wasm calls may still run on actor threads: do not wait for them.
    runtime.shutdown_background();
    let _ = std::fs::remove_file(&socket);
    if paths.read_pid() == Some(std::process::id()) {
        let _ = std::fs::remove_file(paths.pid());
    }
    drop(lock);
    tracing::info!("daemon stopped");
    result
}

fn write_pid(paths: &DaemonPaths) -> std::io::Result<()> {
    let tmp = paths
        .dir()
        .join(format!("daemon.pid.{}", std::process::id()));
    std::fs::write(&tmp, format!("{}\n", std::process::id()))?;
    std::fs::rename(&tmp, paths.pid())
}

async fn accept_loop(
    shared: &Arc<Shared>,
    listener: &tokio::net::UnixListener,
    options: ServerOptions,
) -> Result<(), Error> {
    let mut sigterm = signal(SignalKind::terminate()).map_err(Error::Io)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(Error::Io)?;
    // The daemon outlives the terminal that started it.
    let mut sighup = signal(SignalKind::hangup()).map_err(Error::Io)?;
    let mut shutdown = shared.shutdown.subscribe();
    let mut reap = tokio::time::interval(options.reap_interval);
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connections = JoinSet::new();
    let mut idle_check = tokio::time::interval(Duration::from_secs(1));
    let mut last_active = Instant::now();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    last_active = Instant::now();
                    let shared = Arc::clone(shared);
                    connections.spawn(async move {
                        if let Err(e) = connection(&shared, stream).await {
                            tracing::debug!("connection ended: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = sigterm.recv() => { let _ = shared.shutdown.send(true); }
            _ = sigint.recv() => { let _ = shared.shutdown.send(true); }
            _ = sighup.recv() => {}
            _ = idle_check.tick(), if options.exit_when_idle.is_some() => {
                if !connections.is_empty() {
                    last_active = Instant::now();
                } else if options.exit_when_idle.is_some_and(|d| last_active.elapsed() > d) {
                    tracing::info!("no connection for {:?}: exiting", options.exit_when_idle);
                    let _ = shared.shutdown.send(true);
                }
            }
            _ = reap.tick() => {
                let reaped = shared.pools.reap();
                if reaped > 0 {
                    tracing::info!("reaped {reaped} idle pools");
                }
                shared.sessions.reap(shared.session_idle);
            }
        }
    }
    tracing::info!(
        "shutting down: cancelling {} running builds",
        shared.active.load(Ordering::Relaxed)
    );
    // Builds see the shutdown through their cancellation, report `cancelled` to their clients
    // and store nothing of the calls they abandon.
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; exiting anyway");
    }
    shared.sessions.clear();
    shared.pools.clear();
    Ok(())
}

/// Replies with an error and ends the connection.
async fn refuse(writer: &mut OwnedWriteHalf, message: String) -> Result<(), Error> {
    write_frame(writer, &Response::Error { message }).await
}

async fn read_request(reader: &mut OwnedReadHalf) -> Result<Option<Request>, Error> {
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        read_frame::<_, Request>(reader, MAX_REQUEST_BYTES),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(Error::Protocol(format!(
            "no request within {HANDSHAKE_TIMEOUT:?}"
        ))),
    }
}

async fn connection(shared: &Arc<Shared>, stream: UnixStream) -> Result<(), Error> {
    let (mut reader, mut writer) = stream.into_split();
    let first = match read_request(&mut reader).await {
        Ok(Some(request)) => request,
        Ok(None) => return Ok(()),
        Err(e @ (Error::TooLarge { .. } | Error::Malformed(_) | Error::Protocol(_))) => {
            return refuse(&mut writer, format!("bad request: {e}")).await;
        }
        Err(e) => return Err(e),
    };
    let Request::Hello(client) = first else {
        return refuse(&mut writer, "bad request: expected hello first".to_owned()).await;
    };
    write_frame(&mut writer, &Response::Hello(shared.hello.clone())).await?;
    if client.protocol != shared.hello.protocol {
        // The client sees our hello and decides; nothing else can be understood.
        return Ok(());
    }
    let request = match read_request(&mut reader).await {
        Ok(Some(request)) => request,
        Ok(None) => return Ok(()),
        Err(e @ (Error::TooLarge { .. } | Error::Malformed(_) | Error::Protocol(_))) => {
            return refuse(&mut writer, format!("bad request: {e}")).await;
        }
        Err(e) => return Err(e),
    };
    match request {
        Request::Status => {
            let status = status(shared);
            write_frame(&mut writer, &Response::Status(Box::new(status))).await
        }
        Request::Stop => {
            tracing::info!("stop requested by pid {}", client.pid);
            write_frame(&mut writer, &Response::Stopping).await?;
            let _ = shared.shutdown.send(true);
            Ok(())
        }
        Request::Build(request) if shared.hello.compatible(&client) => {
            run_build(shared, *request, reader, writer).await
        }
        Request::Build(_) => {
            refuse(
                &mut writer,
                format!(
                    "this daemon runs morphir {} (build {}); the client is {} (build {})",
                    shared.hello.version, shared.hello.build, client.version, client.build
                ),
            )
            .await
        }
        Request::Session(request) if shared.hello.compatible(&client) => {
            let response = match session(shared, *request).await {
                Ok(answer) => Response::Session(Box::new(answer)),
                Err(message) => Response::Error { message },
            };
            write_frame(&mut writer, &response).await
        }
        Request::Session(_) => {
            refuse(
                &mut writer,
                format!(
                    "this daemon runs morphir {} (build {}); the client is {} (build {}): \
                     `morphir daemon stop`, then start the session again",
                    shared.hello.version, shared.hello.build, client.version, client.build
                ),
            )
            .await
        }
        Request::Hello(_) | Request::Cancel => {
            refuse(&mut writer, "bad request: nothing to cancel".to_owned()).await
        }
    }
}

/// Writes the events still queued after a build ended (unless the client is gone); false when
/// the client went away meanwhile.
async fn drain(
    events: &mut mpsc::UnboundedReceiver<Response>,
    writer: &mut OwnedWriteHalf,
    client_gone: bool,
) -> bool {
    let mut rest = Vec::new();
    while let Ok(response) = events.try_recv() {
        rest.push(response);
    }
    if client_gone {
        return false;
    }
    for batch in rest.chunks(EVENT_BATCH) {
        if write_frames(writer, batch).await.is_err() {
            return false;
        }
    }
    true
}

/// A new session id: unpredictable, so one client cannot guess another's session.
fn session_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("s-{:016x}", hasher.finish())
}

async fn session(shared: &Arc<Shared>, request: SessionRequest) -> Result<SessionResponse, String> {
    Ok(match request {
        SessionRequest::Start(start) => {
            if !shared.sessions.has_room() {
                return Err(format!(
                    "the daemon already runs {} sessions; stop some (`morphir session list`, \
                     `morphir session stop ID`)",
                    crate::session::MAX_SESSIONS
                ));
            }
            let id = session_id();
            let extension = start.extension.clone();
            let program = shared.service.start_session(start, id.clone()).await?;
            tracing::info!(session = %id, %extension, "session started");
            shared.sessions.insert(id.clone(), program);
            SessionResponse::Started { id }
        }
        SessionRequest::Send { id, message } => {
            shared.sessions.send(&id, &message).await?;
            SessionResponse::Sent
        }
        SessionRequest::Poll { id, wait_ms } => SessionResponse::Events {
            events: shared
                .sessions
                .poll(&id, Duration::from_millis(wait_ms))
                .await?,
        },
        SessionRequest::Stop { id } => {
            let (events, model) = shared.sessions.stop(&id).await?;
            SessionResponse::Stopped { events, model }
        }
        SessionRequest::List => SessionResponse::List {
            sessions: shared.sessions.list(),
        },
    })
}

fn status(shared: &Shared) -> DaemonStatus {
    DaemonStatus {
        pid: shared.hello.pid,
        version: shared.hello.version.clone(),
        protocol: shared.hello.protocol,
        socket: shared.socket.clone(),
        uptime_ms: crate::status::millis(shared.started.elapsed()),
        active_builds: shared.active.load(Ordering::Relaxed),
        builds: shared.builds.load(Ordering::Relaxed),
        warm: WarmInfo::from_status(&shared.pools.status()),
        sessions: shared.sessions.list(),
    }
}

/// Paths in messages as the client would have printed them: the daemon loads the client's
/// `cwd/<config as found>`, so stripping `cwd/` gives back the client's relative paths.
struct Relativize {
    prefix: String,
}

impl Relativize {
    fn new(request: &BuildRequest) -> Self {
        let cwd = request.cwd.display().to_string();
        Self {
            prefix: format!("{}/", cwd.trim_end_matches('/')),
        }
    }

    fn text(&self, text: &str) -> String {
        if self.prefix == "/" {
            text.to_owned()
        } else {
            text.replace(&self.prefix, "")
        }
    }

    fn event(&self, event: &Event) -> Event {
        match event {
            Event::Finished {
                step,
                status,
                duration,
                error: Some(error),
            } => Event::Finished {
                step: step.clone(),
                status: *status,
                duration: *duration,
                error: Some(self.text(error)),
            },
            other => other.clone(),
        }
    }
}

struct ActiveBuild<'a>(&'a Shared);

impl Drop for ActiveBuild<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run_build(
    shared: &Arc<Shared>,
    request: BuildRequest,
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
) -> Result<(), Error> {
    shared.active.fetch_add(1, Ordering::Relaxed);
    shared.builds.fetch_add(1, Ordering::Relaxed);
    let active = ActiveBuild(shared);
    let relativize = Arc::new(Relativize::new(&request));
    let (events_tx, mut events) = mpsc::unbounded_channel::<Response>();
    let events_tx_log = events_tx.clone();
    let sink: EventSink = {
        let relativize = Arc::clone(&relativize);
        Arc::new(move |event: &Event| {
            let _ = events_tx.send(Response::Event(relativize.event(event)));
        })
    };
    // The client cancels by saying so or by going away; the daemon's shutdown cancels too.
    let (cancel_tx, mut cancel_rx) = watch::channel(false);
    let watcher = tokio::spawn(async move {
        loop {
            match read_frame::<_, Request>(&mut reader, MAX_REQUEST_BYTES).await {
                Ok(Some(Request::Cancel)) => {
                    tracing::debug!("client cancelled its build");
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    tracing::debug!("client went away: cancelling its build");
                    break;
                }
            }
        }
        let _ = cancel_tx.send(true);
        // Keep the sender alive until the build is over, so the cancellation holds.
        std::future::pending::<()>().await;
    });
    let mut shutdown = shared.shutdown.subscribe();
    let cancel: Cancel = Box::pin(async move {
        tokio::select! {
            _ = cancel_rx.wait_for(|c| *c) => {}
            _ = shutdown.wait_for(|s| *s) => {}
        }
    });
    let context = BuildContext {
        events: sink,
        cancel,
        pools: Arc::clone(&shared.pools),
    };
    // The daemon's own warnings about this build go to this client too (`forward.rs`).
    let (build_id, _route) = crate::forward::route(events_tx_log);
    let span = tracing::warn_span!(crate::forward::SPAN, build = build_id);
    let mut build = spawn_build(tracing::Instrument::instrument(
        shared.service.build(request, context),
        span,
    ));
    let mut client_gone = false;
    let joined = loop {
        tokio::select! {
            biased;
            Some(response) = events.recv() => {
                // This event and whatever else is queued, in one write.
                let mut batch = vec![response];
                while batch.len() < EVENT_BATCH
                    && let Ok(more) = events.try_recv()
                {
                    batch.push(more);
                }
                if !client_gone && write_frames(&mut writer, &batch).await.is_err() {
                    client_gone = true;
                }
            }
            joined = &mut build => break joined,
        }
    };
    watcher.abort();
    client_gone |= !drain(&mut events, &mut writer, client_gone).await;
    let last = match joined {
        Ok(Ok(mut report)) => {
            for step in &mut report.steps {
                if let Some(error) = &step.error {
                    step.error = Some(relativize.text(error));
                }
            }
            Response::Report(Box::new(report))
        }
        Ok(Err(message)) => Response::Error {
            message: relativize.text(&message),
        },
        Err(_) => Response::Error {
            message: format!(
                "internal error in the daemon: the build's thread ended without a report \
                 (it panicked); see {}",
                "daemon.log"
            ),
        },
    };
    shared.pools.enforce_idle_cap();
    // The build is over before its client hears so: a `daemon status` the client sends next
    // must not count it as active.
    drop(active);
    if client_gone {
        return Ok(());
    }
    write_frame(&mut writer, &last).await
}

/// Runs a build's future on a thread of its own, inside this runtime's context, waiting with
/// `morphir_host::lane::block_on` as the CLI does: a finished step then finds the scheduler
/// spinning instead of waking a parked tokio worker (`lane.rs`). One thread per build, not
/// per step.
fn spawn_build<F>(build: F) -> tokio::sync::oneshot::Receiver<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name("morphir-build".to_owned())
        .spawn(move || {
            let _context = runtime.enter();
            let _ = tx.send(morphir_host::lane::block_on(build));
        });
    if let Err(e) = spawned {
        // `tx` is gone with the closure: the receiver reports the build as failed.
        tracing::error!("cannot start a thread for a build: {e}");
    }
    rx
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use morphir_build::BuildReport;
    use tokio::sync::Notify;

    use super::*;
    use crate::client::{Connection, connect};

    /// Builds that wait until cancelled or released, and remember which ended how.
    #[derive(Default)]
    struct Fake {
        release: Notify,
        ended: Mutex<Vec<(Vec<String>, &'static str)>>,
    }

    struct FakeService(Arc<Fake>);

    impl Service for FakeService {
        fn build(
            &self,
            request: BuildRequest,
            context: BuildContext,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<BuildReport, String>> + Send>> {
            let fake = Arc::clone(&self.0);
            Box::pin(async move {
                (context.events)(&Event::Planned { steps: 1 });
                let how = tokio::select! {
                    () = context.cancel => "cancelled",
                    () = fake.release.notified() => "finished",
                };
                fake.ended
                    .lock()
                    .unwrap()
                    .push((request.tasks.clone(), how));
                Ok(BuildReport {
                    success: how == "finished",
                    cancelled: how == "cancelled",
                    wall_ms: 0,
                    executed: 0,
                    cached: 0,
                    failed: 0,
                    skipped: 0,
                    local_hits: 0,
                    remote_hits: 0,
                    remote: None,
                    steps: Vec::new(),
                })
            })
        }

        fn start_session(
            &self,
            request: crate::SessionStart,
            _session_id: String,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<morphir_host::Program, String>> + Send>>
        {
            Box::pin(async move { Err(format!("no extension `{}` here", request.extension)) })
        }
    }

    async fn ready(paths: &DaemonPaths) -> crate::Client {
        for _ in 0..500 {
            if let Connection::Ready(client) = connect(paths).await {
                return client;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the daemon never answered");
    }

    fn request(task: &str) -> BuildRequest {
        BuildRequest {
            cwd: "/".into(),
            config: "morphir.toml".into(),
            tasks: vec![task.to_owned()],
            jobs: 1,
            ..BuildRequest::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_goes_away_cancels_only_its_own_build() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = DaemonPaths::in_dir(tmp.path().join("d"));
        let fake = Arc::new(Fake::default());
        let server = {
            let (paths, fake) = (paths.clone(), Arc::clone(&fake));
            std::thread::spawn(move || {
                serve(
                    &paths,
                    Arc::new(FakeService(fake)),
                    ServerOptions::default(),
                )
            })
        };
        // A second daemon on the same directory is refused.
        let _ = ready(&paths).await;
        let again = serve(
            &paths,
            Arc::new(FakeService(Arc::clone(&fake))),
            ServerOptions::default(),
        );
        assert!(
            matches!(again, Err(Error::AlreadyRunning { .. })),
            "{again:?}"
        );

        let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
        let a = ready(&paths).await;
        let seen = seen_tx.clone();
        let a = tokio::spawn(async move {
            a.build(
                request("a"),
                move |r| {
                    let _ = seen.send(format!("{r:?}"));
                },
                std::future::pending(),
            )
            .await
        });
        let b = ready(&paths).await;
        let b = tokio::spawn(async move {
            b.build(
                request("b"),
                move |r| {
                    let _ = seen_tx.send(format!("{r:?}"));
                },
                std::future::pending(),
            )
            .await
        });
        // Both are running once both saw their first event.
        for _ in 0..2 {
            assert!(seen_rx.recv().await.unwrap().contains("Planned"));
        }
        a.abort();
        let _ = a.await;
        while fake.ended.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            *fake.ended.lock().unwrap(),
            [(vec!["a".to_owned()], "cancelled")]
        );
        fake.release.notify_one();
        let report = b.await.unwrap().unwrap().unwrap();
        assert!(report.success);
        assert_eq!(
            fake.ended.lock().unwrap()[1],
            (vec!["b".to_owned()], "finished")
        );

        let status = ready(&paths).await.status().await.unwrap();
        assert_eq!(status.builds, 2);
        assert_eq!(status.active_builds, 0);
        ready(&paths).await.stop().await.unwrap();
        server.join().unwrap().unwrap();
        assert!(!paths.socket().exists());
        assert!(matches!(connect(&paths).await, Connection::NotRunning));
    }
}
