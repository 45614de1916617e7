//! `morphir run`: runs a runtime extension (TEA) on a `Program` actor. Messages are JSON lines
//! on stdin; each emitted output and, at the end, the final model are JSON lines on stdout; the
//! program's logs and errors go to stderr. It stops on the program's `stop` command, at the end
//! of input (once the commands in flight have answered), or on Ctrl-C.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use morphir_envelope::tea::Output;
use morphir_host::{Program, ProgramEvent, ProgramOptions};
use morphir_runtime::{Envelope, HostContext, Limits, LogLevel, Runtime, RuntimeConfig};
use serde_json::{Value, json};

use super::project;
use crate::cli::RunArgs;

/// Exit code after Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// What is needed to start the program.
struct Target {
    module: morphir_runtime::Module,
    context: HostContext,
    root: PathBuf,
    config: Value,
}

fn is_path(extension: &str) -> bool {
    Path::new(extension)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wasm"))
        || extension.contains('/')
        || extension.contains('\\')
}

fn target(args: &RunArgs, runtime: &Runtime) -> anyhow::Result<Target> {
    if is_path(&args.extension) {
        let path = Path::new(&args.extension);
        let name = path.file_stem().map_or_else(
            || args.extension.clone(),
            |s| s.to_string_lossy().into_owned(),
        );
        let module = runtime.load_file(&name, path, Limits::default())?;
        return Ok(Target {
            module,
            context: HostContext::default(),
            root: std::env::current_dir().context("the current directory")?,
            config: json!({}),
        });
    }
    let config = project::load_config(&args.config)?;
    let Some(ext) = config.extension(&args.extension) else {
        let known: Vec<&str> = config.extensions.keys().map(String::as_str).collect();
        match morphir_config::did_you_mean(&args.extension, known.iter().copied()) {
            Some(close) => anyhow::bail!(
                "unknown extension `{}`; did you mean `{close}`? (or give the path of a .wasm file)",
                args.extension
            ),
            None => anyhow::bail!(
                "unknown extension `{}`; the extensions are: {} (or give the path of a .wasm file)",
                args.extension,
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
    let context = HostContext::default()
        .with_process_env(ext.permissions.env.iter().map(String::as_str))
        .with_allowed_hosts(ext.permissions.allowed_hosts.iter().cloned());
    // Absolute: a configuration found by walking up has a relative (possibly empty) root.
    let root = std::env::current_dir()
        .context("the current directory")?
        .join(&config.root);
    Ok(Target {
        module,
        context,
        root,
        config: ext.config.clone(),
    })
}

fn flags(args: &RunArgs, config: Value) -> anyhow::Result<Envelope> {
    let value: Value = match (&args.flags, &args.flags_file) {
        (Some(text), _) => serde_json::from_str(text).context("--flags is not valid JSON")?,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --flags-file {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("--flags-file {} is not valid JSON", path.display()))?
        }
        (None, None) => config,
    };
    Ok(Envelope::json(&value)?)
}

fn seed(args: &RunArgs) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("morphir run seed v1");
    if let Some(seed) = args.seed {
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
                let shown = match line.level {
                    LogLevel::Error | LogLevel::Warn => true,
                    LogLevel::Info => self.verbose >= 1,
                    LogLevel::Debug => self.verbose >= 2,
                    LogLevel::Trace => self.verbose >= 3,
                };
                if shown {
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
    let target = target(args, &runtime)?;
    let flags = flags(args, target.config.clone())?;
    let options = ProgramOptions {
        session: format!(
            "run-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        ),
        context: target.context.with_seed(seed(args)),
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
