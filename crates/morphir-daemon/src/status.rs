//! `morphir daemon status --json`: what the daemon reports about itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The daemon, as `morphir daemon status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonStatus {
    /// Its process id.
    pub pid: u32,
    /// Its morphir version.
    pub version: String,
    /// Its protocol version.
    pub protocol: u32,
    /// Its socket.
    pub socket: PathBuf,
    /// Milliseconds since it started.
    pub uptime_ms: u64,
    /// Builds running now.
    pub active_builds: usize,
    /// Builds run since it started.
    pub builds: u64,
    /// The warm pools.
    pub warm: WarmInfo,
    /// TEA sessions running now (`morphir session`).
    #[serde(default)]
    pub sessions: Vec<crate::SessionInfo>,
}

/// The warm pools and their limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarmInfo {
    /// A pool unused for this long is dropped.
    pub idle_timeout_ms: u64,
    /// At most this many idle instances are kept, all pools together.
    pub max_idle_instances: usize,
    /// Idle instances now, all pools together.
    pub idle_instances: usize,
    /// Pools replaced because their module changed.
    pub reloads: u64,
    /// Pools dropped after the idle timeout.
    pub reaped_pools: u64,
    /// Idle instances dropped to hold the cap.
    pub trimmed_instances: u64,
    /// Per workspace (its `morphir.toml`).
    pub workspaces: Vec<WorkspaceInfo>,
}

/// One workspace's pools.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// The workspace's `morphir.toml`.
    pub workspace: String,
    /// Its pools.
    pub pools: Vec<PoolInfo>,
}

/// One warm pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolInfo {
    /// The extension.
    pub extension: String,
    /// `blake3:<hex>` of its module.
    pub module_hash: String,
    /// Idle instances.
    pub idle_instances: usize,
    /// Instances lent out now.
    pub busy_instances: usize,
    /// Milliseconds since a build last asked for it.
    pub idle_ms: u64,
    /// Builds that asked for it.
    pub uses: u64,
}

impl WarmInfo {
    pub(crate) fn from_status(status: &morphir_host::WarmStatus) -> Self {
        let mut workspaces: BTreeMap<String, Vec<PoolInfo>> = BTreeMap::new();
        for pool in &status.pools {
            let hash = status_hash(&pool.key.module_hash);
            workspaces
                .entry(pool.key.workspace.clone())
                .or_default()
                .push(PoolInfo {
                    extension: pool.key.extension.clone(),
                    module_hash: hash,
                    idle_instances: pool.idle_instances,
                    busy_instances: pool.busy_instances,
                    idle_ms: millis(pool.idle_for),
                    uses: pool.uses,
                });
        }
        Self {
            idle_timeout_ms: millis(status.settings.idle_timeout),
            max_idle_instances: status.settings.max_idle_instances,
            idle_instances: status.idle_instances,
            reloads: status.reloads,
            reaped_pools: status.reaped_pools,
            trimmed_instances: status.trimmed_instances,
            workspaces: workspaces
                .into_iter()
                .map(|(workspace, pools)| WorkspaceInfo { workspace, pools })
                .collect(),
        }
    }
}

fn status_hash(hash: &[u8; 32]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("blake3:");
    for b in hash {
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
