//! Step keys: a two-level blake3 tree over typed, length-prefixed fields.
//!
//! Every input that can change a step's output is a named *component* of its key
//! (`config`, `env:FOO`, `file:src/a.json`, ...). Each component's value is hashed on its own:
//!
//! ```text
//! component hash = blake3_derive_key("morphir-cache key component v1",
//!                    tag u8 ‖ part count u64 LE ‖ for each part: len u64 LE ‖ bytes)
//! ```
//!
//! where the tag names the field's type (env var set vs unset, file, config, ...). The key is
//! the hash of the sorted list of components, each written as its length-prefixed name and
//! length-prefixed hex hash:
//!
//! ```text
//! key = blake3_derive_key("morphir-cache step key v1",
//!         CACHE_FORMAT_VERSION u32 LE ‖ count u64 LE ‖ for each: len ‖ name ‖ len ‖ hex hash)
//! ```
//!
//! Every length is written before its bytes, so no two different field sequences share a
//! preimage (`("ab", "c")` and `("a", "bc")` differ). Because the key is a function of the
//! [`KeyManifest`] alone, the manifest stored beside a record can be checked against its key,
//! and two manifests can be diffed to explain a miss.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use morphir_envelope::Envelope;
use serde::{Deserialize, Serialize};

use crate::digest::{Digest, Key, content_digest, update_part};
use crate::{Error, canonical_json};

/// The version of the key scheme and of the on-disk layout (`<root>/v1/`). Bump it whenever
/// either changes: old entries then live in another bucket and are never read.
pub const CACHE_FORMAT_VERSION: u32 = 1;

const CACHE_FORMAT: &str = "cache-format";
const MORPHIR_VERSION: &str = "morphir-version";
const ABI_VERSION: &str = "abi-version";
const EXTENSION: &str = "extension";
const CONFIG: &str = "config";
const PERMISSIONS: &str = "permissions";
const OPERATION: &str = "operation";
// Prefixed names. No prefix is a prefix of another, and the fixed names above contain no `:`,
// so a name determines its kind.
const ENV: &str = "env:";
const UPSTREAM: &str = "upstream:";
const FILE: &str = "file:";
const EXTRA: &str = "extra:";

/// The type tag hashed first in every component value.
mod tag {
    pub(super) const CACHE_FORMAT: u8 = 1;
    pub(super) const MORPHIR_VERSION: u8 = 2;
    pub(super) const ABI_VERSION: u8 = 3;
    pub(super) const EXTENSION: u8 = 4;
    pub(super) const CONFIG: u8 = 5;
    pub(super) const PERMISSIONS: u8 = 6;
    pub(super) const OPERATION: u8 = 7;
    pub(super) const ENV_SET: u8 = 8;
    pub(super) const ENV_UNSET: u8 = 9;
    pub(super) const UPSTREAM: u8 = 10;
    pub(super) const FILE: u8 = 11;
    pub(super) const EXTRA: u8 = 12;
}

fn value_hash(tag: u8, parts: &[&[u8]]) -> String {
    let mut h = blake3::Hasher::new_derive_key("morphir-cache key component v1");
    h.update(&[tag]);
    h.update(&(parts.len() as u64).to_le_bytes());
    for part in parts {
        update_part(&mut h, part);
    }
    h.finalize().to_hex().to_string()
}

/// A problem found while building, reported by [`KeyBuilder::finish`].
#[derive(Debug, Clone)]
enum Problem {
    Conflict(String),
    BadPath(String),
}

/// Builds a step's [`Key`] and [`KeyManifest`] from typed fields.
///
/// [`KeyBuilder::new`] adds the cache format version and morphir's version; the executor adds
/// everything else that can change the step's output. Order of calls does not matter except
/// for [`KeyBuilder::upstream`], whose inputs are positional. Setting the same component twice
/// with the same value is a no-op; with a different value, [`KeyBuilder::finish`] fails (that
/// is a bug in the caller, and guessing would risk a wrong hit).
///
/// ```
/// # use morphir_cache::{Digest, KeyBuilder};
/// # use morphir_envelope::Envelope;
/// let upstream = Envelope::new("application/json", "{}");
/// let (key, manifest) = KeyBuilder::new("0.1.0")
///     .abi_version(1)
///     .extension_wasm(Digest::of(b"\0asm...").as_bytes())
///     .config(&serde_json::json!({"strict": true}))
///     .operation("transform")
///     .env_var("TZ", None)
///     .upstream("parse", &upstream)
///     .input_file("src/a.json", &Digest::of(b"[]"))
///     .finish()?;
/// assert_eq!(manifest.key(), key);
/// # Ok::<(), morphir_cache::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    components: BTreeMap<String, String>,
    upstreams: u64,
    problem: Option<Problem>,
}

