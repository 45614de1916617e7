//! `morphir build`: load the configuration, select the tasks, run the executor, show progress
//! on stderr (bars on a terminal, plain lines otherwise) and a summary (`--json` on stdout).

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use morphir_build::{
    BuildHost, BuildOptions, BuildReport, Cancel, Event, EventSink, Interrupt, StepStatus,
};
use morphir_config::{CACHE_DIR_ENV, LoadOptions};
use morphir_daemon::client::{self, Connection};
use morphir_daemon::{BuildRequest, Client, DaemonPaths, Response};
use morphir_graph::StepGraph;
use morphir_runtime::{Runtime, RuntimeConfig};

use super::project;
use crate::cli::BuildArgs;

/// Exit code of a build interrupted with Ctrl-C (128 + SIGINT, as shells report it).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

pub(crate) fn run(args: &BuildArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    let request = request(args)?;
    // Two workers are plenty: Wasm calls run on their actors' own threads.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The build's own future runs on this thread, as under `tokio.block_on`, but waits the way
    // the extension threads do (spinning briefly before parking, `morphir_host::lane`): a
    // finished step then finds it awake.
    let context = tokio.enter();
    let result = if args.watch {
        morphir_host::lane::block_on(super::watch::run(args, &request, verbose))
    } else {
        let progress = Arc::new(Progress::new(verbose));
        morphir_host::lane::block_on(build_once(args, &request, &progress, None))
            .and_then(|outcome| finish(args, &progress, outcome))
    };
    drop(context);
    // Abandoned calls may still be running on actor threads: do not wait for them.
    tokio.shutdown_background();
    result
}

/// The request this invocation makes, wherever it runs: the configuration as found (relative to
/// the working directory, so messages name paths as the user typed them) and the resolved flags.
fn request(args: &BuildArgs) -> anyhow::Result<BuildRequest> {
    let config = project::config_file(&args.config)?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        usize::from,
    );
    Ok(BuildRequest {
        cwd: std::env::current_dir()?,
        config,
        tasks: args.tasks.clone(),
        jobs,
        keep_going: args.keep_going,
        no_cache: args.no_cache,
        explain: args.explain,
        env: BTreeMap::new(),
    })
}

/// How one build ended, before it is shown.
pub(crate) enum Outcome {
    /// It ran (successfully or not).
    Report(BuildReport),
    /// The daemon went away mid-build: a run-time failure (exit 1), not bad input.
    DaemonLost(String),
}

/// Runs one build on the daemon or in process (see [`route`]). `cancel`: what stops it
/// (default Ctrl-C).
pub(crate) async fn build_once(
    args: &BuildArgs,
    request: &BuildRequest,
    progress: &Arc<Progress>,
    cancel: Option<Cancel>,
) -> anyhow::Result<Outcome> {
    if let Some(client) = route(args).await {
        let cancel: Cancel = cancel.unwrap_or_else(|| {
            Box::pin(async {
                let _ = tokio::signal::ctrl_c().await;
            })
        });
        let mut request = request.clone();
        request.env = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        let shown = Arc::clone(progress);
        let daemon = client.daemon().pid;
        return match client
            .build(request, move |response| shown.response(response), cancel)
            .await
        {
            Ok(Ok(report)) => Ok(Outcome::Report(report)),
            Ok(Err(message)) => Err(anyhow::Error::msg(message)),
            Err(e) => Ok(Outcome::DaemonLost(format!(
                "the build on the daemon (pid {daemon}) did not finish: {e}; run it again \
                 (without a daemon it runs in this process)"
            ))),
        };
    }
    let runtime = Runtime::new(&RuntimeConfig::default())?;
    let sink: EventSink = {
        let progress = Arc::clone(progress);
        Arc::new(move |event: &Event| progress.event(event))
    };
    // Without a `cancel` of the caller's, the build listens for Ctrl-C itself, from its start.
    let host = BuildHost {
        interrupt: cancel.map(Interrupt::on),
        ..BuildHost::default()
    };
    execute(request, &request.config, host, runtime, sink)
        .await
        .map(Outcome::Report)
}

