//! Lexical path checks and config discovery.

use std::path::{Component, Path, PathBuf};

use crate::raw::MembersOnly;

/// The configuration file name.
pub const CONFIG_FILE: &str = "morphir.toml";

/// Why a path cannot be used relative to a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathProblem {
    Absolute,
    Escapes,
}

/// Resolves `.` and `..` without touching the file system. The result is relative to the same
/// base as `path`; a `..` that would climb above that base is [`PathProblem::Escapes`].
pub(crate) fn normalize(path: &Path) -> Result<PathBuf, PathProblem> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err(PathProblem::Escapes);
                }
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::Prefix(_) => return Err(PathProblem::Absolute),
        }
    }
    Ok(out)
}

/// Whether an `include`/`members` entry is a glob (otherwise it names one file or directory,
/// which must exist).
pub(crate) fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// Options for matching `include`, `members` and `inputs` globs: `*` stays within one path
/// component; `**` crosses them.
pub(crate) const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Expands `pattern` relative to `dir`, sorted. Errors are the glob's message.
pub(crate) fn expand_glob(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let dir = dir.to_string_lossy();
    let full = if dir.is_empty() {
        pattern.to_owned()
    } else {
        format!("{}/{pattern}", glob::Pattern::escape(&dir))
    };
    let mut paths: Vec<PathBuf> = glob::glob_with(&full, GLOB_OPTIONS)
        .map_err(|e| e.msg.to_owned())?
        .filter_map(Result::ok)
        .collect();
    paths.sort();
    Ok(paths)
}

/// The files `pattern` matches relative to `dir` (symbolic links to files included), sorted:
/// what [`expand_glob`] and an `is_file` check per match give (but for a trailing `**`, which
/// here means every file below, as `**/*`; see `docs/config.md`), for a fraction of the system
/// calls. The `glob` crate checks every component of the full path with a `stat` (`/`, `/home`,
/// ... for each pattern) and each match needs another; this walk reads only the directories a
/// wildcard has to list and takes file types from the listing. Every build runs it for every
/// frontend, cached or not, so it is on the hot path of a cached build. Shapes it does not walk
/// (absolute patterns, `.` or `..` components, a `/` inside `[...]`) go through the `glob`
/// crate.
pub(crate) fn glob_files(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    glob::Pattern::new(pattern).map_err(|e| e.msg.to_owned())?;
    let parts: Vec<&str> = pattern.split('/').collect();
    let walkable = !pattern.starts_with('/')
        && !pattern.contains('\\')
        && parts
            .iter()
            .all(|p| !p.is_empty() && *p != "." && *p != ".." && glob::Pattern::new(p).is_ok());
    if !walkable {
        return Ok(expand_glob(dir, pattern)?
            .into_iter()
            .filter(|p| p.is_file())
            .collect());
    }
    let mut files = Vec::new();
    walk(dir, &parts, &mut files);
    files.sort();
    files.dedup();
    Ok(files)
}

/// Whether `entry` is a file or a directory, following a symbolic link (as `glob` does).
fn kind(entry: &std::fs::DirEntry) -> (bool, bool) {
    match entry.file_type() {
        Ok(t) if t.is_symlink() => {
            std::fs::metadata(entry.path()).map_or((false, false), |m| (m.is_file(), m.is_dir()))
        }
        Ok(t) => (t.is_file(), t.is_dir()),
        Err(_) => (false, false),
    }
}

fn list(dir: &Path) -> impl Iterator<Item = std::fs::DirEntry> {
    let at = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::read_dir(at).into_iter().flatten().flatten()
}

fn walk(base: &Path, parts: &[&str], files: &mut Vec<PathBuf>) {
    let Some((&first, rest)) = parts.split_first() else {
        return;
    };
    if first == "**" {
        // `a/**` is every file below `a`: `a/**/*`.
        let rest: &[&str] = if rest.is_empty() { &["*"] } else { rest };
        // Zero directories...
        walk(base, rest, files);
        // ...or one more, and `**` again. Links to directories are not followed here, so a
        // link cycle cannot make the walk endless.
        for entry in list(base) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&base.join(entry.file_name()), parts, files);
            }
        }
        return;
    }
    if !is_glob(first) {
        let next = base.join(first);
        if rest.is_empty() {
            if next.is_file() {
                files.push(next);
            }
        } else {
            // No stat: listing it below fails when it does not exist.
            walk(&next, rest, files);
        }
        return;
    }
    let Ok(pattern) = glob::Pattern::new(first) else {
        return;
    };
    for entry in list(base) {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| pattern.matches_with(n, GLOB_OPTIONS))
        {
            continue;
        }
        let (is_file, is_dir) = kind(&entry);
        if rest.is_empty() {
            if is_file {
                files.push(base.join(&name));
            }
        } else if is_dir {
            walk(&base.join(&name), rest, files);
        }
    }
}

/// Finds the `morphir.toml` that governs `start_dir`, the way cargo finds a manifest: the
/// nearest one in `start_dir` or a parent. When that file belongs to a monorepo member (a
/// `morphir.toml` further up lists its directory under `[project] members`), the workspace
/// root's file is returned instead, so running inside a member builds the workspace. A relative
/// `start_dir` is taken relative to the current directory.
pub fn find_config(start_dir: &Path) -> Option<PathBuf> {
    let start = std::path::absolute(start_dir).unwrap_or_else(|_| start_dir.to_owned());
    let nearest = start
        .ancestors()
        .map(|dir| dir.join(CONFIG_FILE))
        .find(|file| file.is_file())?;
    let member_dir = nearest.parent()?;
    for ancestor in member_dir.ancestors().skip(1) {
        let candidate = ancestor.join(CONFIG_FILE);
        if candidate.is_file() && lists_member(&candidate, ancestor, member_dir) {
            return Some(candidate);
        }
    }
    Some(nearest)
}

