use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use morphir_cache::{
    Digest, Key, KeyBuilder, KeyManifest, LogLine, Lookup, NewAction, RemoteCache, RemoteHit,
    StepHit, Store,
};
use morphir_config::Config;
use morphir_envelope::abi::{ABI_VERSION, Operation};
use morphir_envelope::{Envelope, FileBundle, Header, StepRequest, content_type};
use morphir_graph::{StepGraph, StepIndex, StepKind};
use morphir_runtime::{CallOutput, Runtime};

use crate::extensions::{self, BuildExtension};
use crate::{
    BuildError, BuildHost, BuildReport, Event, EventSink, Interrupt, MORPHIR_VERSION, StepReport,
    StepStatus,
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
    /// A shared cache asked after a local miss and fed after a run (`morphir-remote`).
    pub remote: Option<Arc<dyn RemoteCache>>,
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
    /// Ask the remote cache before running (a local miss of a cacheable step).
    lookup_remote: bool,
}

/// How a dispatched step ended: its call, or a verified result from the remote cache.
enum Ran {
    /// The call's output, or why it failed (said as the step's error).
    Called(Result<CallOutput, String>),
    Remote(RemoteHit),
}

enum Prepared {
    Run(Box<Job>, StepReport),
    /// A hit: its output, report and the logs of the run it replays.
    Done(Envelope, StepReport, Vec<LogLine>),
    Failed(StepReport),
}

/// Ready steps prepared at once, per lane (thread) that prepares them: enough to pay for
/// handing a batch to another thread, few enough that a miss in it is dispatched promptly.
const BATCH_PER_LANE: usize = 64;

/// The misses in flight, polled by the build's own future rather than spawned as tokio tasks.
/// An actor's answer then wakes the thread that awaits the build, which spins before it parks
/// (`morphir_host::lane`), instead of a tokio worker that parks at once and would then have to
/// wake that thread in turn: one hand-off per miss instead of two. Dropping it abandons the
/// calls, as aborting the tasks did.
type Running = FuturesUnordered<StepFuture>;

/// A miss in flight: its job, its report so far, and how it ran.
type StepFuture = std::pin::Pin<Box<dyn Future<Output = (Box<Job>, StepReport, Ran)> + Send>>;

