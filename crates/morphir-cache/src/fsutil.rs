//! File primitives: atomic writes, reads that tell "absent" from "failed", the bucket lock.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::{Error, Result};

/// Prefix of a file being written; never read as an entry, removed by prune when stale.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// A hit refreshes an entry's mtime (its LRU clock) only when it is older than this, so a
/// build that hits the same entries again and again does not dirty their inodes every time.
pub(crate) const TOUCH_AFTER: Duration = Duration::from_secs(60);

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// A fresh temp file name: unique across processes (pid), threads and calls (counter), and
/// restarts (time). Opened with `create_new`, so a clash fails instead of sharing a file.
pub(crate) fn tmp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(&nanos.to_le_bytes());
    h.update(format!("{:?}", std::thread::current().id()).as_bytes());
    format!("{TMP_PREFIX}{}", &h.finalize().to_hex()[..16])
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, renamed over `path`.
/// Readers see the old file, no file, or the whole new file; never a prefix. With `sync`, the
/// file is fsynced before the rename and the directory after it, so the entry survives power
/// loss once this returns. `point` names the [`crate::failpoint`] reached halfway through.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], sync: bool, point: &str) -> Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    let tmp = dir.join(tmp_name());
    let create = || OpenOptions::new().write(true).create_new(true).open(&tmp);
    // The shard directory usually exists: try first, create it on demand (a mkdir that fails
    // with EEXIST costs as much as a file creation on some filesystems).
    let mut f = match create() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
            create()
        }
        other => other,
    }
    .map_err(io_err("create", &tmp))?;
    let written = (|| {
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        f.write_all(head).map_err(io_err("write", &tmp))?;
        crate::failpoint(point);
        f.write_all(tail).map_err(io_err("write", &tmp))?;
        if sync {
            f.sync_all().map_err(io_err("fsync", &tmp))?;
        }
        drop(f);
        fs::rename(&tmp, path).map_err(io_err("rename into place", path))
    })();
    if written.is_err() {
        // Best effort: prune removes what this misses.
        let _ = fs::remove_file(&tmp);
    }
    written?;
    if sync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Makes a directory's entries (a rename into it) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync directory", dir))
    }
    // std cannot open a directory for flushing on other platforms; NTFS journals renames.
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A file read whole, with its handle kept open (to refresh its mtime) and its mtime.
pub(crate) struct ReadFile {
    pub(crate) file: File,
    pub(crate) bytes: Vec<u8>,
    pub(crate) modified: Option<SystemTime>,
}

/// Reads a file, `None` when it does not exist: open, stat, one read, in the common case.
///
/// Reads exactly the length the stat gave. `read_to_end` would stat again, seek, and read once
/// more to see the end: three more syscalls per file, on the hot path of a cached build (three
/// files per hit). Entries are replaced by rename, never written in place, so the length of an
/// open entry cannot change; a short file is still caught, since every read is verified.
pub(crate) fn read_file(path: &Path) -> Result<Option<ReadFile>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("open", path)(e)),
    };
    let meta = file.metadata().map_err(io_err("stat", path))?;
    let len = usize::try_from(meta.len()).map_err(|_| {
        io_err("read", path)(io::Error::new(
            io::ErrorKind::FileTooLarge,
            "file too large",
        ))
    })?;
    let mut bytes = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err("read", path)(e)),
        }
    }
    bytes.truncate(filled);
    Ok(Some(ReadFile {
        file,
        bytes,
        modified: meta.modified().ok(),
    }))
}

/// Whether an mtime is old enough for a hit to refresh it (see [`TOUCH_AFTER`]).
pub(crate) fn stale(modified: Option<SystemTime>) -> bool {
    modified.is_none_or(|m| {
        SystemTime::now()
            .duration_since(m)
            .is_ok_and(|age| age > TOUCH_AFTER)
    })
}

/// Sets a file's mtime to now if it is older than [`TOUCH_AFTER`]; returns whether it did.
/// Failure only costs LRU precision, so it is logged, not returned.
pub(crate) fn touch(read: &ReadFile, path: &Path) -> bool {
    if !stale(read.modified) {
        return false;
    }
    if let Err(e) = read.file.set_modified(SystemTime::now()) {
        tracing::debug!(path = %path.display(), error = %e, "cannot refresh the access time");
    }
    true
}

/// A modification time as nanoseconds since the epoch (0 for one before it or unknown).
pub(crate) fn mtime_ns(modified: Option<SystemTime>) -> u64 {
    modified
        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Removes a file; `Ok(false)` when it was already gone.
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// A held bucket lock; released when dropped (closing the file releases the lock, including
/// when the process dies).
#[derive(Debug)]
pub(crate) struct LockGuard(Option<File>);

impl LockGuard {
    /// Whether the OS lock is really held (false where the filesystem has no locks).
    pub(crate) fn held(&self) -> bool {
        self.0.is_some()
    }
}

/// Takes the bucket lock: shared for writers, exclusive for prune and clean. Each call opens
/// its own handle, because flock-style locks belong to an open file and two threads sharing
/// one handle would share (and release) one lock.
pub(crate) fn lock(path: &Path, exclusive: bool) -> Result<LockGuard> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err("open lock file", path))?;
    let locked = if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    };
    match locked {
        Ok(()) => Ok(LockGuard(Some(file))),
        Err(e) if e.kind() == io::ErrorKind::Unsupported => {
            // Some network filesystems have no locks. Going on without one can cost a
            // concurrent writer its entry (a later miss), never a wrong hit.
            tracing::warn!(path = %path.display(), "file locking unsupported; continuing unlocked");
            Ok(LockGuard(None))
        }
        Err(e) => Err(io_err("lock", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_unique() {
        let names: std::collections::HashSet<String> = (0..1000).map(|_| tmp_name()).collect();
        assert_eq!(names.len(), 1000);
        assert!(
            names
                .iter()
                .all(|n| n.starts_with(TMP_PREFIX) && n.len() == 21)
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x");
        write_atomic(&p, b"one", false, "test").unwrap();
        write_atomic(&p, b"two", true, "test").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert_eq!(names.len(), 1);
        assert!(read_file(&dir.path().join("nope")).unwrap().is_none());
    }
}
