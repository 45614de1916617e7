//! `morphir cache stats | prune | clean`.
//!
//! # Why pruning while another process builds is safe
//!
//! The invariant readers rely on is local: a hit is served only if the record's checksum, key
//! and manifest verify *and* every blob it names re-hashes to its name. Nothing prune does can
//! make bytes verify that did not, so the worst a concurrent prune can do to a reader is delete
//! a record or blob the reader is about to open: the reader then sees "not found" and reports a
//! miss (a file already open stays readable until closed, on Unix, and is still verified).
//!
//! Writers are the subtle case. A writer that finds a blob already present skips writing it and
//! then writes a record pointing at it; a prune that listed the records before that record
//! existed would think the blob unreferenced and delete it, leaving a record whose blob is gone
//! (a miss later, but a lost entry). To rule that out, every write (`put`, `put_blob`,
//! `set_last_run`) holds the bucket lock (`<bucket>/lock`) *shared* for its whole duration,
//! and prune and clean hold it *exclusive*. So prune sees every write either completely or not
//! at all, and writers never wait for each other. The lock is an OS file lock, released when
//! its holder dies, so a killed process never wedges the cache. Readers take no lock; a
//! reader's repair (removing an entry that failed verification) can at worst remove an entry a
//! concurrent writer just rewrote, which is again a later miss.
//!
//! Temp files (`.tmp-*`) are only ever written under the shared lock, so while prune holds
//! the exclusive lock every one of them belongs to a dead writer (a crashed or killed build),
//! and prune removes them all. Only where the filesystem has no locks does prune spare those
//! younger than [`PruneOptions::temp_grace`], since a live writer may own them.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::fsutil::{TMP_PREFIX, io_err, remove_if_exists};
use crate::store::{ACTIONS, BLOBS, HitRecord, LAST_RUN_INDEX, RecordBody, STEPS, parse_record};
use crate::{CACHE_FORMAT_VERSION, Digest, Key, Result, Store};

/// What is in the store ([`Store::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Action records (cache entries).
    pub records: u64,
    /// Their total size in bytes.
    pub record_bytes: u64,
    /// Blobs (referenced or not).
    pub blobs: u64,
    /// Their total size in bytes.
    pub blob_bytes: u64,
    /// Last-run entries (one per step id seen).
    pub last_runs: u64,
    /// Their total size in bytes.
    pub last_run_bytes: u64,
    /// Remembered capabilities of extension modules ([`crate::CAPABILITIES_DIR`]).
    pub capabilities: u64,
    /// Their total size in bytes.
    pub capability_bytes: u64,
    /// Temp files (writes in progress, or left by a crashed writer).
    pub temp_files: u64,
    /// Their total size in bytes.
    pub temp_bytes: u64,
    /// All of the above, in bytes.
    pub total_bytes: u64,
    /// The least recently used record's last use.
    pub oldest_use: Option<SystemTime>,
    /// The most recently used record's last use.
    pub newest_use: Option<SystemTime>,
}

/// What [`Store::prune`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOptions {
    /// Evict least-recently-used records until records, the blobs they reference and the
    /// last-run entries fit in this many bytes.
    pub max_size: Option<u64>,
    /// Evict records (and last-run entries) not used for this long.
    pub max_age: Option<Duration>,
    /// Where the filesystem has no file locks, remove only temp files older than this (default
    /// 10 minutes). With locks, prune removes every temp file: under its exclusive lock no
    /// writer is alive to own one.
    pub temp_grace: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            max_size: None,
            max_age: None,
            temp_grace: Duration::from_mins(10),
        }
    }
}

impl PruneOptions {
    /// Options with a size and an age limit and the default temp-file grace.
    pub fn new(max_size: Option<u64>, max_age: Option<Duration>) -> Self {
        Self {
            max_size,
            max_age,
            ..Self::default()
        }
    }
}

/// What [`Store::prune`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Records evicted by age or size.
    pub records_removed: u64,
    /// Records removed because they failed verification or named a missing blob.
    pub corrupt_removed: u64,
    /// Blobs no remaining record references.
    pub blobs_removed: u64,
    /// Last-run entries older than `max_age`, or corrupt.
    pub last_runs_removed: u64,
    /// Remembered capabilities not used for `max_age` (the next build that needs one compiles
    /// its module once to learn them again).
    pub capabilities_removed: u64,
    /// Stale temp files.
    pub temp_removed: u64,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Bytes left (records, blobs, last-run entries, remembered capabilities).
    pub bytes_remaining: u64,
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    name: String,
    len: u64,
    modified: SystemTime,
}

