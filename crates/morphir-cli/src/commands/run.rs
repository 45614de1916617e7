//! `morphir run`: runs a runtime extension (TEA) on a `Program` actor. Messages are JSON lines
//! on stdin; each emitted output and, at the end, the final model are JSON lines on stdout; the
//! program's logs and errors go to stderr. It stops on the program's `stop` command, at the end
//! of input (once the commands in flight have answered), or on Ctrl-C.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use morphir_envelope::tea::Output;
use morphir_host::{Program, ProgramEvent, ProgramOptions};
use morphir_runtime::{Envelope, HostContext, Limits, LogLevel, Runtime, RuntimeConfig};
use serde_json::{Value, json};

use morphir_config::LoadOptions;

use super::project;
use crate::cli::RunArgs;

/// Exit code after Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// What is needed to start the program.
pub(crate) struct Target {
    pub(crate) module: morphir_runtime::Module,
    pub(crate) context: HostContext,
    pub(crate) root: PathBuf,
    pub(crate) config: Value,
}

/// True when `extension` names a `.wasm` file rather than an extension of the configuration.
pub(crate) fn is_path(extension: &str) -> bool {
    Path::new(extension)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wasm"))
        || extension.contains('/')
        || extension.contains('\\')
}

/// Whose world a program sees: a working directory and an environment, `None` for this
/// process's (paths then stay as the user wrote them, for messages). The daemon passes its
/// client's.
#[derive(Default)]
pub(crate) struct Origin<'a> {
    pub(crate) cwd: Option<&'a Path>,
    pub(crate) env: Option<&'a BTreeMap<String, String>>,
}

impl Origin<'_> {
    fn path(&self, path: &Path) -> PathBuf {
        self.cwd
            .map_or_else(|| path.to_owned(), |cwd| cwd.join(path))
    }
}

/// Resolves `extension` (a name in the configuration at `config_file`, relative to
/// `origin.cwd`, or the path of a module) and loads it.
pub(crate) fn target(
    extension: &str,
    config_file: Option<&Path>,
    origin: &Origin<'_>,
    runtime: &Runtime,
) -> anyhow::Result<Target> {
    if is_path(extension) {
        let path = origin.path(Path::new(extension));
        let name = path.file_stem().map_or_else(
            || extension.to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let module = runtime.load_file(&name, &path, Limits::default())?;
        return Ok(Target {
            module,
            context: HostContext::default(),
            root: match origin.cwd {
                Some(cwd) => cwd.to_owned(),
                None => std::env::current_dir().context("the current directory")?,
            },
            config: json!({}),
        });
    }
    let Some(config_file) = config_file else {
        anyhow::bail!(
            "extension `{extension}` needs a morphir.toml (or give the path of a .wasm file)"
        );
    };
    let config = project::load_config_file(&origin.path(config_file), LoadOptions::default())?;
    let Some(ext) = config.extension(extension) else {
        let known: Vec<&str> = config.extensions.keys().map(String::as_str).collect();
        match morphir_config::did_you_mean(extension, known.iter().copied()) {
            Some(close) => anyhow::bail!(
                "unknown extension `{extension}`; did you mean `{close}`? (or give the path of a .wasm file)"
            ),
            None => anyhow::bail!(
                "unknown extension `{extension}`; the extensions are: {} (or give the path of a .wasm file)",
                known.join(", ")
            ),
        }
    };
    if !ext.enabled {
        anyhow::bail!(
            "{}: extension `{}` is disabled (enabled = false); enable it to run it",
            ext.location,
            ext.name
        );
    }
    ext.source.verify_hash().with_context(|| {
        let at = ext.source.hash_location.as_ref().unwrap_or(&ext.location);
        format!("{at}: extension `{}`", ext.name)
    })?;
    let module = runtime.load_file_as(
        super::extensions::runtime_protocol(ext.protocol),
        &ext.name,
        &ext.source.path,
        super::extensions::limits(ext),
    )?;
    let context = match origin.env {
        None => {
            HostContext::default().with_process_env(ext.permissions.env.iter().map(String::as_str))
        }
        Some(env) => HostContext {
            env: ext
                .permissions
                .env
                .iter()
                .map(|name| (name.clone(), env.get(name).cloned()))
                .collect(),
            ..HostContext::default()
        },
    }
    .with_allowed_hosts(ext.permissions.allowed_hosts.iter().cloned());
    // Absolute: a configuration found by walking up has a relative (possibly empty) root.
    let root = match origin.cwd {
        Some(cwd) => cwd.join(&config.root),
        None => std::env::current_dir()
            .context("the current directory")?
            .join(&config.root),
    };
    Ok(Target {
        module,
        context,
        root,
        config: ext.config.clone(),
    })
}

/// The flags of `--flags` or `--flags-file`, if given.
pub(crate) fn given_flags(
    flags: Option<&str>,
    flags_file: Option<&Path>,
) -> anyhow::Result<Option<Value>> {
    Ok(match (flags, flags_file) {
        (Some(text), _) => Some(serde_json::from_str(text).context("--flags is not valid JSON")?),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --flags-file {}", path.display()))?;
            Some(
                serde_json::from_str(&text).with_context(|| {
                    format!("--flags-file {} is not valid JSON", path.display())
                })?,
            )
        }
        (None, None) => None,
    })
}

