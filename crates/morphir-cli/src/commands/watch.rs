//! `morphir build --watch`: build, then watch what the build read (the tasks' input globs, the
//! configuration files, the extensions' modules) and build again after each change. The cache
//! makes a rebuild run only the affected steps: an unchanged step is a hit. Works the same in
//! process and on the daemon (each rebuild is one `build_once`). Ctrl-C stops, during a build
//! (which is cancelled, as without `--watch`) or between builds; the exit code is then 130.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use morphir_config::LoadOptions;
use morphir_daemon::BuildRequest;
use notify::{RecursiveMode, Watcher as _};
use tokio::sync::{mpsc, watch};

use super::build::{EXIT_INTERRUPTED, Progress, build_once, finish};
use super::project;
use crate::cli::BuildArgs;

/// Changes closer together than this are one change (an editor's save is several events).
const QUIET: Duration = Duration::from_millis(150);

#[expect(
    clippy::print_stderr,
    reason = "watch-mode notes go to stderr, like progress"
)]
fn note(text: &str) {
    eprintln!("{text}");
}

pub(crate) async fn run(
    args: &BuildArgs,
    request: &BuildRequest,
    verbose: u8,
) -> anyhow::Result<ExitCode> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    });
    let (changes_tx, mut changes) = mpsc::unbounded_channel::<PathBuf>();
    let mut notifier = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            for path in event.paths {
                let _ = changes_tx.send(path);
            }
        }
    })?;
    let mut watched: BTreeMap<PathBuf, RecursiveMode> = BTreeMap::new();
    loop {
        let progress = Arc::new(Progress::new(verbose));
        let mut stop = stop_rx.clone();
        let cancel = Box::pin(async move {
            let _ = stop.wait_for(|s| *s).await;
        });
        match build_once(args, request, &progress, Some(cancel)).await {
            Ok(outcome) => {
                finish(args, &progress, outcome)?;
            }
            // A configuration mid-edit: say what is wrong and wait for the next change.
            Err(e) => {
                progress.done();
                note(&format!("error: {}", crate::render(&*e)));
            }
        }
        if *stop_rx.borrow() {
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        let scope = Scope::of(request);
        let wanted = scope.watch_set();
        for (path, _) in watched.iter().filter(|(p, _)| !wanted.contains_key(*p)) {
            let _ = notifier.unwatch(path);
        }
        for (path, mode) in &wanted {
            if watched.get(path) != Some(mode)
                && let Err(e) = notifier.watch(path, *mode)
            {
                tracing::warn!("cannot watch {}: {e}", path.display());
            }
        }
        watched = wanted;
        note("watching for changes (Ctrl-C stops)");
        let mut stop = stop_rx.clone();
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
                Some(path) = changes.recv() => {
                    if scope.relevant(&path) {
                        tracing::info!("changed: {}", path.display());
                        settle(&mut changes).await;
                        break;
                    }
                }
            }
        }
    }
}

/// Waits until no change has arrived for [`QUIET`] (at most a few seconds), dropping them.
async fn settle(changes: &mut mpsc::UnboundedReceiver<PathBuf>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(_)) = tokio::time::timeout_at(
        deadline.min(tokio::time::Instant::now() + QUIET),
        changes.recv(),
    )
    .await
    {}
}

/// What a build read, as absolute paths: what to watch and which changes matter.
#[derive(Debug, Default)]
struct Scope {
    /// Configuration files and extension modules: a change to any of them matters.
    files: Vec<PathBuf>,
    /// The tasks' input globs, absolute.
    inputs: Vec<glob::Pattern>,
    /// The directories the input globs start from.
    input_dirs: Vec<PathBuf>,
    /// The cache and the backends' outputs: the build's own writes never matter.
    excluded: Vec<PathBuf>,
}

