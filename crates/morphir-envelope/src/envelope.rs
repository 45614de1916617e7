use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::content_type;
use crate::error_payload::{ErrorPayload, KIND_ERROR};
use crate::{EnvelopeError, FileBundle};

/// Metadata the host owns. Guests may read it; what they write back is ignored by caching.
///
/// In design-time calls `session_id` names one build and `seqnum` orders the host's calls
/// within it (see `docs/abi.md`). `kind` says what an envelope is when the content type alone
/// does not (`error`, a log level, a TEA message name).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Header {
    /// Order of this envelope within its session.
    pub seqnum: u64,
    /// The session (a build, a TEA program run) the envelope belongs to.
    pub session_id: String,
    /// What the envelope is, when the content type does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The unit of every call: a header, a content type and opaque content bytes.
///
/// The serde form (used for `--json` output and logs) writes `content` as a string when it is
/// UTF-8 and as `content_base64` otherwise; the boundary between host and guest uses the binary
/// form of [`Envelope::encode`].
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// Host-owned metadata.
    pub header: Header,
    /// What `content` is, e.g. [`content_type::MORPHIR_IR_JSON`].
    pub content_type: String,
    /// The payload.
    pub content: Vec<u8>,
}

impl Envelope {
    /// An envelope with a default header.
    pub fn new(content_type: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        Self {
            header: Header::default(),
            content_type: content_type.into(),
            content: content.into(),
        }
    }

    /// An envelope with no content ([`content_type::EMPTY`]).
    pub fn empty() -> Self {
        Self::new(content_type::EMPTY, Vec::new())
    }

    /// `value` serialised as `application/json`.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<Self, EnvelopeError> {
        Self::json_as(content_type::JSON, value)
    }

    /// `value` serialised as JSON under another JSON content type
    /// (e.g. [`content_type::MORPHIR_IR_JSON`]).
    pub fn json_as<T: Serialize + ?Sized>(
        content_type: impl Into<String>,
        value: &T,
    ) -> Result<Self, EnvelopeError> {
        let content = serde_json::to_vec(value).map_err(EnvelopeError::Json)?;
        Ok(Self::new(content_type, content))
    }

    /// The content parsed as JSON. Accepts `application/json` and every `+json` type.
    pub fn as_json<T: DeserializeOwned>(&self) -> Result<T, EnvelopeError> {
        if !content_type::is_json(&self.content_type) {
            return Err(EnvelopeError::ContentType {
                expected: "application/json or a +json type",
                found: self.content_type.clone(),
            });
        }
        serde_json::from_slice(&self.content).map_err(EnvelopeError::Json)
    }

    /// A [`FileBundle`] as an envelope of type [`content_type::FILES`].
    pub fn files(bundle: &FileBundle) -> Self {
        Self::new(content_type::FILES, bundle.encode())
    }

    /// The content read as a [`FileBundle`].
    pub fn as_files(&self) -> Result<FileBundle, EnvelopeError> {
        if !content_type::is_files(&self.content_type) {
            return Err(EnvelopeError::ContentType {
                expected: content_type::FILES,
                found: self.content_type.clone(),
            });
        }
        FileBundle::decode(&self.content).map_err(EnvelopeError::Bundle)
    }

    /// An error envelope: `kind = "error"`, [`content_type::ERROR`], the payload as JSON.
    pub fn error(payload: &ErrorPayload) -> Self {
        let mut env = Self::new(
            content_type::ERROR,
            serde_json::to_vec(payload).unwrap_or_else(|_| b"{}".to_vec()),
        );
        env.header.kind = Some(KIND_ERROR.to_owned());
        env
    }

    /// An error envelope with just a message.
    pub fn error_message(message: impl Into<String>) -> Self {
        Self::error(&ErrorPayload::new(message))
    }

    /// True when the envelope reports a failure (`kind = "error"`).
    pub fn is_error(&self) -> bool {
        self.header.kind.as_deref() == Some(KIND_ERROR)
    }

    /// The error payload of an error envelope. Content that is not a valid payload is kept as
    /// the message, so a guest's failure is never lost.
    pub fn error_payload(&self) -> Option<ErrorPayload> {
        if !self.is_error() {
            return None;
        }
        Some(serde_json::from_slice(&self.content).unwrap_or_else(|_| {
            ErrorPayload::new(String::from_utf8_lossy(&self.content).into_owned())
        }))
    }

    /// This envelope with another header (the host stamps every envelope it sends).
    #[must_use]
    pub fn with_header(mut self, header: Header) -> Self {
        self.header = header;
        self
    }

    /// This envelope with `kind` set.
    #[must_use]
    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.header.kind = Some(kind.into());
        self
    }

    /// The content as UTF-8 text, if it is.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.content).ok()
    }
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A megabyte of IR in a debug print helps nobody: show a prefix.
        const SHOWN: usize = 64;
        let shown = &self.content[..self.content.len().min(SHOWN)];
        f.debug_struct("Envelope")
            .field("header", &self.header)
            .field("content_type", &self.content_type)
            .field("content_len", &self.content.len())
            .field("content_prefix", &String::from_utf8_lossy(shown))
            .finish()
    }
}

