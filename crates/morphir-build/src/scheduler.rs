use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use morphir_cache::{Digest, Key, KeyBuilder, KeyManifest, LogLine, Lookup, NewAction, Store};
use morphir_config::Config;
use morphir_envelope::abi::{ABI_VERSION, Operation};
use morphir_envelope::{Envelope, FileBundle, Header, StepRequest, content_type};
use morphir_graph::{StepGraph, StepIndex, StepKind};
use morphir_runtime::{CallOutput, Runtime};
use tokio::task::JoinSet;

use crate::extensions::{self, BuildExtension};
use crate::{
    BuildError, BuildHost, BuildReport, Event, EventSink, MORPHIR_VERSION, StepReport, StepStatus,
};

/// How to run a build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Steps running at once, and live instances per extension.
    pub jobs: usize,
    /// Go on with independent steps after a failure.
    pub keep_going: bool,
    /// Run every step even when its result is cached (results are still stored).
    pub no_cache: bool,
    /// Say, for every miss, what changed since the step's last recorded run.
    pub explain: bool,
    /// The cache directory.
    pub cache_dir: PathBuf,
}

/// A step ready to run on an actor.
struct Job {
    index: StepIndex,
    key: Key,
    manifest: KeyManifest,
    request: Envelope,
    operation: Operation,
    extension: Arc<BuildExtension>,
    store_result: bool,
    /// What the step's host functions may do (`grants.rs`).
    context: morphir_runtime::HostContext,
}

enum Prepared {
    Run(Box<Job>, StepReport),
    Done(Envelope, StepReport),
    Failed(StepReport),
}

struct Scheduler {
    config: Arc<Config>,
    graph: Arc<StepGraph>,
    store: Store,
    extensions: BTreeMap<String, Arc<BuildExtension>>,
    runtime: Runtime,
    options: BuildOptions,
    events: EventSink,
    session: String,
    seq: AtomicU64,
    /// Output envelope of each finished step, for its dependents.
    outputs: Vec<Option<Envelope>>,
    /// Directories input globs never read from: the cache and every backend's output. A set,
    /// checked against each input's few ancestors (a list scan per file was quadratic).
    excluded: std::collections::HashSet<PathBuf>,
    /// The environment the build sees (`None`: this process's).
    env: Option<Arc<BTreeMap<String, String>>>,
}

