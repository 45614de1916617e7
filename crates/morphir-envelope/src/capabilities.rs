use serde::{Deserialize, Serialize};

/// What an extension says about itself: the JSON content of `get-capabilities`' output.
///
/// `capabilities` follows the seed's `capability` record (name, description, parameter and
/// return schemas); `operations` lists the ABI operations the module implements, by their seed
/// names (`frontend-compile`, `transform`, `backend-generate`, ...). The host checks the list
/// against the module's exports, so a module cannot claim what it does not implement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The extension's own name.
    pub name: String,
    /// The extension's version (semver by convention).
    #[serde(default)]
    pub version: String,
    /// One sentence for `morphir extensions`.
    #[serde(default)]
    pub description: String,
    /// The operations implemented, by seed name.
    pub operations: Vec<String>,
    /// Content types each step operation accepts (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepts: Vec<String>,
    /// Content types each step operation produces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub produces: Vec<String>,
    /// Named capabilities, as in the seed's `capability` record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
}

/// One named capability (seed `morphir:extension`'s `capability` record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capability {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of its parameters (the step's `config`), as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_schema: Option<String>,
    /// JSON Schema of what it returns, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_schema: Option<String>,
}

impl Capability {
    /// A capability without schemas.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: description.into(),
            params_schema: None,
            return_schema: None,
        }
    }
}

impl Capabilities {
    /// True when `operation` (a seed name such as `transform`) is listed.
    pub fn implements(&self, operation: &str) -> bool {
        self.operations.iter().any(|o| o == operation)
    }
}
