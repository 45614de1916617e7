//! The extensions a build uses: checked before anything runs, compiled only when a step misses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use morphir_config::{Config, Extension};
use morphir_envelope::Capabilities;
use morphir_graph::{StepGraph, StepKind};
use morphir_host::{InstancePool, PoolKey, WarmPools};
use morphir_runtime::{Limits, Protocol, Runtime};
use tokio::sync::OnceCell;

use crate::BuildError;

/// One extension of the build.
#[derive(Debug)]
pub(crate) struct BuildExtension {
    pub(crate) name: String,
    /// Core module or component: only the runtime's loader looks at it.
    pub(crate) protocol: Protocol,
    pub(crate) bytes: Arc<Vec<u8>>,
    pub(crate) hash: [u8; 32],
    pub(crate) limits: Limits,
    /// What goes into keys for the permissions that can change an output.
    pub(crate) permissions: serde_json::Value,
    /// `permissions.env`: the variables it may read (their values go into every key).
    pub(crate) env: Vec<String>,
    /// `permissions.allowed_hosts`: non-empty means it may use HTTP (not cached by default).
    pub(crate) allowed_hosts: Vec<String>,
    pub(crate) location: morphir_config::Location,
    /// The module file.
    module: PathBuf,
    pub(crate) capabilities: Capabilities,
    /// Where its capabilities are remembered.
    capabilities_path: PathBuf,
    pool: OnceCell<Arc<InstancePool>>,
    /// Where the pool is kept warm between builds (the daemon), and under which key.
    warm: Option<(Arc<WarmPools>, PoolKey)>,
}

/// The runtime's refusal of `name`'s module as a configuration error (the runtime's message
/// already names the extension; the error names it once).
fn unloadable(
    name: &str,
    module: &Path,
    location: &morphir_config::Location,
    error: &morphir_runtime::Error,
) -> BuildError {
    let reason = error
        .load_error()
        .map_or_else(|| error.to_string(), ToString::to_string);
    BuildError::Unloadable {
        extension: name.to_owned(),
        module: module.to_owned(),
        location: location.clone(),
        reason,
    }
}

impl BuildExtension {
    /// The instance pool, compiling the module on first use (off the async workers).
    pub(crate) async fn pool(
        &self,
        runtime: &Runtime,
        max_live: usize,
    ) -> Result<Arc<InstancePool>, BuildError> {
        self.pool
            .get_or_try_init(|| async {
                if let Some(pool) = self.warm.as_ref().and_then(|(w, key)| w.get(key)) {
                    return Ok(pool);
                }
                let runtime = runtime.clone();
                let (name, bytes, limits, protocol) = (
                    self.name.clone(),
                    Arc::clone(&self.bytes),
                    self.limits,
                    self.protocol,
                );
                let module = tokio::task::spawn_blocking(move || {
                    runtime.load_as(protocol, &name, bytes.to_vec(), limits)
                })
                .await
                .expect("module load does not panic")
                .map_err(|e| {
                    // It passed the checks before the build but the engine refused it (the
                    // memo of its capabilities came from elsewhere, or the engine changed):
                    // forget the memo, so the next build compiles it up front and stops there.
                    let _ = std::fs::remove_file(&self.capabilities_path);
                    unloadable(&self.name, &self.module, &self.location, &e)
                })?;
                let pool = Arc::new(InstancePool::new(module, max_live));
                Ok(match &self.warm {
                    Some((warm, key)) => warm.insert(key.clone(), pool),
                    None => pool,
                })
            })
            .await
            .cloned()
    }
}

fn protocol(ext: &Extension) -> Protocol {
    match ext.protocol {
        morphir_config::Protocol::Component => Protocol::Component,
        // Non-exhaustive; the loader knows no other.
        _ => Protocol::Core,
    }
}

