//! The validated configuration.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::{ConfigError, ConfigErrors, Location};
use crate::hash::{Blake3Hash, HashError};
use crate::units::ByteSize;

/// The environment variable that overrides `[cache] dir`; see [`Config::cache_dir`].
pub const CACHE_DIR_ENV: &str = "MORPHIR_CACHE_DIR";

/// A loaded and validated workspace: the root `morphir.toml`, the files it includes, and its
/// monorepo members with their own files.
#[derive(Debug, Clone)]
pub struct Config {
    /// The root `morphir.toml`, as given to the loader.
    pub file: PathBuf,
    /// Its directory: the workspace root. Relative when `file` was relative.
    pub root: PathBuf,
    /// `[project]` of the root file.
    pub project: Project,
    /// `[cache]`, with `dir` resolved against the root.
    pub cache: CacheConfig,
    /// Monorepo members, sorted by name.
    pub members: Vec<Member>,
    /// Every declared extension, enabled or not, by name.
    pub extensions: BTreeMap<String, Extension>,
    /// Every task, by qualified name (`task` for the root, `member/task` for members).
    pub tasks: BTreeMap<String, Task>,
    /// Every file that was read, in load order (for watching and fingerprinting).
    pub files: Vec<PathBuf>,
}

impl Config {
    /// The task with this qualified name.
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.get(name)
    }

    /// The extension with this name.
    pub fn extension(&self, name: &str) -> Option<&Extension> {
        self.extensions.get(name)
    }

    /// `[cache.remote]` with the environment overrides applied ([`REMOTE_CACHE_ENV`],
    /// [`REMOTE_CACHE_UPLOAD_ENV`], [`REMOTE_CACHE_INSTANCE_ENV`]; `env` is passed in so that
    /// this stays testable). Fails on an override that is not valid, naming the variable.
    pub fn remote_cache(
        &self,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Result<Option<RemoteCacheConfig>, String> {
        let get = |name: &str| {
            env(name)
                .map(|v| v.to_string_lossy().trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut remote = self.cache.remote.clone();
        if let Some(endpoint) = get(REMOTE_CACHE_ENV) {
            if endpoint == "off" {
                return Ok(None);
            }
            check_remote_endpoint(&endpoint).map_err(|e| format!("{REMOTE_CACHE_ENV}: {e}"))?;
            match &mut remote {
                Some(remote) => remote.endpoint = endpoint,
                None => {
                    remote = Some(RemoteCacheConfig {
                        endpoint,
                        instance_name: String::new(),
                        token_env: None,
                        ca_file: None,
                        timeout: None,
                        upload: true,
                    });
                }
            }
        }
        let Some(mut remote) = remote else {
            return Ok(None);
        };
        if let Some(upload) = get(REMOTE_CACHE_UPLOAD_ENV) {
            remote.upload = match upload.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    return Err(format!(
                        "{REMOTE_CACHE_UPLOAD_ENV}={upload:?}: expected true or false"
                    ));
                }
            };
        }
        if let Some(instance) = get(REMOTE_CACHE_INSTANCE_ENV) {
            remote.instance_name = instance;
        }
        Ok(Some(remote))
    }

    /// The cache directory to use: `env_override` (the value of [`CACHE_DIR_ENV`], passed in so
    /// that this stays testable) when set and non-empty, otherwise `[cache] dir`. A relative
    /// override is taken relative to the workspace root, like `dir` itself, so the cache does not
    /// move with the directory `morphir` is started from.
    pub fn cache_dir(&self, env_override: Option<&OsStr>) -> PathBuf {
        match env_override.filter(|v| !v.is_empty()) {
            Some(dir) => self.root.join(dir),
            None => self.cache.dir.clone(),
        }
    }

    /// Checks that the module file of every enabled extension exists, reporting each missing one
    /// at its `path` key. [`Config::load`] runs this unless `LoadOptions::check_files` is off.
    pub fn check_files(&self) -> Result<(), ConfigErrors> {
        let errors: Vec<ConfigError> = self
            .extensions
            .values()
            .filter(|ext| ext.enabled && !ext.source.path.is_file())
            .map(|ext| ConfigError::MissingWasm {
                location: ext.source.path_location.clone(),
                extension: ext.name.clone(),
                path: ext.source.path.clone(),
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

/// `[project]`.
#[derive(Debug, Clone)]
pub struct Project {
    /// `name`: required in the root file.
    pub name: String,
    /// `description`: optional, for listings.
    pub description: Option<String>,
}

/// `[cache]`.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `dir` (default `"cache"`) joined to the workspace root. Prefer [`Config::cache_dir`],
    /// which applies [`CACHE_DIR_ENV`].
    pub dir: PathBuf,
    /// `max_size`: the size above which the cache evicts; unlimited when absent.
    pub max_size: Option<ByteSize>,
    /// `[cache.remote]`: a shared REAPI cache. Prefer [`Config::remote_cache`], which applies
    /// the environment overrides.
    pub remote: Option<RemoteCacheConfig>,
}

/// Overrides `[cache.remote] endpoint` (or sets up a remote cache the file does not name);
/// `off` turns the remote cache off.
pub const REMOTE_CACHE_ENV: &str = "MORPHIR_REMOTE_CACHE";
/// Overrides `[cache.remote] upload` (`true`/`false`, `1`/`0`): CI sets it to `false` for
/// untrusted builds such as pull requests.
pub const REMOTE_CACHE_UPLOAD_ENV: &str = "MORPHIR_REMOTE_CACHE_UPLOAD";
/// Overrides `[cache.remote] instance_name`.
pub const REMOTE_CACHE_INSTANCE_ENV: &str = "MORPHIR_REMOTE_CACHE_INSTANCE";

/// `[cache.remote]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCacheConfig {
    /// `grpc://host:port` or `grpcs://host:port`.
    pub endpoint: String,
    /// The REAPI instance name (default empty).
    pub instance_name: String,
    /// The name of the environment variable holding a bearer token (never the token).
    pub token_env: Option<String>,
    /// `ca_file`, joined to the workspace root: PEM certificates trusted for `grpcs://` besides
    /// the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `timeout` of one request; the client's default when absent.
    pub timeout: Option<Duration>,
    /// `upload` (default true): false reads the shared cache without ever writing it.
    pub upload: bool,
}

/// Checks a remote cache endpoint: `grpc://` or `grpcs://`, then a host and an optional port,
/// nothing else.
pub fn check_remote_endpoint(endpoint: &str) -> Result<(), String> {
    let rest = endpoint
        .strip_prefix("grpcs://")
        .or_else(|| endpoint.strip_prefix("grpc://"))
        .ok_or_else(|| {
            format!(
                "endpoint `{endpoint}` must start with grpc:// (plain) or grpcs:// (TLS), e.g. \
                 \"grpcs://cache.example.com:443\""
            )
        })?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '@']) {
        return Err(format!(
            "endpoint `{endpoint}` must be a scheme, a host and an optional port, nothing more \
             (the instance name goes in `instance_name`)"
        ));
    }
    Ok(())
}

