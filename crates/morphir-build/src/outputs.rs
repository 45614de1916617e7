//! Writes a backend's artifacts into its output directory.
//!
//! Rules (also in `docs/abi.md`, "Artifacts"):
//! * paths are clean and relative (the bundle decoder refuses `..`, absolute paths, empty
//!   components), and nothing on the way to a file may be a symbolic link: a link planted in
//!   the output directory cannot redirect a write outside it;
//! * each file is written to a temporary file beside it and renamed into place, so it is
//!   complete or absent, never half-written;
//! * a file whose bytes are already right is not rewritten (a cached build touches nothing);
//! * files the backend produced last time but not this time are removed. What the backend
//!   produced is recorded in [`OUTPUT_MANIFEST`] inside the directory; files the backend never
//!   produced are left alone.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use morphir_envelope::FileBundle;

/// The record of what the backend wrote, kept in its output directory.
pub const OUTPUT_MANIFEST: &str = ".morphir-outputs.json";

fn refuse(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{}: {why}", path.display()),
    )
}

/// Creates `dir` and every directory below it on the way to `rel`, refusing symbolic links.
fn ensure_dirs(dir: &Path, rel: &Path) -> io::Result<()> {
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
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir(&at)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Marks the temporary file of an output being written: `.<name>.morphir-tmp-<pid>`.
const TMP_MARK: &str = ".morphir-tmp-";

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}{TMP_MARK}{}", std::process::id()));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        // Halfway, for the crash harness (RELIABILITY.md): a kill here leaves a torn temp file.
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        f.write_all(head)?;
        morphir_cache::failpoint("output-write");
        f.write_all(tail)?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    written.inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
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
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent)?;
    }
    ensure_dirs(
        dir.parent().unwrap_or(dir),
        Path::new(dir.file_name().unwrap_or_default()),
    )?;
    let mut written = BTreeSet::new();
    let mut dirs = BTreeSet::from([dir.to_path_buf()]);
    for file in &bundle.files {
        let rel = PathBuf::from(&file.path);
        if file.path == OUTPUT_MANIFEST {
            return Err(refuse(
                &rel,
                "is reserved for morphir's record of the outputs",
            ));
        }
        if !written.insert(file.path.clone()) {
            return Err(refuse(&rel, "produced twice by the backend"));
        }
        if let Some(parent) = rel.parent() {
            ensure_dirs(dir, parent)?;
        }
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            dirs.insert(parent.to_path_buf());
        }
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
            Ok(m) if m.len() == file.content.len() as u64 && fs::read(&path)? == file.content => {
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        write_atomic(&path, &file.content)?;
    }

    for d in &dirs {
        remove_dead_temps(d);
    }

    // Remove what the backend produced last time and no longer does.
    let manifest_path = dir.join(OUTPUT_MANIFEST);
    let previous: Vec<String> = fs::read(&manifest_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
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
    let list: Vec<&String> = written.iter().collect();
    let text = serde_json::to_vec_pretty(&list).map_err(io::Error::other)?;
    if fs::read(&manifest_path).ok().as_deref() != Some(text.as_slice()) {
        write_atomic(&manifest_path, &text)?;
    }
    Ok(())
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

    #[test]
    fn temp_files_of_a_killed_build_are_removed_when_outputs_are_written_again() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        fs::create_dir_all(out.join("d")).unwrap();
        // Above any pid_max: no such process.
        let dead = [".a.txt.morphir-tmp-4294967", "d/.b.txt.morphir-tmp-4294966"];
        for t in dead {
            fs::write(out.join(t), "half").unwrap();
        }
        let theirs = format!(".a.txt{TMP_MARK}1");
        fs::write(out.join(&theirs), "pid 1 is alive").unwrap();
        let bundle = FileBundle::new()
            .with_file("a.txt", "a")
            .with_file("d/b.txt", "b");
        write_outputs(&out, &bundle).unwrap();
        for t in dead {
            assert!(!out.join(t).exists(), "{t} left behind");
        }
        assert_eq!(
            out.join(&theirs).exists(),
            Path::new("/proc/1").exists(),
            "a live process's temp file was removed"
        );
        assert_eq!(fs::read_to_string(out.join("d/b.txt")).unwrap(), "b");
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
