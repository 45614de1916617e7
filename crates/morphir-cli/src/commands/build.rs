//! `morphir build`: load the configuration, select the tasks, run the executor, show progress
//! on stderr (bars on a terminal, plain lines otherwise) and a summary (`--json` on stdout).

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use morphir_build::{BuildOptions, BuildReport, Event, EventSink, StepStatus};
use morphir_graph::StepGraph;
use morphir_runtime::{Runtime, RuntimeConfig};

use super::project;
use crate::cli::BuildArgs;

/// Exit code of a build interrupted with Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

pub(crate) fn run(args: &BuildArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    let config = project::load_config(&args.config)?;
    let graph = StepGraph::build(&config)?;
    let graph = project::select_tasks(graph, &args.tasks)?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        usize::from,
    );
    let options = BuildOptions {
        jobs,
        keep_going: args.keep_going,
        no_cache: args.no_cache,
        explain: args.explain,
        cache_dir: project::cache_dir(&config),
        remote: None,
    };
    let remote = project::remote_cache(&config)?;
    let report_cache_dir = options.cache_dir.clone();
    let max_size = config.cache.max_size.map(morphir_config::ByteSize::bytes);
    let runtime = Runtime::new(&RuntimeConfig::default())?;
    let progress = Arc::new(Progress::new(verbose));
    let sink: EventSink = {
        let progress = Arc::clone(&progress);
        Arc::new(move |event: &Event| progress.event(event))
    };
    // Two workers are plenty: Wasm calls run on their actors' own threads.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = tokio.block_on(async {
        let mut options = options;
        if let Some(remote) = &remote {
            let client = morphir_remote::RemoteCacheClient::connect(remote).await;
            options.remote = Some(Arc::new(client));
        }
        morphir_build::build(Arc::new(config), Arc::new(graph), runtime, options, sink).await
    })?;
    progress.done();
    print_summary(&report, args.explain);
    if let Some(max_size) = max_size {
        // `[cache] max_size`: evict least recently used entries after each build.
        let dir = report_cache_dir;
        match morphir_cache::Store::open(&dir)
            .and_then(|store| store.prune(&morphir_cache::PruneOptions::new(Some(max_size), None)))
        {
            Ok(pruned) => tracing::info!("cache pruned to {max_size} bytes: {pruned:?}"),
            Err(e) => tracing::warn!("cannot prune the cache at {}: {e}", dir.display()),
        }
    }
    if args.json {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    }
    // Abandoned calls may still be running on actor threads: do not wait for them.
    tokio.shutdown_background();
    Ok(if report.cancelled {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if report.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::FAILURE)
    })
}

/// Renders events: a bar per running step and a total on a terminal, a line per finished step
/// otherwise (CI logs).
struct Progress {
    verbose: u8,
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    running: Mutex<Vec<(String, ProgressBar)>>,
    counts: Mutex<[usize; 3]>,
}

impl Progress {
    fn new(verbose: u8) -> Self {
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
        Self { verbose, bars }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some(bars) => bars.multi.suspend(|| eprintln_locked(text)),
            None => eprintln_locked(text),
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
                if self.bars.is_none() || *status == StepStatus::Failed || self.verbose > 0 {
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

    fn done(&self) {
        if let Some(bars) = &self.bars {
            bars.total.finish_and_clear();
            let _ = bars.multi.clear();
        }
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
