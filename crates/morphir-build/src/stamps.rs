//! What a build knows about the backend outputs already on disk, so a cached backend step can
//! leave its directory alone without reading it.
//!
//! For every output directory, the stamps file (`<cache>/v<N>/outputs.stamps`, read once when
//! a build starts, written once when it ends if anything changed) keeps each file's path, the
//! blake3 of the bytes the build left there, and the file's identity: size, device, inode and
//! change time. When a cached step's bundle hashes to the same bytes and every file still has
//! the same identity, the directory holds that bundle: one `stat` per file, no read, no hash of
//! the disk. Writing a file or renaming another over it changes its change time or inode, and no
//! user-level call sets a change time back; anything that does not match takes the full path of
//! `write_outputs`, which compares bytes.
//!
//! File times advance in coarse ticks, so a file changed again within the tick it was written
//! in could keep its identity (git's "racy" files). A file changed less than [`RACY`] ago is not
//! stamped: the next build compares its bytes, and stamps it then.
//!
//! The stamps are an accelerator, never a source of truth: a missing, stale or unreadable file
//! only means bytes get compared. They live in the cache bucket, not in the output directory,
//! whose `.morphir-outputs.json` stays byte-for-byte reproducible.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long after a change a file's identity is trusted.
pub(crate) const RACY: Duration = Duration::from_secs(2);

/// The stamps file's name in the cache bucket.
pub(crate) const STAMPS_FILE: &str = "outputs.stamps";

/// A file's identity: what changes whenever its contents can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Identity {
    len: u64,
    dev: u64,
    ino: u64,
    ctime_s: i64,
    ctime_ns: i64,
}

impl Identity {
    #[cfg(unix)]
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        let meta = fs::symlink_metadata(path).ok()?;
        meta.is_file().then(|| Self {
            len: meta.len(),
            dev: meta.dev(),
            ino: meta.ino(),
            ctime_s: meta.ctime(),
            ctime_ns: meta.ctime_nsec(),
        })
    }

    #[cfg(not(unix))]
    fn of(_path: &Path) -> Option<Self> {
        None
    }

    /// Changed at least [`RACY`] ago.
    fn settled(&self) -> bool {
        let (Ok(s), Ok(ns)) = (u64::try_from(self.ctime_s), u32::try_from(self.ctime_ns)) else {
            return false;
        };
        SystemTime::now()
            .duration_since(UNIX_EPOCH + Duration::new(s, ns))
            .is_ok_and(|age| age >= RACY)
    }
}

/// One output file: its path in the directory, the blake3 (hex) of its bytes, its identity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Stamped {
    path: String,
    blake3: String,
    id: Identity,
}

type Dirs = HashMap<String, Vec<Stamped>>;

/// Saves made by this process, for unique temporary names.
static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The stamps of one build; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct OutputStamps {
    file: Option<PathBuf>,
    before: Dirs,
    /// Directories this build checked or wrote: their stamps now (`None`: none to keep).
    after: Mutex<HashMap<String, Option<Vec<Stamped>>>>,
}

