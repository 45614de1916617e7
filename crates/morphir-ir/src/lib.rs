//! The Morphir IR, shared by the extensions that read, transform and generate from it.
//!
//! ```text
//!  morphir-elm JSON (formatVersion 1, 2, 3)  ─┐
//!  IR v4 draft JSON                          ─┼─ read ─► Ir ─► canonical::write ─► application/morphir-ir+json
//!  canonical JSON (docs/ir.md)               ─┘                 (deterministic bytes)
//! ```
//!
//! [`read`] takes any of those formats into one model ([`Ir`]); [`write_canonical`] writes the
//! canonical form that every step after the frontend exchanges. Readers never panic on bad
//! input: an [`Error`] says what is wrong and gives the JSON path where (`$.distribution[3]...`),
//! truncated files included. [`name`] has the name renderings (`TitleCase`, `camelCase`,
//! `snake_case` from a name's words) and fully-qualified names (`package:module#local`);
//! [`sdk`] recognises the SDK types backends map to primitives.
//!
//! Depends on `serde_json` only and compiles for `wasm32-unknown-unknown`: the frontend, the
//! transforms and the backends under `extensions/` link it, and a later host function
//! (`ir_helpers`) will too.

mod canonical;
mod classic;
mod error;
mod json;
mod model;
pub mod name;
pub mod sdk;
mod v4;

use std::collections::{BTreeMap, BTreeSet};

pub use canonical::{FORMAT as CANONICAL_FORMAT, VERSION as CANONICAL_VERSION, is_canonical};
pub use error::{Error, Result, json_path_at, parse_json};
pub use model::{
    Access, Field, Input, Ir, Literal, Module, Package, Pattern, Type, TypeAttrs, TypeBody,
    TypeDecl, Value, ValueAttrs, ValueDecl, ValueDef,
};
pub use name::{FQName, ModuleName, Name, Path};

/// The content type of the canonical form.
pub const CONTENT_TYPE: &str = "application/morphir-ir+json";

/// The format of an IR document, as [`detect`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The canonical form of `docs/ir.md`.
    Canonical,
    /// morphir-elm's JSON, `formatVersion` 1, 2 or 3.
    Classic(u8),
    /// The IR v4 draft.
    V4,
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::Canonical => f.write_str("canonical"),
            Format::Classic(v) => write!(f, "formatVersion {v}"),
            Format::V4 => f.write_str("formatVersion 4 (draft)"),
        }
    }
}

/// Which format `doc` is in.
pub fn detect(doc: &serde_json::Value) -> Result<Format> {
    if is_canonical(doc) {
        return Ok(Format::Canonical);
    }
    let Some(obj) = doc.as_object() else {
        return Err(Error::new(
            "$",
            format!(
                "expected a Morphir IR document (an object with `formatVersion` and `distribution`), found {}",
                json::describe(doc)
            ),
        ));
    };
    let Some(version) = obj.get("formatVersion") else {
        return match obj.get("distribution") {
            Some(serde_json::Value::Object(_)) => Ok(Format::V4),
            Some(_) => Ok(Format::Classic(3)),
            None => Err(Error::new(
                "$",
                "not a Morphir IR document: it has neither `formatVersion` nor `distribution`",
            )),
        };
    };
    let major = match version {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.split('.').next().and_then(|m| m.parse().ok()),
        _ => None,
    };
    match major {
        Some(v @ 1..=3) => Ok(Format::Classic(v as u8)),
        Some(4) => Ok(Format::V4),
        _ => Err(Error::new(
            "$.formatVersion",
            format!("unsupported formatVersion {version}; this reader knows 1, 2, 3 and 4 (draft)"),
        )),
    }
}

/// Reads an IR document in any supported format.
pub fn read(bytes: &[u8]) -> Result<Ir> {
    read_value(&parse_json(bytes)?)
}

/// Reads an already parsed IR document in any supported format.
pub fn read_value(doc: &serde_json::Value) -> Result<Ir> {
    let root = json::Node::root(doc);
    match detect(doc)? {
        Format::Canonical => canonical::read(&root),
        Format::Classic(_) => classic::read(&root),
        Format::V4 => v4::read(&root),
    }
}

/// The canonical bytes of `ir` (`docs/ir.md`): the same model always gives the same bytes.
pub fn write_canonical(ir: &Ir) -> Vec<u8> {
    canonical::write(ir)
}

/// Why two pieces of IR could not be merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError(pub String);

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MergeError {}

impl Ir {
    /// Adds the packages of `other` (read from `origin`) as packages of this IR, and its
    /// dependencies as dependencies. A package defined twice is an error naming both origins;
    /// the same dependency twice is fine when both copies are identical.
    pub fn merge_defined(
        &mut self,
        other: Ir,
        origin: &str,
        origins: &mut BTreeMap<Path, String>,
    ) -> std::result::Result<(), MergeError> {
        for (path, package) in other.packages {
            if let Some(first) = origins.get(&path) {
                return Err(MergeError(format!(
                    "package `{}` is defined by both {first} and {origin}; give each package one file",
                    canonical::path_text(&path)
                )));
            }
            origins.insert(path.clone(), origin.to_owned());
            self.packages.insert(path, package);
        }
        self.merge_dependencies_of(other.dependencies, origin)
    }

    /// Adds the whole of `upstream` (the IR of a task this one depends on) as dependencies.
    pub fn merge_upstream(
        &mut self,
        upstream: Ir,
        origin: &str,
    ) -> std::result::Result<(), MergeError> {
        let mut all = upstream.dependencies;
        for (path, package) in upstream.packages {
            all.insert(path, package);
        }
        self.merge_dependencies_of(all, origin)
    }

    fn merge_dependencies_of(
        &mut self,
        deps: BTreeMap<Path, Package>,
        origin: &str,
    ) -> std::result::Result<(), MergeError> {
        for (path, package) in deps {
            match self.dependencies.get(&path) {
                Some(existing) if *existing != package => {
                    return Err(MergeError(format!(
                        "dependency package `{}` from {origin} differs from the one already read; use one version of it",
                        canonical::path_text(&path)
                    )));
                }
                _ => {
                    self.dependencies.insert(path, package);
                }
            }
        }
        Ok(())
    }

    /// Dependencies that are also defined here are dropped (the definition wins): a task may
    /// read a package that an upstream task also passes along.
    pub fn drop_dependencies_defined_here(&mut self) {
        let defined: Vec<Path> = self.packages.keys().cloned().collect();
        for p in defined {
            self.dependencies.remove(&p);
        }
    }

    /// The named types and every type they refer to, directly or not, that this IR declares.
    pub fn type_closure(&self, roots: impl IntoIterator<Item = FQName>) -> BTreeSet<FQName> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<FQName> = roots.into_iter().collect();
        while let Some(fq) = todo.pop() {
            let Some(decl) = self.type_decl(&fq) else {
                continue;
            };
            if !out.insert(fq) {
                continue;
            }
            decl.for_each_reference(&mut |r| {
                if !out.contains(r) {
                    todo.push(r.clone());
                }
            });
        }
        out
    }
}