struct Scheduler {
    config: Arc<Config>,
    graph: Arc<StepGraph>,
    store: Store,
    /// What earlier builds left in the output directories (`stamps.rs`).
    stamps: crate::stamps::OutputStamps,
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
    /// Ctrl-C (or the caller's own request to stop).
    interrupt: Interrupt,
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

/// `file`'s path relative to `dir` as a file bundle carries it (UTF-8, `/`-separated, none of
/// the characters the bundle refuses), or why it cannot be carried.
fn bundle_path(file: &std::path::Path, dir: &std::path::Path) -> Result<String, &'static str> {
    let rel = file.strip_prefix(dir).unwrap_or(file);
    let mut parts = Vec::new();
    for component in rel.components() {
        let std::path::Component::Normal(part) = component else {
            return Err("its path leaves the task's directory");
        };
        let Some(part) = part.to_str() else {
            return Err("its name is not valid UTF-8, and a file bundle carries UTF-8 paths");
        };
        if part.contains(['\\', ':', '\0']) {
            return Err(
                "its name contains `\\` or `:`, which a file bundle refuses (they mean other \
                 things on other systems)",
            );
        }
        parts.push(part);
    }
    if parts.is_empty() {
        return Err("it is the task's directory itself");
    }
    Ok(parts.join("/"))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Runs the steps of `graph` (see the crate docs). Fails before running anything when an
/// extension is unusable; a failing step is reported in the [`BuildReport`], not as an error.
///
/// Ctrl-C is listened for from the moment this is called (before extensions are checked), so
/// a build that only restores cached steps stops cleanly too: the step being served finishes,
/// the rest are reported cancelled.
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

/// [`build`] in a host that supplies the environment, warm pools and the interrupt (the
/// daemon); see [`BuildHost`]. Without an interrupt in `host`, Ctrl-C is listened for from the
/// moment this is called.
pub async fn build_with(
    config: Arc<Config>,
    graph: Arc<StepGraph>,
    runtime: Runtime,
    options: BuildOptions,
    events: EventSink,
    host: BuildHost,
) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let BuildHost {
        env,
        pools,
        interrupt,
        index,
    } = host;
    let (interrupt, _listening) = if let Some(interrupt) = interrupt {
        (interrupt, None)
    } else {
        let interrupt = Interrupt::new();
        let listening = match interrupt.listen_for_ctrl_c() {
            Ok(guard) => Some(guard),
            Err(e) => {
                tracing::warn!(
                    "cannot listen for Ctrl-C ({e}); an interrupt will stop the build abruptly"
                );
                None
            }
        };
        (interrupt, listening)
    };
    let store = Store::open(&options.cache_dir).map_err(|source| BuildError::Cache {
        path: options.cache_dir.clone(),
        source,
    })?;
    if !options.no_cache && !index.is_some_and(|index| store.adopt_index(index)) {
        preload_index(&store);
    }
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
    };
    // Read while the extensions are checked, not after: this thread would only wait.
    let stamps = crate::stamps::OutputStamps::load(
        store
            .root()
            .join(format!("v{}", morphir_cache::CACHE_FORMAT_VERSION))
            .join(crate::stamps::STAMPS_FILE),
    );
    let prepared = prepared
        .await
        .expect("preparing extensions does not panic")?;
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
        stamps,
        extensions: prepared,
        runtime,
        options,
        events,
        session,
        seq: AtomicU64::new(0),
        outputs: vec![None; steps],
        excluded,
        interrupt,
        env,
    };
    (scheduler.events)(&Event::Planned { steps });
    let (reports, cancelled) = scheduler.run().await;
    if let Err(e) = scheduler.store.flush_last_runs() {
        // Only `--explain`'s shortcut: the next build takes the long way and writes it again.
        tracing::debug!("cannot write the last-run index: {e}");
    }
    if let Err(e) = scheduler.stamps.save() {
        // Only a shortcut too: the next build compares the output files' bytes.
        tracing::debug!("cannot write the output stamps: {e}");
    }
    // Uploads went on in the background; the build is done when they are.
    let remote = match &scheduler.options.remote {
        Some(remote) => Some(remote.finish().await),
        None => None,
    };
    let mut report = BuildReport::new(reports, started.elapsed(), cancelled);
    report.remote = remote;
    drop_in_background(scheduler);
    Ok(report)
}

/// The threads that prepare ready steps beside the scheduler's own: one fewer than the cores,
/// because the scheduler's thread prepares a chunk too. Not rayon's global pool, which has one
/// thread per core: on two cores its idle thread woke with every batch and spun, calling
/// `sched_yield` hundreds of times per fully cached build, on a core the two threads with work
/// needed. `None` on one core (or when no thread can start): the scheduler prepares alone.
fn prepare_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: std::sync::OnceLock<Option<rayon::ThreadPool>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        if cores < 2 {
            return None;
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores - 1)
            .thread_name(|i| format!("morphir-prepare-{i}"))
            .build()
            .inspect_err(|e| tracing::debug!("cannot start the threads that prepare steps: {e}"))
            .ok()
    })
    .as_ref()
}

/// Frees what a build held (the configuration, the graph, every step's output) on a thread of
/// its own: a few milliseconds for 1,000 steps, at the very end of a build that its caller
/// waits for. The CLI exits meanwhile, and the daemon answers first.
fn drop_in_background(scheduler: Scheduler) {
    let spawned = std::thread::Builder::new()
        .name("morphir-build-drop".to_owned())
        .spawn(move || drop(scheduler));
    if let Err(e) = spawned {
        // The closure, and the scheduler with it, is dropped here instead.
        tracing::debug!("cannot start a thread to free the build's state: {e}");
    }
}