fn key(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

/// `files` sorted by path, with their hashes.
fn hashed<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(&'a str, String)> {
    let mut out: Vec<_> = files
        .map(|(path, bytes)| (path, blake3::hash(bytes).to_hex().to_string()))
        .collect();
    out.sort();
    out
}

impl OutputStamps {
    /// The stamps kept in `file` (none if it is missing or unreadable).
    pub(crate) fn load(file: PathBuf) -> Self {
        let before = fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            file: Some(file),
            before,
            after: Mutex::default(),
        }
    }

    /// True when `dir` holds exactly `files` (path, bytes), as stamped by an earlier build.
    pub(crate) fn hold<'a>(
        &self,
        dir: &Path,
        files: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> bool {
        let Some(stamped) = self.before.get(&key(dir)) else {
            return false;
        };
        let files = hashed(files);
        let held = files.len() == stamped.len()
            && files.iter().zip(stamped).all(|((path, hash), s)| {
                *path == s.path && *hash == s.blake3 && Identity::of(&dir.join(path)) == Some(s.id)
            });
        if held {
            self.set(dir, Some(stamped.clone()));
        }
        held
    }

    /// Stamps `files` as `dir` now holds them (after `write_outputs` checked or wrote them).
    /// Nothing is kept unless every file is stamped.
    pub(crate) fn record<'a>(&self, dir: &Path, files: impl Iterator<Item = (&'a str, &'a [u8])>) {
        let stamped: Option<Vec<Stamped>> = hashed(files)
            .into_iter()
            .map(|(path, blake3)| {
                let id = Identity::of(&dir.join(path)).filter(Identity::settled)?;
                Some(Stamped {
                    path: path.to_owned(),
                    blake3,
                    id,
                })
            })
            .collect();
        self.set(dir, stamped);
    }

    fn set(&self, dir: &Path, stamped: Option<Vec<Stamped>>) {
        self.after
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key(dir), stamped);
    }

    /// Writes the stamps back when this build changed them: onto the file as it is now (another
    /// build may have saved since this one loaded it), dropping directories that no longer
    /// exist; through a temporary file and a rename, so a reader sees the old file or the new
    /// one. Two builds saving at once: the last rename wins, and the other's directories are
    /// compared byte by byte next time (slower, never wrong).
    pub(crate) fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let after = std::mem::take(&mut *self.after.lock().unwrap_or_else(PoisonError::into_inner));
        if after
            .iter()
            .all(|(dir, stamped)| self.before.get(dir) == stamped.as_ref())
        {
            return Ok(());
        }
        let mut dirs: Dirs = fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        for (dir, stamped) in after {
            match stamped {
                Some(s) => dirs.insert(dir, s),
                None => dirs.remove(&dir),
            };
        }
        dirs.retain(|dir, _| Path::new(dir).is_dir());
        let bytes = serde_json::to_vec(&dirs).map_err(std::io::Error::other)?;
        // Unique per writer: two builds in one daemon process must not share a temporary file.
        let tmp = file.with_extension(format!(
            "tmp-{}-{}",
            std::process::id(),
            SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        fs::write(&tmp, bytes)?;
        fs::rename(&tmp, file).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::{OUTPUT_MANIFEST, write_outputs_with};
    use morphir_envelope::FileBundle;
    use std::io::Write as _;

    /// An output changed behind the build's back, in place and with the same size, is put
    /// back: before it is stamped (within the racy window) and after (its identity moved).
    #[test]
    fn an_output_edited_in_place_is_restored() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let file = tmp.path().join(STAMPS_FILE);
        let bundle = FileBundle::new().with_file("a.txt", "good");
        let build = |bundle: &FileBundle| {
            let stamps = OutputStamps::load(file.clone());
            write_outputs_with(&out, bundle, Some(&stamps)).unwrap();
            stamps.save().unwrap();
            stamps
        };
        let edit = || {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(out.join("a.txt"))
                .unwrap();
            f.write_all(b"evil").unwrap();
        };
        build(&bundle);
        edit();
        build(&bundle);
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "good");

        // Once the files have settled, a build stamps them; the next one holds them unread.
        std::thread::sleep(RACY + Duration::from_millis(100));
        build(&bundle);
        let stamps = OutputStamps::load(file.clone());
        let files = |b: &FileBundle| {
            let manifest = fs::read(out.join(OUTPUT_MANIFEST)).unwrap();
            let mut v: Vec<(String, Vec<u8>)> = b
                .files
                .iter()
                .map(|f| (f.path.clone(), f.content.clone()))
                .collect();
            v.push((OUTPUT_MANIFEST.to_owned(), manifest));
            v
        };
        let held = |stamps: &OutputStamps, b: &FileBundle| {
            let v = files(b);
            stamps.hold(&out, v.iter().map(|(p, c)| (p.as_str(), c.as_slice())))
        };
        assert!(held(&stamps, &bundle) || cfg!(not(unix)));
        edit();
        assert!(
            !held(&stamps, &bundle),
            "the edit changed the file's identity"
        );
        build(&bundle);
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "good");
        // Another bundle is never taken for the one stamped.
        let other = FileBundle::new().with_file("a.txt", "gold");
        assert!(!held(&OutputStamps::load(file.clone()), &other));
        build(&other);
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "gold");
        // The manifest in the directory stays reproducible: paths only.
        assert_eq!(
            fs::read_to_string(out.join(OUTPUT_MANIFEST)).unwrap(),
            "[\n  \"a.txt\"\n]"
        );
    }

    #[test]
    fn an_unreadable_stamps_file_only_means_bytes_are_compared() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(STAMPS_FILE);
        fs::write(&file, "not json").unwrap();
        let stamps = OutputStamps::load(file);
        let out = tmp.path().join("out");
        write_outputs_with(&out, &FileBundle::new().with_file("x", "1"), Some(&stamps)).unwrap();
        stamps.save().unwrap();
        assert_eq!(fs::read_to_string(out.join("x")).unwrap(), "1");
    }
}