/// Whether the config at `root_file` (in `root_dir`) lists `member_dir` as a member.
fn lists_member(root_file: &Path, root_dir: &Path, member_dir: &Path) -> bool {
    let Ok(relative) = member_dir.strip_prefix(root_dir) else {
        return false;
    };
    let Ok(text) = std::fs::read_to_string(root_file) else {
        return false;
    };
    let Ok(parsed) = toml::from_str::<MembersOnly>(&text) else {
        return false;
    };
    parsed.project.members.iter().any(|pattern| {
        if is_glob(pattern) {
            glob::Pattern::new(pattern).is_ok_and(|p| p.matches_path_with(relative, GLOB_OPTIONS))
        } else {
            normalize(Path::new(pattern)).is_ok_and(|p| p == relative)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        assert_eq!(
            normalize(Path::new("out/./ts")),
            Ok(PathBuf::from("out/ts"))
        );
        assert_eq!(normalize(Path::new("a/../b")), Ok(PathBuf::from("b")));
        assert_eq!(normalize(Path::new(".")), Ok(PathBuf::new()));
        assert_eq!(normalize(Path::new("../x")), Err(PathProblem::Escapes));
        assert_eq!(normalize(Path::new("a/../../x")), Err(PathProblem::Escapes));
        assert_eq!(normalize(Path::new("/abs")), Err(PathProblem::Absolute));
    }

    #[test]
    fn finds_nearest_config_and_prefers_the_workspace_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("packages/api/src")).unwrap();
        std::fs::create_dir_all(root.join("other/deep")).unwrap();
        std::fs::write(
            root.join(CONFIG_FILE),
            "[project]\nname = \"r\"\nmembers = [\"packages/*\"]\n",
        )
        .unwrap();
        std::fs::write(root.join("packages/api").join(CONFIG_FILE), "").unwrap();
        std::fs::write(root.join("other").join(CONFIG_FILE), "").unwrap();

        assert_eq!(find_config(root), Some(root.join(CONFIG_FILE)));
        assert_eq!(
            find_config(&root.join("packages/api/src")),
            Some(root.join(CONFIG_FILE))
        );
        // `other` has its own config and is not a member: it is a project of its own.
        assert_eq!(
            find_config(&root.join("other/deep")),
            Some(root.join("other").join(CONFIG_FILE))
        );

        let empty = tempfile::tempdir().unwrap();
        // Only if no parent of the temp dir has a morphir.toml, which is the case on CI.
        if !empty
            .path()
            .ancestors()
            .any(|d| d.join(CONFIG_FILE).exists())
        {
            assert_eq!(find_config(empty.path()), None);
        }
    }
}

#[cfg(test)]
mod glob_tests {
    use super::*;

    /// The walk finds exactly what the `glob` crate and an `is_file` check find.
    #[test]
    fn glob_files_agrees_with_the_glob_crate() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for file in [
            "a.md",
            "b.txt",
            ".hidden.md",
            "src/x.json",
            "src/y.json",
            "src/deep/z.json",
            "src/deep/er/w.json",
            "src/.dot/v.json",
            "docs/one.md",
            "docs/two.MD",
            "n[1].md",
            "lone/f",
            "e/mpty/.keep",
        ] {
            let path = r.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, file).unwrap();
        }
        std::fs::create_dir_all(r.join("docs/sub.md")).unwrap(); // a directory named like a match
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(r.join("a.md"), r.join("docs/link.md")).unwrap();
            std::os::unix::fs::symlink(r.join("nowhere"), r.join("docs/dangling.md")).unwrap();
        }
        let patterns = [
            "*.md",
            "*",
            "**/*.json",
            "src/**",
            "src/**/*.json",
            "src/*/*.json",
            "**/*.md",
            "docs/*.md",
            "docs/*.[mM][dD]",
            "n[[]1].md",
            "lone/f",
            "lone/missing",
            "missing/*",
            "src/deep/**/w.json",
            "**",
            "?.md",
            "e/**",
            "**/.keep",
            "src/*",
            "docs/link.md",
        ];
        for dir in [r.to_path_buf(), r.join("src")] {
            for pattern in patterns {
                let ours = glob_files(&dir, pattern).unwrap();
                // One difference, on purpose: for `glob`, a trailing `**` matches directories
                // only, so `src/**` read no file; here it is every file below (`src/**/*`), as
                // in .gitignore and Turborepo.
                let theirs_pattern = match pattern.strip_suffix("**") {
                    Some(stem) => format!("{stem}**/*"),
                    None => pattern.to_owned(),
                };
                let theirs: Vec<PathBuf> = expand_glob(&dir, &theirs_pattern)
                    .unwrap()
                    .into_iter()
                    .filter(|p| p.is_file())
                    .collect();
                assert_eq!(ours, theirs, "pattern {pattern:?} in {}", dir.display());
            }
        }
        assert!(
            glob_files(r, "[").is_err(),
            "a bad pattern is an error, as with glob"
        );
    }
}
