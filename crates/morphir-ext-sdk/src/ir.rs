//! Morphir IR helpers from the host (`ir_helpers`): name renderings and fully-qualified names,
//! computed by the host's IR library so every extension agrees with it.

use morphir_envelope::stdlib::ir;
pub use morphir_envelope::stdlib::{FQNameParts, NameForms};
use morphir_envelope::{Envelope, ErrorPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host::{expect, host_call, json};

fn helper<T: DeserializeOwned>(kind: &str, args: &impl Serialize) -> Result<T, ErrorPayload> {
    let request = Envelope::json(args)
        .map_err(|e| ErrorPayload::new(e.to_string()))?
        .with_kind(kind);
    json(
        "ir_helpers",
        &expect("ir_helpers", host_call!(ir_helpers, &request))?,
    )
}

/// Every rendering of the Morphir name of `identifier` (any convention: `valueInUSD`,
/// `value_in_usd`, `value-in-u-s-d`).
pub fn name(identifier: &str) -> Result<NameForms, ErrorPayload> {
    helper(ir::NAME, &serde_json::json!({ "name": identifier }))
}

/// Every rendering of the name made of `words`.
pub fn name_of_words(words: &[String]) -> Result<NameForms, ErrorPayload> {
    helper(ir::NAME, &serde_json::json!({ "words": words }))
}

/// `valueInUSD`.
pub fn to_camel_case(identifier: &str) -> Result<String, ErrorPayload> {
    name(identifier).map(|n| n.camel_case)
}

/// `ValueInUSD`.
pub fn to_title_case(identifier: &str) -> Result<String, ErrorPayload> {
    name(identifier).map(|n| n.title_case)
}

/// `value_in_USD`.
pub fn to_snake_case(identifier: &str) -> Result<String, ErrorPayload> {
    name(identifier).map(|n| n.snake_case)
}

/// Splits `package:module#local`.
pub fn parse_fqname(fqname: &str) -> Result<FQNameParts, ErrorPayload> {
    helper(ir::PARSE_FQNAME, &fqname)
}

/// Joins the parts into `package:module#local`.
pub fn print_fqname(package: &str, module: &str, local: &str) -> Result<String, ErrorPayload> {
    let parts = FQNameParts {
        package: package.to_owned(),
        module: module.to_owned(),
        local: local.to_owned(),
        words: None,
    };
    helper(ir::PRINT_FQNAME, &parts)
}

/// Converts IR JSON in any format the host reads (morphir-elm formatVersion 1-3, the v4 draft,
/// canonical) to the canonical form of `docs/ir.md`, with the host's IR library.
pub fn to_canonical(ir_json: &serde_json::Value) -> Result<serde_json::Value, ErrorPayload> {
    helper(
        ir::CONVERT,
        &serde_json::json!({ "ir": ir_json, "to": "canonical" }),
    )
}