/// Reads the last-run index on a thread of its own, while the build prepares its extensions
/// ([`Store::preload_index`]). Without the thread, the first lookup reads it.
fn preload_index(store: &Store) {
    let store = store.clone();
    let started = std::thread::Builder::new()
        .name("morphir-cache-index".to_owned())
        .spawn(move || store.preload_index());
    if let Err(e) = started {
        tracing::debug!("cannot start a thread to read the last-run index: {e}");
    }
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
            remote: false,
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

    /// Prepares `batch` (ready steps, so independent of each other) on up to `lanes` threads:
    /// a fully cached build is hashing, reading and verifying, which two cores do in about half
    /// the time of one. The results come back in `batch` order, so what a build prints does not
    /// depend on which thread finished first.
    fn prepare_batch(&self, batch: &[StepIndex], lanes: usize) -> Vec<Prepared> {
        let pool = prepare_pool();
        let lanes = lanes
            .min(batch.len())
            .min(pool.map_or(0, rayon::ThreadPool::current_num_threads) + 1)
            .max(1);
        let Some(pool) = pool.filter(|_| lanes > 1) else {
            return batch.iter().map(|&index| self.prepare(index)).collect();
        };
        let chunk = batch.len().div_ceil(lanes);
        // Warnings said while preparing belong to this build (the daemon routes them to the
        // client by span), on whichever thread they are said.
        let span = tracing::Span::current();
        // This thread prepares the first chunk, the pool's (threads that live as long as the
        // process) the others: a scoped thread per batch cost a thread creation and exit each
        // time (about 30 per fully cached 1,000-step build). Chunks are put back in order, so
        // output stays deterministic.
        let mut parts: Vec<Vec<Prepared>> = Vec::new();
        parts.resize_with(batch.len().div_ceil(chunk), Vec::new);
        pool.in_place_scope(|scope| {
            let mut slots = parts.iter_mut().zip(batch.chunks(chunk));
            let first = slots.next();
            for (slot, part) in slots {
                let span = &span;
                scope.spawn(move |_| {
                    let _entered = span.enter();
                    *slot = part.iter().map(|&i| self.prepare(i)).collect();
                });
            }
            if let Some((slot, part)) = first {
                *slot = part.iter().map(|&i| self.prepare(i)).collect();
            }
        });
        parts.into_iter().flatten().collect()
    }

    async fn run(&mut self) -> (Vec<StepReport>, bool) {
        let jobs = self.options.jobs.max(1);
        let lanes =
            jobs.min(std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
        let mut ready = self.graph.ready_set();
        let mut reports: Vec<Option<StepReport>> = vec![None; self.graph.len()];
        let mut running = Running::new();
        // This future's own waker, for the first poll of each miss (`dispatch`).
        let waker = std::future::poll_fn(|cx| std::task::Poll::Ready(cx.waker().clone())).await;
        // Misses prepared in a batch, waiting for a free slot.
        let mut queued: std::collections::VecDeque<(Box<Job>, StepReport)> =
            std::collections::VecDeque::new();
        let mut stopping = false;
        let mut cancelled = false;
        let interrupt = self.interrupt.clone();

        loop {
            // Checked before every batch: hits are served right here without awaiting, so a
            // long run of them would otherwise never see Ctrl-C.
            while !stopping && !interrupt.is_triggered() {
                if running.len() < jobs
                    && let Some((job, report)) = queued.pop_front()
                {
                    self.dispatch(&mut running, &waker, job, report, jobs);
                    continue;
                }
                // Hits are served while calls run; misses wait in `queued` for a slot.
                if queued.len() >= jobs {
                    break;
                }
                let batch: Vec<StepIndex> = std::iter::from_fn(|| ready.pop())
                    .take(lanes * BATCH_PER_LANE)
                    .collect();
                if batch.is_empty() {
                    break;
                }
                let prepared = self.prepare_batch(&batch, lanes);
                for (index, prepared) in batch.into_iter().zip(prepared) {
                    match prepared {
                        Prepared::Done(output, report, logs) => {
                            for line in &logs {
                                self.log(
                                    &report.id,
                                    &report.extension,
                                    &line.level,
                                    &line.message,
                                    true,
                                );
                            }
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
                        // After a failure earlier in this batch, misses are not started
                        // (they end up skipped); its hits were served and say so.
                        Prepared::Run(job, report) => {
                            if !stopping {
                                queued.push_back((job, report));
                            }
                        }
                    }
                }
            }
            if interrupt.is_triggered() {
                // Nothing is being written here: writes happen only in this task, between
                // polls. Running calls are abandoned; their results are never stored.
                cancelled = true;
                running.clear();
                break;
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                joined = running.next() => {
                    let Some((job, report, result)) = joined else { continue };
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
                () = interrupt.triggered() => {}
            }
        }

        (self.finalize(reports, cancelled), cancelled)
    }

    /// Starts a prepared miss on an actor (or asks the remote cache first).
    fn dispatch(
        &self,
        running: &mut Running,
        waker: &std::task::Waker,
        job: Box<Job>,
        report: StepReport,
        jobs: usize,
    ) {
        (self.events)(&Event::Started {
            step: report.id.clone(),
        });
        let request = job.request.clone().with_header(Header {
            seqnum: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            session_id: self.session.clone(),
            kind: None,
        });
        let (runtime, step_id) = (self.runtime.clone(), report.id.clone());
        let remote = self.options.remote.clone().filter(|_| job.lookup_remote);
        let mut call: StepFuture = Box::pin(async move {
            let started = Instant::now();
            if let Some(remote) = remote
                && let Some(hit) = remote.lookup(&step_id, job.key).await
            {
                let mut report = report;
                report.duration_ms = millis(started.elapsed());
                return (job, report, Ran::Remote(hit));
            }
            let result = match job.extension.pool(&runtime, jobs).await {
                Ok(pool) => pool
                    .run(&step_id, job.operation, request, job.context.clone())
                    .await
                    .map_err(|e| e.to_string()),
                // Checked before the build, refused by the engine now (see
                // `BuildExtension::pool`): said as the extension's problem.
                Err(e) => Err(e.to_string()),
            };
            let mut report = report;
            report.duration_ms = millis(started.elapsed());
            (job, report, Ran::Called(result))
        });
        // Polled once now, so the call is on an actor's queue while this thread goes on
        // preparing the batch; `running` polls it from then on (its wake-ups reach this future
        // either way).
        match call
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            std::task::Poll::Ready(done) => running.push(Box::pin(std::future::ready(done))),
            std::task::Poll::Pending => running.push(call),
        }
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
                let files = match self.input_files(task) {
                    Ok(files) => files,
                    Err(e) => return Self::fail(report, e),
                };
                let mut bundle = FileBundle::new();
                for file in files {
                    let rel = match bundle_path(&file, &task.dir) {
                        Ok(rel) => rel,
                        Err(why) => {
                            return Self::fail(
                                report,
                                format!(
                                    "task `{}`: input file {} cannot be passed to its frontend: \
                                     {why}; rename it, or narrow the task's `inputs` so they do \
                                     not match it",
                                    task.name,
                                    file.display()
                                ),
                            );
                        }
                    };
                    // The bytes hashed are the bytes the step gets: an input edited while the
                    // build runs cannot end up cached under a stale key.
                    let bytes = match std::fs::read(&file) {
                        Ok(b) => b,
                        Err(e) => {
                            return Self::fail(
                                report,
                                format!(
                                    "task `{}`: cannot read input {}: {e}",
                                    task.name,
                                    file.display()
                                ),
                            );
                        }
                    };
                    let digest = Digest::of(&bytes);
                    key.input_file(&rel, &digest);
                    readable.insert(rel.clone(), Some(*digest.as_bytes()));
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
                Some(request)
            }
            StepKind::Transform(_) | StepKind::Backend(_) => {
                let Some(&prev) = self.graph.dependencies(index).first() else {
                    return Self::fail(report, format!("step `{}` has no input step", step.id));
                };
                let output = self.outputs[prev.index()]
                    .as_ref()
                    .expect("dependencies are done");
                key.upstream(&self.graph.step(prev).id, output);
                // Made only on a miss: a hit needs the key, not a copy of the input.
                None
            }
        };
        let (key, manifest) = match key.finish() {
            Ok(k) => k,
            Err(e) => return Self::fail(report, format!("cannot compute the cache key: {e}")),
        };
        let mut report = report;
        report.key = Some(key.to_hex());
        let http_cacheable = crate::grants::http_cacheable(&extension, task.cache_http);
        let use_cache = task.cache && http_cacheable && !self.options.no_cache;

        if use_cache {
            // A hit also records this key as the step's last run, which keeps `--explain`
            // honest (a later miss is compared with this state).
            match self.store.lookup_step(&step.id, &key, &manifest) {
                Ok(Lookup::Hit(hit)) => {
                    let StepHit { outputs, logs } = *hit;
                    let Some(output) = outputs.into_iter().next() else {
                        return Self::fail(report, "cache record has no output".to_owned());
                    };
                    if let Some(error) = self.write_backend_output(index, &output) {
                        return Self::fail(report, error);
                    }
                    report.status = StepStatus::Cached;
                    return Prepared::Done(output, report, logs);
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
        let request = request.unwrap_or_else(|| {
            let prev = self.graph.dependencies(index)[0];
            let output = self.outputs[prev.index()]
                .clone()
                .expect("dependencies are done");
            StepRequest::new(output).with_config(ext_ref.config.clone())
        });
        let context = crate::grants::context(&extension, env_view, &key, &task.dir, readable);
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
                lookup_remote: use_cache,
            }),
            report,
        )
    }

    /// The files a task's frontend reads, sorted, without the build's own products. Warns
    /// (every build, cached or not) about each pattern that matches no file.
    fn input_files(&self, task: &morphir_config::Task) -> Result<Vec<PathBuf>, String> {
        let matches = task
            .input_matches()
            .map_err(|e| format!("cannot list the inputs of task `{}`: {e}", task.name))?;
        let mut files = Vec::new();
        for (pattern, mut found) in matches {
            // The build's own products are never its inputs: a glob like `**/*` must not feed
            // outputs back in (the build would never settle) or read the cache.
            found.retain(|f| !f.ancestors().any(|dir| self.excluded.contains(dir)));
            if found.is_empty() {
                // Not an error: an optional or generated directory may be empty. Said every
                // time, because a typo here builds nothing and caches the empty result.
                let relative_to = if task.dir.as_os_str().is_empty() {
                    String::new()
                } else {
                    format!(" (relative to {})", task.dir.display())
                };
                tracing::warn!(
                    target: "morphir::build",
                    "task `{}`: input pattern `{pattern}` matches no file{relative_to}",
                    task.name,
                );
            }
            files.extend(found);
        }
        files.sort();
        files.dedup();
        Ok(files)
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
        crate::outputs::write_outputs_with(&backend.output_dir, &bundle, Some(&self.stamps))
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
    fn complete(&mut self, job: &Job, mut report: StepReport, ran: Ran) -> StepReport {
        let step_id = report.id.clone();
        let extension = report.extension.clone();
        let result = match ran {
            Ran::Called(result) => result,
            Ran::Remote(hit) => return self.complete_remote(job, report, &hit),
        };
        let output = match result {
            Ok(output) => output,
            Err(e) => {
                report.status = StepStatus::Failed;
                report.error = Some(e);
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
            if let Some(remote) = &self.options.remote {
                remote.upload(&step_id, job.key, vec![output.envelope.clone()], logs);
            }
        }
        self.outputs[job.index.index()] = Some(output.envelope);
        report.status = StepStatus::Executed;
        report
    }

    /// Serves a remote hit like a local one (logs replayed, backend files written), and keeps
    /// it in the local cache so the next build does not ask the server.
    fn complete_remote(
        &mut self,
        job: &Job,
        mut report: StepReport,
        hit: &RemoteHit,
    ) -> StepReport {
        for line in &hit.logs {
            self.log(
                &report.id,
                &report.extension,
                &line.level,
                &line.message,
                true,
            );
        }
        let Some(output) = hit.outputs.first().cloned() else {
            report.status = StepStatus::Failed;
            report.error = Some("remote cache entry has no output".to_owned());
            return report;
        };
        if let Some(error) = self.write_backend_output(job.index, &output) {
            report.status = StepStatus::Failed;
            report.error = Some(error);
            return report;
        }
        let action = NewAction {
            step_id: &report.id,
            manifest: &job.manifest,
            outputs: &hit.outputs,
            logs: &hit.logs,
            executor_version: MORPHIR_VERSION,
        };
        if let Err(e) = self.store.put(&job.key, &action) {
            tracing::warn!(
                "cannot store the remote result of `{}` locally: {e}",
                report.id
            );
        }
        self.outputs[job.index.index()] = Some(output);
        report.status = StepStatus::Cached;
        report.remote = true;
        report
    }
}
