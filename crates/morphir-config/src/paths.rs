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
