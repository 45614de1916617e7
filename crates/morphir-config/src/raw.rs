//! The files as serde sees them: every key documented in docs/config.md, unknown keys refused.
//!
//! Values that need checks beyond their TOML type (names, sizes, paths) stay `Spanned<String>`
//! here and are checked in `load`, so one bad value does not hide the others.

use serde::Deserialize;
use toml::Spanned;

pub(crate) type SpannedTable = Spanned<toml::Table>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [project] table")]
pub(crate) struct RawProject {
    pub(crate) name: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) members: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(crate) include: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [cache] table")]
pub(crate) struct RawCache {
    pub(crate) dir: Option<Spanned<String>>,
    pub(crate) max_size: Option<Spanned<String>>,
    pub(crate) remote: Option<RawRemote>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [cache.remote] table")]
pub(crate) struct RawRemote {
    pub(crate) endpoint: Spanned<String>,
    #[serde(default)]
    pub(crate) instance_name: String,
    pub(crate) token_env: Option<Spanned<String>>,
    pub(crate) ca_file: Option<Spanned<String>>,
    pub(crate) timeout: Option<Spanned<String>>,
    pub(crate) upload: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [[extensions]] table")]
pub(crate) struct RawExtension {
    pub(crate) name: Spanned<String>,
    pub(crate) enabled: Option<Spanned<bool>>,
    pub(crate) protocol: Option<Spanned<String>>,
    pub(crate) source: RawSource,
    #[serde(default)]
    pub(crate) permissions: RawPermissions,
    pub(crate) config: Option<SpannedTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [extensions.source] table")]
pub(crate) struct RawSource {
    #[serde(rename = "type")]
    pub(crate) kind: Spanned<String>,
    pub(crate) path: Spanned<String>,
    pub(crate) hash: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [extensions.permissions] table")]
pub(crate) struct RawPermissions {
    pub(crate) max_memory: Option<Spanned<String>>,
    pub(crate) max_execution_time: Option<Spanned<String>>,
    pub(crate) max_output: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) env: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) allowed_hosts: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a task table")]
pub(crate) struct RawTask {
    pub(crate) description: Option<String>,
    pub(crate) frontend: RawFrontend,
    #[serde(default)]
    pub(crate) transforms: Vec<RawTransform>,
    #[serde(default)]
    pub(crate) backends: Vec<RawBackend>,
    #[serde(default)]
    pub(crate) depends_on: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) env: Vec<Spanned<String>>,
    #[serde(default = "yes")]
    pub(crate) cache: bool,
    #[serde(default)]
    pub(crate) cache_http: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a frontend table")]
pub(crate) struct RawFrontend {
    pub(crate) extension: Spanned<String>,
    #[serde(default)]
    pub(crate) inputs: Vec<Spanned<String>>,
    pub(crate) config: Option<SpannedTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a transform table")]
pub(crate) struct RawTransform {
    pub(crate) extension: Spanned<String>,
    pub(crate) config: Option<SpannedTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a backend table")]
pub(crate) struct RawBackend {
    pub(crate) extension: Spanned<String>,
    pub(crate) output: Spanned<String>,
    pub(crate) config: Option<SpannedTable>,
}

fn yes() -> bool {
    true
}

/// Minimal view of a root file used by `find_config` to tell whether a directory is one of its
/// members; everything else is ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MembersOnly {
    #[serde(default)]
    pub(crate) project: MembersOnlyProject,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct MembersOnlyProject {
    #[serde(default)]
    pub(crate) members: Vec<String>,
}
