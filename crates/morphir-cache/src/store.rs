//! The store: put a step's outputs under its key, look them up again, verifying everything.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use morphir_envelope::Envelope;

use crate::frame::{self, LAST_RUN_INDEX_MAGIC, LAST_RUN_MAGIC, RECORD_INLINE_MAGIC, RECORD_MAGIC};
use crate::fsutil::{self, LockGuard, io_err, read_file, remove_if_exists, write_atomic};
use crate::record::now_ms;
use crate::{
    ActionRecord, CACHE_FORMAT_VERSION, Digest, Error, Key, KeyManifest, LastRun, LogLine,
    NewAction, Result,
};

pub(crate) const BLOBS: &str = "blobs";
pub(crate) const ACTIONS: &str = "actions";
pub(crate) const STEPS: &str = "steps";
pub(crate) const LOCK: &str = "lock";
/// An output whose encoded envelope is at most this long is stored inside its action record
/// instead of as a blob: a hit on it reads one file (four system calls and one digest fewer).
/// Larger outputs stay blobs, shared between records and read only when needed.
pub const INLINE_MAX: usize = 64 << 10;
/// The last-run index (see [`LastRunIndex`]), beside `steps/`.
pub(crate) const LAST_RUN_INDEX: &str = "steps.index";
/// Record files at most this long are kept in the last-run index too, so a hit on them reads
/// no file (see [`LastRunIndex`]). Larger ones are read from their file: their outputs cost
/// more than the four system calls, and the index stays small (about 1.3 KiB per step for
/// small outputs, read in full by every build).
const INDEX_RECORD_MAX: usize = 8 << 10;
/// Taken exclusive while the index is merged and replaced.
const LAST_RUN_INDEX_LOCK: &str = "steps.index.lock";

/// How hard a write tries to survive power loss. Neither setting affects correctness: every
/// read verifies, so a write lost or torn by a power cut is a miss, never a wrong hit. A
/// killed process (SIGKILL, panic, OOM) loses nothing already renamed into place in either
/// mode, because the page cache outlives the process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// No fsync (the default). Atomic temp-file-and-rename writes only. After a power cut or
    /// kernel crash, entries written in the last seconds may be missing or torn; reads turn
    /// them into misses (and remove them). A build writes thousands of small files, and an
    /// fsync each costs milliseconds, which would make caching slower than some steps.
    #[default]
    Atomic,
    /// fsync every blob, then its directory, before the record that points to it; then the
    /// record and its directory. When `put` returns, the entry survives power loss, and a
    /// durable record never points to a blob that is not.
    Fsync,
}

/// Options of [`Store::open_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// The fsync strategy.
    pub durability: Durability,
}

/// A local content-addressed store rooted at a directory (`cache/` by default); this version
/// reads and writes the bucket `<root>/v1/` only. Cheap to clone; `Send + Sync`; any number of
/// threads and processes may use one root at once (see the crate docs for why).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    bucket: PathBuf,
    options: StoreOptions,
    /// The last-run index, read on first use, shared by the clones of this store.
    index: Arc<Mutex<IndexSlot>>,
}

/// Where a [`Store`]'s last-run index is.
#[derive(Debug, Default)]
enum IndexSlot {
    /// Not read yet: the first use reads it.
    #[default]
    Unread,
    /// Being read by an [`IndexPrefetch`]: the first use waits for it.
    Reading(std::thread::JoinHandle<Entries>),
    Read(LastRunIndex),
}

/// The entries of a last-run index file (none when it is missing or unreadable).
type Entries = HashMap<[u8; 32], IndexEntry>;

/// The last-run index of the store at a root, read on a thread of its own before the store is
/// opened: a build starts this before it loads its configuration, which takes longer than the
/// read (a file of about 1.3 KiB per step), and hands it to [`Store::adopt_index`] once the
/// configuration names the cache directory. Reads only; creates nothing.
#[derive(Debug)]
pub struct IndexPrefetch {
    bucket: PathBuf,
    thread: Option<std::thread::JoinHandle<Entries>>,
}

impl IndexPrefetch {
    /// Starts reading the index of the store at `root` (as [`Store::open`] takes it). Without a
    /// thread to read on, does nothing: the store then reads the index itself.
    pub fn start(root: impl Into<PathBuf>) -> Self {
        let bucket = bucket_of(&root.into());
        let file = bucket.join(LAST_RUN_INDEX);
        let thread = std::thread::Builder::new()
            .name("morphir-cache-index".to_owned())
            .spawn(move || read_index(&file))
            .inspect_err(|e| {
                tracing::debug!("cannot start a thread to read the last-run index: {e}");
            })
            .ok();
        Self { bucket, thread }
    }
}

fn bucket_of(root: &Path) -> PathBuf {
    root.join(format!("v{CACHE_FORMAT_VERSION}"))
}

/// The entries of the index file at `path`.
fn read_index(path: &Path) -> Entries {
    fs::read(path)
        .ok()
        .and_then(|bytes| LastRunIndex::decode(&bytes.into()))
        .unwrap_or_default()
}

/// Which key each step last ran with, for every step, and (when small) that key's record:
/// one file read once per build, so that a cached step reads neither its last-run entry (to
/// learn that nothing changed) nor its record file (four system calls each, together over a
/// third of a fully cached build). Only a shortcut: the entries in `steps/` and `actions/`
/// stay the truth. A step whose key is not the one here takes the full path (read its entry,
/// rewrite it if needed) and updates the index, which [`Store::flush_last_runs`] merges into
/// the file at the end of the build. Prune and clean remove the file with any entry they
/// remove, so it never vouches for an entry that is gone.
///
/// A record served from here is verified as one read from its file is (its own frame's
/// checksum and key, inside the index's): the bytes are a copy of the file, made when it was
/// read or written. The file is not looked at, not even with a `stat` (resolving its path was
/// most of what a lookup cost), except to refresh its mtime, the LRU clock prune reads, at
/// most once a minute, as a hit from the file does; a file found gone then sends the step to
/// the full path. So a record file deleted or damaged by hand can go unnoticed while the index
/// holds a good copy, which is still a correct hit; `morphir cache clean` removes both.
#[derive(Debug, Default)]
struct LastRunIndex {
    entries: Entries,
    /// Entries changed since the file was read.
    changed: Entries,
}