/// A monorepo member: a directory matched by `[project] members` that holds a `morphir.toml`.
#[derive(Debug, Clone)]
pub struct Member {
    /// The directory's name: the namespace of its tasks (`name/task`).
    pub name: String,
    /// The directory, relative to the workspace root.
    pub dir: PathBuf,
    /// Its `morphir.toml`.
    pub file: PathBuf,
    /// `[project] name` of the member file, if it has one (informational).
    pub project_name: Option<String>,
}

/// The extension protocol: how its module is built, and so how the runtime loads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// A core module with the Morphir ABI (`source.type = "wasm"`).
    Core,
    /// A Component Model component of a Morphir WIT world (`source.type = "wasm-component"`).
    Component,
}

impl Protocol {
    /// The value `morphir.toml` writes: `core` or `component`.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Core => "core",
            Protocol::Component => "component",
        }
    }

    /// The `source.type` that goes with it.
    pub const fn source_type(self) -> &'static str {
        match self {
            Protocol::Core => "wasm",
            Protocol::Component => "wasm-component",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One `[[extensions]]` entry.
#[derive(Debug, Clone)]
pub struct Extension {
    /// `name`: unique across the workspace.
    pub name: String,
    /// `enabled` (default true). A disabled extension may not be used by a task.
    pub enabled: bool,
    /// `protocol` (default `"core"`).
    pub protocol: Protocol,
    /// `[extensions.source]`.
    pub source: ExtensionSource,
    /// `[extensions.permissions]`.
    pub permissions: Permissions,
    /// `[extensions.config]` as a JSON object with sorted keys (`{}` when absent).
    pub config: Value,
    /// The `name` value.
    pub location: Location,
}

/// `[extensions.source]`.
#[derive(Debug, Clone)]
pub struct ExtensionSource {
    /// `path`, joined to the directory of the file that declares the extension.
    pub path: PathBuf,
    /// The `path` value, to report a missing or unloadable module against.
    pub path_location: Location,
    /// `hash`, when pinned. The build checks it with [`ExtensionSource::verify_hash`].
    pub hash: Option<Blake3Hash>,
    /// The `hash` value.
    pub hash_location: Option<Location>,
}

impl ExtensionSource {
    /// Checks the module file against the pinned hash; `Ok` when nothing is pinned.
    pub fn verify_hash(&self) -> Result<(), HashError> {
        match &self.hash {
            Some(hash) => hash.verify_file(&self.path),
            None => Ok(()),
        }
    }
}

/// `[extensions.permissions]`: limits and grants the runtime applies to the extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// `max_memory`: the linear memory cap; the runtime's default when absent.
    pub max_memory: Option<ByteSize>,
    /// `max_execution_time`: the wall-clock limit of one call; the runtime's default when absent.
    pub max_execution_time: Option<Duration>,
    /// `max_output`: the largest envelope one call may return; the runtime's default when
    /// absent.
    pub max_output: Option<ByteSize>,
    /// `env`: environment variables the extension may read (default none).
    pub env: Vec<String>,
    /// `allowed_hosts`: hosts the extension may reach over HTTP (default none).
    pub allowed_hosts: Vec<String>,
}

