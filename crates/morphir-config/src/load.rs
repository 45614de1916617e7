//! The loader: reads the root file, its includes and its members, then validates across files.
//!
//! Each table entry (an extension, a task) is deserialized on its own, so a typo in one does not
//! hide the errors of the others. Cross-references (extension uses, `depends_on`) are checked
//! after every file is read. When a file could not be read or parsed, or an entry could not be
//! deserialized, references to what it might have declared are not reported as unknown: the
//! user fixes the real error first without a cascade of false ones.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::{ConfigError, ConfigErrors, Location};
use crate::hash::Blake3Hash;
use crate::json::{merge, table_to_json};
use crate::model::{
    Backend, CacheConfig, Config, Dependency, Extension, ExtensionRef, ExtensionSource, Frontend,
    LoadOptions, Member, Permissions, Project, Protocol, RemoteCacheConfig, Task,
    check_remote_endpoint,
};
use crate::names::{did_you_mean, is_valid_env_name, is_valid_name};
use crate::paths::{CONFIG_FILE, PathProblem, expand_glob, is_glob, normalize};
use crate::raw::{
    RawCache, RawExtension, RawPermissions, RawProject, RawRemote, RawTask, SpannedTable,
};
use crate::source::SourceFile;
use crate::units::{ByteSize, parse_duration};

/// The default `[cache] dir`.
/// The cache directory, relative to the workspace root, when `[cache] dir` does not say.
pub const DEFAULT_CACHE_DIR: &str = "cache";

/// Which kind of file is being read: it decides the top-level keys allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Root,
    Member,
    Include,
}

impl FileKind {
    fn allowed_keys(self) -> &'static [&'static str] {
        match self {
            Self::Root => &["project", "cache", "extensions", "tasks"],
            Self::Member => &["project", "extensions", "tasks"],
            Self::Include => &["extensions", "tasks"],
        }
    }
}

/// The root or a member: where its tasks' paths are relative to, and their namespace.
#[derive(Debug)]
struct Scope {
    member: Option<String>,
    /// Relative to the workspace root.
    rel: PathBuf,
}

#[derive(Debug)]
struct PendingExtension {
    raw: RawExtension,
    file: Arc<SourceFile>,
}

#[derive(Debug)]
struct PendingTask {
    name: String,
    scope: usize,
    location: Location,
    raw: RawTask,
    file: Arc<SourceFile>,
}

/// What a root or member file says besides extensions and tasks.
#[derive(Debug, Default)]
struct FileTop {
    project: Option<(RawProject, Location)>,
    /// `[project]` was there but did not deserialize (its error is recorded).
    project_broken: bool,
    cache: Option<RawCache>,
}

/// A resolved extension plus what task checks need.
#[derive(Debug)]
struct Declared {
    extension: Extension,
    enabled_location: Location,
}

struct Loader {
    root: PathBuf,
    errors: Vec<ConfigError>,
    files: Vec<Arc<SourceFile>>,
    scopes: Vec<Scope>,
    extensions: Vec<PendingExtension>,
    tasks: Vec<PendingTask>,
    /// Names declared by entries that failed to deserialize.
    broken_extensions: HashSet<String>,
    broken_tasks: HashSet<String>,
    /// A file could not be read or parsed: unknown references are not reported.
    incomplete: bool,
}

pub(crate) fn load(path: &Path, options: LoadOptions) -> Result<Config, ConfigErrors> {
    let root = path.parent().map(Path::to_owned).unwrap_or_default();
    let mut loader = Loader {
        root: root.clone(),
        errors: Vec::new(),
        files: Vec::new(),
        scopes: vec![Scope {
            member: None,
            rel: PathBuf::new(),
        }],
        extensions: Vec::new(),
        tasks: Vec::new(),
        broken_extensions: HashSet::new(),
        broken_tasks: HashSet::new(),
        incomplete: false,
    };

    let Some((top, root_file)) = loader.read_file(path, FileKind::Root, 0, None) else {
        return Err(loader.finish_errors());
    };

    let project = loader.project(top.project, top.project_broken, &root_file);
    let cache = loader.cache(top.cache, &root_file);
    let members = loader.members(project.members.as_ref(), &root_file);
    loader.includes(&project.include, &root_file, 0);
    let members = loader.read_members(members);

    let extensions = loader.check_extensions();
    let tasks = loader.check_tasks(&extensions);
    loader.check_outputs(&tasks);

    let config = Config {
        file: path.to_owned(),
        root,
        project: Project {
            name: project.name,
            description: project.description,
        },
        cache,
        members,
        extensions: extensions
            .into_iter()
            .map(|(name, declared)| (name, declared.extension))
            .collect(),
        tasks,
        files: loader.files.iter().map(|f| f.path.to_path_buf()).collect(),
    };
    if options.check_files
        && let Err(missing) = config.check_files()
    {
        loader.errors.extend(missing);
    }
    if loader.errors.is_empty() {
        tracing::debug!(
            file = %path.display(),
            tasks = config.tasks.len(),
            extensions = config.extensions.len(),
            members = config.members.len(),
            "loaded configuration"
        );
        Ok(config)
    } else {
        Err(loader.finish_errors())
    }
}