/// One step in the [`LastRunIndex`].
#[derive(Debug, Clone)]
struct IndexEntry {
    /// The key its entry in `steps/` names.
    key: Key,
    /// The record file of that key, when small enough.
    record: Option<IndexedRecord>,
}

/// A record file's bytes, and its modification time (nanoseconds since the epoch) when they
/// were read or written, or when a hit last refreshed it.
#[derive(Debug, Clone)]
struct IndexedRecord {
    mtime_ns: u64,
    /// A slice of the index file as read, shared by all its records: decoding the index copies
    /// nothing (a copy and an allocation per record were half of reading it).
    bytes: Bytes,
}

impl LastRunIndex {
    /// Frame body: per step, sorted by step: the 32-byte step-id hash, the 32-byte key, the
    /// record's mtime (u64 LE, nanoseconds) and length (u32 LE, 0 for none), and the record.
    fn decode(file: &Bytes) -> Option<Entries> {
        let mut body = frame::decode(LAST_RUN_INDEX_MAGIC, file).ok()?;
        // The body is the end of `file` but for the frame's trailer: a record's place in `file`
        // follows from what is left after it, so that it is sliced out, not copied.
        let end = file.len() - frame::TRAILER;
        let mut entries = HashMap::new();
        while !body.is_empty() {
            let (step, rest) = body.split_first_chunk::<32>()?;
            let (key, rest) = rest.split_first_chunk::<32>()?;
            let (mtime, rest) = rest.split_first_chunk::<8>()?;
            let (len, rest) = rest.split_first_chunk::<4>()?;
            let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
            let (_, rest) = rest.split_at_checked(len)?;
            body = rest;
            let start = end - rest.len() - len;
            let record = (len > 0).then(|| IndexedRecord {
                mtime_ns: u64::from_le_bytes(*mtime),
                bytes: file.slice(start..start + len),
            });
            let key = Key::from_bytes(*key);
            entries.insert(*step, IndexEntry { key, record });
        }
        Some(entries)
    }

    fn encode(entries: &Entries) -> Vec<u8> {
        let mut sorted: Vec<(&[u8; 32], &IndexEntry)> = entries.iter().collect();
        sorted.sort_unstable_by_key(|(step, _)| **step);
        let size = sorted
            .iter()
            .map(|(_, e)| 76 + e.record.as_ref().map_or(0, |r| r.bytes.len()))
            .sum();
        let mut body = Vec::with_capacity(size);
        for (step, entry) in sorted {
            body.extend_from_slice(step);
            body.extend_from_slice(entry.key.as_bytes());
            let (mtime, record) = entry
                .record
                .as_ref()
                .map_or((0, &[][..]), |r| (r.mtime_ns, &r.bytes[..]));
            body.extend_from_slice(&mtime.to_le_bytes());
            let len = u32::try_from(record.len()).expect("indexed records are small");
            body.extend_from_slice(&len.to_le_bytes());
            body.extend_from_slice(record);
        }
        frame::encode(LAST_RUN_INDEX_MAGIC, &body)
    }
}

/// What [`Store::lookup`] found ([`Hit`]), or [`Store::lookup_step`] ([`StepHit`]).
#[derive(Debug)]
pub enum Lookup<H = Hit> {
    /// A verified record and its outputs.
    Hit(Box<H>),
    /// No record for the key.
    Miss,
    /// A record existed but could not be trusted; it (and any bad blob) has been removed, so
    /// this is a miss the executor may report as "repaired".
    Corrupt(Corruption),
}

/// A verified cache hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The action record.
    pub record: ActionRecord,
    /// The output envelopes, decoded from verified blobs, in record order. Their headers are
    /// the original run's: the executor restamps them.
    pub outputs: Vec<Envelope>,
}

/// A verified cache hit as a build serves it ([`Store::lookup_step`]): what the step gave and
/// logged. The record's manifest (for `--explain` and tools; most of its bytes) is not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepHit {
    /// As in [`Hit::outputs`].
    pub outputs: Vec<Envelope>,
    /// What the step logged when it ran.
    pub logs: Vec<LogLine>,
}

/// The part of an action record's JSON a hit is served from: serde skips the other fields
/// without building them.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct HitRecord {
    key: Key,
    outputs: Vec<Digest>,
    #[serde(default)]
    inline: Vec<u64>,
    logs: Vec<LogLine>,
}

/// A record's JSON body as [`parse_record`] checks it: whole, or only what a hit needs.
pub(crate) trait RecordBody: serde::de::DeserializeOwned {
    fn key(&self) -> &Key;
    fn outputs(&self) -> &[Digest];
    fn inline(&self) -> &[u64];
}

impl RecordBody for ActionRecord {
    fn key(&self) -> &Key {
        &self.key
    }
    fn outputs(&self) -> &[Digest] {
        &self.outputs
    }
    fn inline(&self) -> &[u64] {
        &self.inline
    }
}

impl RecordBody for HitRecord {
    fn key(&self) -> &Key {
        &self.key
    }
    fn outputs(&self) -> &[Digest] {
        &self.outputs
    }
    fn inline(&self) -> &[u64] {
        &self.inline
    }
}

/// Why an entry was not served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// The record file is torn, has a bad checksum, or its body is not a record.
    #[error("record unreadable: {0}")]
    Record(String),
    /// The record names another key than its file name.
    #[error("record belongs to key {0}")]
    WrongKey(Key),
    /// The record's manifest does not hash to its key ([`decode_record`] only).
    #[error("record manifest does not hash to its key")]
    ManifestMismatch,
    /// An output blob is missing (pruned concurrently, or lost in a power cut).
    #[error("output blob {0} is missing")]
    BlobMissing(Digest),
    /// An output blob's bytes do not hash to its name.
    #[error("output blob {0} is corrupt")]
    BlobCorrupt(Digest),
    /// An output blob verified but is not an encoded envelope.
    #[error("output blob {0} is not an envelope: {1}")]
    BadEnvelope(Digest, String),
}

