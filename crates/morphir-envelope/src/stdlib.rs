//! The standard library's request and response payloads: what guests send to the host functions
//! of `morphir:host` and what they get back (specified in `docs/abi.md`, "Host functions").
//!
//! Every host function takes one request envelope and returns a response envelope, none (`0`),
//! or an error envelope. A refused call (a permission the extension was not granted) is an error
//! envelope whose payload has the code [`code::PERMISSION_DENIED`]. The shapes here are shared by
//! the guest SDK and the host, so both sides agree by construction.

use serde::{Deserialize, Serialize};

use crate::{Envelope, ErrorPayload, content_type, wire};

/// `log`: `kind` = level, content = UTF-8 text. No response.
pub const LOG: &str = "log";
/// `get_env_var`: content = the name (UTF-8). Response: `text/plain` value, or an empty envelope
/// ([`content_type::EMPTY`]) when the variable is allowed but unset.
pub const GET_ENV_VAR: &str = "get_env_var";
/// `set_env_var`: a JSON [`SetEnvVar`]. No response. Changes only the extension's own view.
pub const SET_ENV_VAR: &str = "set_env_var";
/// `random`: a JSON [`RandomRequest`]. Response: [`content_type::OCTET_STREAM`] bytes.
pub const RANDOM: &str = "random";
/// `http`: a JSON [`HttpRequest`]. Response: a JSON [`HttpResponse`].
pub const HTTP: &str = "http";
/// `workspace`: `kind` = `read` (content = a project-relative path; response: the bytes) or
/// `list` (response: a JSON array of the paths the step may read). Design-time steps only.
pub const WORKSPACE: &str = "workspace";
/// `ir_helpers`: `kind` = the helper ([`ir`]), content = its JSON arguments. Response: JSON.
pub const IR_HELPERS: &str = "ir_helpers";

/// Every host function, in the host's index order.
pub const ALL: [&str; 7] = [
    LOG,
    GET_ENV_VAR,
    SET_ENV_VAR,
    RANDOM,
    HTTP,
    WORKSPACE,
    IR_HELPERS,
];

/// Error codes host functions use in their error envelopes.
pub mod code {
    /// The extension's permissions in `morphir.toml` do not allow the call.
    pub const PERMISSION_DENIED: &str = "permission-denied";
    /// The request is malformed (not the documented shape).
    pub const INVALID_REQUEST: &str = "invalid-request";
    /// The call was allowed but failed (network error, missing file, ...).
    pub const FAILED: &str = "failed";
    /// The response is over a size cap.
    pub const TOO_LARGE: &str = "too-large";
    /// Not available in this kind of call (e.g. `workspace` in a runtime extension), or outside
    /// the Morphir runtime (native unit tests).
    pub const UNAVAILABLE: &str = "unavailable";
}

/// The `kind`s of `workspace` requests.
pub mod workspace {
    /// Read one file: content = its path relative to the project directory.
    pub const READ: &str = "read";
    /// List the files the step may read.
    pub const LIST: &str = "list";
}

/// The helpers of `ir_helpers`, named by the request's `kind`.
pub mod ir {
    /// `{"name": "valueInUSD"}` or `{"words": ["value", "in", "u", "s", "d"]}` →
    /// [`super::NameForms`].
    pub const NAME: &str = "name";
    /// Content: `"package:module#local"` as a JSON string → [`super::FQNameParts`].
    pub const PARSE_FQNAME: &str = "parse_fqname";
    /// Content: [`super::FQNameParts`] (only `package`, `module`, `local` are read) → the
    /// canonical `package:module#local` as a JSON string.
    pub const PRINT_FQNAME: &str = "print_fqname";
    /// `{"ir": <IR JSON>, "to": "canonical"}` → the IR (morphir-elm formatVersion 1-3, the v4
    /// draft, or canonical) in the canonical form of `docs/ir.md`.
    pub const CONVERT: &str = "convert";
}

/// `set_env_var`'s request. `value: null` unsets the variable in the extension's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEnvVar {
    /// The variable; it must be in the extension's `permissions.env`.
    pub name: String,
    /// The new value, or `None` to unset it.
    pub value: Option<String>,
}

/// `random`'s request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomRequest {
    /// How many bytes (at most [`RandomRequest::MAX`]).
    pub bytes: u32,
}

impl RandomRequest {
    /// The most bytes one call returns.
    pub const MAX: u32 = 65_536;
}