/// Regular files of `dir`, or of each subdirectory of `dir` when `sharded`. A missing directory
/// is empty; files that vanish while listed (a concurrent repair) are skipped.
fn list(dir: &Path, sharded: bool) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let dirs = if sharded {
        read_dir(dir)?
            .into_iter()
            .filter(|(_, meta)| meta.is_dir())
            .map(|(path, _)| path)
            .collect()
    } else {
        vec![dir.to_owned()]
    };
    for d in dirs {
        for (path, meta) in read_dir(&d)? {
            if !meta.is_file() {
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            out.push(Entry {
                path,
                name,
                len: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
    }
    Ok(out)
}

fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, fs::Metadata)>> {
    let iter = match fs::read_dir(dir) {
        Ok(iter) => iter,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in iter {
        let entry = entry.map_err(io_err("list", dir))?;
        let path = entry.path();
        match fs::symlink_metadata(&path) {
            Ok(meta) => out.push((path, meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("stat", &path)(e)),
        }
    }
    Ok(out)
}

/// The hash a canonical entry file name encodes (lower-case hex, in its own shard).
fn hashed_name<T: std::str::FromStr + std::fmt::Display>(
    entry: &Entry,
    sharded: bool,
) -> Option<T> {
    let value: T = entry.name.parse().ok()?;
    let canonical = value.to_string() == entry.name;
    let in_shard = !sharded
        || entry
            .path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|shard| shard.to_str() == Some(&entry.name[..2]));
    (canonical && in_shard).then_some(value)
}

fn is_temp(entry: &Entry) -> bool {
    entry.name.starts_with(TMP_PREFIX)
}

/// `<64 hex digits>.json`: a capabilities entry.
fn is_capabilities(entry: &Entry) -> bool {
    entry
        .name
        .strip_suffix(".json")
        .and_then(|hex| hex.parse::<Digest>().ok().map(|d| d.to_string() == hex))
        .unwrap_or(false)
}

fn older_than(modified: SystemTime, now: SystemTime, age: Duration) -> bool {
    now.duration_since(modified).is_ok_and(|d| d > age)
}

fn remove(path: &Path) -> Result<bool> {
    remove_if_exists(path).map_err(io_err("remove", path))
}

#[derive(Debug, Default)]
struct Scan {
    records: Vec<(Key, Entry)>,
    blobs: HashMap<Digest, Entry>,
    last_runs: Vec<Entry>,
}

fn expired(e: &Entry, now: SystemTime, options: &PruneOptions) -> bool {
    options
        .max_age
        .is_some_and(|age| older_than(e.modified, now, age))
}

/// Reads every record: removes those that fail verification or name a missing blob, and
/// those older than `max_age`. Returns the rest with the digests of their blob outputs.
fn live_records(
    records: Vec<(Key, Entry)>,
    blobs: &HashMap<Digest, Entry>,
    now: SystemTime,
    options: &PruneOptions,
    report: &mut PruneReport,
) -> Result<Vec<(Entry, Vec<Digest>)>> {
    let mut live = Vec::new();
    for (key, e) in records {
        let outputs = match fs::read(&e.path) {
            // The blobs it needs: its outputs not stored inline.
            Ok(bytes) => parse_record::<HitRecord>(&key, &bytes)
                .ok()
                .map(|(record, inline)| {
                    record
                        .outputs()
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| inline.get(*i).copied().flatten().is_none())
                        .map(|(_, d)| *d)
                        .collect::<Vec<_>>()
                })
                .filter(|outputs| outputs.iter().all(|d| blobs.contains_key(d))),
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_err("read", &e.path)(err)),
        };
        let Some(outputs) = outputs else {
            tracing::warn!(%key, "pruning a record that fails verification");
            if remove(&e.path)? {
                report.corrupt_removed += 1;
                report.bytes_freed += e.len;
            }
            continue;
        };
        if expired(&e, now, options) {
            if remove(&e.path)? {
                report.records_removed += 1;
                report.bytes_freed += e.len;
            }
            continue;
        }
        live.push((e, outputs));
    }
    Ok(live)
}

impl Store {
    /// Counts entries and bytes. Lists directories; reads no file.
    pub fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        let dirs = [(ACTIONS, true), (BLOBS, true), (STEPS, false)];
        for (dir, sharded) in dirs {
            for e in list(&self.bucket().join(dir), sharded)? {
                if is_temp(&e) {
                    s.temp_files += 1;
                    s.temp_bytes += e.len;
                    s.total_bytes += e.len;
                    continue;
                }
                // Files that are not ours (someone's notes) are not counted, as prune keeps them.
                if hashed_name::<Digest>(&e, sharded).is_none() {
                    continue;
                }
                s.total_bytes += e.len;
                match dir {
                    ACTIONS => {
                        s.records += 1;
                        s.record_bytes += e.len;
                        s.oldest_use = Some(s.oldest_use.map_or(e.modified, |t| t.min(e.modified)));
                        s.newest_use = Some(s.newest_use.map_or(e.modified, |t| t.max(e.modified)));
                    }
                    BLOBS => {
                        s.blobs += 1;
                        s.blob_bytes += e.len;
                    }
                    _ => {
                        s.last_runs += 1;
                        s.last_run_bytes += e.len;
                    }
                }
            }
        }
        for e in list(&self.capabilities_dir(), false)? {
            if is_temp(&e) {
                s.temp_files += 1;
                s.temp_bytes += e.len;
            } else if is_capabilities(&e) {
                s.capabilities += 1;
                s.capability_bytes += e.len;
            } else {
                continue;
            }
            s.total_bytes += e.len;
        }
        Ok(s)
    }

    /// [`crate::CAPABILITIES_DIR`] under the root.
    fn capabilities_dir(&self) -> PathBuf {
        self.root().join(crate::CAPABILITIES_DIR)
    }

    /// Remembered capabilities: by age only. They are a few hundred bytes per module, so the
    /// size limit leaves them be; removing one costs a compile of its module. The build
    /// refreshes an entry's mtime when it uses it, so the age is time since last use.
    fn prune_capabilities(
        &self,
        now: SystemTime,
        options: &PruneOptions,
        report: &mut PruneReport,
    ) -> Result<u64> {
        let mut kept = 0;
        for e in list(&self.capabilities_dir(), false)? {
            let old = if is_temp(&e) {
                older_than(e.modified, now, options.temp_grace)
            } else if is_capabilities(&e) {
                expired(&e, now, options)
            } else {
                continue;
            };
            if old && remove(&e.path)? {
                report.bytes_freed += e.len;
                if is_temp(&e) {
                    report.temp_removed += 1;
                } else {
                    report.capabilities_removed += 1;
                }
            } else if !is_temp(&e) {
                kept += e.len;
            }
        }
        Ok(kept)
    }

    /// Evicts records by age, then least recently used first until the size limit holds, then
    /// removes every blob no remaining record references, records that fail verification or
    /// name a missing blob, and stale temp files. Holds the bucket lock exclusively, so writers
    /// wait; readers do not (see the module docs for why that is safe).
    ///
    /// Reads every record (to know which blobs are referenced), so it costs a pass over the
    /// cache: meant for `morphir cache prune`, not for every build.
    pub fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        let lock = self.lock(true)?;
        let now = SystemTime::now();
        let mut report = PruneReport::default();
        let temp_grace = (!lock.held()).then_some(options.temp_grace);
        let scan = self.scan(now, temp_grace, &mut report)?;

        // Last-run entries: by age only (they are small and explain misses).
        let mut kept_bytes = 0;
        for e in scan.last_runs {
            if expired(&e, now, options) {
                if remove(&e.path)? {
                    report.last_runs_removed += 1;
                    report.bytes_freed += e.len;
                }
            } else {
                kept_bytes += e.len;
            }
        }
        if report.last_runs_removed > 0 {
            self.remove_shortcuts()?;
        }

        let mut live = live_records(scan.records, &scan.blobs, now, options, &mut report)?;

        // Size: least recently used first (ties by path, for determinism).
        let mut refs: HashMap<Digest, u32> = HashMap::new();
        for (_, outputs) in &live {
            for d in outputs {
                *refs.entry(*d).or_default() += 1;
            }
        }
        let mut size = kept_bytes
            + live.iter().map(|(e, _)| e.len).sum::<u64>()
            + refs.keys().map(|d| scan.blobs[d].len).sum::<u64>();
        if let Some(max) = options.max_size {
            live.sort_by(|(a, _), (b, _)| a.modified.cmp(&b.modified).then(a.path.cmp(&b.path)));
            for (e, outputs) in &live {
                if size <= max {
                    break;
                }
                size -= e.len;
                for d in outputs {
                    let n = refs.get_mut(d).expect("counted above");
                    *n -= 1;
                    if *n == 0 {
                        refs.remove(d);
                        size -= scan.blobs[d].len;
                    }
                }
                if remove(&e.path)? {
                    report.records_removed += 1;
                    report.bytes_freed += e.len;
                }
            }
        }

        // Blobs: whatever no remaining record references.
        for (digest, e) in &scan.blobs {
            if !refs.contains_key(digest) && remove(&e.path)? {
                report.blobs_removed += 1;
                report.bytes_freed += e.len;
            }
        }
        if report.records_removed + report.corrupt_removed > 0 {
            // The index keeps copies of small records: it would serve the ones removed.
            self.remove_shortcuts()?;
        }
        report.bytes_remaining = size + self.prune_capabilities(now, options, &mut report)?;
        tracing::info!(?report, "pruned the cache");
        Ok(report)
    }

    /// Removes the last-run index, which could vouch for (or hold a copy of) an entry that is
    /// gone, and morphir-build's output stamps (cache/README.md): both only shortcuts, which
    /// the next build writes afresh.
    fn remove_shortcuts(&self) -> Result<()> {
        remove(&self.bucket().join(LAST_RUN_INDEX))?;
        remove(&self.bucket().join("outputs.stamps"))?;
        Ok(())
    }

    /// Lists the bucket, removing temp files on the way (only those older than `temp_grace`,
    /// when given).
    fn scan(
        &self,
        now: SystemTime,
        temp_grace: Option<Duration>,
        report: &mut PruneReport,
    ) -> Result<Scan> {
        let mut scan = Scan::default();
        for (dir, sharded) in [(ACTIONS, true), (BLOBS, true), (STEPS, false)] {
            for e in list(&self.bucket().join(dir), sharded)? {
                if is_temp(&e) {
                    if temp_grace.is_none_or(|grace| older_than(e.modified, now, grace))
                        && remove(&e.path)?
                    {
                        report.temp_removed += 1;
                        report.bytes_freed += e.len;
                    }
                    continue;
                }
                match dir {
                    ACTIONS => {
                        if let Some(key) = hashed_name::<Key>(&e, true) {
                            scan.records.push((key, e));
                        }
                    }
                    BLOBS => {
                        if let Some(digest) = hashed_name::<Digest>(&e, true) {
                            scan.blobs.insert(digest, e);
                        }
                    }
                    _ => {
                        if hashed_name::<Digest>(&e, false).is_some() {
                            scan.last_runs.push(e);
                        }
                    }
                }
            }
        }
        Ok(scan)
    }

    /// Removes every entry of this bucket, every other version's bucket (`<root>/v<N>`) and the
    /// remembered capabilities (`<root>/capabilities-v<N>`). Other files under the root (such
    /// as a README) are left alone.
    pub fn clean(&self) -> Result<()> {
        let _lock = self.lock(true)?;
        remove(&self.bucket().join(LAST_RUN_INDEX))?;
        // morphir-build's output stamps (cache/README.md): only a shortcut, gone with the rest.
        remove(&self.bucket().join("outputs.stamps"))?;
        for dir in [ACTIONS, BLOBS, STEPS] {
            let path = self.bucket().join(dir);
            match fs::remove_dir_all(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &path)(e)),
            }
            fs::create_dir_all(&path).map_err(io_err("create directory", &path))?;
        }
        // Remembered capabilities go too, of every version of their layout.
        for (path, meta) in read_dir(self.root())? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if meta.is_dir() && name.starts_with("capabilities-v") {
                fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            }
        }
        let ours = format!("v{CACHE_FORMAT_VERSION}");
        for (path, meta) in read_dir(self.root())? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let is_bucket = name
                .strip_prefix('v')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if meta.is_dir() && is_bucket && name != ours {
                fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            }
        }
        tracing::info!(root = %self.root().display(), "cleaned the cache");
        Ok(())
    }
}