fn shard(hex: &str) -> &str {
    &hex[..2]
}

impl Store {
    /// Opens (creating if needed) the store at `root` with default options.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        Self::open_with(root, StoreOptions::default())
    }

    /// Opens (creating if needed) the store at `root`.
    pub fn open_with(root: impl Into<PathBuf>, options: StoreOptions) -> Result<Self> {
        let root = root.into();
        let bucket = bucket_of(&root);
        for dir in [BLOBS, ACTIONS, STEPS] {
            let dir = bucket.join(dir);
            fs::create_dir_all(&dir).map_err(io_err("create directory", &dir))?;
        }
        let lock = bucket.join(LOCK);
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io_err("create", &lock))?;
        Ok(Self {
            root,
            bucket,
            options,
            index: Arc::default(),
        })
    }

    /// The directory the store was opened at.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This version's bucket, `<root>/v1`.
    pub fn bucket(&self) -> &Path {
        &self.bucket
    }

    /// Where a blob lives: `<bucket>/blobs/<2 hex>/<64 hex>`.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.bucket.join(BLOBS).join(shard(&hex)).join(hex)
    }

    /// Where a key's action record lives: `<bucket>/actions/<2 hex>/<64 hex>`.
    pub fn record_path(&self, key: &Key) -> PathBuf {
        let hex = key.to_hex();
        self.bucket.join(ACTIONS).join(shard(&hex)).join(hex)
    }

    /// Where a step's last run is kept: `<bucket>/steps/<64 hex of the step id's hash>`.
    pub fn last_run_path(&self, step_id: &str) -> PathBuf {
        self.bucket
            .join(STEPS)
            .join(Digest::from_bytes(step_hash(step_id)).to_hex())
    }

    /// Runs `f` on the last-run index, read on first use (or taken from its prefetch).
    fn with_index<R>(&self, f: impl FnOnce(&mut LastRunIndex) -> R) -> R {
        let mut slot = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*slot, IndexSlot::Read(_)) {
            let entries = match std::mem::take(&mut *slot) {
                // A prefetch that panicked read nothing: the index is only a shortcut.
                IndexSlot::Reading(thread) => thread.join().unwrap_or_default(),
                IndexSlot::Unread | IndexSlot::Read(_) => {
                    read_index(&self.bucket.join(LAST_RUN_INDEX))
                }
            };
            *slot = IndexSlot::Read(LastRunIndex {
                entries,
                changed: HashMap::new(),
            });
        }
        let IndexSlot::Read(index) = &mut *slot else {
            unreachable!("read just above")
        };
        f(index)
    }

    /// Takes the last-run index from `prefetch` instead of reading it on first use, if it is
    /// this store's and no lookup has read the index yet; whether it did.
    pub fn adopt_index(&self, prefetch: IndexPrefetch) -> bool {
        let IndexPrefetch {
            bucket,
            thread: Some(thread),
        } = prefetch
        else {
            return false;
        };
        let mut slot = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        if bucket != self.bucket || !matches!(*slot, IndexSlot::Unread) {
            return false;
        }
        *slot = IndexSlot::Reading(thread);
        true
    }

    /// Reads the last-run index now, if no lookup has yet. A build calls it on a thread of its
    /// own as it starts, so the read (a file of about 1.3 KiB per step, mostly page faults of
    /// the new buffer) overlaps the rest of its start instead of delaying its first hit; a
    /// lookup meanwhile waits for it.
    pub fn preload_index(&self) {
        self.with_index(|_| ());
    }

    /// The key the index says `step` last ran with.
    fn indexed(&self, step: &[u8; 32]) -> Option<Key> {
        self.with_index(|index| index.entries.get(step).map(|e| e.key))
    }

    /// Records `key` as `step`'s last run (its record, if it was of this key, stays).
    fn index_set(&self, step: [u8; 32], key: Key) {
        self.with_index(|index| {
            let entry = index
                .entries
                .entry(step)
                .and_modify(|e| {
                    if e.key != key {
                        *e = IndexEntry { key, record: None };
                    }
                })
                .or_insert(IndexEntry { key, record: None });
            index.changed.insert(step, entry.clone());
        });
    }

    /// Keeps the record file bytes of `key`, modified at `mtime_ns`, in `step`'s entry, if that
    /// entry is of this key and the record is small.
    fn index_record(&self, step: [u8; 32], key: &Key, bytes: &[u8], mtime_ns: u64) {
        if bytes.len() > INDEX_RECORD_MAX || mtime_ns == 0 {
            return;
        }
        self.with_index(|index| {
            if let Some(entry) = index.entries.get_mut(&step)
                && entry.key == *key
            {
                entry.record = Some(IndexedRecord {
                    mtime_ns,
                    bytes: Bytes::copy_from_slice(bytes),
                });
                index.changed.insert(step, entry.clone());
            }
        });
    }

    /// The record the index keeps for `step`, if it is of `key`.
    fn indexed_record(&self, step: &[u8; 32], key: &Key) -> Option<IndexedRecord> {
        self.with_index(|index| {
            let entry = index.entries.get(step)?;
            (entry.key == *key).then(|| entry.record.clone()).flatten()
        })
    }

    /// Writes the last-run index's changes since it was read (merged with what other builds
    /// wrote meanwhile; ours win). Call once at the end of a build; cheap when nothing changed.
    pub fn flush_last_runs(&self) -> Result<()> {
        let changed = {
            let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *index {
                IndexSlot::Read(index) if !index.changed.is_empty() => {
                    std::mem::take(&mut index.changed)
                }
                _ => return Ok(()),
            }
        };
        // Shared bucket lock, as for every write (prune and clean remove the index under the
        // exclusive one); the index's own lock orders builds merging at once.
        let _bucket = self.lock(false)?;
        let _index = fsutil::lock(&self.bucket.join(LAST_RUN_INDEX_LOCK), true)?;
        // A prune may have removed records since this build read or wrote them (it removes
        // the index file too, but this build's copies would bring them back): only records
        // still there now go in, and none can go under the shared lock. Every entry of the file
        // was checked so when it was written, and any prune since then removed the file.
        let mut changed = changed;
        for entry in changed.values_mut() {
            if entry.record.is_some() && !self.record_path(&entry.key).exists() {
                entry.record = None;
            }
        }
        let path = self.bucket.join(LAST_RUN_INDEX);
        let mut entries = read_index(&path);
        entries.extend(changed);
        write_atomic(
            &path,
            &LastRunIndex::encode(&entries),
            self.sync(),
            "last-run-index-write",
        )
    }

    fn sync(&self) -> bool {
        self.options.durability == Durability::Fsync
    }

    pub(crate) fn lock(&self, exclusive: bool) -> Result<LockGuard> {
        fsutil::lock(&self.bucket.join(LOCK), exclusive)
    }

    /// Stores `bytes` as a blob and returns its digest. A blob already present and intact is
    /// not rewritten. A blob no record references is removed by the next prune.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let _lock = self.lock(false)?;
        self.put_blob_locked(bytes)
    }

    fn put_blob_locked(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.blob_path(&digest);
        match fs::metadata(&path) {
            // Same length: read it back and check. A different length is corrupt for sure.
            Ok(meta) if meta.len() == bytes.len() as u64 => {
                if let Some(existing) = read_file(&path)?
                    && Digest::of(&existing.bytes) == digest
                {
                    if self.sync() {
                        // It may have been written without fsync (by a store in `Atomic` mode).
                        existing.file.sync_all().map_err(io_err("fsync", &path))?;
                        fsutil::sync_dir(path.parent().expect("blobs live in a shard"))?;
                    }
                    return Ok(digest);
                }
                tracing::warn!(blob = %digest, "replacing a corrupt blob");
            }
            Ok(_) => tracing::warn!(blob = %digest, "replacing a corrupt (wrong-size) blob"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("stat", &path)(e)),
        }
        write_atomic(&path, bytes, self.sync(), "blob-write")?;
        Ok(digest)
    }

    /// A blob's bytes, verified against its digest; `None` when missing or corrupt (a corrupt
    /// blob is removed).
    pub fn get_blob(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        match self.load_blob(digest)? {
            Ok(bytes) => Ok(Some(bytes)),
            Err(why) => {
                if matches!(why, Corruption::BlobCorrupt(_)) {
                    self.repair(None, Some(digest), &why);
                }
                Ok(None)
            }
        }
    }

    fn load_blob(&self, digest: &Digest) -> Result<Result<Vec<u8>, Corruption>> {
        let path = self.blob_path(digest);
        Ok(match read_file(&path)? {
            None => Err(Corruption::BlobMissing(*digest)),
            Some(read) if Digest::of(&read.bytes) == *digest => Ok(read.bytes),
            Some(_) => Err(Corruption::BlobCorrupt(*digest)),
        })
    }

    /// Records a successful step: writes each output envelope as a blob, then the action record
    /// (last, so a crash leaves either no record or a complete one whose blobs exist), then the
    /// step's last-run entry. Returns the record written.
    ///
    /// Fails with [`Error::ManifestMismatch`] when `action.manifest` does not hash to `key`.
    /// Concurrent puts of one key are safe: each renames a complete record into place, and the
    /// last one wins.
    pub fn put(&self, key: &Key, action: &NewAction<'_>) -> Result<ActionRecord> {
        let manifest_key = action.manifest.key();
        if manifest_key != *key {
            return Err(Error::ManifestMismatch {
                key: *key,
                manifest_key,
            });
        }
        let _lock = self.lock(false)?;
        let mut outputs = Vec::with_capacity(action.outputs.len());
        let mut inline = Vec::with_capacity(action.outputs.len());
        let mut inline_bytes = Vec::new();
        for (index, envelope) in action.outputs.iter().enumerate() {
            let bytes = envelope.try_encode().map_err(|source| Error::Encode {
                step_id: action.step_id.to_owned(),
                index,
                source,
            })?;
            if bytes.len() <= INLINE_MAX {
                outputs.push(Digest::of(&bytes));
                inline.push(bytes.len() as u64);
                inline_bytes.extend_from_slice(&bytes);
            } else {
                outputs.push(self.put_blob_locked(&bytes)?);
                inline.push(0);
            }
        }
        if inline.iter().all(|&len| len == 0) {
            inline.clear();
        }
        let record = ActionRecord {
            key: *key,
            step_id: action.step_id.to_owned(),
            outputs,
            inline,
            logs: action.logs.to_vec(),
            manifest: action.manifest.clone(),
            created_at_ms: now_ms(),
            executor_version: action.executor_version.to_owned(),
        };
        let path = self.record_path(key);
        let bytes = encode_record(&record, &inline_bytes)?;
        write_atomic(&path, &bytes, self.sync(), "record-write")?;
        self.set_last_run_locked(action.step_id, key, action.manifest)?;
        // The next build's hit then reads no file (one stat here, for the index's check).
        if bytes.len() <= INDEX_RECORD_MAX
            && let Ok(meta) = fs::metadata(&path)
        {
            let mtime_ns = fsutil::mtime_ns(meta.modified().ok());
            self.index_record(step_hash(action.step_id), key, &bytes, mtime_ns);
        }
        tracing::debug!(%key, step = action.step_id, "cached");
        Ok(record)
    }

    /// Looks a key up, verifying the record's checksum (which covers its manifest and inline
    /// outputs, both checked when `put` wrote them), its key, and every output blob's hash.
    /// Anything wrong is removed and reported as [`Lookup::Corrupt`]; only I/O failures other
    /// than "not found" are errors. On a hit, refreshes the record's mtime (its LRU clock for
    /// prune) when older than a minute.
    pub fn lookup(&self, key: &Key) -> Result<Lookup> {
        Ok(self.lookup_file(key)?.0)
    }

    /// A step's lookup on a build's hot path: [`Store::lookup`] of `key`, then on a hit
    /// [`Store::set_last_run`], in one call that serves a small record from the last-run index
    /// while its file is unchanged (one `stat`, no read; see [`LastRunIndex`]). Verifies as
    /// much as `lookup`. A failure to record the last run only costs `--explain` its shortcut,
    /// so it is logged, not returned.
    pub fn lookup_step(
        &self,
        step_id: &str,
        key: &Key,
        manifest: &KeyManifest,
    ) -> Result<Lookup<StepHit>> {
        let step = step_hash(step_id);
        if let Some(indexed) = self.indexed_record(&step, key)
            && let Some(hit) = self.serve_indexed(step, key, &indexed)
        {
            tracing::debug!(%key, step = step_id, "hit");
            return Ok(Lookup::Hit(Box::new(hit)));
        }
        let (lookup, read) = self.lookup_file(key)?;
        Ok(match lookup {
            Lookup::Hit(hit) => {
                if let Err(e) = self.set_last_run(step_id, key, manifest) {
                    tracing::debug!("cannot record the last run of {step_id}: {e}");
                }
                if let Some((bytes, mtime_ns)) = read {
                    self.index_record(step, key, &bytes, mtime_ns);
                }
                let Hit { record, outputs } = *hit;
                Lookup::Hit(Box::new(StepHit {
                    outputs,
                    logs: record.logs,
                }))
            }
            Lookup::Miss => Lookup::Miss,
            Lookup::Corrupt(why) => Lookup::Corrupt(why),
        })
    }

    /// [`Store::lookup`], also giving the record file's bytes and mtime on a hit.
    fn lookup_file(&self, key: &Key) -> Result<(Lookup, Option<RecordFile>)> {
        let path = self.record_path(key);
        let Some(read) = read_file(&path)? else {
            tracing::debug!(%key, "miss");
            return Ok((Lookup::Miss, None));
        };
        match self.serve::<ActionRecord>(key, &read.bytes)? {
            Ok((record, outputs)) => {
                let hit = Hit { record, outputs };
                let modified = if fsutil::touch(&read, &path) {
                    // Read back: a filesystem may keep a coarser time than it was given.
                    read.file.metadata().ok().and_then(|m| m.modified().ok())
                } else {
                    read.modified
                };
                tracing::debug!(%key, step = hit.record.step_id, "hit");
                let mtime_ns = fsutil::mtime_ns(modified);
                Ok((Lookup::Hit(Box::new(hit)), Some((read.bytes, mtime_ns))))
            }
            Err((why, bad_blob)) => {
                self.repair(Some(key), bad_blob.as_ref(), &why);
                Ok((Lookup::Corrupt(why), None))
            }
        }
    }

    /// A hit on the record bytes the index keeps for `step`; `None` sends the lookup to the
    /// file, which finds (and repairs) whatever is wrong.
    fn serve_indexed(&self, step: [u8; 32], key: &Key, indexed: &IndexedRecord) -> Option<StepHit> {
        let (record, outputs) = self.serve::<HitRecord>(key, &indexed.bytes).ok()?.ok()?;
        let hit = StepHit {
            outputs,
            logs: record.logs,
        };
        let modified = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(indexed.mtime_ns);
        if fsutil::stale(Some(modified)) {
            // The LRU clock, refreshed as a hit read from the file refreshes it; and the file
            // is seen to be there still (deleted by hand, say), at least once a minute.
            let path = self.record_path(key);
            let touched = fs::File::open(&path).and_then(|file| {
                file.set_modified(std::time::SystemTime::now())?;
                file.metadata()
            });
            match touched {
                Ok(meta) => {
                    let mtime_ns = fsutil::mtime_ns(meta.modified().ok());
                    self.index_record(step, key, &indexed.bytes, mtime_ns);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                Err(e) => {
                    tracing::debug!(path = %path.display(), error = %e, "cannot refresh the access time");
                }
            }
        }
        Some(hit)
    }

    /// Decodes the record `bytes` of `key` (as much of it as `R` holds) and its outputs,
    /// loading and verifying blobs. What is wrong comes back with the blob to remove, if any.
    fn serve<R: RecordBody>(&self, key: &Key, bytes: &[u8]) -> Result<Served<R>> {
        let (record, inline) = match parse_record::<R>(key, bytes) {
            Ok(parsed) => parsed,
            Err(why) => return Ok(Err((why, None))),
        };
        let mut outputs = Vec::with_capacity(record.outputs().len());
        for (index, digest) in record.outputs().iter().enumerate() {
            let inline = inline.get(index).copied().flatten();
            let blob;
            let bytes = match inline {
                // Covered by the record's checksum, like the manifest: not hashed again.
                Some(bytes) => bytes,
                None => match self.load_blob(digest)? {
                    Ok(bytes) => {
                        blob = bytes;
                        &blob[..]
                    }
                    Err(why) => {
                        let bad_blob = matches!(why, Corruption::BlobCorrupt(_)).then_some(*digest);
                        return Ok(Err((why, bad_blob)));
                    }
                },
            };
            match Envelope::decode(bytes) {
                Ok(envelope) => outputs.push(envelope),
                Err(e) => {
                    let why = Corruption::BadEnvelope(*digest, e.to_string());
                    return Ok(Err((why, inline.is_none().then_some(*digest))));
                }
            }
        }
        Ok(Ok((record, outputs)))
    }

    /// [`Store::lookup`] as an option: `None` for a miss and for a repaired entry.
    pub fn get(&self, key: &Key) -> Result<Option<Hit>> {
        Ok(match self.lookup(key)? {
            Lookup::Hit(hit) => Some(*hit),
            Lookup::Miss | Lookup::Corrupt(_) => None,
        })
    }

    /// Removes what failed verification. Failures to remove are logged: the entry stays
    /// untrusted either way, since every read verifies again.
    fn repair(&self, record: Option<&Key>, blob: Option<&Digest>, why: &Corruption) {
        tracing::warn!(
            key = record.map(ToString::to_string),
            blob = blob.map(ToString::to_string),
            reason = %why,
            "cache entry failed verification; removing it"
        );
        let paths = record
            .map(|k| self.record_path(k))
            .into_iter()
            .chain(blob.map(|d| self.blob_path(d)));
        for path in paths {
            if let Err(e) = remove_if_exists(&path) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a bad cache entry");
            }
        }
    }

    /// Remembers `key` as the latest run of `step_id` (for `--explain`). [`Store::put`] does
    /// this itself; call it after a hit too, so a later miss is explained against the run that
    /// really came last. Skips the write when nothing changed.
    pub fn set_last_run(&self, step_id: &str, key: &Key, manifest: &KeyManifest) -> Result<()> {
        // The common case on a cached build: the index says so, no file is touched.
        let step = step_hash(step_id);
        if self.indexed(&step) == Some(*key) {
            return Ok(());
        }
        // Then the entry itself, without a lock (a prune racing this read can only make it see
        // no file, and then the write below takes the lock as any writer does).
        if !self.last_run_is(step_id, key)? {
            let _lock = self.lock(false)?;
            self.write_last_run(step_id, key, manifest)?;
        }
        self.index_set(step, *key);
        Ok(())
    }

    fn set_last_run_locked(&self, step_id: &str, key: &Key, manifest: &KeyManifest) -> Result<()> {
        let step = step_hash(step_id);
        if self.indexed(&step) != Some(*key) && !self.last_run_is(step_id, key)? {
            self.write_last_run(step_id, key, manifest)?;
        }
        self.index_set(step, *key);
        Ok(())
    }

    /// Whether the recorded last run of `step_id` is already `key` (refreshing its mtime, the
    /// LRU clock prune reads, when it is). Compares keys only: a key is the hash of its
    /// manifest, and the frame's checksum vouches for the rest of the entry, so the manifest
    /// (most of the entry) is skipped, not parsed. This runs once per step of every build.
    fn last_run_is(&self, step_id: &str, key: &Key) -> Result<bool> {
        #[derive(serde::Deserialize)]
        struct Head {
            step_id: String,
            key: Key,
        }
        let path = self.last_run_path(step_id);
        if let Some(read) = read_file(&path)?
            && let Ok(body) = frame::decode(LAST_RUN_MAGIC, &read.bytes)
            && let Ok(prev) = serde_json::from_slice::<Head>(body)
            && prev.step_id == step_id
            && prev.key == *key
        {
            fsutil::touch(&read, &path);
            return Ok(true);
        }
        Ok(false)
    }

    fn write_last_run(&self, step_id: &str, key: &Key, manifest: &KeyManifest) -> Result<()> {
        let path = self.last_run_path(step_id);
        let entry = LastRun {
            step_id: step_id.to_owned(),
            key: *key,
            manifest: manifest.clone(),
            at_ms: now_ms(),
        };
        let body = serde_json::to_vec(&entry).map_err(Error::Serialize)?;
        write_atomic(
            &path,
            &frame::encode(LAST_RUN_MAGIC, &body),
            self.sync(),
            "last-run-write",
        )
    }

    /// The last recorded run of `step_id`, verified; `None` if there is none (a corrupt entry
    /// is removed).
    pub fn last_run(&self, step_id: &str) -> Result<Option<LastRun>> {
        let path = self.last_run_path(step_id);
        let Some(read) = read_file(&path)? else {
            return Ok(None);
        };
        match parse_last_run(step_id, &read.bytes) {
            Ok(entry) => Ok(Some(entry)),
            Err(why) => {
                tracing::warn!(step = step_id, reason = %why, "last-run entry failed verification; removing it");
                let _ = remove_if_exists(&path);
                Ok(None)
            }
        }
    }
}

