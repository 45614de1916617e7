//! `morphir daemon start | stop | status | run`, and the daemon's [`Service`]: builds run by
//! [`super::build::execute`], the function the in-process build uses, so both say the same
//! things (`docs/daemon.md`).

use std::ffi::OsString;
use std::fs::TryLockError;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use morphir_build::{BuildHost, BuildReport};
use morphir_daemon::client::{self, Connection};
use morphir_daemon::{BuildContext, BuildRequest, Client, DaemonPaths, DaemonStatus, Service};
use morphir_host::WarmSettings;
use morphir_runtime::{Runtime, RuntimeConfig};

use crate::cli::{DaemonArgs, DaemonCommand, DaemonRunArgs};

/// How long `stop` waits for the daemon to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

impl DaemonRunArgs {
    /// The defaults of `morphir daemon start` (for `morphir build --daemon`).
    pub(crate) fn defaults() -> Self {
        Self {
            idle_timeout: Duration::from_mins(30),
            max_idle_instances: 64,
            exit_when_idle: None,
        }
    }
}

pub(crate) fn run(args: &DaemonArgs) -> anyhow::Result<ExitCode> {
    let paths = DaemonPaths::from_env();
    if let DaemonCommand::Run(run) = &args.command {
        return serve(&paths, run);
    }
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        match &args.command {
            DaemonCommand::Start(run) => start_command(&paths, run).await,
            DaemonCommand::Stop => stop_command(&paths).await,
            DaemonCommand::Status { json } => status_command(&paths, *json).await,
            DaemonCommand::Run(_) => unreachable!("handled above"),
        }
    })
}

#[expect(clippy::print_stderr, reason = "command feedback goes to stderr")]
fn say(text: &str) {
    eprintln!("{text}");
}

/// `daemon run`: the daemon itself, in the foreground.
fn serve(paths: &DaemonPaths, args: &DaemonRunArgs) -> anyhow::Result<ExitCode> {
    let service = CliService {
        runtime: Runtime::new(&RuntimeConfig::default())?,
    };
    let options = morphir_daemon::ServerOptions {
        warm: WarmSettings {
            idle_timeout: args.idle_timeout,
            max_idle_instances: args.max_idle_instances,
        },
        // Reap often enough that a short idle timeout (tests, small machines) holds.
        exit_when_idle: args.exit_when_idle,
        reap_interval: (args.idle_timeout / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(30)),
    };
    morphir_daemon::serve(paths, Arc::new(service), options)?;
    Ok(ExitCode::SUCCESS)
}

/// Starts a daemon in the background and waits until it answers; returns its pid.
pub(crate) async fn start(paths: &DaemonPaths, args: &DaemonRunArgs) -> anyhow::Result<u32> {
    let exe = std::env::current_exe()?;
    let run_args: Vec<OsString> = vec![
        "-v".into(),
        "--idle-timeout".into(),
        format!("{}s", args.idle_timeout.as_secs().max(1)).into(),
        "--max-idle-instances".into(),
        args.max_idle_instances.to_string().into(),
    ];
    Ok(client::start(paths, &exe, &run_args).await?)
}

