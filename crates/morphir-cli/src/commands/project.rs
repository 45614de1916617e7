//! What every command that works on a project shares: finding and loading `morphir.toml`,
//! selecting tasks from the step graph, and where the cache is.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use morphir_config::{CACHE_DIR_ENV, CONFIG_FILE, Config, ConfigErrors, LoadOptions};
use morphir_graph::StepGraph;

use crate::cli::ConfigArgs;

/// Why the configuration could not be loaded. Every variant is bad input: `main` reports it as
/// `error: <message>` and exits with code 2 (it maps every error a command returns to 2). The
/// message of [`ConfigLoadError::Invalid`] is the whole list of problems, one per line, so a
/// user fixes them all in one go.
#[derive(Debug)]
pub(crate) enum ConfigLoadError {
    /// No `morphir.toml` in the current directory or any parent, and no `--config`.
    NotFound {
        /// The directory the search started from.
        cwd: PathBuf,
    },
    /// The current directory cannot be determined (deleted, or not readable).
    CurrentDir(io::Error),
    /// The files were found but have problems: every one of them.
    Invalid(ConfigErrors),
}

impl fmt::Display for ConfigLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { cwd } => write!(
                f,
                "no {CONFIG_FILE} in {} or any parent directory; create one (see \
                 morphir.toml.example) or pass --config",
                cwd.display()
            ),
            Self::CurrentDir(_) => f.write_str("cannot determine the current directory"),
            Self::Invalid(errors) => write!(f, "{errors}"),
        }
    }
}

impl std::error::Error for ConfigLoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::CurrentDir(e) => Some(e),
            // The Display already lists every error; no cause to chain.
            Self::NotFound { .. } | Self::Invalid(_) => None,
        }
    }
}

/// Finds and loads the workspace configuration, checking that the module of every enabled
/// extension exists.
///
/// The file is `--config PATH` when given (a directory means its `morphir.toml`), otherwise
/// [`morphir_config::find_config`] from the current directory (the nearest `morphir.toml`, or
/// the workspace root's when that one is a monorepo member's). A discovered file is loaded by a
/// path *relative to the current directory* (`morphir.toml`, `../../morphir.toml`), so error
/// locations read like compiler errors, and every path in the returned [`Config`] (root, task
/// directories, outputs, the cache directory) is relative to the current directory too; the
/// process must not change directory while it uses them.
///
/// Commands call it with `?` and get exit code 2 with every configuration error listed.
pub(crate) fn load_config(args: &ConfigArgs) -> Result<Config, ConfigLoadError> {
    load_config_with(args, LoadOptions::default())
}

/// [`load_config`] with options: `check_files: false` for commands that do not run extensions
/// (`graph`, `cache`), so they work before the extensions are built.
pub(crate) fn load_config_with(
    args: &ConfigArgs,
    options: LoadOptions,
) -> Result<Config, ConfigLoadError> {
    let file = config_file(args)?;
    load_config_file(&file, options)
}

/// Loads the configuration at `file` (found by [`config_file`]; the daemon passes the client's
/// working directory joined with it).
pub(crate) fn load_config_file(
    file: &Path,
    options: LoadOptions,
) -> Result<Config, ConfigLoadError> {
    Config::load_with(file, options).map_err(ConfigLoadError::Invalid)
}

/// The `morphir.toml` to load.
pub(crate) fn config_file(args: &ConfigArgs) -> Result<PathBuf, ConfigLoadError> {
    if let Some(path) = &args.config {
        return Ok(if path.is_dir() {
            path.join(CONFIG_FILE)
        } else {
            path.clone()
        });
    }
    let cwd = std::env::current_dir().map_err(ConfigLoadError::CurrentDir)?;
    let found = morphir_config::find_config(&cwd)
        .ok_or_else(|| ConfigLoadError::NotFound { cwd: cwd.clone() })?;
    Ok(relative_to(&found, &cwd))
}

/// `file` (in `cwd` or one of its ancestors, as `find_config` returns it) as a path relative to
/// `cwd`: `morphir.toml`, `../morphir.toml`, ... Unchanged if it is elsewhere.
fn relative_to(file: &Path, cwd: &Path) -> PathBuf {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return file.to_owned();
    };
    match cwd.strip_prefix(dir) {
        Ok(below) => {
            let mut relative: PathBuf = below.components().map(|_| "..").collect();
            relative.push(name);
            relative
        }
        Err(_) => file.to_owned(),
    }
}

/// The cache directory: `MORPHIR_CACHE_DIR` when set and non-empty (relative to the workspace
/// root), otherwise `[cache] dir`.
pub(crate) fn cache_dir(config: &Config) -> PathBuf {
    config.cache_dir(std::env::var_os(CACHE_DIR_ENV).as_deref())
}

/// The remote cache to use: `[cache.remote]` with the environment's overrides, the token read
/// from the variable `token_env` names. `None` when none is configured (or it is turned off).
/// `env`: the environment of the build (a daemon passes its client's); `None`: this process's.
pub(crate) fn remote_cache(
    config: &Config,
    env: Option<&std::collections::BTreeMap<String, String>>,
) -> anyhow::Result<Option<morphir_remote::RemoteConfig>> {
    let var = |name: &str| match env {
        Some(env) => env.get(name).map(std::ffi::OsString::from),
        None => std::env::var_os(name),
    };
    let Some(remote) = config.remote_cache(var).map_err(anyhow::Error::msg)? else {
        return Ok(None);
    };
    let token = match &remote.token_env {
        Some(name) => match var(name).map(|v| v.to_string_lossy().into_owned()) {
            Some(token) if !token.trim().is_empty() => Some(token.trim().to_owned()),
            _ => {
                tracing::warn!(
                    "remote cache: `token_env` names {name}, which is not set; connecting without \
                     a token"
                );
                None
            }
        },
        None => None,
    };
    Ok(Some(morphir_remote::RemoteConfig {
        endpoint: remote.endpoint,
        instance_name: remote.instance_name,
        token,
        ca_file: remote.ca_file,
        timeout: remote.timeout.unwrap_or(morphir_remote::DEFAULT_TIMEOUT),
        upload: remote.upload,
    }))
}

/// The part of `graph` that `tasks` (command-line targets) need: the graph itself when `tasks`
/// is empty, otherwise [`StepGraph::subgraph_for`]. An unknown task is an error (exit 2) with a
/// "did you mean", or the list of tasks when no name is close (the graph's error says both).
pub(crate) fn select_tasks(graph: StepGraph, tasks: &[String]) -> anyhow::Result<StepGraph> {
    if tasks.is_empty() {
        return Ok(graph);
    }
    let targets: Vec<&str> = tasks.iter().map(String::as_str).collect();
    Ok(graph.subgraph_for(&targets)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_files_are_relative_to_the_current_directory() {
        let cwd = Path::new("/w/a/b");
        assert_eq!(
            relative_to(Path::new("/w/a/b/morphir.toml"), cwd),
            Path::new("morphir.toml")
        );
        assert_eq!(
            relative_to(Path::new("/w/morphir.toml"), cwd),
            Path::new("../../morphir.toml")
        );
        assert_eq!(
            relative_to(Path::new("/elsewhere/morphir.toml"), cwd),
            Path::new("/elsewhere/morphir.toml")
        );
    }
}