/// The hash naming a step's last-run entry and its slot in the index.
fn step_hash(step_id: &str) -> [u8; 32] {
    blake3::derive_key("morphir-cache step id v1", step_id.as_bytes())
}

/// Decodes and verifies the bytes of the action record file of `key`: frame, checksum, key, and
/// that the manifest hashes to the key. [`Store::lookup`] skips that last check on the hot path
/// (the frame's checksum covers the manifest `put` verified); this one makes it, for the fuzz
/// targets and for tools that inspect a cache. It does not check the blobs.
pub fn decode_record(key: &Key, bytes: &[u8]) -> Result<ActionRecord, Corruption> {
    let (record, inline) = parse_record::<ActionRecord>(key, bytes)?;
    if record.manifest.key() != *key {
        return Err(Corruption::ManifestMismatch);
    }
    for (digest, bytes) in record.outputs.iter().zip(&inline) {
        if let Some(bytes) = bytes
            && Digest::of(bytes) != *digest
        {
            return Err(Corruption::Record(format!(
                "inline output {digest} does not hash to its digest"
            )));
        }
    }
    Ok(record)
}

/// The bytes of an action record file: JSON in an `MCAR` frame when every output is a blob,
/// else an `MCAI` frame of the JSON's length, the JSON and the inline outputs (`frame.rs`).
fn encode_record(record: &ActionRecord, inline_bytes: &[u8]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(record).map_err(Error::Serialize)?;
    if record.inline.is_empty() {
        return Ok(frame::encode(RECORD_MAGIC, &json));
    }
    let mut body = Vec::with_capacity(8 + json.len() + inline_bytes.len());
    body.extend_from_slice(&(json.len() as u64).to_le_bytes());
    body.extend_from_slice(&json);
    body.extend_from_slice(inline_bytes);
    Ok(frame::encode(RECORD_INLINE_MAGIC, &body))
}