/// `[project]` of the root file, checked.
struct RootProject {
    name: String,
    description: Option<String>,
    members: Option<Spanned<Vec<Spanned<String>>>>,
    include: Vec<Spanned<String>>,
}

impl Loader {
    fn finish_errors(&mut self) -> ConfigErrors {
        let order: Vec<Arc<Path>> = self.files.iter().map(|f| Arc::clone(&f.path)).collect();
        ConfigErrors::sorted(std::mem::take(&mut self.errors), &order)
    }

    /// Reads and parses one file and sorts its top-level tables into the loader. `None` when it
    /// could not be read or parsed (the errors are recorded).
    fn read_file(
        &mut self,
        path: &Path,
        kind: FileKind,
        scope: usize,
        referenced_from: Option<Location>,
    ) -> Option<(FileTop, Arc<SourceFile>)> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(source) => {
                self.incomplete = true;
                self.errors.push(ConfigError::Read {
                    path: path.to_owned(),
                    location: referenced_from,
                    source,
                });
                return None;
            }
        };
        let file = Arc::new(SourceFile::new(path, text));
        self.files.push(Arc::clone(&file));
        let (document, syntax_errors) = DeTable::parse_recoverable(&file.text);
        if !syntax_errors.is_empty() {
            self.incomplete = true;
            for error in syntax_errors {
                self.errors.push(ConfigError::Syntax {
                    location: file.location(error.span().unwrap_or(0..0)),
                    message: error.message().to_owned(),
                });
            }
            return None;
        }
        let mut top = FileTop::default();
        for (key, value) in document.into_inner() {
            let key_location = file.location(key.span());
            let key = key.into_inner();
            let allowed = kind.allowed_keys();
            match key.as_ref() {
                k if !allowed.contains(&k) => {
                    self.errors.push(match k {
                        "project" => ConfigError::NotAllowedHere {
                            location: key_location,
                            key: "[project]".to_owned(),
                            reason: "an included file holds only [[extensions]] and [tasks.*]"
                                .to_owned(),
                        },
                        "cache" => ConfigError::NotAllowedHere {
                            location: key_location,
                            key: "[cache]".to_owned(),
                            reason:
                                "the cache is configured once, in the workspace root's morphir.toml"
                                    .to_owned(),
                        },
                        _ => unknown_key(key_location, k, "the top level", allowed),
                    });
                }
                "project" => match self.deserialize::<RawProject>(&file, value, "[project]") {
                    Some(project) => top.project = Some((project, key_location)),
                    None => top.project_broken = true,
                },
                "cache" => top.cache = self.deserialize::<RawCache>(&file, value, "[cache]"),
                "extensions" => self.read_extensions(&file, value),
                "tasks" => self.read_tasks(&file, value, scope),
                _ => unreachable!("every allowed key is matched above"),
            }
        }
        Some((top, file))
    }

    fn read_extensions(&mut self, file: &Arc<SourceFile>, value: Spanned<DeValue<'_>>) {
        let location = file.location(value.span());
        let DeValue::Array(entries) = value.into_inner() else {
            self.errors.push(ConfigError::InvalidValue {
                location,
                message:
                    "`extensions` must be an array of tables; write each one as [[extensions]]"
                        .to_owned(),
                table: "the top level".to_owned(),
            });
            return;
        };
        for entry in entries {
            let name = entry
                .get_ref()
                .get("name")
                .and_then(|n| n.get_ref().as_str())
                .map(str::to_owned);
            let table = match &name {
                Some(name) => format!("extension `{name}`"),
                None => "[[extensions]]".to_owned(),
            };
            match self.deserialize::<RawExtension>(file, entry, &table) {
                Some(raw) => self.extensions.push(PendingExtension {
                    raw,
                    file: Arc::clone(file),
                }),
                None => {
                    if let Some(name) = name {
                        self.broken_extensions.insert(name);
                    }
                }
            }
        }
    }

    fn read_tasks(&mut self, file: &Arc<SourceFile>, value: Spanned<DeValue<'_>>, scope: usize) {
        let location = file.location(value.span());
        let DeValue::Table(entries) = value.into_inner() else {
            self.errors.push(ConfigError::InvalidValue {
                location,
                message: "`tasks` must be a table of tasks; write each one as [tasks.NAME]"
                    .to_owned(),
                table: "the top level".to_owned(),
            });
            return;
        };
        for (key, entry) in entries {
            let location = file.location(key.span());
            let local = key.into_inner().into_owned();
            let name = match &self.scopes[scope].member {
                Some(member) => format!("{member}/{local}"),
                None => local.clone(),
            };
            if !is_valid_name(&local) {
                self.errors.push(ConfigError::InvalidName {
                    location: location.clone(),
                    what: "task",
                    name: local,
                });
            }
            match self.deserialize::<RawTask>(file, entry, &format!("[tasks.{name}]")) {
                Some(raw) => self.tasks.push(PendingTask {
                    name,
                    scope,
                    location,
                    raw,
                    file: Arc::clone(file),
                }),
                None => {
                    self.broken_tasks.insert(name);
                }
            }
        }
    }

    /// Deserializes one value, turning serde's error into ours.
    fn deserialize<T: for<'de> Deserialize<'de>>(
        &mut self,
        file: &SourceFile,
        value: Spanned<DeValue<'_>>,
        table: &str,
    ) -> Option<T> {
        let whole = value.span();
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                let location = file.location(error.span().unwrap_or(whole));
                self.errors
                    .push(from_serde(location, error.message(), table));
                None
            }
        }
    }

    fn project(
        &mut self,
        project: Option<(RawProject, Location)>,
        broken: bool,
        file: &SourceFile,
    ) -> RootProject {
        let Some((raw, location)) = project else {
            if !broken {
                self.errors.push(ConfigError::MissingKey {
                    location: file.start(),
                    key: "[project]".to_owned(),
                    table: "the workspace root's morphir.toml".to_owned(),
                });
            }
            return RootProject {
                name: String::new(),
                description: None,
                members: None,
                include: Vec::new(),
            };
        };
        let name = match raw.name {
            Some(name) if !name.get_ref().trim().is_empty() => name.into_inner(),
            Some(name) => {
                self.errors.push(ConfigError::InvalidValue {
                    location: file.location(name.span()),
                    message: "the project name is empty".to_owned(),
                    table: "[project]".to_owned(),
                });
                String::new()
            }
            None => {
                self.errors.push(ConfigError::MissingKey {
                    location,
                    key: "name".to_owned(),
                    table: "[project]".to_owned(),
                });
                String::new()
            }
        };
        RootProject {
            name,
            description: raw.description,
            members: raw.members,
            include: raw.include,
        }
    }

    fn cache(&mut self, cache: Option<RawCache>, file: &SourceFile) -> CacheConfig {
        let mut cache = cache.unwrap_or(RawCache {
            dir: None,
            max_size: None,
            remote: None,
        });
        let dir = match cache.dir {
            Some(dir) if dir.get_ref().is_empty() => {
                self.errors.push(ConfigError::InvalidValue {
                    location: file.location(dir.span()),
                    message: "the cache directory is empty; remove `dir` to use \"cache\""
                        .to_owned(),
                    table: "[cache]".to_owned(),
                });
                self.root.join(DEFAULT_CACHE_DIR)
            }
            Some(dir) => self.root.join(dir.get_ref()),
            None => self.root.join(DEFAULT_CACHE_DIR),
        };
        let max_size = cache
            .max_size
            .and_then(|size| self.size(file, &size, "max_size"));
        let remote = cache.remote.take().and_then(|r| self.remote(r, file));
        CacheConfig {
            dir,
            max_size,
            remote,
        }
    }

    /// `[cache.remote]`: every value checked here, so a typo fails the load instead of
    /// silently building without the shared cache.
    fn remote(&mut self, raw: RawRemote, file: &SourceFile) -> Option<RemoteCacheConfig> {
        let table = "[cache.remote]".to_owned();
        let mut ok = true;
        if let Err(message) = check_remote_endpoint(raw.endpoint.get_ref()) {
            self.errors.push(ConfigError::InvalidValue {
                location: file.location(raw.endpoint.span()),
                message,
                table: table.clone(),
            });
            ok = false;
        }
        if let Some(name) = &raw.token_env
            && !is_valid_env_name(name.get_ref())
        {
            // A token pasted in by mistake must not end up in an error message either.
            self.errors.push(ConfigError::InvalidValue {
                location: file.location(name.span()),
                message: "`token_env` names the environment variable that holds the token \
                          (letters, digits and `_`, e.g. \"MORPHIR_REMOTE_CACHE_TOKEN\"); \
                          the token itself never goes in this file"
                    .to_owned(),
                table: table.clone(),
            });
            ok = false;
        }
        let timeout = raw.timeout.as_ref().and_then(|value| {
            parse_duration(value.get_ref())
                .map_err(|reason| {
                    ok = false;
                    self.errors.push(ConfigError::InvalidDuration {
                        location: file.location(value.span()),
                        key: "timeout".to_owned(),
                        value: value.get_ref().clone(),
                        reason,
                    });
                })
                .ok()
        });
        let ca_file = raw.ca_file.map(|path| {
            // Relative to the root file, like `dir`.
            self.root.join(path.get_ref())
        });
        ok.then(|| RemoteCacheConfig {
            endpoint: raw.endpoint.into_inner(),
            instance_name: raw.instance_name,
            token_env: raw.token_env.map(Spanned::into_inner),
            ca_file,
            timeout,
            upload: raw.upload.unwrap_or(true),
        })
    }

    fn size(&mut self, file: &SourceFile, value: &Spanned<String>, key: &str) -> Option<ByteSize> {
        value
            .get_ref()
            .parse::<ByteSize>()
            .map_err(|reason| {
                self.errors.push(ConfigError::InvalidSize {
                    location: file.location(value.span()),
                    key: key.to_owned(),
                    value: value.get_ref().clone(),
                    reason,
                });
            })
            .ok()
    }

    /// Includes of a root or member file: globs may match nothing; plain paths must exist.
    fn includes(&mut self, include: &[Spanned<String>], file: &Arc<SourceFile>, scope: usize) {
        let dir = file.path.parent().map(Path::to_owned).unwrap_or_default();
        let mut seen = HashSet::new();
        for pattern in include {
            let location = file.location(pattern.span());
            let paths = if is_glob(pattern.get_ref()) {
                match expand_glob(&dir, pattern.get_ref()) {
                    // A glob never pulls in a `morphir.toml` (a member's, or this one).
                    Ok(paths) => paths
                        .into_iter()
                        .filter(|p| p.is_file() && p.file_name() != Some(CONFIG_FILE.as_ref()))
                        .collect(),
                    Err(reason) => {
                        self.errors.push(ConfigError::InvalidGlob {
                            location,
                            pattern: pattern.get_ref().clone(),
                            reason,
                        });
                        continue;
                    }
                }
            } else {
                let path = dir.join(pattern.get_ref());
                if !path.is_file() {
                    self.incomplete = true;
                    self.errors
                        .push(ConfigError::MissingInclude { location, path });
                    continue;
                }
                vec![path]
            };
            for path in paths {
                if path.as_path() == &*file.path || !seen.insert(path.clone()) {
                    continue;
                }
                self.read_file(&path, FileKind::Include, scope, Some(location.clone()));
            }
        }
    }

    /// Expands `[project] members` into member directories (relative to the root), checked for
    /// names and duplicates; each with the location of the entry that matched it.
    fn members(
        &mut self,
        members: Option<&Spanned<Vec<Spanned<String>>>>,
        file: &SourceFile,
    ) -> Vec<(String, PathBuf, Location)> {
        let mut found: Vec<(String, PathBuf, Location)> = Vec::new();
        let mut by_name: HashMap<String, PathBuf> = HashMap::new();
        for pattern in members.map(Spanned::get_ref).into_iter().flatten() {
            let location = file.location(pattern.span());
            let rel = match normalize(Path::new(pattern.get_ref())) {
                Ok(rel) if !rel.as_os_str().is_empty() => rel,
                _ => {
                    self.errors.push(ConfigError::InvalidGlob {
                        location,
                        pattern: pattern.get_ref().clone(),
                        reason: "members must be directories inside the workspace, written relative to it".to_owned(),
                    });
                    continue;
                }
            };
            let dirs: Vec<PathBuf> = if is_glob(pattern.get_ref()) {
                match expand_glob(&self.root, &rel.to_string_lossy()) {
                    Ok(paths) => paths
                        .into_iter()
                        .filter(|p| p.join(CONFIG_FILE).is_file())
                        .filter_map(|p| p.strip_prefix(&self.root).ok().map(Path::to_owned))
                        .collect(),
                    Err(reason) => {
                        self.errors.push(ConfigError::InvalidGlob {
                            location,
                            pattern: pattern.get_ref().clone(),
                            reason,
                        });
                        continue;
                    }
                }
            } else {
                if !self.root.join(&rel).join(CONFIG_FILE).is_file() {
                    self.incomplete = true;
                    self.errors.push(ConfigError::MissingMember {
                        location,
                        path: self.root.join(&rel),
                    });
                    continue;
                }
                vec![rel]
            };
            for dir in dirs {
                if found.iter().any(|(_, d, _)| *d == dir) {
                    continue;
                }
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !is_valid_name(&name) {
                    self.errors.push(ConfigError::InvalidName {
                        location: location.clone(),
                        what: "member",
                        name,
                    });
                    continue;
                }
                if let Some(first) = by_name.get(&name) {
                    self.errors.push(ConfigError::DuplicateMember {
                        location: location.clone(),
                        name,
                        first: first.clone(),
                        second: dir,
                    });
                    continue;
                }
                by_name.insert(name.clone(), dir.clone());
                found.push((name, dir, location.clone()));
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    fn read_members(&mut self, members: Vec<(String, PathBuf, Location)>) -> Vec<Member> {
        let mut out = Vec::new();
        for (name, rel, location) in members {
            let scope = self.scopes.len();
            self.scopes.push(Scope {
                member: Some(name.clone()),
                rel: rel.clone(),
            });
            let file_path = self.root.join(&rel).join(CONFIG_FILE);
            let mut project_name = None;
            if let Some((top, file)) =
                self.read_file(&file_path, FileKind::Member, scope, Some(location))
                && let Some((project, _)) = top.project
            {
                if let Some(members) = project.members {
                    self.errors.push(ConfigError::NotAllowedHere {
                        location: file.location(members.span()),
                        key: "members".to_owned(),
                        reason: "members cannot have members of their own; list every member in the workspace root's morphir.toml".to_owned(),
                    });
                }
                project_name = project.name.map(Spanned::into_inner);
                self.includes(&project.include, &file, scope);
            }
            out.push(Member {
                name,
                dir: rel,
                file: file_path,
                project_name,
            });
        }
        out
    }

    /// Checks every extension; returns them by name (the first of duplicates wins).
    fn check_extensions(&mut self) -> BTreeMap<String, Declared> {
        let mut out: BTreeMap<String, Declared> = BTreeMap::new();
        for pending in std::mem::take(&mut self.extensions) {
            let PendingExtension { raw, file } = pending;
            let location = file.location(raw.name.span());
            let name = raw.name.get_ref().clone();
            if !is_valid_name(&name) {
                self.errors.push(ConfigError::InvalidName {
                    location: location.clone(),
                    what: "extension",
                    name: name.clone(),
                });
            }
            if let Some(first) = out.get(&name) {
                self.errors.push(ConfigError::DuplicateExtension {
                    location,
                    name,
                    first: first.extension.location.clone(),
                });
                continue;
            }
            let enabled_location = raw
                .enabled
                .as_ref()
                .map_or_else(|| location.clone(), |e| file.location(e.span()));
            let enabled = raw.enabled.as_ref().is_none_or(|e| *e.get_ref());

            let protocol = self.protocol(&file, &raw);
            let dir = file.path.parent().map(Path::to_owned).unwrap_or_default();
            let path_location = file.location(raw.source.path.span());
            if raw.source.path.get_ref().is_empty() {
                self.errors.push(ConfigError::InvalidValue {
                    location: path_location.clone(),
                    message: "the module path is empty; write the path of the .wasm file"
                        .to_owned(),
                    table: format!("extension `{name}`"),
                });
            }
            let hash = raw.source.hash.as_ref().and_then(|hash| {
                hash.get_ref()
                    .parse::<Blake3Hash>()
                    .map_err(|reason| {
                        self.errors.push(ConfigError::InvalidHash {
                            location: file.location(hash.span()),
                            value: hash.get_ref().clone(),
                            reason,
                        });
                    })
                    .ok()
            });
            let source = ExtensionSource {
                path: dir.join(raw.source.path.get_ref()),
                path_location,
                hash,
                hash_location: raw.source.hash.as_ref().map(|h| file.location(h.span())),
            };
            let permissions = self.permissions(&file, &raw.permissions, &name);
            let config = self.config_json(&file, raw.config.as_ref());
            let Some(protocol) = protocol else {
                // Refused: keep it out of the file check, but let tasks name it without an
                // "unknown extension" error on top.
                self.broken_extensions.insert(name);
                continue;
            };
            out.insert(
                name.clone(),
                Declared {
                    extension: Extension {
                        name,
                        enabled,
                        protocol,
                        source,
                        permissions,
                        config,
                        location,
                    },
                    enabled_location,
                },
            );
        }
        out
    }

    /// The protocol, and a source type that fits it; `None` when the extension is refused.
    fn protocol(&mut self, file: &SourceFile, raw: &RawExtension) -> Option<Protocol> {
        let protocol = match raw
            .protocol
            .as_ref()
            .map(|p| (p.get_ref().as_str(), p.span()))
        {
            None | Some(("core", _)) => Protocol::Core,
            Some(("component", _)) => Protocol::Component,
            Some((other, span)) => {
                self.errors.push(ConfigError::UnknownProtocol {
                    location: file.location(span),
                    value: other.to_owned(),
                });
                return None;
            }
        };
        let kind = raw.source.kind.get_ref();
        if kind != protocol.source_type() {
            self.errors.push(ConfigError::UnsupportedSourceType {
                location: file.location(raw.source.kind.span()),
                value: kind.clone(),
                protocol,
            });
        }
        Some(protocol)
    }

    fn permissions(&mut self, file: &SourceFile, raw: &RawPermissions, name: &str) -> Permissions {
        let max_memory = raw
            .max_memory
            .as_ref()
            .and_then(|size| self.size(file, size, "max_memory"));
        let max_output = raw
            .max_output
            .as_ref()
            .and_then(|size| self.size(file, size, "max_output"));
        let max_execution_time = raw.max_execution_time.as_ref().and_then(|value| {
            parse_duration(value.get_ref())
                .map_err(|reason| {
                    self.errors.push(ConfigError::InvalidDuration {
                        location: file.location(value.span()),
                        key: "max_execution_time".to_owned(),
                        value: value.get_ref().clone(),
                        reason,
                    });
                })
                .ok()
        });
        let env = self.env_names(file, &raw.env);
        let mut allowed_hosts = Vec::new();
        for host in &raw.allowed_hosts {
            let text = host.get_ref();
            if text.is_empty() || text.contains("://") || text.contains(['/', ' ']) {
                self.errors.push(ConfigError::InvalidValue {
                    location: file.location(host.span()),
                    message: format!(
                        "invalid host {text:?}; write a host name such as \"api.example.com\" (no scheme, path or spaces)"
                    ),
                    table: format!("extension `{name}`"),
                });
            } else {
                allowed_hosts.push(text.clone());
            }
        }
        Permissions {
            max_memory,
            max_execution_time,
            max_output,
            env,
            allowed_hosts,
        }
    }

    fn env_names(&mut self, file: &SourceFile, names: &[Spanned<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for name in names {
            if is_valid_env_name(name.get_ref()) {
                if !out.contains(name.get_ref()) {
                    out.push(name.get_ref().clone());
                }
            } else {
                self.errors.push(ConfigError::InvalidEnvName {
                    location: file.location(name.span()),
                    name: name.get_ref().clone(),
                });
            }
        }
        out
    }

    fn config_json(&mut self, file: &SourceFile, table: Option<&SpannedTable>) -> Value {
        let Some(table) = table else {
            return Value::Object(serde_json::Map::new());
        };
        table_to_json(table.get_ref()).unwrap_or_else(|reason| {
            self.errors.push(ConfigError::InvalidConfigValue {
                location: file.location(table.span()),
                reason,
            });
            Value::Object(serde_json::Map::new())
        })
    }

    /// Checks every task against the extensions and the other tasks.
    fn check_tasks(&mut self, extensions: &BTreeMap<String, Declared>) -> BTreeMap<String, Task> {
        let pending = std::mem::take(&mut self.tasks);
        // Names first, so that `depends_on` can be resolved against all of them.
        let mut first_seen: HashMap<&str, &Location> = HashMap::new();
        let mut unique = Vec::new();
        for task in &pending {
            if let Some(first) = first_seen.get(task.name.as_str()) {
                self.errors.push(ConfigError::DuplicateTask {
                    location: task.location.clone(),
                    name: task.name.clone(),
                    first: (*first).clone(),
                });
            } else {
                first_seen.insert(&task.name, &task.location);
                unique.push(task);
            }
        }
        let names: HashSet<&str> = first_seen.keys().copied().collect();

        let mut out = BTreeMap::new();
        for task in unique {
            let checked = self.check_task(task, extensions, &names);
            out.insert(task.name.clone(), checked);
        }
        out
    }

    fn check_task(
        &mut self,
        task: &PendingTask,
        extensions: &BTreeMap<String, Declared>,
        names: &HashSet<&str>,
    ) -> Task {
        let file = &task.file;
        let raw = &task.raw;
        let scope = &self.scopes[task.scope];
        let member = scope.member.clone();
        let scope_rel = scope.rel.clone();

        let frontend_ref = self.extension_ref(
            &task.name,
            file,
            &raw.frontend.extension,
            raw.frontend.config.as_ref(),
            extensions,
        );
        let mut inputs = Vec::new();
        for pattern in &raw.frontend.inputs {
            if let Some(reason) = input_problem(&scope_rel, pattern.get_ref()) {
                self.errors.push(ConfigError::InvalidInput {
                    location: file.location(pattern.span()),
                    pattern: pattern.get_ref().clone(),
                    reason,
                });
            } else {
                inputs.push(pattern.get_ref().clone());
            }
        }
        let transforms = raw
            .transforms
            .iter()
            .map(|t| {
                self.extension_ref(
                    &task.name,
                    file,
                    &t.extension,
                    t.config.as_ref(),
                    extensions,
                )
            })
            .collect();

        let backends = self.backends(task, &scope_rel, extensions);
        let depends_on = self.dependencies(task, member.as_deref(), names);

        Task {
            name: task.name.clone(),
            member,
            dir: self.root.join(&scope_rel),
            description: raw.description.clone(),
            frontend: Frontend {
                extension: frontend_ref,
                inputs,
            },
            transforms,
            backends,
            depends_on,
            env: self.env_names(file, &raw.env),
            cache: raw.cache,
            cache_http: raw.cache_http,
            location: task.location.clone(),
        }
    }

    fn backends(
        &mut self,
        task: &PendingTask,
        scope_rel: &Path,
        extensions: &BTreeMap<String, Declared>,
    ) -> Vec<Backend> {
        let file = &task.file;
        let raw = &task.raw;
        let mut backends: Vec<Backend> = Vec::new();
        for backend in &raw.backends {
            let extension = self.extension_ref(
                &task.name,
                file,
                &backend.extension,
                backend.config.as_ref(),
                extensions,
            );
            if let Some(first) = backends.iter().find(|b| b.extension.name == extension.name) {
                self.errors.push(ConfigError::DuplicateBackend {
                    location: extension.location.clone(),
                    task: task.name.clone(),
                    extension: extension.name.clone(),
                    first: first.extension.location.clone(),
                });
                continue;
            }
            let output_location = file.location(backend.output.span());
            let reason = match normalize(Path::new(backend.output.get_ref())) {
                Ok(rel) if !rel.as_os_str().is_empty() => {
                    let output = scope_rel.join(rel);
                    backends.push(Backend {
                        extension,
                        output_dir: self.root.join(&output),
                        output,
                        output_location,
                    });
                    continue;
                }
                Ok(_) => "is the project directory itself",
                Err(PathProblem::Absolute) => "is absolute",
                Err(PathProblem::Escapes) => "escapes the project",
            };
            let local = task.name.rsplit('/').next().unwrap_or(&task.name);
            self.errors.push(ConfigError::InvalidOutput {
                location: output_location,
                task: task.name.clone(),
                output: backend.output.get_ref().clone(),
                reason,
                task_dir: local.to_owned(),
            });
        }

        backends
    }

    fn dependencies(
        &mut self,
        task: &PendingTask,
        member: Option<&str>,
        names: &HashSet<&str>,
    ) -> Vec<Dependency> {
        let file = &task.file;
        let mut depends_on: Vec<Dependency> = Vec::new();
        for dependency in &task.raw.depends_on {
            let written = dependency.get_ref();
            let location = file.location(dependency.span());
            let resolved = resolve_task(written, member, names, &self.broken_tasks);
            match resolved {
                Some(name) => {
                    if !depends_on.iter().any(|d| d.task == name) {
                        depends_on.push(Dependency {
                            task: name,
                            location,
                        });
                    }
                }
                None if self.incomplete => {}
                None => {
                    // Sorted, so that ties between suggestions break the same way every time.
                    let mut sorted: Vec<&str> = names.iter().copied().collect();
                    sorted.sort_unstable();
                    let local_candidates =
                        sorted
                            .iter()
                            .filter_map(|n| match (member, n.split_once('/')) {
                                (Some(m), Some((nm, local))) if nm == m => Some(local),
                                (_, None) => Some(*n),
                                _ => None,
                            });
                    let suggestion = did_you_mean(written, local_candidates)
                        .or_else(|| did_you_mean(written, sorted.iter().copied()));
                    self.errors.push(ConfigError::UnknownDependency {
                        location,
                        task: task.name.clone(),
                        dependency: written.clone(),
                        suggestion,
                    });
                }
            }
        }

        depends_on
    }

    /// Resolves one use of an extension, merging its configuration.
    fn extension_ref(
        &mut self,
        task: &str,
        file: &SourceFile,
        name: &Spanned<String>,
        config: Option<&SpannedTable>,
        extensions: &BTreeMap<String, Declared>,
    ) -> ExtensionRef {
        let location = file.location(name.span());
        let use_config = self.config_json(file, config);
        let config = if let Some(declared) = extensions.get(name.get_ref()) {
            if !declared.extension.enabled {
                self.errors.push(ConfigError::DisabledExtension {
                    location: location.clone(),
                    task: task.to_owned(),
                    name: name.get_ref().clone(),
                    declared_at: declared.enabled_location.clone(),
                });
            }
            merge(&declared.extension.config, &use_config)
        } else {
            if !self.incomplete && !self.broken_extensions.contains(name.get_ref()) {
                self.errors.push(ConfigError::UnknownExtension {
                    location: location.clone(),
                    task: task.to_owned(),
                    name: name.get_ref().clone(),
                    suggestion: did_you_mean(name.get_ref(), extensions.keys().map(String::as_str)),
                });
            }
            use_config
        };
        ExtensionRef {
            name: name.get_ref().clone(),
            config,
            location,
        }
    }

    /// Two backends may not write the same directory, nor one inside another's: the build owns
    /// (and may clear) each output directory.
    fn check_outputs(&mut self, tasks: &BTreeMap<String, Task>) {
        let mut seen: HashMap<&Path, (&Task, &Backend)> = HashMap::new();
        let mut all = Vec::new();
        for task in tasks.values() {
            for backend in &task.backends {
                all.push((task, backend));
            }
        }
        // In declaration order, so that "first" means what the user expects.
        all.sort_by_key(|(_, b)| {
            let file = self
                .files
                .iter()
                .position(|f| f.path == b.output_location.file)
                .unwrap_or(usize::MAX);
            (file, b.output_location.span.start)
        });
        let conflict = |task: &Task, backend: &Backend, other: (&Task, &Backend), relation| {
            ConfigError::OutputConflict {
                location: backend.output_location.clone(),
                task: task.name.clone(),
                output: backend.output.clone(),
                relation,
                other_task: other.0.name.clone(),
                other_output: other.1.output.clone(),
                other_location: other.1.output_location.clone(),
            }
        };
        let mut unique = Vec::new();
        for &(task, backend) in &all {
            if let Some(&other) = seen.get(backend.output.as_path()) {
                self.errors.push(conflict(task, backend, other, "is also"));
            } else {
                seen.insert(&backend.output, (task, backend));
                unique.push((task, backend));
            }
        }
        for (task, backend) in unique {
            if let Some(&other) = backend.output.ancestors().skip(1).find_map(|a| seen.get(a)) {
                self.errors
                    .push(conflict(task, backend, other, "is inside"));
            }
        }
    }
}

/// Resolves a `depends_on` entry. `member/task` is absolute; a plain name means the task of the
/// same member, or failing that, the root task. Broken tasks (that failed to deserialize) count
/// as existing, to avoid a cascade of errors.
fn resolve_task(
    written: &str,
    member: Option<&str>,
    names: &HashSet<&str>,
    broken: &HashSet<String>,
) -> Option<String> {
    let exists = |name: &str| names.contains(name) || broken.contains(name);
    if written.contains('/') {
        return exists(written).then(|| written.to_owned());
    }
    if let Some(member) = member {
        let qualified = format!("{member}/{written}");
        if exists(&qualified) {
            return Some(qualified);
        }
    }
    exists(written).then(|| written.to_owned())
}

/// Why an input glob is unusable, if it is.
fn input_problem(scope_rel: &Path, pattern: &str) -> Option<String> {
    if let Err(error) = glob::Pattern::new(pattern) {
        return Some(format!("{} (at character {})", error.msg, error.pos + 1));
    }
    match normalize(&scope_rel.join(pattern)) {
        Ok(_) if Path::new(pattern).is_absolute() => {
            Some("it is absolute; write it relative to the project directory".to_owned())
        }
        Ok(_) => None,
        Err(PathProblem::Absolute) => {
            Some("it is absolute; write it relative to the project directory".to_owned())
        }
        Err(PathProblem::Escapes) => {
            Some("it leaves the workspace; inputs must be inside the workspace".to_owned())
        }
    }
}

/// An unknown top-level key.
fn unknown_key(location: Location, key: &str, table: &str, allowed: &[&str]) -> ConfigError {
    ConfigError::UnknownKey {
        location,
        key: key.to_owned(),
        table: table.to_owned(),
        suggestion: did_you_mean(key, allowed.iter().copied()),
        expected: allowed.iter().map(|&k| k.to_owned()).collect(),
    }
}

/// Turns a serde message into our error. serde's wording is stable: "unknown field \`x\`,
/// expected one of \`a\`, \`b\`" (or "expected \`a\`", or "there are no fields"), and
/// "missing field \`x\`".
fn from_serde(location: Location, message: &str, table: &str) -> ConfigError {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, expected)) = rest.split_once('`')
    {
        let expected: Vec<String> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        return ConfigError::UnknownKey {
            location,
            key: key.to_owned(),
            table: table.to_owned(),
            suggestion: did_you_mean(key, expected.iter().map(String::as_str)),
            expected,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((key, _)) = rest.split_once('`')
    {
        return ConfigError::MissingKey {
            location,
            key: key.to_owned(),
            table: table.to_owned(),
        };
    }
    // serde speaks of sequences and maps; TOML of arrays and tables.
    let message = message
        .replace("invalid type: sequence", "invalid type: array")
        .replace("invalid type: map", "invalid type: table")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected a table");
    ConfigError::InvalidValue {
        location,
        message,
        table: table.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> Location {
        crate::source::SourceFile::new(Path::new("f.toml"), String::new()).start()
    }

    #[test]
    fn serde_messages_become_our_errors() {
        let e = from_serde(
            loc(),
            "unknown field `cahce`, expected one of `frontend`, `cache`, `depends_on`",
            "[tasks.a]",
        );
        assert!(
            matches!(&e, ConfigError::UnknownKey { key, suggestion: Some(s), expected, .. }
                if key == "cahce" && s == "cache" && expected.len() == 3),
            "{e:?}"
        );
        let e = from_serde(loc(), "unknown field `zzz`, expected `name`", "[t]");
        assert!(
            matches!(&e, ConfigError::UnknownKey { suggestion: None, expected, .. } if expected == &["name"])
        );
        let e = from_serde(loc(), "unknown field `zzz`, there are no fields", "[t]");
        assert!(matches!(&e, ConfigError::UnknownKey { expected, .. } if expected.is_empty()));
        let e = from_serde(loc(), "missing field `frontend`", "[tasks.a]");
        assert!(matches!(&e, ConfigError::MissingKey { key, .. } if key == "frontend"));
        let e = from_serde(loc(), "invalid type: integer `3`, expected a string", "[t]");
        assert!(matches!(e, ConfigError::InvalidValue { .. }));
    }

    #[test]
    fn dependency_resolution_prefers_the_same_member() {
        let names: HashSet<&str> = ["model", "api/model", "api/docs", "web/model"].into();
        let broken = HashSet::from(["gone".to_owned()]);
        let r = |w, m| resolve_task(w, m, &names, &broken);
        assert_eq!(r("model", Some("api")).as_deref(), Some("api/model"));
        assert_eq!(r("model", Some("other")).as_deref(), Some("model"));
        assert_eq!(r("model", None).as_deref(), Some("model"));
        assert_eq!(r("docs", None), None);
        assert_eq!(r("web/model", Some("api")).as_deref(), Some("web/model"));
        assert_eq!(r("gone", None).as_deref(), Some("gone"));
    }

    #[test]
    fn input_patterns() {
        assert_eq!(input_problem(Path::new(""), "ir/**/*.json"), None);
        assert_eq!(
            input_problem(Path::new("packages/api"), "../shared/*.json"),
            None
        );
        assert!(
            input_problem(Path::new(""), "../x/*.json")
                .unwrap()
                .contains("leaves")
        );
        assert!(
            input_problem(Path::new(""), "/abs/*.json")
                .unwrap()
                .contains("absolute")
        );
        assert!(input_problem(Path::new(""), "ir/[.json").is_some());
    }
}
