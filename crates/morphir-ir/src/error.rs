//! Errors that name where in the JSON input the problem is.

use std::fmt;
use std::fmt::Write as _;

/// A problem in IR input, with the JSON path where it was found (`$.distribution[3].modules[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// A JSON path into the input document.
    pub path: String,
    /// What is wrong, as a sentence a user can act on.
    pub message: String,
}

impl Error {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {})", self.message, self.path)
    }
}

impl std::error::Error for Error {}

/// The result of reading IR.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Parses JSON text; a syntax error (a truncated file, a stray comma) names the JSON path of the
/// place it was found, besides its line and column.
pub fn parse_json(text: &[u8]) -> Result<serde_json::Value> {
    serde_json::from_slice(text).map_err(|e| {
        let offset = offset_of(text, e.line(), e.column());
        let what = match e.classify() {
            serde_json::error::Category::Eof => "the JSON ends early (truncated file?)",
            serde_json::error::Category::Io => "the JSON could not be read",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected JSON",
        };
        Error::new(
            json_path_at(&text[..offset.min(text.len())]),
            format!(
                "{what}: {} at line {} column {}",
                strip_position(&e.to_string()),
                e.line(),
                e.column()
            ),
        )
    })
}

fn strip_position(message: &str) -> &str {
    message
        .rsplit_once(" at line ")
        .map_or(message, |(head, _)| head)
}

/// The byte offset of a 1-based line and column (`serde_json` counts columns in bytes).
fn offset_of(text: &[u8], line: usize, column: usize) -> usize {
    let mut at = 0;
    for _ in 1..line {
        match text[at..].iter().position(|&b| b == b'\n') {
            Some(p) => at += p + 1,
            None => return text.len(),
        }
    }
    (at + column.saturating_sub(1)).min(text.len())
}

/// The JSON path of the innermost value open at the end of `prefix`: a small scanner that
/// follows strings, objects and arrays, so that even a truncated document gets a path.
pub fn json_path_at(prefix: &[u8]) -> String {
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    // The last complete string, which becomes a key when a `:` follows it.
    let mut last_string: Option<String> = None;
    while i < prefix.len() {
        match prefix[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < prefix.len() && prefix[i] != b'"' {
                    if prefix[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let end = i.min(prefix.len());
                last_string = Some(String::from_utf8_lossy(&prefix[start..end]).into_owned());
            }
            b'{' => stack.push(Frame::Object(None)),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b':' => {
                if let Some(Frame::Object(key)) = stack.last_mut() {
                    *key = last_string.take();
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(key)) => *key = None,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    let mut path = String::from("$");
    for frame in &stack {
        match frame {
            Frame::Array(n) => {
                let _ = write!(path, "[{n}]");
            }
            Frame::Object(Some(key)) => push_key(&mut path, key),
            Frame::Object(None) => {}
        }
    }
    path
}

/// Appends `.key`, or `["key"]` when the key is not a plain identifier.
pub(crate) fn push_key(path: &mut String, key: &str) {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !key.as_bytes()[0].is_ascii_digit()
    {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str("[\"");
        path.push_str(&key.replace('\\', "\\\\").replace('"', "\\\""));
        path.push_str("\"]");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_document_names_the_open_path() {
        let text = br#"{"formatVersion": 2, "distribution": ["Library", [["a"]], [], {"modules": [[[["m"]], {"access": "Public", "value": {"types": [[["t"], {"#;
        let err = parse_json(text).unwrap_err();
        assert_eq!(
            err.path,
            "$.distribution[3].modules[0][1].value.types[0][1]"
        );
        assert!(err.message.contains("ends early"), "{}", err.message);
    }

    #[test]
    fn a_syntax_error_names_the_path_of_its_place() {
        let text = b"{\"a\": [1, 2, {\"b\": tru}]}";
        let err = parse_json(text).unwrap_err();
        assert_eq!(err.path, "$.a[2].b");
        assert!(err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn odd_keys_are_quoted() {
        let mut p = String::from("$");
        push_key(&mut p, "a b");
        push_key(&mut p, "ok");
        assert_eq!(p, "$[\"a b\"].ok");
    }
}