/// The serde shape of an envelope (JSON form).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeJson<'a> {
    header: std::borrow::Cow<'a, Header>,
    content_type: std::borrow::Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_base64: Option<String>,
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (content, content_base64) = match std::str::from_utf8(&self.content) {
            Ok(s) => (Some(std::borrow::Cow::Borrowed(s)), None),
            Err(_) => (None, Some(crate::wire::base64_encode(&self.content))),
        };
        EnvelopeJson {
            header: std::borrow::Cow::Borrowed(&self.header),
            content_type: std::borrow::Cow::Borrowed(&self.content_type),
            content,
            content_base64,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = EnvelopeJson::deserialize(deserializer)?;
        let content = match (json.content, json.content_base64) {
            (Some(_), Some(_)) => {
                return Err(serde::de::Error::custom(
                    "an envelope has either `content` or `content_base64`, not both",
                ));
            }
            (Some(text), None) => text.into_owned().into_bytes(),
            (None, Some(b64)) => crate::wire::base64_decode(&b64)
                .ok_or_else(|| serde::de::Error::custom("`content_base64` is not base64"))?,
            (None, None) => Vec::new(),
        };
        Ok(Envelope {
            header: json.header.into_owned(),
            content_type: json.content_type.into_owned(),
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_type_check() {
        let env = Envelope::json(&serde_json::json!({"a": 1})).unwrap();
        assert_eq!(env.content_type, content_type::JSON);
        let v: serde_json::Value = env.as_json().unwrap();
        assert_eq!(v["a"], 1);
        let ts = Envelope::new(content_type::TYPESCRIPT, "type A = 1;");
        let err = ts.as_json::<serde_json::Value>().unwrap_err();
        assert!(err.to_string().contains("text/typescript"), "{err}");
    }

    #[test]
    fn error_envelopes_carry_their_payload() {
        let env = Envelope::error(&ErrorPayload::new("bad input").with_path("$.modules[3]"));
        assert!(env.is_error());
        let p = env.error_payload().unwrap();
        assert_eq!(p.message, "bad input");
        assert_eq!(p.path.as_deref(), Some("$.modules[3]"));
        assert!(Envelope::empty().error_payload().is_none());
        // Content that is not a payload still surfaces as the message.
        let raw = Envelope::new("text/plain", "boom").with_kind(KIND_ERROR);
        assert_eq!(raw.error_payload().unwrap().message, "boom");
    }

    #[test]
    fn serde_form_uses_text_or_base64() {
        let text = Envelope::new("text/plain", "hi").with_kind("info");
        let s = serde_json::to_string(&text).unwrap();
        assert_eq!(
            s,
            r#"{"header":{"seqnum":0,"session_id":"","kind":"info"},"content_type":"text/plain","content":"hi"}"#
        );
        assert_eq!(serde_json::from_str::<Envelope>(&s).unwrap(), text);
        let bin = Envelope::new("application/octet-stream", vec![0xff, 0, 1]);
        let s = serde_json::to_string(&bin).unwrap();
        assert!(s.contains(r#""content_base64":"/wAB""#), "{s}");
        assert_eq!(serde_json::from_str::<Envelope>(&s).unwrap(), bin);
    }
}
