//! Writes a backend's artifacts into its output directory.
//!
//! Rules (also in `docs/abi.md`, "Artifacts"):
//! * paths are clean and relative (the bundle decoder refuses `..`, absolute paths, empty
//!   components), and nothing on the way to a file may be a symbolic link: a link planted in
//!   the output directory cannot redirect a write outside it;
//! * the whole bundle is staged first: every check made and every changed file written to a
//!   temporary file beside its final name; only then are the temporary files renamed into
//!   place. So a failure while writing (a disk full, a file where a directory is needed) leaves
//!   the directory as it was, with no temporary file and no directory the bundle created: the
//!   step's outputs are complete or absent. (A rename failing part-way, which needs the
//!   directory to change under the build, can still leave some files renamed; the step fails
//!   and caches nothing.)
//! * a file whose bytes are already right is not rewritten (a cached build touches nothing).
//!   In a build, the cache keeps per file the blake3 of what is there and the file's identity
//!   (`stamps.rs`): when they match, nothing is read (two system calls for a one-file backend
//!   instead of thirteen);
//! * files the backend produced last time but not this time are removed. What the backend
//!   produced is recorded in [`OUTPUT_MANIFEST`] inside the directory; files the backend never
//!   produced are left alone.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use morphir_envelope::FileBundle;

use crate::stamps::OutputStamps;

/// The record of what the backend wrote, kept in its output directory.
pub const OUTPUT_MANIFEST: &str = ".morphir-outputs.json";

fn refuse(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: {why}", path.display()),
    )
}

