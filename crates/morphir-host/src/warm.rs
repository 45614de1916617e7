//! Pools kept warm between builds: what a long-lived host (the daemon) hands each build, so a
//! rebuild finds its extensions compiled and idle instances ready.
//!
//! A pool is keyed by workspace, extension name, module hash and everything else it was made
//! with (limits, live cap). The hash is of the module's bytes as the build read them, so a
//! changed `.wasm` is a different key: the build gets a fresh pool, and [`WarmPools::insert`]
//! drops the one it replaces (a *reload*). Pools unused for [`WarmSettings::idle_timeout`] are
//! dropped by [`WarmPools::reap`], and idle instances beyond [`WarmSettings::max_idle_instances`]
//! (all pools together) are dropped, least recently used pools first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::InstancePool;

/// What identifies a warm pool.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    /// The workspace (the daemon uses its `morphir.toml`'s canonical path).
    pub workspace: String,
    /// The extension's name in the workspace's configuration.
    pub extension: String,
    /// blake3 of the module's bytes.
    pub module_hash: [u8; 32],
    /// Everything else the pool depends on (limits, live-instance cap), as text.
    pub variant: String,
}

/// Limits of a [`WarmPools`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarmSettings {
    /// A pool unused for this long is dropped (its module and instances freed).
    pub idle_timeout: Duration,
    /// At most this many idle instances are kept, all pools together.
    pub max_idle_instances: usize,
}

impl Default for WarmSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_mins(30),
            max_idle_instances: 64,
        }
    }
}

#[derive(Debug)]
struct Entry {
    pool: Arc<InstancePool>,
    last_used: Instant,
    uses: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<PoolKey, Entry>,
    reloads: u64,
    reaped_pools: u64,
    trimmed_instances: u64,
}

/// Warm instance pools shared by the builds of a long-lived process. Thread-safe.
#[derive(Debug)]
pub struct WarmPools {
    settings: WarmSettings,
    state: Mutex<State>,
}

/// One pool, as [`WarmPools::status`] reports it.
#[derive(Debug, Clone)]
pub struct PoolStatus {
    /// Its key.
    pub key: PoolKey,
    /// Instances idle in it.
    pub idle_instances: usize,
    /// Instances lent out right now.
    pub busy_instances: usize,
    /// How long since a build last asked for it.
    pub idle_for: Duration,
    /// How many builds asked for it.
    pub uses: u64,
}

/// What [`WarmPools::status`] reports.
#[derive(Debug, Clone)]
pub struct WarmStatus {
    /// The limits.
    pub settings: WarmSettings,
    /// Every pool, by key.
    pub pools: Vec<PoolStatus>,
    /// Idle instances, all pools together.
    pub idle_instances: usize,
    /// Pools replaced because their module changed.
    pub reloads: u64,
    /// Pools dropped after `idle_timeout`.
    pub reaped_pools: u64,
    /// Idle instances dropped to keep under `max_idle_instances`.
    pub trimmed_instances: u64,
}

impl WarmPools {
    /// No pools yet.
    pub fn new(settings: WarmSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool for `key`, if one is warm.
    pub fn get(&self, key: &PoolKey) -> Option<Arc<InstancePool>> {
        let mut state = self.state();
        let entry = state.entries.get_mut(key)?;
        entry.last_used = Instant::now();
        entry.uses += 1;
        Some(Arc::clone(&entry.pool))
    }

    /// Keeps `pool` warm under `key` and returns the pool to use: the one already there when
    /// another build got in first. A pool of the same workspace, extension and variant with
    /// another module hash is dropped: its module changed.
    pub fn insert(&self, key: PoolKey, pool: Arc<InstancePool>) -> Arc<InstancePool> {
        let mut state = self.state();
        if let Some(entry) = state.entries.get_mut(&key) {
            entry.last_used = Instant::now();
            entry.uses += 1;
            return Arc::clone(&entry.pool);
        }
        let before = state.entries.len();
        state.entries.retain(|k, _| {
            !(k.workspace == key.workspace
                && k.extension == key.extension
                && k.variant == key.variant)
        });
        let replaced = (before - state.entries.len()) as u64;
        state.reloads += replaced;
        if replaced > 0 {
            tracing::info!(
                workspace = %key.workspace,
                extension = %key.extension,
                "module changed: warm pool replaced"
            );
        }
        state.entries.insert(
            key,
            Entry {
                pool: Arc::clone(&pool),
                last_used: Instant::now(),
                uses: 1,
            },
        );
        pool
    }

    /// Drops pools unused for `idle_timeout` that no build holds, then idle instances beyond
    /// the cap. Returns how many pools were dropped.
    pub fn reap(&self) -> usize {
        let timeout = self.settings.idle_timeout;
        let mut state = self.state();
        let before = state.entries.len();
        state
            .entries
            .retain(|_, e| Arc::strong_count(&e.pool) > 1 || e.last_used.elapsed() < timeout);
        let reaped = before - state.entries.len();
        state.reaped_pools += reaped as u64;
        drop(state);
        self.enforce_idle_cap();
        reaped
    }

    /// Drops idle instances, least recently used pools first, until at most
    /// `max_idle_instances` are left. Returns how many were dropped.
    pub fn enforce_idle_cap(&self) -> usize {
        let mut state = self.state();
        let mut pools: Vec<(Instant, Arc<InstancePool>)> = state
            .entries
            .values()
            .map(|e| (e.last_used, Arc::clone(&e.pool)))
            .collect();
        let mut excess = pools
            .iter()
            .map(|(_, p)| p.idle())
            .sum::<usize>()
            .saturating_sub(self.settings.max_idle_instances);
        let mut dropped = 0;
        pools.sort_by_key(|(used, _)| *used);
        for (_, pool) in pools {
            if excess == 0 {
                break;
            }
            let keep = pool.idle().saturating_sub(excess);
            let n = pool.trim_idle(keep);
            excess = excess.saturating_sub(n);
            dropped += n;
        }
        state.trimmed_instances += dropped as u64;
        dropped
    }

    /// Drops every pool (shutdown).
    pub fn clear(&self) {
        self.state().entries.clear();
    }

    /// Every pool and the counters.
    pub fn status(&self) -> WarmStatus {
        let state = self.state();
        let pools: Vec<PoolStatus> = state
            .entries
            .iter()
            .map(|(key, e)| PoolStatus {
                key: key.clone(),
                idle_instances: e.pool.idle(),
                busy_instances: e.pool.busy(),
                idle_for: e.last_used.elapsed(),
                uses: e.uses,
            })
            .collect();
        WarmStatus {
            settings: self.settings,
            idle_instances: pools.iter().map(|p| p.idle_instances).sum(),
            pools,
            reloads: state.reloads,
            reaped_pools: state.reaped_pools,
            trimmed_instances: state.trimmed_instances,
        }
    }
}