/// An HTTP request: the `http` host function's request and the TEA `http` command's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET` (default), `POST`, `PUT`, `DELETE`, `HEAD`, `PATCH`, `OPTIONS`.
    #[serde(default = "HttpRequest::default_method")]
    pub method: String,
    /// An absolute `http://` or `https://` URL whose host is in the extension's `allowed_hosts`.
    pub url: String,
    /// Request headers as `[name, value]` pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// A UTF-8 body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A binary body, base64 (standard, padded). At most one of `body` and `body_base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl HttpRequest {
    fn default_method() -> String {
        "GET".to_owned()
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Self::default_method(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            body_base64: None,
        }
    }

    /// A request with `method` and a UTF-8 `body`.
    pub fn with_body(method: impl Into<String>, url: impl Into<String>, body: String) -> Self {
        Self {
            method: method.into(),
            body: Some(body),
            ..Self::get(url)
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body's bytes (`None` when there is none); an error for invalid base64 or both forms.
    pub fn body_bytes(&self) -> Result<Option<Vec<u8>>, String> {
        match (&self.body, &self.body_base64) {
            (Some(_), Some(_)) => Err("give `body` or `body_base64`, not both".to_owned()),
            (Some(text), None) => Ok(Some(text.clone().into_bytes())),
            (None, Some(b64)) => wire::base64_decode(b64)
                .map(Some)
                .ok_or_else(|| "`body_base64` is not base64".to_owned()),
            (None, None) => Ok(None),
        }
    }
}

/// An HTTP response: the `http` host function's response, and the content of the message an
/// `http` command sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers as `[name, value]` pairs, names lower-case.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The body, base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl HttpResponse {
    /// A response with `body`, written as text when it is UTF-8 and as base64 otherwise.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        let (body, body_base64) = match String::from_utf8(body) {
            Ok(text) => (Some(text), None),
            Err(e) => (None, Some(wire::base64_encode(e.as_bytes()))),
        };
        Self {
            status,
            headers,
            body,
            body_base64,
        }
    }

    /// The body's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match (&self.body, &self.body_base64) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(b64)) => wire::base64_decode(b64).unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }

    /// The body as text (lossy for a binary body).
    pub fn text(&self) -> String {
        match &self.body {
            Some(text) => text.clone(),
            None => String::from_utf8_lossy(&self.bytes()).into_owned(),
        }
    }

    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What `ir_helpers`' `name` returns: every rendering of a Morphir name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameForms {
    /// The lower-case words (`["value", "in", "u", "s", "d"]`).
    pub words: Vec<String>,
    /// `valueInUSD`.
    pub camel_case: String,
    /// `ValueInUSD`.
    pub title_case: String,
    /// `value_in_USD`.
    pub snake_case: String,
    /// `value-in-u-s-d`, the canonical form of `docs/ir.md`.
    pub canonical: String,
}

/// A fully-qualified name split into its parts: `parse_fqname`'s response and
/// `print_fqname`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FQNameParts {
    /// The package path, canonical (`morphir/s-d-k`).
    pub package: String,
    /// The module path, canonical (`basics`).
    pub module: String,
    /// The local name, canonical (`int`).
    pub local: String,
    /// Each path as lists of words (`[["morphir"], ["s", "d", "k"]]`); ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<FQNameWords>,
}

/// The parts of a fully-qualified name as words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FQNameWords {
    /// The package path.
    pub package: Vec<Vec<String>>,
    /// The module path.
    pub module: Vec<Vec<String>>,
    /// The local name.
    pub local: Vec<String>,
}

/// A refused call's error envelope: code [`code::PERMISSION_DENIED`].
pub fn denied(message: impl Into<String>) -> Envelope {
    Envelope::error(&ErrorPayload::new(message).with_code(code::PERMISSION_DENIED))
}

/// An error envelope with `code`.
pub fn failure(code: &str, message: impl Into<String>) -> Envelope {
    Envelope::error(&ErrorPayload::new(message).with_code(code))
}

/// A response carrying bytes.
pub fn bytes_response(bytes: Vec<u8>) -> Envelope {
    Envelope::new(content_type::OCTET_STREAM, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_shapes_round_trip() {
        let req = HttpRequest::get("http://127.0.0.1:1/x").with_header("accept", "text/plain");
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            json,
            r#"{"method":"GET","url":"http://127.0.0.1:1/x","headers":[["accept","text/plain"]]}"#
        );
        let back: HttpRequest = serde_json::from_str(r#"{"url":"http://h/"}"#).unwrap();
        assert_eq!(back.method, "GET");
        let bin = HttpResponse::new(200, vec![], vec![0xff, 0]);
        assert_eq!(bin.body, None);
        assert_eq!(bin.bytes(), [0xff, 0]);
        let text = HttpResponse::new(200, vec![("a".into(), "b".into())], b"hi".to_vec());
        assert_eq!(text.text(), "hi");
        assert_eq!(text.header("A"), Some("b"));
    }
}