/// Creates `dir` and every directory below it on the way to `rel`, refusing symbolic links.
/// Directories it creates are pushed on `created`, outermost first.
fn ensure_dirs(dir: &Path, rel: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut at = dir.to_path_buf();
    for component in rel.components() {
        at.push(component);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(
                    &at,
                    "is a symbolic link; outputs are never written through links",
                ));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(refuse(&at, "is a file where the output needs a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&at)?;
                created.push(at.clone());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The temporary name `path` is staged under (hidden, beside it, so the rename stays within
/// one directory and one filesystem).
fn staging_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}{TMP_MARK}{}", std::process::id()))
}

/// Marks the temporary file of an output being written: `.<name>.morphir-tmp-<pid>`.
const TMP_MARK: &str = ".morphir-tmp-";

/// Writes a temporary file in two halves, with the crash harness's failpoint between them
/// (RELIABILITY.md): a kill there leaves a torn temp file, which must never become an output.
fn write_temp(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::File::create(tmp)?;
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    f.write_all(head)?;
    morphir_cache::failpoint("output-write");
    f.write_all(tail)
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = staging_name(path);
    write_temp(&tmp, bytes)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Files written to their temporary names, and directories created for them; dropped without
/// [`Staged::commit`], it removes them all.
#[derive(Default)]
struct Staged {
    /// (temporary, final) paths.
    files: Vec<(PathBuf, PathBuf)>,
    dirs: Vec<PathBuf>,
    committed: bool,
}

impl Staged {
    /// Renames every staged file into place.
    fn commit(mut self) -> io::Result<()> {
        self.committed = true;
        let files = std::mem::take(&mut self.files);
        let mut result = Ok(());
        for (tmp, path) in files {
            if result.is_ok() {
                result = fs::rename(&tmp, &path);
            }
            if result.is_err() {
                let _ = fs::remove_file(&tmp);
            }
        }
        result
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for (tmp, _) in &self.files {
            let _ = fs::remove_file(tmp);
        }
        // Innermost first; a directory that is not empty (someone else's file) stays.
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Removes the temporary files a killed build left in `dir` (`.<name>.morphir-tmp-<pid>` of a
/// process that is gone), so a crash leaves no debris once the outputs are written again.
fn remove_dead_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.starts_with('.'))
            .and_then(|n| n.rsplit_once(TMP_MARK))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // Linux tells whether the writer lives; elsewhere a temp file of another process is
        // taken as dead (two builds writing one output directory at once race anyway).
        let alive = pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists();
        if !alive && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `bundle` into `dir` under the rules of the module docs.
pub fn write_outputs(dir: &Path, bundle: &FileBundle) -> io::Result<()> {
    write_outputs_with(dir, bundle, None)
}

/// [`write_outputs`], skipping every read when `stamps` vouch that `dir` already holds
/// `bundle`, and recording in them what it leaves there (`stamps.rs`).
pub(crate) fn write_outputs_with(
    dir: &Path,
    bundle: &FileBundle,
    stamps: Option<&OutputStamps>,
) -> io::Result<()> {
    let mut paths: Vec<&String> = bundle.files.iter().map(|f| &f.path).collect();
    paths.sort();
    let manifest = serde_json::to_vec_pretty(&paths).map_err(io::Error::other)?;
    let files = || {
        bundle
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.content.as_slice()))
            .chain([(OUTPUT_MANIFEST, manifest.as_slice())])
    };
    if let Some(stamps) = stamps
        && stamps.hold(dir, files())
    {
        return Ok(());
    }
    write_checked(dir, bundle, &manifest)?;
    if let Some(stamps) = stamps {
        stamps.record(dir, files());
    }
    Ok(())
}

/// The full path of [`write_outputs`]: every check made, every file compared.
fn write_checked(dir: &Path, bundle: &FileBundle, text: &[u8]) -> io::Result<()> {
    let mut staged = Staged::default();
    // One stat in the common case (a rebuild), not create_dir_all's mkdir and stat.
    if let Some(parent) = dir.parent().filter(|p| !p.is_dir()) {
        fs::create_dir_all(parent)?;
    }
    ensure_dirs(
        dir.parent().unwrap_or(dir),
        Path::new(dir.file_name().unwrap_or_default()),
        &mut staged.dirs,
    )?;
    let mut written = BTreeSet::new();
    for file in &bundle.files {
        if file.path == OUTPUT_MANIFEST {
            return Err(refuse(
                Path::new(&file.path),
                "is reserved for morphir's record of the outputs",
            ));
        }
        if !written.insert(file.path.clone()) {
            return Err(refuse(
                Path::new(&file.path),
                "produced twice by the backend",
            ));
        }
    }
    // Caught now, not at the rename, when other files would already be in place.
    for file in &bundle.files {
        let mut prefix = file.path.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if written.contains(parent) {
                return Err(refuse(
                    Path::new(parent),
                    "is both a file and a directory in the backend's output",
                ));
            }
            prefix = parent;
        }
    }
    for file in &bundle.files {
        let rel = PathBuf::from(&file.path);
        if let Some(parent) = rel.parent() {
            ensure_dirs(dir, parent, &mut staged.dirs)?;
        }
        let path = dir.join(&rel);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(
                    &path,
                    "is a symbolic link; outputs are never written through links",
                ));
            }
            Ok(m) if m.is_dir() => {
                return Err(refuse(&path, "is a directory where the output is a file"));
            }
            Ok(m) if m.len() == file.content.len() as u64 && same_bytes(&path, &file.content)? => {
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let tmp = staging_name(&path);
        // Recorded before writing: a write that fails half-way leaves a file to remove.
        staged.files.push((tmp.clone(), path));
        write_temp(&tmp, &file.content)?;
    }
    let wrote = !staged.files.is_empty();
    staged.commit()?;
    let manifest_path = dir.join(OUTPUT_MANIFEST);
    let previous_bytes = fs::read(&manifest_path).ok();
    let manifest_same = previous_bytes.as_deref() == Some(text);
    if !wrote && manifest_same {
        // Nothing to write, nothing to remove: the directory already holds exactly this
        // bundle (a cached rebuild). A temporary file of a killed build can only be here if
        // that build was writing other bytes; it goes the next time anything is written.
        return Ok(());
    }
    let parents: BTreeSet<PathBuf> = bundle
        .files
        .iter()
        .filter_map(|f| dir.join(&f.path).parent().map(Path::to_path_buf))
        .chain([dir.to_path_buf()])
        .collect();
    for d in &parents {
        remove_dead_temps(d);
    }

    // Remove what the backend produced last time and no longer does.
    let previous: Vec<String> = previous_bytes
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    remove_stale(dir, previous, &written)?;
    if manifest_same {
        return Ok(());
    }
    write_atomic(&manifest_path, text)
}

/// Removes the files of `previous` (the last manifest) that this bundle (`written`) no longer
/// has, and the directories that leaves empty; never through a link.
fn remove_stale(dir: &Path, previous: Vec<String>, written: &BTreeSet<String>) -> io::Result<()> {
    for old in previous {
        if written.contains(&old) || !morphir_is_clean(&old) {
            continue;
        }
        let path = dir.join(&old);
        // Every component, not only the last: a directory replaced by a link must not lead a
        // removal outside the output directory.
        if !no_link_between(dir, &path) {
            continue;
        }
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            fs::remove_file(&path)?;
            remove_empty_parents(dir, &path);
        }
    }
    Ok(())
}

