//! What a design-time step's host functions may do, and how that stays honest with the cache.
//!
//! * The values of the extension's allowed environment variables (`permissions.env`) are read
//!   once, go into the step's key, and are exactly what the extension sees.
//! * `random` is seeded from the step's key: same key, same bytes, so caching it is sound.
//! * `workspace` reads only the step's declared input files (a frontend's `inputs`), and only
//!   bytes with the digest its key covers.
//! * An extension with `allowed_hosts` may get different responses for the same key, so its
//!   steps are not cached unless the task says `cache_http = true`.

use std::collections::BTreeMap;
use std::path::Path;

use morphir_cache::{Key, KeyBuilder};
use morphir_runtime::{HostContext, WorkspaceAccess};

use crate::extensions::BuildExtension;

/// Reads the extension's allowed variables, adds them to `key`, and returns the view.
/// `vars` is the environment the build sees (`None`: this process's; see `BuildHost`).
pub(crate) fn env(
    extension: &BuildExtension,
    key: &mut KeyBuilder,
    vars: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, Option<String>> {
    let mut view = BTreeMap::new();
    for name in &extension.env {
        let value = crate::hosting::var(vars, name);
        key.env_var(name, value.as_deref());
        view.insert(name.clone(), value);
    }
    view
}

/// True when the step may be cached as far as HTTP is concerned.
pub(crate) fn http_cacheable(extension: &BuildExtension, task_cache_http: bool) -> bool {
    extension.allowed_hosts.is_empty() || task_cache_http
}

/// Why a step with HTTP is not cached (for `--explain`).
pub(crate) fn http_reason(extension: &BuildExtension) -> String {
    format!(
        "extension `{}` may use HTTP (allowed_hosts: {}); set cache_http = true on the task to cache it",
        extension.name,
        extension.allowed_hosts.join(", ")
    )
}

/// The step's context: its environment view, the extension's hosts, the readable files (root and
/// `/`-separated relative path with the blake3 digest of the bytes hashed into the key), and a
/// seed derived from the key.
pub(crate) fn context(
    extension: &BuildExtension,
    env: BTreeMap<String, Option<String>>,
    key: &Key,
    root: &Path,
    files: BTreeMap<String, Option<[u8; 32]>>,
) -> HostContext {
    let seed = blake3::derive_key("morphir step random seed v1", key.to_hex().as_bytes());
    let mut context = HostContext::default()
        .with_allowed_hosts(extension.allowed_hosts.iter().cloned())
        .with_seed(seed)
        .with_workspace(WorkspaceAccess {
            root: root.to_owned(),
            files,
        });
    context.env = env;
    context
}