/// Where the build runs: `Some` daemon, or `None` for this process. A running daemon of this
/// very build is used unless `--no-daemon`; with `--daemon` one is started (or one of another
/// build replaced). Anything odd (a stale socket, another build's daemon, no answer) is said on
/// stderr and the build runs here: it never waits on a daemon that cannot serve it.
async fn route(args: &BuildArgs) -> Option<Client> {
    if args.no_daemon {
        return None;
    }
    let paths = DaemonPaths::from_env();
    let connection = match paths.verify() {
        Ok(true) => client::connect(&paths).await,
        Ok(false) => Connection::NotRunning,
        Err(e) => {
            warn(&format!("{e}; building in this process"));
            return None;
        }
    };
    match connection {
        Connection::Ready(client) if client.compatible() => return Some(client),
        Connection::Ready(client) => {
            let daemon = client.daemon().clone();
            if !args.daemon {
                warn(&format!(
                    "the running daemon (pid {}) is morphir {} from another build; building in \
                     this process (`morphir daemon stop` ends it, `--daemon` replaces it)",
                    daemon.pid, daemon.version
                ));
                return None;
            }
            warn(&format!(
                "replacing the running daemon (pid {}, morphir {} from another build)",
                daemon.pid, daemon.version
            ));
            if let Err(e) = super::daemon::stop_and_wait(&paths, client).await {
                warn(&format!("{e}; building in this process"));
                return None;
            }
        }
        Connection::NotRunning => {
            if !args.daemon {
                return None;
            }
        }
        Connection::Stale => {
            warn(&format!(
                "removed a stale daemon socket at {} (its daemon had exited)",
                paths.socket().display()
            ));
            if !args.daemon {
                return None;
            }
        }
        Connection::Unavailable(why) => {
            warn(&format!(
                "daemon unavailable: {why}; building in this process"
            ));
            return None;
        }
    }
    match super::daemon::start(&paths, &crate::cli::DaemonRunArgs::defaults()).await {
        Ok(_) => match client::connect(&paths).await {
            Connection::Ready(client) if client.compatible() => Some(client),
            _ => {
                warn("the daemon started but does not answer; building in this process");
                None
            }
        },
        Err(e) => {
            warn(&format!("{e}; building in this process"));
            None
        }
    }
}

#[expect(clippy::print_stderr, reason = "a note to the user, on stderr")]
fn warn(text: &str) {
    eprintln!("warning: {text}");
}

/// Everything between "configuration found" and "report", shared by the in-process build and
/// the daemon (`daemon.rs`), so both say the same things: load `config_file`, build the graph,
/// select the tasks, run the executor, prune the cache to `[cache] max_size`.
pub(crate) async fn execute(
    request: &BuildRequest,
    config_file: &Path,
    host: BuildHost,
    runtime: Runtime,
    events: EventSink,
) -> anyhow::Result<BuildReport> {
    let cache_override = match &host.env {
        Some(env) => env.get(CACHE_DIR_ENV).map(std::ffi::OsString::from),
        None => std::env::var_os(CACHE_DIR_ENV),
    };
    let mut host = host;
    if !request.no_cache && host.index.is_none() {
        // The cache's index is read while the configuration loads (a fully cached 1,000-step
        // build waited for it after), from where the cache is unless `[cache] dir` moves it:
        // `Config::cache_dir` of the workspace root, the configuration's directory.
        let root = config_file.parent().unwrap_or(Path::new(""));
        let dir = match cache_override.as_deref().filter(|dir| !dir.is_empty()) {
            Some(dir) => root.join(dir),
            None => root.join(morphir_config::DEFAULT_CACHE_DIR),
        };
        host.index = Some(morphir_cache::IndexPrefetch::start(dir));
    }
    let config = project::load_config_file(config_file, LoadOptions::default())?;
    let graph = StepGraph::build(&config)?;
    let graph = project::select_tasks(graph, &request.tasks)?;
    let remote = match project::remote_cache(&config, host.env.as_deref())? {
        Some(remote) => Some(Arc::new(
            morphir_remote::RemoteCacheClient::connect(&remote).await,
        )),
        None => None,
    };
    let options = BuildOptions {
        jobs: request.jobs,
        keep_going: request.keep_going,
        no_cache: request.no_cache,
        explain: request.explain,
        cache_dir: config.cache_dir(cache_override.as_deref()),
        remote: remote.map(|r| r as _),
    };
    let cache_dir = options.cache_dir.clone();
    let max_size = config.cache.max_size.map(morphir_config::ByteSize::bytes);
    let report = morphir_build::build_with(
        Arc::new(config),
        Arc::new(graph),
        runtime,
        options,
        events,
        host,
    )
    .await?;
    if let Some(max_size) = max_size {
        // `[cache] max_size`: evict least recently used entries after each build.
        match morphir_cache::Store::open(&cache_dir)
            .and_then(|store| store.prune(&morphir_cache::PruneOptions::new(Some(max_size), None)))
        {
            Ok(pruned) => tracing::info!("cache pruned to {max_size} bytes: {pruned:?}"),
            Err(e) => tracing::warn!("cannot prune the cache at {}: {e}", cache_dir.display()),
        }
    }
    Ok(report)
}