/// One `[tasks.NAME]` table: a frontend, ordered transforms and fanned-out backends.
#[derive(Debug, Clone)]
pub struct Task {
    /// The qualified name: `name` for root tasks, `member/name` for a member's.
    pub name: String,
    /// The member that declares it, if any.
    pub member: Option<String>,
    /// The project directory: the workspace root, or the member's directory joined to it.
    /// Inputs and outputs are relative to it.
    pub dir: PathBuf,
    /// `description`.
    pub description: Option<String>,
    /// `frontend`.
    pub frontend: Frontend,
    /// `transforms`, in order (possibly none).
    pub transforms: Vec<ExtensionRef>,
    /// `backends` (possibly none: a task may end at IR that other tasks depend on).
    pub backends: Vec<Backend>,
    /// `depends_on`, resolved to qualified names, duplicates removed, in written order.
    pub depends_on: Vec<Dependency>,
    /// `env`: variables whose values go into the cache key.
    pub env: Vec<String>,
    /// `cache` (default true).
    pub cache: bool,
    /// `cache_http` (default false): cache the task's steps even when their extension may use
    /// HTTP (`allowed_hosts` is not empty). Without it such a step runs on every build, since a
    /// response can change without anything in its key changing.
    pub cache_http: bool,
    /// The task's name in its table header.
    pub location: Location,
}

impl Task {
    /// The step whose IR this task hands to the tasks that depend on it: the last transform, or
    /// the frontend when there are none.
    pub fn final_ir(&self) -> &ExtensionRef {
        self.transforms.last().unwrap_or(&self.frontend.extension)
    }

    /// The files the frontend's `inputs` globs match now, sorted and without duplicates (the
    /// paths are `dir` joined with the match). Directories are skipped.
    pub fn input_files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = self
            .input_matches()?
            .into_iter()
            .flat_map(|(_, matches)| matches)
            .collect();
        files.sort();
        files.dedup();
        Ok(files)
    }

    /// Each of the frontend's `inputs` globs with the files it matches now, in the order of
    /// `inputs` (so a caller can say which pattern matches nothing). Directories are skipped.
    pub fn input_matches(&self) -> std::io::Result<Vec<(&str, Vec<PathBuf>)>> {
        self.frontend
            .inputs
            .iter()
            .map(|pattern| {
                let files = crate::paths::glob_files(&self.dir, pattern)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                Ok((pattern.as_str(), files))
            })
            .collect()
    }
}

/// A use of an extension by a task step.
#[derive(Debug, Clone)]
pub struct ExtensionRef {
    /// The extension's name.
    pub name: String,
    /// The configuration the step receives: the extension's `[extensions.config]` with this
    /// use's `config` deep-merged over it (objects merge key by key, everything else, arrays
    /// included, is replaced). Keys sorted.
    pub config: Value,
    /// The `extension` value of this use.
    pub location: Location,
}

/// `frontend = { extension, inputs, config }`.
#[derive(Debug, Clone)]
pub struct Frontend {
    /// The extension and its configuration.
    pub extension: ExtensionRef,
    /// Globs relative to the task's `dir`; the host reads the files they match.
    pub inputs: Vec<String>,
}

/// `backends = [{ extension, output, config }]`.
#[derive(Debug, Clone)]
pub struct Backend {
    /// The extension and its configuration.
    pub extension: ExtensionRef,
    /// The output directory, normalized and relative to the workspace root (for a member task,
    /// it starts with the member's directory). Unique: no other backend writes it, inside it,
    /// or around it.
    pub output: PathBuf,
    /// `output` joined to the workspace root: where the build writes.
    pub output_dir: PathBuf,
    /// The `output` value.
    pub output_location: Location,
}

/// One `depends_on` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The qualified name of the upstream task.
    pub task: String,
    /// The entry as written.
    pub location: Location,
}

/// What to check while loading.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Check that the wasm file of every enabled extension exists (default true). Turn off to
    /// load a configuration whose extensions are not built yet; [`Config::check_files`] runs the
    /// check later.
    pub check_files: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { check_files: true }
    }
}

impl Config {
    /// Loads and validates the workspace whose root file is `path`, checking files too.
    /// Returns every problem found, not only the first.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        Self::load_with(path, LoadOptions::default())
    }

    /// [`Config::load`] with options.
    pub fn load_with(path: &Path, options: LoadOptions) -> Result<Self, ConfigErrors> {
        crate::load::load(path, options)
    }
}
