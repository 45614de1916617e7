//! The content types the project knows. Any other string is allowed; these are the ones the
//! host and the shipped extensions interpret.

/// Plain JSON (capabilities, TEA payloads, configuration).
pub const JSON: &str = "application/json";
/// Morphir IR, JSON encoding (the canonical form of `docs/ir.md`).
pub const MORPHIR_IR_JSON: &str = "application/morphir-ir+json";
/// Morphir IR, CBOR encoding.
pub const MORPHIR_IR_CBOR: &str = "application/morphir-ir+cbor";
/// TypeScript source.
pub const TYPESCRIPT: &str = "text/typescript";
/// Plain UTF-8 text (log messages).
pub const TEXT: &str = "text/plain";
/// A [`crate::FileBundle`]: the files a frontend reads and the artifacts a backend writes.
pub const FILES: &str = "application/x-morphir-files";
/// The seed's name for a backend's output; the host reads it exactly as [`FILES`].
pub const BACKEND: &str = "application/x-morphir-backend";
/// An error reported by an extension (see [`crate::ErrorPayload`]).
pub const ERROR: &str = "application/vnd.morphir.error+json";
/// A [`crate::StepRequest`]: what a design-time step operation receives.
pub const REQUEST: &str = "application/x-morphir-request";
/// No content (an empty request, e.g. to `get-capabilities`).
pub const EMPTY: &str = "application/x-empty";
/// Arbitrary bytes (the response of the `random` host function, a workspace file).
pub const OCTET_STREAM: &str = "application/octet-stream";
/// A [`crate::tea::UpdateRequest`]: what a runtime extension's `update` receives (its message
/// and its model).
pub const UPDATE: &str = "application/x-morphir-update";

/// True for `application/json` and every `+json` structured-syntax type
/// (`application/morphir-ir+json`, the error type, ...).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(JSON)
        || essence
            .rsplit_once('+')
            .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json"))
}

/// True for the two names of a file bundle.
pub fn is_files(content_type: &str) -> bool {
    content_type == FILES || content_type == BACKEND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_family() {
        assert!(is_json(JSON));
        assert!(is_json(MORPHIR_IR_JSON));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json(ERROR));
        assert!(!is_json(MORPHIR_IR_CBOR));
        assert!(!is_json(TYPESCRIPT));
        assert!(!is_json("application/jsonx"));
    }
}