/// The runtime limits of `ext`'s `[extensions.permissions]` (the runtime's defaults for what
/// is not set): what a build and `morphir run` load it with.
pub fn limits(ext: &Extension) -> Limits {
    let mut limits = Limits::default();
    if let Some(m) = ext.permissions.max_memory {
        limits = limits.with_max_memory(m.bytes());
    }
    if let Some(t) = ext.permissions.max_execution_time {
        limits = limits.with_max_execution_time(t);
    }
    if let Some(o) = ext.permissions.max_output {
        limits = limits.with_max_output(o.bytes());
    }
    limits
}

/// Capabilities are remembered per module hash, so a fully cached build compiles nothing.
fn capabilities_path(cache_root: &Path, hash: &[u8; 32]) -> PathBuf {
    cache_root
        .join(morphir_cache::CAPABILITIES_DIR)
        .join(format!("{}.json", blake3::Hash::from_bytes(*hash).to_hex()))
}

fn read_capabilities(path: &Path) -> Option<Capabilities> {
    let file = std::fs::File::open(path).ok()?;
    let caps = serde_json::from_reader(std::io::BufReader::new(&file)).ok()?;
    // `morphir cache prune --max-age` removes entries by mtime: keep it the time of last use
    // (at most one write a day per module).
    let now = std::time::SystemTime::now();
    let stale = file
        .metadata()
        .and_then(|m| m.modified())
        .map_or(true, |m| {
            now.duration_since(m)
                .is_ok_and(|age| age > std::time::Duration::from_hours(24))
        });
    if stale {
        let _ = file.set_modified(now);
    }
    Some(caps)
}

fn write_capabilities(path: &Path, caps: &Capabilities) {
    // Best effort: without it the next build only compiles the module again.
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(path.parent().expect("has a parent"))?;
        // `.tmp-` first: the name `morphir cache prune` knows a leftover temp file by.
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = path.with_file_name(format!(".tmp-{name}-{}", std::process::id()));
        std::fs::write(
            &tmp,
            serde_json::to_vec(caps).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    };
    if let Err(e) = write() {
        tracing::debug!("cannot remember capabilities at {}: {e}", path.display());
    }
}

/// Loads and checks every extension `graph` uses: pins, readability, and that each is used
/// only in roles its capabilities declare. Nothing runs when this fails.
pub(crate) fn prepare(
    config: &Config,
    graph: &StepGraph,
    runtime: &Runtime,
    cache_root: &Path,
    max_live: usize,
    warm: Option<&(Arc<WarmPools>, String)>,
) -> Result<BTreeMap<String, Arc<BuildExtension>>, BuildError> {
    let mut out = BTreeMap::new();
    for (_, step) in graph.steps() {
        let Some(ext) = config.extension(&step.extension) else {
            continue;
        };
        if !out.contains_key(&ext.name) {
            let prepared = prepare_one(ext, runtime, cache_root, max_live, warm)?;
            out.insert(ext.name.clone(), Arc::new(prepared));
        }
        let caps = &out[&ext.name].capabilities;
        let (role, operation) = match step.kind {
            StepKind::Frontend => ("frontend", "frontend-compile"),
            StepKind::Transform(_) => ("transform", "transform"),
            StepKind::Backend(_) => ("backend", "backend-generate"),
        };
        if !caps.implements(operation) {
            let location = step
                .extension_ref(config)
                .map_or_else(|| ext.location.clone(), |r| r.location.clone());
            return Err(BuildError::Capability {
                extension: ext.name.clone(),
                location,
                role,
                operation,
                declared: caps.operations.join(", "),
            });
        }
    }
    Ok(out)
}

