//! `morphir session start | send | poll | stop | list`: a runtime extension (TEA) kept running
//! by the daemon, driven from separate invocations by its session id (the `session_id` in the
//! header of every envelope it sees). What `poll` and `stop` print is what `morphir run`
//! prints for the same program (`docs/daemon.md`, "Sessions").

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use morphir_daemon::client::{self, Connection};
use morphir_daemon::{
    Client, DaemonPaths, SessionEvent, SessionRequest, SessionResponse, SessionStart,
};
use morphir_runtime::LogLevel;
use serde_json::{Value, json};

use super::project;
use super::run::{given_flags, is_path};
use crate::cli::{DaemonRunArgs, SessionArgs, SessionCommand};

pub(crate) fn run(args: &SessionArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(command(args, verbose))
}

async fn command(args: &SessionArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    match &args.command {
        SessionCommand::Start(start) => {
            let config = if is_path(&start.extension) {
                None
            } else {
                Some(project::config_file(&start.config)?)
            };
            let request = SessionStart {
                cwd: std::env::current_dir().context("the current directory")?,
                config,
                extension: start.extension.clone(),
                flags: given_flags(start.flags.as_deref(), start.flags_file.as_deref())?,
                seed: start.seed,
                env: std::env::vars_os()
                    .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                    .collect(),
            };
            match ask(SessionRequest::Start(request), true).await? {
                SessionResponse::Started { id } => {
                    // Plain, for `id=$(morphir session start ...)`.
                    writeln!(std::io::stdout().lock(), "{id}")?;
                    Ok(ExitCode::SUCCESS)
                }
                other => unexpected(&other),
            }
        }
        SessionCommand::Send { id, message } => send(id, message.as_deref()).await,
        SessionCommand::Poll { id, wait } => {
            let wait_ms = wait.map_or(0, |w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX));
            let request = SessionRequest::Poll {
                id: id.clone(),
                wait_ms,
            };
            match ask(request, false).await? {
                SessionResponse::Events { events } => show(id, &events, verbose),
                other => unexpected(&other),
            }
        }
        SessionCommand::Stop { id } => {
            match ask(SessionRequest::Stop { id: id.clone() }, false).await? {
                SessionResponse::Stopped { events, model } => {
                    let code = show(id, &events, verbose)?;
                    out(&json!({ "model": model }))?;
                    Ok(code)
                }
                other => unexpected(&other),
            }
        }
        SessionCommand::List { json } => match ask(SessionRequest::List, false).await? {
            SessionResponse::List { sessions } => {
                if *json {
                    out(&serde_json::to_value(&sessions)?)?;
                } else if sessions.is_empty() {
                    say("no sessions");
                } else {
                    let mut stdout = std::io::stdout().lock();
                    for s in &sessions {
                        writeln!(
                            stdout,
                            "{}  {}  pending {}  idle {}s",
                            s.id,
                            s.extension,
                            s.pending,
                            s.idle_ms / 1000
                        )?;
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            other => unexpected(&other),
        },
    }
}

/// `session send`: the message given, or one per line of stdin. All are read (and must be
/// JSON) before any is sent.
async fn send(id: &str, message: Option<&str>) -> anyhow::Result<ExitCode> {
    let messages = if let Some(text) = message {
        vec![parse(text, "the message")?]
    } else {
        let mut messages = Vec::new();
        for (number, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.context("reading stdin")?;
            if !line.trim().is_empty() {
                messages.push(parse(&line, &format!("stdin line {}", number + 1))?);
            }
        }
        messages
    };
    for message in messages {
        let request = SessionRequest::Send {
            id: id.to_owned(),
            message,
        };
        match ask(request, false).await? {
            SessionResponse::Sent => {}
            other => return unexpected(&other),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse(text: &str, what: &str) -> anyhow::Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("{what} is not JSON: {e}; a message is one JSON value"))
}

fn unexpected(answer: &SessionResponse) -> anyhow::Result<ExitCode> {
    bail!("the daemon answered something unexpected: {answer:?}")
}

#[expect(clippy::print_stderr, reason = "notes go to stderr")]
fn say(text: &str) {
    eprintln!("{text}");
}

fn out(value: &Value) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, value)?;
    writeln!(stdout)?;
    stdout.flush()?;
    Ok(())
}

/// Prints events as `morphir run` does: outputs on stdout, logs (by verbosity) and errors on
/// stderr; a stop of the program's own as `{"stopped": true}`. Exit 1 after an error.
fn show(id: &str, events: &[SessionEvent], verbose: u8) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for event in events {
        match event {
            SessionEvent::Output(output) => out(&json!({ "output": output }))?,
            SessionEvent::Log { level, message } => {
                // A level this morphir does not know is shown from `-vvv`, as `trace`.
                let parsed = LogLevel::parse(level).unwrap_or(LogLevel::Trace);
                if super::run::shown(parsed, verbose) {
                    say(&format!("[{id}] {level}: {message}"));
                }
            }
            SessionEvent::Error(why) => {
                failed = true;
                say(&format!("error: {why}"));
            }
            SessionEvent::Stopped => out(&json!({ "stopped": true }))?,
        }
    }
    Ok(if failed {
        ExitCode::from(crate::exit::FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

/// One request to the daemon. `start`: start the daemon when none runs (or replace one of
/// another build, which has no sessions of this one); otherwise a missing daemon is an error,
/// since the session lived in it.
async fn ask(request: SessionRequest, start: bool) -> anyhow::Result<SessionResponse> {
    let client = connect(start).await?;
    match client.session(request).await? {
        Ok(answer) => Ok(answer),
        Err(message) => Err(anyhow::anyhow!(message)),
    }
}

async fn connect(start: bool) -> anyhow::Result<Client> {
    let paths = DaemonPaths::from_env();
    let connection = if paths.verify()? {
        client::connect(&paths).await
    } else {
        Connection::NotRunning
    };
    match connection {
        Connection::Ready(client) if client.compatible() => return Ok(client),
        Connection::Ready(client) if start => {
            super::daemon::stop_and_wait(&paths, client).await?;
        }
        Connection::Ready(client) => bail!(
            "the running daemon (pid {}) is morphir {} from another build, which keeps no \
             session of this one; `morphir session start` replaces it",
            client.daemon().pid,
            client.daemon().version
        ),
        Connection::NotRunning | Connection::Stale if start => {}
        Connection::NotRunning | Connection::Stale => bail!(
            "no daemon is running, so no session is (sessions live in the daemon; \
             `morphir session start` starts both)"
        ),
        Connection::Unavailable(why) => bail!("daemon unavailable: {why}"),
    }
    super::daemon::start(&paths, &DaemonRunArgs::defaults()).await?;
    match client::connect(&paths).await {
        Connection::Ready(client) if client.compatible() => Ok(client),
        _ => bail!("the daemon started but does not answer; see `morphir daemon status`"),
    }
}