/// Shows how a build ended (summary on stderr, `--json` on stdout) and picks the exit code.
pub(crate) fn finish(
    args: &BuildArgs,
    progress: &Progress,
    outcome: Outcome,
) -> anyhow::Result<ExitCode> {
    progress.done();
    let report = match outcome {
        Outcome::Report(report) => report,
        Outcome::DaemonLost(message) => {
            #[expect(clippy::print_stderr, reason = "the error report")]
            {
                eprintln!("error: {message}");
            }
            return Ok(ExitCode::from(crate::exit::FAILURE));
        }
    };
    print_summary(&report, args.explain);
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    }
    Ok(exit_code(&report))
}

pub(crate) fn exit_code(report: &BuildReport) -> ExitCode {
    if report.cancelled {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if report.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILURE)
    }
}

/// Renders events: a bar per running step and a total on a terminal, a line per finished step
/// otherwise (CI logs). The same for a build in process and one on the daemon.
pub(crate) struct Progress {
    verbose: u8,
    bars: Option<Bars>,
    /// Steps started and not finished. Lines of cached steps wait in [`PENDING`] only while
    /// there are none: then the build is serving hits and never waits for long.
    running: Mutex<std::collections::HashSet<String>>,
}

struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    running: Mutex<Vec<(String, ProgressBar)>>,
    counts: Mutex<[usize; 3]>,
}

impl Progress {
    pub(crate) fn new(verbose: u8) -> Self {
        let tty =
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|_| true);
        let bars = tty.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let total = multi.add(ProgressBar::new(0));
            total.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} steps {msg} [{elapsed}]")
                    .expect("valid template"),
            );
            Bars {
                multi,
                total,
                running: Mutex::new(Vec::new()),
                counts: Mutex::new([0; 3]),
            }
        });
        Self {
            verbose,
            bars,
            running: Mutex::default(),
        }
    }

    fn line(&self, text: &str) {
        if let Some(bars) = &self.bars {
            bars.multi.suspend(|| eprintln_locked(text));
        } else {
            let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
            pending.extend_from_slice(text.as_bytes());
            pending.push(b'\n');
            write_stderr(&mut pending);
        }
    }

    /// A line that may wait for the next write (see [`PENDING`]).
    fn deferred_line(&self, text: &str) {
        let idle = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty();
        if self.bars.is_some() || !idle {
            return self.line(text);
        }
        let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
        pending.extend_from_slice(text.as_bytes());
        pending.push(b'\n');
        if pending.len() >= PENDING_MAX {
            write_stderr(&mut pending);
        }
    }

    /// A message of a build on the daemon.
    fn response(&self, response: &Response) {
        match response {
            Response::Event(event) => self.event(event),
            Response::Log {
                level,
                target,
                message,
            } => self.line(&format!("{level:>5} {target}: {message}")),
            _ => {}
        }
    }

    fn event(&self, event: &Event) {
        match event {
            Event::Planned { steps } => {
                if let Some(bars) = &self.bars {
                    bars.total.set_length(*steps as u64);
                }
            }
            Event::Started { step } => {
                flush_pending();
                self.running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(step.clone());
                if let Some(bars) = &self.bars {
                    let bar = bars.multi.add(ProgressBar::new_spinner());
                    bar.set_style(
                        ProgressStyle::with_template("  {spinner} {msg} [{elapsed}]")
                            .expect("valid template"),
                    );
                    bar.set_message(step.clone());
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bars.running
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((step.clone(), bar));
                }
            }
            Event::Finished {
                step,
                status,
                duration,
                error,
            } => {
                self.running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(step);
                if let Some(bars) = &self.bars {
                    let mut running = bars.running.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(i) = running.iter().position(|(s, _)| s == step) {
                        let (_, bar) = running.remove(i);
                        bar.finish_and_clear();
                        bars.multi.remove(&bar);
                    }
                    let mut counts = bars.counts.lock().unwrap_or_else(PoisonError::into_inner);
                    match status {
                        StepStatus::Executed => counts[0] += 1,
                        StepStatus::Cached => counts[1] += 1,
                        StepStatus::Failed => counts[2] += 1,
                        StepStatus::Skipped | StepStatus::Cancelled => {}
                    }
                    bars.total.inc(1);
                    bars.total.set_message(format!(
                        "({} ran, {} cached, {} failed)",
                        counts[0], counts[1], counts[2]
                    ));
                }
                let text = match (status, error) {
                    (StepStatus::Failed, Some(e)) => format!("  failed    {step}: {e}"),
                    (StepStatus::Executed, _) => {
                        format!("  ran       {step} ({})", human(*duration))
                    }
                    (other, _) => format!("  {:<9} {step}", other.as_str()),
                };
                // On a terminal the bars show cached steps; failures are always printed.
                if *status == StepStatus::Cached {
                    if self.bars.is_none() || self.verbose > 0 {
                        self.deferred_line(&text);
                    }
                } else if self.bars.is_none() || *status == StepStatus::Failed || self.verbose > 0 {
                    self.line(&text);
                }
            }
            Event::Log {
                step,
                level,
                message,
                replayed,
                ..
            } => {
                let shown = match level.as_str() {
                    "error" | "warn" => true,
                    "info" => self.verbose >= 1,
                    "debug" => self.verbose >= 2,
                    _ => self.verbose >= 3,
                };
                if shown {
                    let replay = if *replayed { " (cached)" } else { "" };
                    self.line(&format!("  [{step}] {level}{replay}: {message}"));
                }
            }
        }
    }

    pub(crate) fn done(&self) {
        flush_pending();
        if let Some(bars) = &self.bars {
            bars.total.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // A build that ended in an error never reached `done`.
        flush_pending();
    }
}

