//! What the process running a build supplies besides the configuration: where environment
//! variables come from, where instance pools come from, and what stops the build. The CLI's
//! in-process build uses the defaults (its own environment, fresh pools, Ctrl-C); the daemon
//! (`morphir-daemon`) passes the client's environment, its warm pools and the client's
//! cancellation.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use morphir_cache::IndexPrefetch;
use morphir_host::WarmPools;

use crate::Interrupt;

/// A future that resolves when a build must stop (a daemon's client went away, a watch loop
/// was stopped); [`Interrupt::on`] turns it into the build's interrupt.
pub type Cancel = Pin<Box<dyn Future<Output = ()> + Send>>;

/// See the module docs. `BuildHost::default()` is what [`crate::build`] uses.
#[derive(Default)]
pub struct BuildHost {
    /// The environment the build sees (task `env` keys, extensions' `permissions.env`);
    /// `None`: this process's.
    pub env: Option<Arc<BTreeMap<String, String>>>,
    /// Warm pools to take instances from and leave them in, with the workspace they are kept
    /// under; `None`: pools live for this build only.
    pub pools: Option<(Arc<WarmPools>, String)>,
    /// Stops the build when triggered (running calls are abandoned, nothing of them stored);
    /// `None`: Ctrl-C.
    pub interrupt: Option<Interrupt>,
    /// The cache's last-run index, already being read (started before the configuration was
    /// loaded); used when it is of the cache directory the build opens. `None`, or another
    /// directory's: the build reads the index itself, beside its other preparations.
    pub index: Option<IndexPrefetch>,
}

impl fmt::Debug for BuildHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildHost")
            .field("env", &self.env.as_ref().map(|e| e.len()))
            .field("pools", &self.pools.as_ref().map(|(_, w)| w))
            .field("interrupt", &self.interrupt.is_some())
            .field("index", &self.index.is_some())
            .finish()
    }
}

/// Reads a variable from `env`, or from this process when `env` is `None`.
pub(crate) fn var(env: Option<&BTreeMap<String, String>>, name: &str) -> Option<String> {
    match env {
        Some(env) => env.get(name).cloned(),
        None => std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()),
    }
}