/// A record file's bytes, and its mtime in nanoseconds since the epoch.
type RecordFile = (Vec<u8>, u64);

/// What [`Store::serve`] makes of a record: its body and outputs, or what is wrong with it and
/// the blob to remove, if any.
type Served<R> = std::result::Result<(R, Vec<Envelope>), (Corruption, Option<Digest>)>;

/// Per output, its bytes when stored inside the record.
pub(crate) type InlineOutputs<'a> = Vec<Option<&'a [u8]>>;

/// Decodes and checks a record read from the file of `key`, with its inline outputs.
pub(crate) fn parse_record<'a, R: RecordBody>(
    key: &Key,
    bytes: &'a [u8],
) -> Result<(R, InlineOutputs<'a>), Corruption> {
    let unreadable = |e: String| Corruption::Record(e);
    let (json, mut section) = if frame::magic(bytes) == Some(RECORD_INLINE_MAGIC) {
        let body =
            frame::decode(RECORD_INLINE_MAGIC, bytes).map_err(|e| unreadable(e.to_string()))?;
        let (len, rest) = body
            .split_first_chunk::<8>()
            .ok_or_else(|| unreadable("an inline record without its JSON length".into()))?;
        let len = usize::try_from(u64::from_le_bytes(*len))
            .ok()
            .filter(|&len| len <= rest.len())
            .ok_or_else(|| unreadable("the JSON length is past the end of the record".into()))?;
        rest.split_at(len)
    } else {
        let body = frame::decode(RECORD_MAGIC, bytes).map_err(|e| unreadable(e.to_string()))?;
        (body, &[][..])
    };
    let record: R = serde_json::from_slice(json)
        .map_err(|e| Corruption::Record(format!("invalid body: {e}")))?;
    if record.key() != key {
        return Err(Corruption::WrongKey(*record.key()));
    }
    let mut inline = Vec::with_capacity(record.outputs().len());
    if !record.inline().is_empty() && record.inline().len() != record.outputs().len() {
        return Err(unreadable(format!(
            "{} inline lengths for {} outputs",
            record.inline().len(),
            record.outputs().len()
        )));
    }
    for &len in record.inline() {
        if len == 0 {
            inline.push(None);
            continue;
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= section.len())
            .ok_or_else(|| unreadable("an inline output runs past the end of the record".into()))?;
        let (bytes, rest) = section.split_at(len);
        inline.push(Some(bytes));
        section = rest;
    }
    if !section.is_empty() {
        return Err(unreadable(format!(
            "{} bytes after the inline outputs",
            section.len()
        )));
    }
    // The manifest is not hashed again here: `put` refuses one that does not hash to the key,
    // and the frame's checksum covers every byte since. (Re-hashing it cost a sixth of a
    // fully cached build.) The same holds for inline outputs.
    Ok((record, inline))
}