/// Deferred progress written in writes of about this size.
const PENDING_MAX: usize = 32 << 10;

/// Progress lines of cached steps not yet written, when stderr is not a terminal: a fully
/// cached build writes them in a few large writes instead of one per step (a thousand system
/// calls on the scheduler's thread). Written out before any other line, when a step starts
/// (the build may now wait), at the end of the build, and before any log line of this process
/// (`main.rs`), so nothing shows late or out of order. Process-wide for that last reason.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Writes out the progress lines waiting in [`PENDING`].
pub(crate) fn flush_pending() {
    write_stderr(&mut PENDING.lock().unwrap_or_else(PoisonError::into_inner));
}

/// Writes out and empties `pending`.
fn write_stderr(pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), pending);
        pending.clear();
    }
}

fn eprintln_locked(text: &str) {
    // One write per line (`eprintln!` makes two on unbuffered stderr: a thousand cached steps
    // printed a thousand extra syscalls).
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}

fn human(d: Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[expect(
    clippy::print_stderr,
    reason = "the summary goes to stderr; stdout is for --json"
)]
fn print_summary(report: &BuildReport, explain: bool) {
    if explain {
        eprintln!("explain:");
        for step in &report.steps {
            let key = step.key.as_deref().map_or("-", |k| &k[..16]);
            let what = match (&step.status, &step.changes) {
                (StepStatus::Cached, _) => "hit".to_owned(),
                (_, Some(changes)) => format!("miss: {}", changes.join("; ")),
                (status, None) => status.as_str().to_owned(),
            };
            eprintln!("  {:<40} {key}  {what}", step.id);
        }
    }
    let failed: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed)
        .collect();
    for step in &failed {
        eprintln!(
            "error: step `{}` failed: {}",
            step.id,
            step.error.as_deref().unwrap_or("unknown error")
        );
    }
    let verdict = if report.cancelled {
        "interrupted"
    } else if report.success {
        "finished"
    } else {
        "failed"
    };
    let cached = if report.remote.is_some() {
        format!(
            "{} cached ({} local, {} remote)",
            report.cached, report.local_hits, report.remote_hits
        )
    } else {
        format!("{} cached", report.cached)
    };
    eprintln!(
        "build {verdict} in {}: {} steps, {} executed, {cached}, {} failed, {} skipped",
        human(Duration::from_millis(report.wall_ms)),
        report.steps.len(),
        report.executed,
        report.failed,
        report.skipped
    );
    if let Some(remote) = &report.remote {
        let mut notes = Vec::new();
        if remote.corrupt > 0 {
            notes.push(format!("{} entries failed verification", remote.corrupt));
        }
        if !remote.upload {
            notes.push("read-only".to_owned());
        }
        if remote.disabled {
            notes.push("stopped asking after failures".to_owned());
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        eprintln!(
            "remote cache {}: {} hits, {} misses, {} uploads, {} errors{notes}",
            remote.endpoint, remote.hits, remote.misses, remote.uploads, remote.errors
        );
    }
}