impl KeyBuilder {
    /// A builder holding [`CACHE_FORMAT_VERSION`] and `morphir_version` (the executor's own
    /// version: a new morphir never trusts an old one's outputs).
    pub fn new(morphir_version: &str) -> Self {
        let mut b = Self {
            components: BTreeMap::new(),
            upstreams: 0,
            problem: None,
        };
        b.set(
            CACHE_FORMAT,
            value_hash(tag::CACHE_FORMAT, &[&CACHE_FORMAT_VERSION.to_le_bytes()]),
        );
        b.set(
            MORPHIR_VERSION,
            value_hash(tag::MORPHIR_VERSION, &[morphir_version.as_bytes()]),
        );
        b
    }

    fn set(&mut self, name: impl Into<String>, hash: String) -> &mut Self {
        match self.components.entry(name.into()) {
            Entry::Vacant(e) => {
                e.insert(hash);
            }
            Entry::Occupied(e) => {
                if *e.get() != hash && self.problem.is_none() {
                    self.problem = Some(Problem::Conflict(e.key().clone()));
                }
            }
        }
        self
    }

    /// The guest ABI version the extension was built against (component `abi-version`).
    pub fn abi_version(&mut self, version: u32) -> &mut Self {
        self.set(
            ABI_VERSION,
            value_hash(tag::ABI_VERSION, &[&version.to_le_bytes()]),
        )
    }

    /// The hash of the extension's Wasm module, as raw bytes (component `extension`).
    pub fn extension_wasm(&mut self, wasm_hash: &[u8]) -> &mut Self {
        self.set(EXTENSION, value_hash(tag::EXTENSION, &[wasm_hash]))
    }

    /// The extension's configuration, hashed in [`canonical_json`] form so key order does not
    /// matter (component `config`).
    pub fn config(&mut self, config: &serde_json::Value) -> &mut Self {
        self.set(CONFIG, value_hash(tag::CONFIG, &[&canonical_json(config)]))
    }

    /// The permissions granted to the step that can change its output (readable paths, allowed
    /// host functions...), as canonical JSON (component `permissions`).
    pub fn permissions(&mut self, permissions: &serde_json::Value) -> &mut Self {
        self.set(
            PERMISSIONS,
            value_hash(tag::PERMISSIONS, &[&canonical_json(permissions)]),
        )
    }

    /// The operation the step calls, e.g. `transform` (component `operation`).
    pub fn operation(&mut self, operation: &str) -> &mut Self {
        self.set(
            OPERATION,
            value_hash(tag::OPERATION, &[operation.as_bytes()]),
        )
    }

    /// A declared environment variable and its value, `None` when unset (component
    /// `env:NAME`). Unset and set-to-empty are different values.
    pub fn env_var(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        let hash = match value {
            Some(v) => value_hash(tag::ENV_SET, &[v.as_bytes()]),
            None => value_hash(tag::ENV_UNSET, &[]),
        };
        self.set(format!("{ENV}{name}"), hash)
    }

    /// An upstream step's output envelope, by [`content_digest`] (never its header), under the
    /// upstream step's id (component `upstream:ID`).
    ///
    /// Upstream inputs are positional: the n-th call is input n, and the position is part of
    /// the hash, so feeding the same inputs in another order is a different key. Give each
    /// input its own name (`parse`, `parse#1` for a second output of the same step).
    pub fn upstream(&mut self, step_id: &str, envelope: &Envelope) -> &mut Self {
        self.upstream_digest(step_id, &content_digest(envelope))
    }