fn prepare_one(
    ext: &Extension,
    runtime: &Runtime,
    cache_root: &Path,
    max_live: usize,
    warm: Option<&(Arc<WarmPools>, String)>,
) -> Result<BuildExtension, BuildError> {
    if let Err(source) = ext.source.verify_hash() {
        return Err(BuildError::HashMismatch {
            extension: ext.name.clone(),
            location: ext
                .source
                .hash_location
                .clone()
                .unwrap_or_else(|| ext.location.clone()),
            source,
        });
    }
    let bytes = std::fs::read(&ext.source.path).map_err(|e| BuildError::Extension {
        location: ext.source.path_location.clone(),
        source: morphir_runtime::Error::Load {
            extension: ext.name.clone(),
            source: Box::new(morphir_runtime::LoadError::Io {
                path: ext.source.path.clone(),
                source: e,
            }),
        },
    })?;
    let protocol = protocol(ext);
    // Before remembered capabilities are trusted: they are keyed by the module's hash alone, so
    // a module configured under the wrong protocol would otherwise pass until a step runs.
    morphir_runtime::check_protocol(&ext.name, &bytes, protocol).map_err(|source| {
        BuildError::Extension {
            location: ext.source.path_location.clone(),
            source,
        }
    })?;
    let hash = *blake3::hash(&bytes).as_bytes();
    let limits = limits(ext);
    let caps_path = capabilities_path(cache_root, &hash);
    let pool = OnceCell::new();
    let refused = |e: morphir_runtime::Error| {
        unloadable(&ext.name, &ext.source.path, &ext.source.path_location, &e)
    };
    let warm = warm.map(|(pools, workspace)| {
        let key = PoolKey {
            workspace: workspace.clone(),
            extension: ext.name.clone(),
            module_hash: hash,
            variant: format!("{limits:?} max_live={max_live}"),
        };
        (Arc::clone(pools), key)
    });
    let warm_pool = warm.as_ref().and_then(|(w, key)| w.get(key));
    let capabilities = if let Some(caps) = read_capabilities(&caps_path) {
        if let Some(warm_pool) = warm_pool {
            // Loaded under these very limits before: it loads.
            let _ = pool.set(warm_pool);
        } else if protocol == Protocol::Core {
            // Seen before: no compile (a fully cached build must not pay for one), but the
            // checks a load makes first, which depend on this configuration too (`max_memory`):
            // a module that cannot load is a configuration error now, not a failed step later.
            // (A component's cheap checks are `check_protocol`'s, above.)
            runtime.check(&ext.name, &bytes, limits).map_err(refused)?;
        }
        caps
    } else if let Some(warm_pool) = warm_pool {
        let caps = warm_pool.module().capabilities().clone();
        write_capabilities(&caps_path, &caps);
        let _ = pool.set(warm_pool);
        caps
    } else {
        {
            // First sight of this module: compile it to learn what it can do, and keep it for
            // the steps that will need it.
            let module = runtime
                .load_as(protocol, &ext.name, bytes.clone(), limits)
                .map_err(refused)?;
            let caps = module.capabilities().clone();
            write_capabilities(&caps_path, &caps);
            let fresh = Arc::new(InstancePool::new(module, max_live));
            let _ = pool.set(match &warm {
                Some((w, key)) => w.insert(key.clone(), fresh),
                None => fresh,
            });
            caps
        }
    };
    let mut permissions = serde_json::json!({
        "max_memory": ext.permissions.max_memory.map(morphir_config::ByteSize::bytes),
        "max_execution_time_ms": ext.permissions.max_execution_time.map(|t| t.as_millis() as u64),
        "env": ext.permissions.env,
        "allowed_hosts": ext.permissions.allowed_hosts,
    });
    // Only when set, so adding the setting to morphir changed no existing key.
    if let Some(max_output) = ext.permissions.max_output {
        permissions["max_output"] = serde_json::json!(max_output.bytes());
    }
    Ok(BuildExtension {
        name: ext.name.clone(),
        protocol,
        bytes: Arc::new(bytes),
        hash,
        limits,
        permissions,
        env: ext.permissions.env.clone(),
        allowed_hosts: ext.permissions.allowed_hosts.clone(),
        location: ext.source.path_location.clone(),
        module: ext.source.path.clone(),
        capabilities,
        capabilities_path: caps_path,
        pool,
        warm,
    })
}