/// Whether the file at `path` holds exactly `expected` (whose length matched its metadata):
/// read by that length, so no second stat and no read to find the end.
fn same_bytes(path: &Path, expected: &[u8]) -> io::Result<bool> {
    use io::Read as _;
    let mut file = fs::File::open(path)?;
    let mut bytes = vec![0; expected.len() + 1];
    let mut filled = 0;
    loop {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                if filled == bytes.len() {
                    return Ok(false); // longer than expected
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(&bytes[..filled] == expected)
}

/// The manifest is ours, but it sits in a directory others can write: re-check its paths.
fn morphir_is_clean(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0', ':'])
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// True when no component from `dir` (exclusive) to `path` (inclusive of its parents) is a
/// symbolic link.
fn no_link_between(dir: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(dir) else {
        return false;
    };
    let mut at = dir.to_path_buf();
    let mut components = rel.components().peekable();
    while let Some(c) = components.next() {
        at.push(c);
        if components.peek().is_some()
            && fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink())
        {
            return false;
        }
    }
    true
}

fn remove_empty_parents(dir: &Path, file: &Path) {
    let mut at = file.parent();
    while let Some(p) = at {
        if p == dir || !p.starts_with(dir) || fs::remove_dir(p).is_err() {
            break;
        }
        at = p.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_of_plain_paths_is_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("old.txt"), "x").unwrap();
        // What morphir wrote before it kept hashes: the stale file is still removed.
        fs::write(out.join(OUTPUT_MANIFEST), r#"["old.txt"]"#).unwrap();
        write_outputs(&out, &FileBundle::new().with_file("new.txt", "y")).unwrap();
        assert!(!out.join("old.txt").exists());
        assert_eq!(fs::read_to_string(out.join("new.txt")).unwrap(), "y");
    }

    #[test]
    fn writes_replaces_and_prunes() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out/site");
        write_outputs(
            &out,
            &FileBundle::new()
                .with_file("a.txt", "1")
                .with_file("d/b.txt", "2"),
        )
        .unwrap();
        assert_eq!(fs::read_to_string(out.join("d/b.txt")).unwrap(), "2");
        fs::write(out.join("mine.txt"), "user file").unwrap();
        write_outputs(&out, &FileBundle::new().with_file("a.txt", "3")).unwrap();
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "3");
        assert!(
            !out.join("d/b.txt").exists(),
            "a file no longer produced is removed"
        );
        assert!(!out.join("d").exists(), "and its emptied directory");
        assert!(
            out.join("mine.txt").exists(),
            "a file the backend never produced is kept"
        );
    }

    #[cfg(unix)]
    #[test]
    fn stale_files_are_never_removed_through_a_symlinked_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        write_outputs(&out, &FileBundle::new().with_file("sub/b.txt", "b")).unwrap();
        let victim = tmp.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("b.txt"), "keep me").unwrap();
        fs::remove_dir_all(out.join("sub")).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("sub")).unwrap();
        write_outputs(&out, &FileBundle::new().with_file("a.txt", "a")).unwrap();
        assert_eq!(fs::read_to_string(victim.join("b.txt")).unwrap(), "keep me");
    }

    /// Every file in `dir`, hidden ones included, relative and sorted.
    fn listing(dir: &Path) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for entry in fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(base).unwrap().display().to_string());
                if path.is_dir() {
                    walk(base, &path, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, dir, &mut out);
        out.sort();
        out
    }

    #[test]
    fn a_write_failing_part_way_leaves_the_directory_as_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        write_outputs(&out, &FileBundle::new().with_file("a.txt", "old")).unwrap();
        // A file of the user's where the second output needs a directory.
        fs::write(out.join("d"), "user file").unwrap();
        let before = listing(&out);
        let err = write_outputs(
            &out,
            &FileBundle::new()
                .with_file("a.txt", "new")
                .with_file("b/c.txt", "c")
                .with_file("d/x.txt", "x"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs a directory"), "{err}");
        assert_eq!(listing(&out), before, "no temp file, no new directory");
        assert_eq!(fs::read_to_string(out.join("a.txt")).unwrap(), "old");
    }

    #[test]
    fn a_path_that_is_both_a_file_and_a_directory_is_refused_before_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let err = write_outputs(
            &out,
            &FileBundle::new()
                .with_file("a", "file")
                .with_file("a/b.txt", "below"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("both a file and a directory"),
            "{err}"
        );
        assert!(
            !out.exists(),
            "the output directory it created is removed again"
        );
    }

    #[test]
    fn the_manifest_name_is_reserved() {
        let tmp = tempfile::tempdir().unwrap();
        let err = write_outputs(
            tmp.path(),
            &FileBundle::new().with_file(OUTPUT_MANIFEST, "[]"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("reserved"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn never_writes_through_a_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let out = tmp.path().join("out");
        fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("d")).unwrap();
        let err = write_outputs(&out, &FileBundle::new().with_file("d/x.txt", "x")).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        std::os::unix::fs::symlink(outside.join("f"), out.join("f.txt")).unwrap();
        assert!(write_outputs(&out, &FileBundle::new().with_file("f.txt", "x")).is_err());
        assert!(!outside.join("f").exists());
    }
}