fn operation(kind: StepKind) -> Operation {
    match kind {
        StepKind::Frontend => Operation::FrontendCompile,
        StepKind::Transform(_) => Operation::Transform,
        StepKind::Backend(_) => Operation::BackendGenerate,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs the steps of `graph` (see the crate docs). Fails before running anything when an
/// extension is unusable; a failing step is reported in the [`BuildReport`], not as an error.
pub async fn build(
    config: Arc<Config>,
    graph: Arc<StepGraph>,
    runtime: Runtime,
    options: BuildOptions,
    events: EventSink,
) -> Result<BuildReport, BuildError> {
    build_with(
        config,
        graph,
        runtime,
        options,
        events,
        BuildHost::default(),
    )
    .await
}

/// [`build`] in a host that supplies the environment, warm pools and cancellation (the
/// daemon); see [`BuildHost`].
pub async fn build_with(
    config: Arc<Config>,
    graph: Arc<StepGraph>,
    runtime: Runtime,
    options: BuildOptions,
    events: EventSink,
    host: BuildHost,
) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let BuildHost { env, pools, cancel } = host;
    let store = Store::open(&options.cache_dir).map_err(|source| BuildError::Cache {
        path: options.cache_dir.clone(),
        source,
    })?;
    let prepared = {
        let (config, graph, runtime, root, jobs) = (
            Arc::clone(&config),
            Arc::clone(&graph),
            runtime.clone(),
            options.cache_dir.clone(),
            options.jobs.max(1),
        );
        tokio::task::spawn_blocking(move || {
            extensions::prepare(&config, &graph, &runtime, &root, jobs, pools.as_ref())
        })
        .await
        .expect("preparing extensions does not panic")?
    };
    let session = format!(
        "build-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let steps = graph.len();
    let mut excluded: std::collections::HashSet<PathBuf> = config
        .tasks
        .values()
        .flat_map(|t| t.backends.iter().map(|b| b.output_dir.clone()))
        .collect();
    excluded.insert(options.cache_dir.clone());
    let mut scheduler = Scheduler {
        config,
        graph,
        store,
        extensions: prepared,
        runtime,
        options,
        events,
        session,
        seq: AtomicU64::new(0),
        outputs: vec![None; steps],
        excluded,
        env,
    };
    (scheduler.events)(&Event::Planned { steps });
    let cancel = cancel.unwrap_or_else(|| {
        Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    });
    let (reports, cancelled) = scheduler.run(cancel).await;
    Ok(BuildReport::new(reports, started.elapsed(), cancelled))
}

impl Scheduler {
    fn report(&self, index: StepIndex, status: StepStatus) -> StepReport {
        let step = self.graph.step(index);
        StepReport {
            id: step.id.clone(),
            task: step.task.clone(),
            kind: step.kind.name(),
            extension: step.extension.clone(),
            status,
            key: None,
            duration_ms: 0,
            error: None,
            repaired: false,
            changes: None,
        }
    }

    fn finish(&self, report: &StepReport) {
        (self.events)(&Event::Finished {
            step: report.id.clone(),
            status: report.status,
            duration: Duration::from_millis(report.duration_ms),
            error: report.error.clone(),
        });
    }

    async fn run(&mut self, cancel: crate::Cancel) -> (Vec<StepReport>, bool) {
        let jobs = self.options.jobs.max(1);
        let mut ready = self.graph.ready_set();
        let mut reports: Vec<Option<StepReport>> = vec![None; self.graph.len()];
        let mut running: JoinSet<(
            Box<Job>,
            StepReport,
            Result<CallOutput, morphir_host::Error>,
        )> = JoinSet::new();
        let mut stopping = false;
        let mut cancelled = false;
        let mut cancel = cancel;

        loop {
            while !stopping && running.len() < jobs {
                let Some(index) = ready.pop() else { break };
                match self.prepare(index) {
                    Prepared::Done(output, report) => {
                        self.outputs[index.index()] = Some(output);
                        self.finish(&report);
                        reports[index.index()] = Some(report);
                        ready.complete(index);
                    }
                    Prepared::Failed(report) => {
                        self.finish(&report);
                        reports[index.index()] = Some(report);
                        self.skip(&mut ready, &mut reports, index);
                        stopping |= !self.options.keep_going;
                    }
                    Prepared::Run(job, report) => {
                        (self.events)(&Event::Started {
                            step: report.id.clone(),
                        });
                        let request = job.request.clone().with_header(Header {
                            seqnum: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
                            session_id: self.session.clone(),
                            kind: None,
                        });
                        let (runtime, step_id) = (self.runtime.clone(), report.id.clone());
                        running.spawn(async move {
                            let started = Instant::now();
                            let result = match job.extension.pool(&runtime, jobs).await {
                                Ok(pool) => {
                                    morphir_host::run_on_actor_with(
                                        &step_id,
                                        pool,
                                        job.operation,
                                        request,
                                        job.context.clone(),
                                    )
                                    .await
                                }
                                Err(e) => Err(morphir_host::Error::Actor {
                                    step: step_id.clone(),
                                    reason: e.to_string(),
                                }),
                            };
                            let mut report = report;
                            report.duration_ms = millis(started.elapsed());
                            (job, report, result)
                        });
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                joined = running.join_next() => {
                    let Some(joined) = joined else { continue };
                    let (job, report, result) = joined.expect("step tasks do not panic");
                    let index = job.index;
                    let report = self.complete(&job, report, result);
                    let failed = report.status == StepStatus::Failed;
                    self.finish(&report);
                    reports[index.index()] = Some(report);
                    if failed {
                        self.skip(&mut ready, &mut reports, index);
                        stopping |= !self.options.keep_going;
                    } else {
                        ready.complete(index);
                    }
                }
                () = &mut cancel => {
                    // Nothing is being written here: writes happen only in this task, between
                    // polls. Running calls are abandoned; their results are never stored.
                    cancelled = true;
                    running.abort_all();
                    break;
                }
            }
        }

        (self.finalize(reports, cancelled), cancelled)
    }

    /// Every step's report; steps that never ended were skipped (after a failure) or cancelled.
    fn finalize(&self, reports: Vec<Option<StepReport>>, cancelled: bool) -> Vec<StepReport> {
        let leftover = if cancelled {
            StepStatus::Cancelled
        } else {
            StepStatus::Skipped
        };
        let indices: Vec<StepIndex> = self.graph.steps().map(|(index, _)| index).collect();
        reports
            .into_iter()
            .zip(indices)
            .map(|(report, index)| {
                report.unwrap_or_else(|| {
                    let report = self.report(index, leftover);
                    self.finish(&report);
                    report
                })
            })
            .collect()
    }

    fn skip(
        &self,
        ready: &mut morphir_graph::ReadySet,
        reports: &mut [Option<StepReport>],
        failed: StepIndex,
    ) {
        for skipped in ready.fail(failed) {
            let report = self.report(skipped, StepStatus::Skipped);
            self.finish(&report);
            reports[skipped.index()] = Some(report);
        }
    }

    fn fail(mut report: StepReport, error: String) -> Prepared {
        report.status = StepStatus::Failed;
        report.error = Some(error);
        Prepared::Failed(report)
    }

    /// Computes the step's request and key, and serves it from the cache when possible.
    #[expect(
        clippy::too_many_lines,
        reason = "one step's whole preparation, read top to bottom"
    )]
    fn prepare(&self, index: StepIndex) -> Prepared {
        let step = self.graph.step(index);
        let report = self.report(index, StepStatus::Executed);
        let (Some(task), Some(ext_ref)) =
            (step.task(&self.config), step.extension_ref(&self.config))
        else {
            return Self::fail(
                report,
                format!("step `{}` is not in the configuration", step.id),
            );
        };
        let extension = Arc::clone(&self.extensions[&step.extension]);
        let operation = operation(step.kind);
        let mut key = KeyBuilder::new(MORPHIR_VERSION);
        key.abi_version(ABI_VERSION)
            .extension_wasm(&extension.hash)
            .config(&ext_ref.config)
            .permissions(&extension.permissions)
            .operation(operation.name());
        for var in &task.env {
            let value = crate::hosting::var(self.env.as_deref(), var);
            key.env_var(var, value.as_deref());
        }
        let env_view = crate::grants::env(&extension, &mut key, self.env.as_deref());
        let mut readable = BTreeMap::new();
        let request = match step.kind {
            StepKind::Frontend => {
                let files = match task.input_files() {
                    // The build's own products are never its inputs: a glob like `**/*` must
                    // not feed outputs back in (the build would never settle) or read the cache.
                    Ok(mut files) => {
                        files.retain(|f| !f.ancestors().any(|dir| self.excluded.contains(dir)));
                        files
                    }
                    Err(e) => {
                        return Self::fail(
                            report,
                            format!("cannot list the inputs of task `{}`: {e}", task.name),
                        );
                    }
                };
                let mut bundle = FileBundle::new();
                for file in files {
                    // The bytes hashed are the bytes the step gets: an input edited while the
                    // build runs cannot end up cached under a stale key.
                    let bytes = match std::fs::read(&file) {
                        Ok(b) => b,
                        Err(e) => {
                            return Self::fail(
                                report,
                                format!("cannot read input {}: {e}", file.display()),
                            );
                        }
                    };
                    let rel = file.strip_prefix(&task.dir).unwrap_or(&file);
                    let rel = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    key.input_file(&rel, &Digest::of(&bytes));
                    readable.insert(rel.clone(), Some(*blake3::hash(&bytes).as_bytes()));
                    bundle.push(rel, bytes);
                }
                let mut request =
                    StepRequest::new(Envelope::files(&bundle)).with_config(ext_ref.config.clone());
                for dep in self.graph.dependencies(index) {
                    let upstream = self.graph.step(dep);
                    let output = self.outputs[dep.index()]
                        .clone()
                        .expect("dependencies are done");
                    key.upstream(&upstream.id, &output);
                    request = request.with_dependency(upstream.task.clone(), output);
                }
                request
            }
            StepKind::Transform(_) | StepKind::Backend(_) => {
                let Some(&prev) = self.graph.dependencies(index).first() else {
                    return Self::fail(report, format!("step `{}` has no input step", step.id));
                };
                let output = self.outputs[prev.index()]
                    .clone()
                    .expect("dependencies are done");
                key.upstream(&self.graph.step(prev).id, &output);
                StepRequest::new(output).with_config(ext_ref.config.clone())
            }
        };
        let (key, manifest) = match key.finish() {
            Ok(k) => k,
            Err(e) => return Self::fail(report, format!("cannot compute the cache key: {e}")),
        };
        let mut report = report;
        report.key = Some(key.to_hex());
        let context = crate::grants::context(&extension, env_view, &key, &task.dir, readable);
        let http_cacheable = crate::grants::http_cacheable(&extension, task.cache_http);
        let use_cache = task.cache && http_cacheable && !self.options.no_cache;

        if use_cache {
            match self.store.lookup(&key) {
                Ok(Lookup::Hit(hit)) => {
                    for line in &hit.record.logs {
                        self.log(&step.id, &step.extension, &line.level, &line.message, true);
                    }
                    let Some(output) = hit.outputs.into_iter().next() else {
                        return Self::fail(report, "cache record has no output".to_owned());
                    };
                    if let Some(error) = self.write_backend_output(index, &output) {
                        return Self::fail(report, error);
                    }
                    // Keeps `--explain` honest (a later miss is compared with this state);
                    // the store skips the write when the recorded run is already this one.
                    if let Err(e) = self.store.set_last_run(&step.id, &key, &manifest) {
                        tracing::debug!("cannot record the last run of {}: {e}", step.id);
                    }
                    report.status = StepStatus::Cached;
                    return Prepared::Done(output, report);
                }
                Ok(Lookup::Miss) => {}
                Ok(Lookup::Corrupt(why)) => {
                    tracing::warn!(
                        "cache entry of `{}` was corrupt ({why}); removed, running the step again",
                        step.id
                    );
                    report.repaired = true;
                }
                Err(e) => tracing::warn!(
                    "cache lookup for `{}` failed: {e}; running the step",
                    step.id
                ),
            }
        }
        if self.options.explain {
            report.changes = Some(if http_cacheable {
                self.explain(&step.id, &manifest, task.cache)
            } else {
                vec![crate::grants::http_reason(&extension)]
            });
        }
        Prepared::Run(
            Box::new(Job {
                index,
                key,
                manifest,
                request: request.to_envelope(),
                operation,
                extension,
                store_result: task.cache && http_cacheable,
                context,
            }),
            report,
        )
    }

    fn explain(&self, step_id: &str, manifest: &KeyManifest, task_cache: bool) -> Vec<String> {
        if !task_cache {
            return vec!["the task has cache = false".to_owned()];
        }
        if self.options.no_cache {
            return vec!["--no-cache".to_owned()];
        }
        match self.store.last_run(step_id) {
            Ok(Some(last)) => {
                let changes: Vec<String> = last
                    .manifest
                    .diff(manifest)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                if changes.is_empty() {
                    vec!["nothing changed since the last run, but its cache entry is gone (pruned or cleaned)".to_owned()]
                } else {
                    changes
                }
            }
            Ok(None) => vec!["no previous run recorded".to_owned()],
            Err(e) => vec![format!("cannot read the last run: {e}")],
        }
    }

    fn log(&self, step: &str, extension: &str, level: &str, message: &str, replayed: bool) {
        (self.events)(&Event::Log {
            step: step.to_owned(),
            extension: extension.to_owned(),
            level: level.to_owned(),
            message: message.to_owned(),
            replayed,
        });
    }

    /// For a backend step, writes its files; returns an error message when that fails.
    fn write_backend_output(&self, index: StepIndex, output: &Envelope) -> Option<String> {
        let step = self.graph.step(index);
        let StepKind::Backend(i) = step.kind else {
            return None;
        };
        let task = step.task(&self.config)?;
        let backend = &task.backends[i];
        if !content_type::is_files(&output.content_type) {
            return Some(format!(
                "extension `{}` returned `{}` from backend-generate; a backend must return a file bundle ({})",
                step.extension,
                output.content_type,
                content_type::FILES
            ));
        }
        let bundle = match output.as_files() {
            Ok(b) => b,
            Err(e) => {
                return Some(format!(
                    "extension `{}` returned a malformed file bundle: {e}",
                    step.extension
                ));
            }
        };
        crate::write_outputs(&backend.output_dir, &bundle)
            .err()
            .map(|e| {
                format!(
                    "cannot write the outputs of `{}` to {}: {e}",
                    step.id,
                    backend.output_dir.display()
                )
            })
    }

    /// Handles a finished call: logs, outputs, cache.
    fn complete(
        &mut self,
        job: &Job,
        mut report: StepReport,
        result: Result<CallOutput, morphir_host::Error>,
    ) -> StepReport {
        let step_id = report.id.clone();
        let extension = report.extension.clone();
        let output = match result {
            Ok(output) => output,
            Err(e) => {
                report.status = StepStatus::Failed;
                report.error = Some(e.to_string());
                return report;
            }
        };
        for line in &output.logs {
            self.log(
                &step_id,
                &extension,
                line.level.as_str(),
                &line.message,
                false,
            );
        }
        if let Some(error) = self.write_backend_output(job.index, &output.envelope) {
            report.status = StepStatus::Failed;
            report.error = Some(error);
            return report;
        }
        if job.store_result {
            let logs: Vec<LogLine> = output
                .logs
                .iter()
                .map(|l| LogLine::new(l.level.as_str(), l.message.clone()))
                .collect();
            let action = NewAction {
                step_id: &step_id,
                manifest: &job.manifest,
                outputs: std::slice::from_ref(&output.envelope),
                logs: &logs,
                executor_version: MORPHIR_VERSION,
            };
            if let Err(e) = self.store.put(&job.key, &action) {
                tracing::warn!("cannot store the result of `{step_id}` in the cache: {e}");
            }
        }
        self.outputs[job.index.index()] = Some(output.envelope);
        report.status = StepStatus::Executed;
        report
    }
}