async fn start_command(paths: &DaemonPaths, args: &DaemonRunArgs) -> anyhow::Result<ExitCode> {
    match client::connect(paths).await {
        Connection::Ready(client) if client.compatible() => {
            say(&format!(
                "the daemon is already running (pid {})",
                client.daemon().pid
            ));
            return Ok(ExitCode::SUCCESS);
        }
        Connection::Ready(client) => {
            anyhow::bail!(
                "a daemon of another morphir build is running (pid {}, morphir {}); stop it \
                 first with `morphir daemon stop`",
                client.daemon().pid,
                client.daemon().version
            );
        }
        Connection::Unavailable(why) => anyhow::bail!("{why}"),
        Connection::Stale => say(&format!(
            "removed a stale daemon socket at {} (its daemon had exited)",
            paths.socket().display()
        )),
        Connection::NotRunning => {}
    }
    let pid = start(paths, args).await?;
    say(&format!(
        "daemon started (pid {pid}, socket {})",
        paths.socket().display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Asks `client`'s daemon to stop and waits until it has exited (its lock is free).
pub(crate) async fn stop_and_wait(paths: &DaemonPaths, client: Client) -> anyhow::Result<u32> {
    let pid = client.daemon().pid;
    if let Err(e) = client.stop().await {
        // A daemon of another protocol cannot be asked; it stops on SIGTERM all the same.
        tracing::debug!("stop request failed ({e}); sending SIGTERM to {pid}");
        terminate(pid)?;
    }
    wait_for_exit(paths, pid).await?;
    Ok(pid)
}

fn terminate(pid: u32) -> anyhow::Result<()> {
    let raw = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    let Some(pid) = raw else {
        anyhow::bail!("invalid daemon pid {pid}");
    };
    rustix::process::kill_process(pid, rustix::process::Signal::TERM)
        .map_err(|e| anyhow::anyhow!("cannot signal the daemon (pid {pid:?}): {e}"))
}

/// Waits until no process holds the daemon's lock.
async fn wait_for_exit(paths: &DaemonPaths, pid: u32) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(paths.lock())?;
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        if started.elapsed() > STOP_TIMEOUT {
            anyhow::bail!(
                "the daemon (pid {pid}) did not exit within {STOP_TIMEOUT:?}; see {}",
                paths.log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn stop_command(paths: &DaemonPaths) -> anyhow::Result<ExitCode> {
    match client::connect(paths).await {
        Connection::Ready(client) => {
            let pid = stop_and_wait(paths, client).await?;
            say(&format!("daemon stopped (pid {pid})"));
        }
        Connection::NotRunning => say("no daemon is running"),
        Connection::Stale => say(&format!(
            "no daemon is running (removed a stale socket at {})",
            paths.socket().display()
        )),
        Connection::Unavailable(why) => {
            let Some(pid) = paths.read_pid() else {
                anyhow::bail!("{why}; and {} holds no pid", paths.pid().display());
            };
            say(&format!("{why}; sending it SIGTERM"));
            terminate(pid)?;
            wait_for_exit(paths, pid).await?;
            say(&format!("daemon stopped (pid {pid})"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn status_command(paths: &DaemonPaths, json: bool) -> anyhow::Result<ExitCode> {
    let status = match client::connect(paths).await {
        Connection::Ready(client) => Some(client.status().await?),
        Connection::NotRunning | Connection::Stale => None,
        Connection::Unavailable(why) => anyhow::bail!("{why}"),
    };
    if json {
        let value = match &status {
            Some(status) => {
                let mut value = serde_json::to_value(status)?;
                value["running"] = true.into();
                value
            }
            None => serde_json::json!({ "running": false }),
        };
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &value)?;
        std::io::Write::write_all(&mut out, b"\n")?;
    } else {
        match &status {
            Some(status) => print_status(status),
            None => say("no daemon is running"),
        }
    }
    Ok(if status.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILURE)
    })
}

#[expect(clippy::print_stdout, reason = "the command's output")]
fn print_status(status: &DaemonStatus) {
    let warm = &status.warm;
    println!(
        "daemon running: pid {}, morphir {}, up {}s",
        status.pid,
        status.version,
        status.uptime_ms / 1000
    );
    println!("socket: {}", status.socket.display());
    println!(
        "builds: {} run, {} running",
        status.builds, status.active_builds
    );
    println!(
        "warm: {} idle instances (cap {}), pools dropped after {}s unused; {} reloaded, {} reaped",
        warm.idle_instances,
        warm.max_idle_instances,
        warm.idle_timeout_ms / 1000,
        warm.reloads,
        warm.reaped_pools
    );
    for workspace in &warm.workspaces {
        println!("  {}", workspace.workspace);
        for pool in &workspace.pools {
            println!(
                "    {:<24} {}  {} idle, {} busy, {} uses, unused for {}s",
                pool.extension,
                &pool.module_hash[..pool.module_hash.len().min(23)],
                pool.idle_instances,
                pool.busy_instances,
                pool.uses,
                pool.idle_ms / 1000
            );
        }
    }
}

/// What the daemon does with a build request: exactly what `morphir build` does in process,
/// with the client's working directory, environment and cancellation, and warm pools.
struct CliService {
    runtime: Runtime,
}

impl Service for CliService {
    fn build(
        &self,
        request: BuildRequest,
        context: BuildContext,
    ) -> Pin<Box<dyn Future<Output = Result<BuildReport, String>> + Send>> {
        let runtime = self.runtime.clone();
        Box::pin(async move {
            let config_file = request.cwd.join(&request.config);
            let workspace = std::fs::canonicalize(&config_file)
                .unwrap_or_else(|_| config_file.clone())
                .display()
                .to_string();
            tracing::info!(%workspace, tasks = ?request.tasks, "build");
            let host = BuildHost {
                env: Some(Arc::new(request.env.clone())),
                pools: Some((context.pools, workspace)),
                interrupt: Some(morphir_build::Interrupt::on(context.cancel)),
                index: None,
            };
            super::build::execute(&request, &config_file, host, runtime, context.events)
                .await
                .map_err(|e| crate::render(&*e))
        })
    }

    fn start_session(
        &self,
        request: morphir_daemon::SessionStart,
        session_id: String,
    ) -> Pin<Box<dyn Future<Output = Result<morphir_host::Program, String>> + Send>> {
        let runtime = self.runtime.clone();
        Box::pin(async move {
            use super::run::{Origin, seed, target};
            // Loading compiles the module: off the daemon's async workers.
            let loaded = tokio::task::spawn_blocking(move || {
                let origin = Origin {
                    cwd: Some(&request.cwd),
                    env: Some(&request.env),
                };
                let target = target(
                    &request.extension,
                    request.config.as_deref(),
                    &origin,
                    &runtime,
                )?;
                anyhow::Ok((target, request))
            })
            .await
            .map_err(|e| format!("starting the session failed: {e}"))?
            .map_err(|e| crate::render(&*e))?;
            let (target, request) = loaded;
            tracing::info!(extension = %request.extension, session = %session_id, "session");
            let flags = request
                .flags
                .clone()
                .unwrap_or_else(|| target.config.clone());
            let flags = morphir_runtime::Envelope::json(&flags).map_err(|e| e.to_string())?;
            let options = morphir_host::ProgramOptions {
                session: session_id,
                context: target.context.with_seed(seed(request.seed)),
                workspace_root: target.root,
            };
            morphir_host::Program::start(target.module, flags, options)
                .await
                .map_err(|e| format!("extension `{}` did not start: {e}", request.extension))
        })
    }
}