impl Scope {
    fn of(request: &BuildRequest) -> Self {
        let absolute = |p: &Path| normalize(&request.cwd.join(p));
        let config_file = absolute(&request.config);
        let Ok(config) = project::load_config_file(&request.config, LoadOptions::default()) else {
            // Broken configuration: watch it until it is fixed.
            return Self {
                files: vec![config_file],
                ..Self::default()
            };
        };
        let mut scope = Self {
            files: config.files.iter().map(|f| absolute(f)).collect(),
            ..Self::default()
        };
        scope.files.push(config_file);
        for ext in config.extensions.values().filter(|e| e.enabled) {
            scope.files.push(absolute(&ext.source.path));
        }
        let env_cache = std::env::var_os(morphir_config::CACHE_DIR_ENV);
        scope
            .excluded
            .push(absolute(&config.cache_dir(env_cache.as_deref())));
        for task in config.tasks.values() {
            scope.add_task(task, &absolute);
        }
        scope
    }

    fn add_task(&mut self, task: &morphir_config::Task, absolute: &impl Fn(&Path) -> PathBuf) {
        let dir = absolute(&task.dir);
        for pattern in &task.frontend.inputs {
            let full = dir.join(pattern);
            if let Ok(p) = glob::Pattern::new(&full.to_string_lossy()) {
                self.inputs.push(p);
            }
            // The literal directories before the first wildcard.
            let mut base = dir.clone();
            for part in Path::new(pattern).components() {
                let text = part.as_os_str().to_string_lossy();
                if text.contains(['*', '?', '[', '{']) {
                    break;
                }
                base.push(part);
            }
            if base != dir && full.parent().is_some_and(|p| p == base) {
                // `dir/name.md`: its directory, not the file (editors replace files).
                base.pop();
            }
            self.input_dirs.push(normalize(&base));
        }
        for backend in &task.backends {
            self.excluded.push(absolute(&backend.output_dir));
        }
    }

    /// Directories to watch: each input glob's base (recursively; the nearest existing
    /// ancestor when it does not exist yet) and the directories of the files.
    fn watch_set(&self) -> BTreeMap<PathBuf, RecursiveMode> {
        let mut set = BTreeMap::new();
        for dir in &self.input_dirs {
            let existing = dir.ancestors().find(|d| d.is_dir());
            if let Some(existing) = existing {
                let mode = if existing == dir {
                    RecursiveMode::Recursive
                } else {
                    RecursiveMode::NonRecursive
                };
                let entry = set.entry(existing.to_owned()).or_insert(mode);
                if mode == RecursiveMode::Recursive {
                    *entry = mode;
                }
            }
        }
        for file in &self.files {
            if let Some(parent) = file.parent().filter(|p| p.is_dir()) {
                set.entry(parent.to_owned())
                    .or_insert(RecursiveMode::NonRecursive);
            }
        }
        set
    }

    /// True when a change at `path` can change the build.
    fn relevant(&self, path: &Path) -> bool {
        let path = normalize(path);
        if self
            .excluded
            .iter()
            .any(|d| path.starts_with(d) || d.starts_with(&path))
        {
            return false;
        }
        self.files.contains(&path)
            || self.inputs.iter().any(|p| p.matches_path(&path))
            // A directory created or removed on the way to inputs (`mkdir guides/new`).
            || self.input_dirs.iter().any(|d| d.starts_with(&path) || path.starts_with(d) && path.is_dir())
    }
}

/// `path` without `.` and with `..` applied (lexically: paths of the configuration are plain).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(normalize(Path::new("/a/b/../c/./d")), Path::new("/a/c/d"));
        assert_eq!(normalize(Path::new("/a/b/c/../../x")), Path::new("/a/x"));
    }

    #[test]
    fn outputs_and_the_cache_never_trigger_a_rebuild() {
        let scope = Scope {
            files: vec![PathBuf::from("/w/morphir.toml")],
            inputs: vec![glob::Pattern::new("/w/guides/*.md").unwrap()],
            input_dirs: vec![PathBuf::from("/w/guides")],
            excluded: vec![PathBuf::from("/w/out/guides"), PathBuf::from("/w/cache")],
        };
        assert!(scope.relevant(Path::new("/w/guides/use.md")));
        assert!(scope.relevant(Path::new("/w/morphir.toml")));
        assert!(!scope.relevant(Path::new("/w/guides/notes.txt")));
        assert!(!scope.relevant(Path::new("/w/out/guides/index.html")));
        assert!(!scope.relevant(Path::new("/w/out")));
        assert!(!scope.relevant(Path::new("/w/cache/actions/ab")));
        assert!(!scope.relevant(Path::new("/w/README.md")));
    }
}
