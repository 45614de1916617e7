//! Locations and the errors of a load.

use crate::Protocol;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where something was written: a file and a 1-based line and column (columns count
/// characters), plus the byte span for tools that underline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as the loader was given it joined with relative paths from there.
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range in the file.
    pub span: Range<usize>,
}

impl fmt::Display for Location {
    /// `file:line:col`, the form editors and terminals turn into links.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Renders `"file:line:col: "` or nothing.
struct Prefix<'a>(&'a Option<Location>);

impl fmt::Display for Prefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(location) => write!(f, "{location}: "),
            None => Ok(()),
        }
    }
}

/// Renders `"; did you mean `x`?"` or the fallback text.
struct Hint<'a>(&'a Option<String>, &'a str);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(suggestion) => write!(f, "did you mean `{suggestion}`?"),
            None => f.write_str(self.1),
        }
    }
}

/// Renders the list of keys a table takes, for an unknown key without a close match.
struct Expected<'a>(&'a [String]);

impl fmt::Display for Expected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("this table takes no keys");
        }
        f.write_str("expected one of ")?;
        for (i, key) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{key}`")?;
        }
        Ok(())
    }
}

/// One problem found while loading the configuration. Every variant but [`ConfigError::Read`]
/// of the root file names a [`Location`]; the message says what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A configuration file could not be read.
    #[error("{}cannot read `{}`: {source}", Prefix(location), path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Where it was referenced from (an `include` or `members` entry), if anywhere.
        location: Option<Location>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{location}: TOML syntax error: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// A key that the table does not take (usually a typo).
    #[error("{location}: unknown key `{key}` in {table}; {}", Hint(suggestion, &Expected(expected).to_string()))]
    UnknownKey {
        /// The key.
        location: Location,
        /// The key as written.
        key: String,
        /// The table, e.g. `[tasks.model]`.
        table: String,
        /// The closest known key, if any is close.
        suggestion: Option<String>,
        /// The keys the table takes.
        expected: Vec<String>,
    },
    /// A required key is absent.
    #[error("{location}: missing key `{key}` in {table}; add it")]
    MissingKey {
        /// The table.
        location: Location,
        /// The key.
        key: String,
        /// The table, e.g. `[tasks.model]`.
        table: String,
    },
    /// A key is in a file where it is not allowed (e.g. `[cache]` in a member).
    #[error("{location}: `{key}` is not allowed here; {reason}")]
    NotAllowedHere {
        /// The key.
        location: Location,
        /// The key.
        key: String,
        /// Where it belongs instead.
        reason: String,
    },
    /// A value has the wrong type or shape.
    #[error("{location}: {message} (in {table})")]
    InvalidValue {
        /// The value.
        location: Location,
        /// What is wrong, e.g. `invalid type: integer `3`, expected a string`.
        message: String,
        /// The table it is in.
        table: String,
    },
    /// A size such as `max_memory` does not parse.
    #[error(
        "{location}: invalid size {value:?} for `{key}`: {reason}; {}",
        crate::units::SIZE_HELP
    )]
    InvalidSize {
        /// The value.
        location: Location,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A duration such as `max_execution_time` does not parse.
    #[error(
        "{location}: invalid duration {value:?} for `{key}`: {reason}; {}",
        crate::units::DURATION_HELP
    )]
    InvalidDuration {
        /// The value.
        location: Location,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `hash` pin is not `blake3:<64 hex>`.
    #[error(
        "{location}: invalid hash {value:?}: {reason}; {}",
        crate::hash::HASH_HELP
    )]
    InvalidHash {
        /// The value.
        location: Location,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A protocol other than `core` or `component`.
    #[error(
        "{location}: unknown protocol {value:?}; use protocol = \"core\" (a core WebAssembly module) or protocol = \"component\" (a Component Model component)"
    )]
    UnknownProtocol {
        /// The `protocol` value.
        location: Location,
        /// The value as written.
        value: String,
    },
    /// A source `type` that does not go with the protocol.
    #[error(
        "{location}: source type {value:?} does not fit protocol \"{protocol}\"; use type = \"{}\"{}",
        protocol.source_type(),
        match protocol {
            Protocol::Core => " (a core WebAssembly module), or protocol = \"component\" for a component",
            _ => " (a Component Model component), or protocol = \"core\" for a core module",
        }
    )]
    UnsupportedSourceType {
        /// The `type` value.
        location: Location,
        /// The value as written.
        value: String,
        /// The extension's protocol.
        protocol: Protocol,
    },
    /// A task, extension or member name breaks the naming rule.
    #[error(
        "{location}: invalid {what} name {name:?}; names start with a lowercase letter or digit and contain only lowercase letters, digits, `-` and `_`"
    )]
    InvalidName {
        /// The name.
        location: Location,
        /// `task`, `extension` or `member`.
        what: &'static str,
        /// The name as written.
        name: String,
    },
    /// An environment variable name is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error(
        "{location}: invalid environment variable name {name:?}; use letters, digits and `_`, not starting with a digit"
    )]
    InvalidEnvName {
        /// The name.
        location: Location,
        /// The name as written.
        name: String,
    },
    /// Two extensions with one name.
    #[error(
        "{location}: duplicate extension `{name}` (first declared at {first}); extension names must be unique across the workspace"
    )]
    DuplicateExtension {
        /// The second declaration.
        location: Location,
        /// The name.
        name: String,
        /// The first declaration.
        first: Location,
    },
    /// Two tasks with one (qualified) name.
    #[error("{location}: duplicate task `{name}` (first declared at {first}); rename one of them")]
    DuplicateTask {
        /// The second declaration.
        location: Location,
        /// The qualified name.
        name: String,
        /// The first declaration.
        first: Location,
    },
    /// Two monorepo members with one directory name.
    #[error(
        "{location}: members `{}` and `{}` have the same directory name `{name}`, which namespaces their tasks; rename one directory",
        first.display(), second.display()
    )]
    DuplicateMember {
        /// The `members` entry that matched the second.
        location: Location,
        /// The shared name.
        name: String,
        /// The first member directory.
        first: PathBuf,
        /// The second member directory.
        second: PathBuf,
    },
    /// A task uses an extension nobody declared.
    #[error(
        "{location}: task `{task}` uses unknown extension `{name}`; {}",
        Hint(suggestion, "declare it in an [[extensions]] table")
    )]
    UnknownExtension {
        /// The `extension` value.
        location: Location,
        /// The task.
        task: String,
        /// The name as written.
        name: String,
        /// The closest declared extension, if any is close.
        suggestion: Option<String>,
    },
    /// A task uses an extension with `enabled = false`.
    #[error(
        "{location}: task `{task}` uses extension `{name}`, which is disabled (enabled = false at {declared_at}); enable the extension or remove it from the task"
    )]
    DisabledExtension {
        /// The `extension` value.
        location: Location,
        /// The task.
        task: String,
        /// The extension.
        name: String,
        /// The extension's `enabled` key.
        declared_at: Location,
    },
    /// An enabled extension's module file does not exist.
    #[error(
        "{location}: wasm file `{}` of extension `{extension}` does not exist; build the extension or fix `path` (it is relative to the file that declares the extension)",
        path.display()
    )]
    MissingWasm {
        /// The `path` value.
        location: Location,
        /// The extension.
        extension: String,
        /// The resolved path.
        path: PathBuf,
    },
    /// `depends_on` names a task that does not exist.
    #[error(
        "{location}: task `{task}` depends on unknown task `{dependency}`; {}",
        Hint(
            suggestion,
            "check the name (tasks of another member are written `member/task`)"
        )
    )]
    UnknownDependency {
        /// The `depends_on` entry.
        location: Location,
        /// The task.
        task: String,
        /// The name as written.
        dependency: String,
        /// The closest task name, if any is close.
        suggestion: Option<String>,
    },
    /// A task lists the same backend extension twice.
    #[error(
        "{location}: task `{task}` uses backend `{extension}` twice (first at {first}); step ids must be unique: move the second use into another task that depends on this one"
    )]
    DuplicateBackend {
        /// The second use.
        location: Location,
        /// The task.
        task: String,
        /// The extension.
        extension: String,
        /// The first use.
        first: Location,
    },
    /// A backend output that is absolute, leaves the project, or is the project itself.
    #[error(
        "{location}: output `{output}` of task `{task}` {reason}; use a relative directory inside the project, such as \"out/{task_dir}\""
    )]
    InvalidOutput {
        /// The `output` value.
        location: Location,
        /// The task.
        task: String,
        /// The value as written.
        output: String,
        /// `is absolute`, `escapes the project` or `is the project directory itself`.
        reason: &'static str,
        /// A directory-safe form of the task name, for the example.
        task_dir: String,
    },
    /// Two backends write the same directory, or one inside the other.
    #[error(
        "{location}: output `{}` of task `{task}` {relation} output `{}` of task `{other_task}` (at {other_location}); give every backend a directory of its own",
        output.display(), other_output.display()
    )]
    OutputConflict {
        /// The `output` value.
        location: Location,
        /// The task.
        task: String,
        /// The output, relative to the workspace root.
        output: PathBuf,
        /// `is also` or `is inside`.
        relation: &'static str,
        /// The other task.
        other_task: String,
        /// The other output, relative to the workspace root.
        other_output: PathBuf,
        /// The other `output` value.
        other_location: Location,
    },
    /// An input glob that does not parse, is absolute, or leaves the workspace.
    #[error("{location}: invalid input pattern {pattern:?}: {reason}")]
    InvalidInput {
        /// The pattern.
        location: Location,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `include` or `members` glob that does not parse.
    #[error("{location}: invalid glob {pattern:?}: {reason}")]
    InvalidGlob {
        /// The pattern.
        location: Location,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `include` entry without glob characters names a file that does not exist.
    #[error("{location}: included file `{}` does not exist; fix the path (it is relative to this file) or remove the entry", path.display())]
    MissingInclude {
        /// The `include` entry.
        location: Location,
        /// The resolved path.
        path: PathBuf,
    },
    /// A `members` entry without glob characters is not a directory with a `morphir.toml`.
    #[error("{location}: member `{}` has no morphir.toml; create one or remove the entry", path.display())]
    MissingMember {
        /// The `members` entry.
        location: Location,
        /// The member directory.
        path: PathBuf,
    },
    /// An extension `config` value that JSON cannot hold (NaN or infinite floats).
    #[error("{location}: {reason}")]
    InvalidConfigValue {
        /// The `config` table.
        location: Location,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    /// Where the problem is, when it has a place in a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Read { location, .. } => location.as_ref(),
            Self::Syntax { location, .. }
            | Self::UnknownKey { location, .. }
            | Self::MissingKey { location, .. }
            | Self::NotAllowedHere { location, .. }
            | Self::InvalidValue { location, .. }
            | Self::InvalidSize { location, .. }
            | Self::InvalidDuration { location, .. }
            | Self::InvalidHash { location, .. }
            | Self::UnknownProtocol { location, .. }
            | Self::UnsupportedSourceType { location, .. }
            | Self::InvalidName { location, .. }
            | Self::InvalidEnvName { location, .. }
            | Self::DuplicateExtension { location, .. }
            | Self::DuplicateTask { location, .. }
            | Self::DuplicateMember { location, .. }
            | Self::UnknownExtension { location, .. }
            | Self::DisabledExtension { location, .. }
            | Self::MissingWasm { location, .. }
            | Self::UnknownDependency { location, .. }
            | Self::DuplicateBackend { location, .. }
            | Self::InvalidOutput { location, .. }
            | Self::OutputConflict { location, .. }
            | Self::InvalidInput { location, .. }
            | Self::InvalidGlob { location, .. }
            | Self::MissingInclude { location, .. }
            | Self::MissingMember { location, .. }
            | Self::InvalidConfigValue { location, .. } => Some(location),
        }
    }
}

/// All the problems of one load, in file order. Never empty.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// Sorts errors by file (in the order files were loaded), then position, keeping the order of
    /// errors at one position.
    pub(crate) fn sorted(mut errors: Vec<ConfigError>, file_order: &[Arc<Path>]) -> Self {
        let rank = |e: &ConfigError| match e.location() {
            None => (0, 0),
            Some(l) => (
                1 + file_order
                    .iter()
                    .position(|f| *f == l.file)
                    .unwrap_or(file_order.len()),
                l.span.start,
            ),
        };
        errors.sort_by_key(rank);
        Self(errors)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} errors in the configuration:", many.len())?;
                for error in many {
                    write!(f, "\n{error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}