/// The seed of `random`: from `--seed`, or new.
pub(crate) fn seed(given: Option<u64>) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("morphir run seed v1");
    if let Some(seed) = given {
        hasher.update(&seed.to_le_bytes());
    } else {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.update(&now.to_le_bytes());
        hasher.update(&std::process::id().to_le_bytes());
    }
    *hasher.finalize().as_bytes()
}

/// Reads stdin on a thread of its own (a blocking read must not hold an async worker).
fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<std::io::Result<String>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Whether a program's log line is printed at `-v` count `verbose`: warnings and errors
/// always (`morphir run` and `morphir session poll` alike).
pub(crate) fn shown(level: LogLevel, verbose: u8) -> bool {
    match level {
        LogLevel::Error | LogLevel::Warn => true,
        LogLevel::Info => verbose >= 1,
        LogLevel::Debug => verbose >= 2,
        LogLevel::Trace => verbose >= 3,
    }
}

struct Printer {
    verbose: u8,
    extension: String,
    errors: usize,
}

impl Printer {
    fn out(value: &Value) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, value)?;
        writeln!(out)?;
        out.flush()?;
        Ok(())
    }

    #[expect(clippy::print_stderr, reason = "logs and errors go to stderr")]
    fn event(&mut self, event: ProgramEvent) -> anyhow::Result<bool> {
        match event {
            ProgramEvent::Output(envelope) => {
                Self::out(&json!({ "output": Output::from_envelope(&envelope) }))?;
            }
            ProgramEvent::Log(line) => {
                if shown(line.level, self.verbose) {
                    eprintln!(
                        "[{}] {}: {}",
                        self.extension,
                        line.level.as_str(),
                        line.message
                    );
                }
            }
            ProgramEvent::Error(why) => {
                self.errors += 1;
                eprintln!("error: {why}");
            }
            ProgramEvent::Stopped => return Ok(true),
        }
        Ok(false)
    }
}

pub(crate) fn run(args: &RunArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    let runtime = Runtime::new(&RuntimeConfig::default())?;
    let config_file = if is_path(&args.extension) {
        None
    } else {
        Some(project::config_file(&args.config)?)
    };
    let target = target(
        &args.extension,
        config_file.as_deref(),
        &Origin::default(),
        &runtime,
    )?;
    let flags = given_flags(args.flags.as_deref(), args.flags_file.as_deref())?
        .unwrap_or_else(|| target.config.clone());
    let flags = Envelope::json(&flags)?;
    let options = ProgramOptions {
        session: format!(
            "run-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        ),
        context: target.context.with_seed(seed(args.seed)),
        workspace_root: target.root,
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = tokio.block_on(async move {
        let name = target.module.name().to_owned();
        let mut program = Program::start(target.module, flags, options).await?;
        let mut printer = Printer {
            verbose,
            extension: name,
            errors: 0,
        };
        let interrupted = drive(&mut program, &mut printer).await?;
        let model = if interrupted {
            // An update may still be running; the last model that succeeded is known.
            program.model()
        } else {
            for event in program.poll() {
                printer.event(event)?;
            }
            program.stop().await?
        };
        Printer::out(&json!({ "model": model }))?;
        anyhow::Ok(if interrupted {
            ExitCode::from(EXIT_INTERRUPTED)
        } else if printer.errors > 0 {
            ExitCode::from(crate::exit::FAILURE)
        } else {
            ExitCode::SUCCESS
        })
    });
    // A call interrupted by Ctrl-C may still run on its actor's thread: do not wait for it.
    tokio.shutdown_background();
    code
}

/// Feeds stdin to the program and prints its events until it stops, input ends (and the commands
/// in flight have answered), or Ctrl-C. Returns whether it was interrupted.
#[expect(clippy::print_stderr, reason = "input errors go to stderr")]
async fn drive(program: &mut Program, printer: &mut Printer) -> anyhow::Result<bool> {
    let mut lines = stdin_lines();
    let mut input_open = true;
    let mut number = 0u64;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        for event in program.poll() {
            if printer.event(event)? {
                return Ok(false);
            }
        }
        if !input_open && program.pending() == 0 {
            return Ok(false);
        }
        tokio::select! {
            line = lines.recv(), if input_open => match line {
                Some(Ok(line)) => {
                    number += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Value>(&line) {
                        Ok(value) => {
                            if program.send(Envelope::json(&value)?).await.is_err() {
                                // Stopped by its own command: the Stopped event follows.
                                input_open = false;
                            }
                        }
                        Err(e) => {
                            printer.errors += 1;
                            eprintln!("error: stdin line {number} is not JSON: {e}; skipped");
                        }
                    }
                }
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading stdin")),
                None => input_open = false,
            },
            event = program.next_event() => match event {
                Some(event) => {
                    if printer.event(event)? {
                        return Ok(false);
                    }
                }
                None => return Ok(false),
            },
            () = tokio::time::sleep(Duration::from_millis(20)), if !input_open => {}
            _ = &mut ctrl_c => return Ok(true),
        }
    }
}