fn parse_last_run(step_id: &str, bytes: &[u8]) -> Result<LastRun, String> {
    let body = frame::decode(LAST_RUN_MAGIC, bytes).map_err(|e| e.to_string())?;
    let entry: LastRun = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if entry.step_id != step_id {
        return Err(format!("entry belongs to step `{}`", entry.step_id));
    }
    // No re-hash of the manifest, as in `parse_record`.
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyBuilder, LogLine};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn put_rejects_a_manifest_of_another_key() {
        let (_d, s) = store();
        let (key, _) = KeyBuilder::new("1").operation("a").finish().unwrap();
        let (_, other) = KeyBuilder::new("1").operation("b").finish().unwrap();
        let action = NewAction {
            step_id: "s",
            manifest: &other,
            outputs: &[],
            logs: &[],
            executor_version: "1",
        };
        assert!(matches!(
            s.put(&key, &action),
            Err(Error::ManifestMismatch { .. })
        ));
        assert!(matches!(s.lookup(&key).unwrap(), Lookup::Miss));
    }

    #[test]
    fn a_record_copied_under_another_key_is_refused() {
        let (_d, s) = store();
        let (k1, m1) = KeyBuilder::new("1").operation("a").finish().unwrap();
        let (k2, _) = KeyBuilder::new("1").operation("b").finish().unwrap();
        let logs = [LogLine::new("info", "hi")];
        s.put(
            &k1,
            &NewAction {
                step_id: "s",
                manifest: &m1,
                outputs: &[Envelope::new("t", "x")],
                logs: &logs,
                executor_version: "1",
            },
        )
        .unwrap();
        fs::create_dir_all(s.record_path(&k2).parent().unwrap()).unwrap();
        fs::copy(s.record_path(&k1), s.record_path(&k2)).unwrap();
        assert!(matches!(
            s.lookup(&k2).unwrap(),
            Lookup::Corrupt(Corruption::WrongKey(k)) if k == k1
        ));
        assert!(!s.record_path(&k2).exists());
        let hit = s.get(&k1).unwrap().unwrap();
        assert_eq!(hit.record.logs, logs);
    }

    #[test]
    fn blobs_are_deduplicated_and_corrupt_ones_replaced() {
        let (_d, s) = store();
        let d = s.put_blob(b"abc").unwrap();
        assert_eq!(s.put_blob(b"abc").unwrap(), d);
        fs::write(s.blob_path(&d), b"abd").unwrap();
        assert_eq!(s.get_blob(&d).unwrap(), None, "corrupt blob served");
        assert!(!s.blob_path(&d).exists(), "corrupt blob kept");
        fs::write(s.blob_path(&d), b"abd").unwrap();
        s.put_blob(b"abc").unwrap();
        assert_eq!(s.get_blob(&d).unwrap().unwrap(), b"abc");
    }

    #[test]
    fn the_last_run_index_shortcuts_unchanged_steps_and_merges_builds() {
        let (dir, s) = store();
        let (k1, m1) = KeyBuilder::new("1").operation("a").finish().unwrap();
        let (k2, m2) = KeyBuilder::new("1").operation("b").finish().unwrap();
        s.set_last_run("gen", &k1, &m1).unwrap();
        s.flush_last_runs().unwrap();
        assert!(s.bucket().join(LAST_RUN_INDEX).exists());

        // A later build (a new store) knows `gen` ran with k1 without reading its entry: with
        // the entry gone, an unchanged step does not write it again...
        let later = Store::open(dir.path()).unwrap();
        fs::remove_file(later.last_run_path("gen")).unwrap();
        later.set_last_run("gen", &k1, &m1).unwrap();
        assert!(!later.last_run_path("gen").exists());
        // ...and a changed one takes the long way: entry written, index updated.
        later.set_last_run("gen", &k2, &m2).unwrap();
        assert_eq!(later.last_run("gen").unwrap().unwrap().key, k2);
        later.flush_last_runs().unwrap();

        // Two builds that changed different steps: the file has both.
        let a = Store::open(dir.path()).unwrap();
        let b = Store::open(dir.path()).unwrap();
        a.set_last_run("one", &k1, &m1).unwrap();
        b.set_last_run("two", &k2, &m2).unwrap();
        a.flush_last_runs().unwrap();
        b.flush_last_runs().unwrap();
        let entries =
            LastRunIndex::decode(&fs::read(s.bucket().join(LAST_RUN_INDEX)).unwrap().into())
                .unwrap();
        assert_eq!(entries[&step_hash("gen")].key, k2);
        assert_eq!(entries[&step_hash("one")].key, k1);
        assert_eq!(entries[&step_hash("two")].key, k2);

        // A torn index is ignored (the long way again), never trusted.
        fs::write(s.bucket().join(LAST_RUN_INDEX), b"MCLI torn").unwrap();
        let torn = Store::open(dir.path()).unwrap();
        assert_eq!(torn.indexed(&step_hash("gen")), None);
    }

    /// Sets a file's mtime `secs` seconds back.
    fn age(path: &Path, secs: u64) {
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
        fs::File::open(path).unwrap().set_modified(then).unwrap();
    }

    #[test]
    fn a_prefetched_index_serves_its_own_store_only() {
        let (dir, s) = store();
        let mut steps = Vec::new();
        for step in ["gen", "other"] {
            let (key, manifest) = KeyBuilder::new("1").operation(step).finish().unwrap();
            let output = Envelope::new("text/plain", format!("out of {step}"));
            let action = NewAction {
                step_id: step,
                manifest: &manifest,
                outputs: std::slice::from_ref(&output),
                logs: &[],
                executor_version: "1",
            };
            s.put(&key, &action).unwrap();
            // Garbage of the same length: only the index can serve these hits.
            let path = s.record_path(&key);
            fs::write(&path, vec![0; fs::metadata(&path).unwrap().len() as usize]).unwrap();
            steps.push((step, key, manifest, output));
        }
        s.flush_last_runs().unwrap();
        let served = |store: &Store, step: &str, key: &Key, manifest: &KeyManifest| match store
            .lookup_step(step, key, manifest)
            .unwrap()
        {
            Lookup::Hit(hit) => Some(hit.outputs),
            Lookup::Miss | Lookup::Corrupt(_) => None,
        };

        let later = Store::open(dir.path()).unwrap();
        assert!(later.adopt_index(IndexPrefetch::start(dir.path())));
        // Each record is its own slice of the file read once.
        for (step, key, manifest, output) in &steps {
            assert_eq!(
                served(&later, step, key, manifest),
                Some(vec![output.clone()])
            );
        }
        // Once the index is read, there is nothing to adopt.
        assert!(!later.adopt_index(IndexPrefetch::start(dir.path())));

        // Another directory's index is refused; the store reads its own.
        let (_elsewhere, other) = store();
        assert!(!other.adopt_index(IndexPrefetch::start(dir.path())));
        let (step, key, manifest, _) = &steps[0];
        assert_eq!(served(&other, step, key, manifest), None);
    }

    #[test]
    fn a_hit_served_from_the_index_reads_no_record_file_and_keeps_its_lru_clock() {
        let (dir, s) = store();
        let (key, manifest) = KeyBuilder::new("1").operation("a").finish().unwrap();
        let output = Envelope::new("text/plain", "out");
        s.put(
            &key,
            &NewAction {
                step_id: "gen",
                manifest: &manifest,
                outputs: std::slice::from_ref(&output),
                logs: &[LogLine::new("info", "said once")],
                executor_version: "1",
            },
        )
        .unwrap();
        s.flush_last_runs().unwrap();
        let path = s.record_path(&key);
        let good = fs::read(&path).unwrap();
        let hit = |store: &Store| match store.lookup_step("gen", &key, &manifest).unwrap() {
            Lookup::Hit(hit) => Some(*hit),
            Lookup::Miss | Lookup::Corrupt(_) => None,
        };

        // A later build serves the record from the index: the file's bytes are not read (here
        // they are garbage of the same length), and the copy is verified as the file would be.
        fs::write(&path, vec![0; good.len()]).unwrap();
        let later = Store::open(dir.path()).unwrap();
        let served = hit(&later).expect("a hit from the index");
        assert_eq!(served.outputs, std::slice::from_ref(&output));
        assert_eq!(served.logs, [LogLine::new("info", "said once")]);
        // The file path still finds the damage, and repairs it.
        assert!(matches!(later.lookup(&key).unwrap(), Lookup::Corrupt(_)));
        assert!(!path.exists());

        // Once the copy is older than a minute, a hit refreshes the file's mtime (prune's
        // LRU clock), and so sees a file that is gone: the step takes the full path, a miss.
        let make_stale = |store: &Store| {
            let mut index = store.index.lock().unwrap();
            let IndexSlot::Read(index) = &mut *index else {
                panic!("read by a lookup")
            };
            let entries = &mut index.entries;
            let record = entries.get_mut(&step_hash("gen")).unwrap().record.as_mut();
            record.unwrap().mtime_ns -= 120 * 1_000_000_000;
        };
        let stale = Store::open(dir.path()).unwrap();
        assert!(hit(&stale).is_some(), "still within the minute");
        make_stale(&stale);
        assert!(hit(&stale).is_none(), "served a record whose file is gone");

        // With the file back, a stale copy's hit sets the file's mtime to now, and the index
        // keeps the new time.
        fs::write(&path, &good).unwrap();
        age(&path, 120);
        let again = Store::open(dir.path()).unwrap();
        assert!(hit(&again).is_some());
        make_stale(&again);
        assert!(hit(&again).is_some());
        let mtime = fs::metadata(&path).unwrap().modified().unwrap();
        assert!(
            !fsutil::stale(Some(mtime)),
            "the hit did not refresh the record's mtime"
        );
        again.flush_last_runs().unwrap();
        let entries =
            LastRunIndex::decode(&fs::read(s.bucket().join(LAST_RUN_INDEX)).unwrap().into())
                .unwrap();
        let kept = entries[&step_hash("gen")].record.as_ref().unwrap().mtime_ns;
        assert_eq!(kept, fsutil::mtime_ns(Some(mtime)));

        // A damaged index is never trusted: the file decides.
        let index_path = s.bucket().join(LAST_RUN_INDEX);
        let mut bytes = fs::read(&index_path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&index_path, bytes).unwrap();
        fs::write(&path, vec![0; good.len()]).unwrap();
        let damaged = Store::open(dir.path()).unwrap();
        assert!(hit(&damaged).is_none());
    }
}