    /// [`KeyBuilder::upstream`] with a [`content_digest`] computed earlier.
    pub fn upstream_digest(&mut self, step_id: &str, digest: &Digest) -> &mut Self {
        let position = self.upstreams;
        self.upstreams += 1;
        self.set(
            format!("{UPSTREAM}{step_id}"),
            value_hash(tag::UPSTREAM, &[&position.to_le_bytes(), digest.as_bytes()]),
        )
    }

    /// An input file by its relative, `/`-separated path and the [`Digest::of`] its content
    /// (component `file:PATH`). Files are a set: call order does not matter, so the executor
    /// must hand them to the extension in a canonical order (sorted by path).
    ///
    /// A path that is absolute, empty, or has `\`, NUL, empty, `.` or `..` components makes
    /// [`KeyBuilder::finish`] fail: `a/./b` and `a/b` would otherwise be two keys for one file.
    pub fn input_file(&mut self, path: &str, content_hash: &Digest) -> &mut Self {
        if !is_clean_relative_path(path) && self.problem.is_none() {
            self.problem = Some(Problem::BadPath(path.to_owned()));
        }
        self.set(
            format!("{FILE}{path}"),
            value_hash(tag::FILE, &[content_hash.as_bytes()]),
        )
    }

    /// Any other input, by a name of the caller's choosing (component `extra:NAME`).
    pub fn extra(&mut self, name: &str, bytes: &[u8]) -> &mut Self {
        self.set(format!("{EXTRA}{name}"), value_hash(tag::EXTRA, &[bytes]))
    }

    /// The components so far, sorted by name (no validation; for debugging).
    pub fn manifest(&self) -> KeyManifest {
        KeyManifest {
            components: self
                .components
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// The key and its manifest, or why the fields given do not make a trustworthy key.
    pub fn finish(&self) -> crate::Result<(Key, KeyManifest)> {
        match &self.problem {
            Some(Problem::Conflict(name)) => Err(Error::ConflictingComponent(name.clone())),
            Some(Problem::BadPath(path)) => Err(Error::InvalidInputPath(path.clone())),
            None => {
                let manifest = self.manifest();
                Ok((manifest.key(), manifest))
            }
        }
    }
}

fn is_clean_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The named components of a key with their individual hashes, for `--explain`.
///
/// Serialises as `{"components": [["config", "<hex>"], ["file:src/a.json", "<hex>"], ...]}`.
/// [`KeyManifest::key`] recomputes the key from it; [`diff`] compares two of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyManifest {
    /// `(name, hex hash of the value)`, sorted by name when built by [`KeyBuilder`].
    pub components: Vec<(String, String)>,
}

impl KeyManifest {
    /// The key these components hash to (see the module docs for the preimage).
    pub fn key(&self) -> Key {
        let mut h = blake3::Hasher::new_derive_key("morphir-cache step key v1");
        h.update(&CACHE_FORMAT_VERSION.to_le_bytes());
        h.update(&(self.components.len() as u64).to_le_bytes());
        for (name, hash) in &self.components {
            update_part(&mut h, name.as_bytes());
            update_part(&mut h, hash.as_bytes());
        }
        h.finalize().into()
    }

    /// The hash of the component called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.components
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h.as_str())
    }

    /// What changed from `self` (an earlier run) to `new`: [`diff`]`(self, new)`.
    pub fn diff(&self, new: &KeyManifest) -> Vec<Change> {
        diff(self, new)
    }
}

/// The components added, removed or changed from `old` to `new`, sorted by component name.
pub fn diff(old: &KeyManifest, new: &KeyManifest) -> Vec<Change> {
    let old: BTreeMap<&str, &str> = old
        .components
        .iter()
        .map(|(n, h)| (n.as_str(), h.as_str()))
        .collect();
    let new: BTreeMap<&str, &str> = new
        .components
        .iter()
        .map(|(n, h)| (n.as_str(), h.as_str()))
        .collect();
    let mut changes = Vec::new();
    for (name, hash) in &old {
        match new.get(name) {
            None => changes.push(Change::new(name, ChangeKind::Removed)),
            Some(h) if h != hash => changes.push(Change::new(name, ChangeKind::Changed)),
            Some(_) => {}
        }
    }
    for name in new.keys() {
        if !old.contains_key(name) {
            changes.push(Change::new(name, ChangeKind::Added));
        }
    }
    changes.sort_by(|a, b| a.component.cmp(&b.component));
    changes
}

/// How a component differs between two manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the new manifest.
    Added,
    /// Only in the old manifest.
    Removed,
    /// In both, with different hashes.
    Changed,
}

/// One difference between two manifests. Displays for humans: `input file src/a.json changed`,
/// `env var FOO added`, `extension binary changed`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Change {
    /// The component's name, e.g. `file:src/a.json`.
    pub component: String,
    /// Added, removed or changed.
    pub kind: ChangeKind,
}

impl Change {
    fn new(component: &str, kind: ChangeKind) -> Self {
        Self {
            component: component.to_owned(),
            kind,
        }
    }

    /// The component, parsed.
    pub fn subject(&self) -> Component<'_> {
        Component::parse(&self.component)
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.kind {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        };
        write!(f, "{} {verb}", self.subject())
    }
}

/// A component name, parsed. Displays as a phrase (`input file src/a.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component<'a> {
    /// `cache-format`: [`CACHE_FORMAT_VERSION`].
    CacheFormat,
    /// `morphir-version`.
    MorphirVersion,
    /// `abi-version`.
    AbiVersion,
    /// `extension`: the Wasm module's hash.
    Extension,
    /// `config`.
    Config,
    /// `permissions`.
    Permissions,
    /// `operation`.
    Operation,
    /// `env:NAME`.
    Env(&'a str),
    /// `upstream:STEP`.
    Upstream(&'a str),
    /// `file:PATH`.
    File(&'a str),
    /// `extra:NAME`.
    Extra(&'a str),
    /// A name this version does not know (from a manifest written by another version).
    Unknown(&'a str),
}

impl<'a> Component<'a> {
    /// Parses a component name.
    pub fn parse(name: &'a str) -> Self {
        match name {
            CACHE_FORMAT => return Self::CacheFormat,
            MORPHIR_VERSION => return Self::MorphirVersion,
            ABI_VERSION => return Self::AbiVersion,
            EXTENSION => return Self::Extension,
            CONFIG => return Self::Config,
            PERMISSIONS => return Self::Permissions,
            OPERATION => return Self::Operation,
            _ => {}
        }
        if let Some(n) = name.strip_prefix(ENV) {
            Self::Env(n)
        } else if let Some(s) = name.strip_prefix(UPSTREAM) {
            Self::Upstream(s)
        } else if let Some(p) = name.strip_prefix(FILE) {
            Self::File(p)
        } else if let Some(n) = name.strip_prefix(EXTRA) {
            Self::Extra(n)
        } else {
            Self::Unknown(name)
        }
    }
}

impl std::fmt::Display for Component<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CacheFormat => f.write_str("cache format version"),
            Self::MorphirVersion => f.write_str("morphir version"),
            Self::AbiVersion => f.write_str("guest ABI version"),
            Self::Extension => f.write_str("extension binary"),
            Self::Config => f.write_str("config"),
            Self::Permissions => f.write_str("permissions"),
            Self::Operation => f.write_str("operation"),
            Self::Env(n) => write!(f, "env var {n}"),
            Self::Upstream(s) => write!(f, "upstream step {s}"),
            Self::File(p) => write!(f, "input file {p}"),
            Self::Extra(n) => write!(f, "input {n}"),
            Self::Unknown(n) => write!(f, "component {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parts_are_length_prefixed() {
        assert_ne!(
            value_hash(tag::EXTRA, &[b"ab", b"c"]),
            value_hash(tag::EXTRA, &[b"a", b"bc"])
        );
        assert_ne!(
            value_hash(tag::EXTRA, &[b"abc"]),
            value_hash(tag::EXTRA, &[b"ab", b"c"])
        );
        assert_ne!(value_hash(tag::EXTRA, &[]), value_hash(tag::EXTRA, &[b""]));
        assert_ne!(
            value_hash(tag::EXTRA, &[b"x"]),
            value_hash(tag::FILE, &[b"x"])
        );
    }

    #[test]
    fn names_and_values_do_not_bleed_into_each_other() {
        let a = KeyBuilder::new("1").extra("ab", b"c").finish().unwrap().0;
        let b = KeyBuilder::new("1").extra("a", b"bc").finish().unwrap().0;
        assert_ne!(a, b);
        let a = KeyBuilder::new("1")
            .env_var("A", Some("B=C"))
            .finish()
            .unwrap()
            .0;
        let b = KeyBuilder::new("1")
            .env_var("A=B", Some("C"))
            .finish()
            .unwrap()
            .0;
        assert_ne!(a, b);
    }

    #[test]
    fn conflicts_and_bad_paths_fail() {
        let d = Digest::of(b"x");
        let mut b = KeyBuilder::new("1");
        b.config(&serde_json::json!(1))
            .config(&serde_json::json!(1));
        assert!(b.finish().is_ok(), "same value twice is fine");
        b.config(&serde_json::json!(2));
        assert!(matches!(b.finish(), Err(Error::ConflictingComponent(n)) if n == "config"));
        for bad in ["", "/abs", "a/../b", "a/./b", "a//b", "a\\b", "a/"] {
            let r = KeyBuilder::new("1").input_file(bad, &d).finish();
            assert!(matches!(r, Err(Error::InvalidInputPath(_))), "{bad:?}");
        }
        let env = Envelope::new("t", "c");
        let r = KeyBuilder::new("1")
            .upstream("x", &env)
            .upstream("x", &env)
            .finish();
        assert!(matches!(r, Err(Error::ConflictingComponent(_))));
    }

    #[test]
    fn changes_read_well() {
        let old = KeyBuilder::new("1")
            .config(&serde_json::json!({"a": 1}))
            .env_var("FOO", Some("1"))
            .input_file("src/a.json", &Digest::of(b"1"))
            .finish()
            .unwrap()
            .1;
        let new = KeyBuilder::new("1")
            .config(&serde_json::json!({"a": 2}))
            .env_var("FOO", Some("1"))
            .input_file("src/a.json", &Digest::of(b"2"))
            .upstream("parse", &Envelope::new("t", "c"))
            .extension_wasm(b"w")
            .finish()
            .unwrap()
            .1;
        let text: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "config changed",
                "extension binary added",
                "input file src/a.json changed",
                "upstream step parse added"
            ]
        );
        let json = serde_json::to_string(&new).unwrap();
        assert_eq!(serde_json::from_str::<KeyManifest>(&json).unwrap(), new);
        assert!(
            json.starts_with(r#"{"components":[["cache-format",""#),
            "{json}"
        );
    }

    fn manifest() -> impl Strategy<Value = KeyManifest> {
        proptest::collection::btree_map("[a-d]{1,2}", "[0-2]", 0..6).prop_map(|m| KeyManifest {
            components: m.into_iter().collect(),
        })
    }

    proptest! {
        #[test]
        fn diff_is_exact(old in manifest(), new in manifest()) {
            let changes = diff(&old, &new);
            prop_assert_eq!(changes.is_empty(), old == new);
            prop_assert_eq!(changes.is_empty(), old.key() == new.key());
            for c in &changes {
                let (o, n) = (old.get(&c.component), new.get(&c.component));
                let expected = match (o, n) {
                    (None, Some(_)) => ChangeKind::Added,
                    (Some(_), None) => ChangeKind::Removed,
                    (Some(a), Some(b)) if a != b => ChangeKind::Changed,
                    _ => unreachable!("{c:?} reported for an unchanged component"),
                };
                prop_assert_eq!(c.kind, expected);
            }
            let reported = changes.len();
            let actual = old.components.iter().filter(|(n, h)| new.get(n) != Some(h.as_str())).count()
                + new.components.iter().filter(|(n, _)| old.get(n).is_none()).count();
            prop_assert_eq!(reported, actual);
            // Swapping the runs swaps added and removed.
            let back = diff(&new, &old);
            prop_assert_eq!(back.len(), changes.len());
            for (a, b) in changes.iter().zip(&back) {
                prop_assert_eq!(&a.component, &b.component);
                let flipped = match a.kind {
                    ChangeKind::Added => ChangeKind::Removed,
                    ChangeKind::Removed => ChangeKind::Added,
                    ChangeKind::Changed => ChangeKind::Changed,
                };
                prop_assert_eq!(b.kind, flipped);
            }
        }
    }
}
