//! The runtime-extension ABI (TEA: init, update, subscriptions), specified in `docs/abi.md`,
//! "Runtime extensions".
//!
//! * `init(flags)` receives the flags envelope as it is and returns [`Next`] as JSON.
//! * `update(msg, model)` receives one envelope of type [`content_type::UPDATE`]
//!   ([`UpdateRequest`]): a file bundle of two parts, `msg` and `model`, each an encoded
//!   envelope, like a step request. It returns [`Next`].
//! * `subscriptions(model)` receives the model envelope and returns [`Subscriptions`].
//!
//! A model is any JSON value, carried as `application/json`. Commands ([`Cmd`]) and
//! subscriptions ([`Sub`]) are JSON objects tagged by `cmd` and `sub`; what they send back is a
//! message envelope whose `kind` is the `tag` the program chose.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::stdlib::HttpRequest;
use crate::{DecodeError, Envelope, EnvelopeError, FileBundle, Header, content_type, wire};

const PART_MSG: &str = "msg";
const PART_MODEL: &str = "model";

/// `update`'s input: the message and the current model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateRequest {
    /// The header of the call (the program's session, the message's sequence number).
    pub header: Header,
    /// The message.
    pub msg: Envelope,
    /// The model, an `application/json` envelope.
    pub model: Envelope,
}

impl UpdateRequest {
    /// The request as the envelope `update` receives.
    pub fn to_envelope(&self) -> Envelope {
        let bundle = FileBundle::new()
            .with_file(PART_MSG, self.msg.encode())
            .with_file(PART_MODEL, self.model.encode());
        Envelope::new(content_type::UPDATE, bundle.encode()).with_header(self.header.clone())
    }

    /// Reads an update request. Unknown parts are ignored.
    pub fn from_envelope(envelope: Envelope) -> Result<Self, EnvelopeError> {
        if envelope.content_type != content_type::UPDATE {
            return Err(EnvelopeError::ContentType {
                expected: content_type::UPDATE,
                found: envelope.content_type,
            });
        }
        let bundle = FileBundle::decode(&envelope.content).map_err(EnvelopeError::Bundle)?;
        let (mut msg, mut model) = (None, None);
        for part in bundle.files {
            let env = Envelope::decode(&part.content).map_err(EnvelopeError::Bundle)?;
            match part.path.as_str() {
                PART_MSG => msg = Some(env),
                PART_MODEL => model = Some(env),
                _ => {}
            }
        }
        let missing = |part: &str| {
            EnvelopeError::Bundle(DecodeError::Path(format!(
                "update request has no `{part}` part"
            )))
        };
        Ok(Self {
            header: envelope.header,
            msg: msg.ok_or_else(|| missing(PART_MSG))?,
            model: model.ok_or_else(|| missing(PART_MODEL))?,
        })
    }
}

/// What `init` and `update` return: `{"model": ..., "cmds": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Next {
    /// The new model.
    pub model: Value,
    /// Commands for the host to run, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmds: Vec<Cmd>,
}

/// What `subscriptions` returns: `{"subs": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscriptions {
    /// The subscriptions that should be live for this model.
    #[serde(default)]
    pub subs: Vec<Sub>,
}

/// A command: an effect the program asks the host to perform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Cmd {
    /// Log a line under the extension's name.
    Log {
        /// `trace`, `debug`, `info` (default), `warn`, `error`.
        #[serde(default = "default_level")]
        level: String,
        /// The text.
        message: String,
    },
    /// Emit an output envelope (`morphir run` prints it).
    Emit(Output),
    /// Send the program a message after `ms` milliseconds: `kind` = `tag`, content = `content`.
    Delay {
        /// The delay.
        ms: u64,
        /// The message's `kind`.
        tag: String,
        /// The message's JSON content (`null` when absent).
        #[serde(default, skip_serializing_if = "Value::is_null")]
        content: Value,
    },
    /// Make an HTTP request; the response comes back as a message with `kind` = `tag` and the
    /// [`crate::stdlib::HttpResponse`] as content, or `{"error": {...}}` when it failed.
    Http {
        /// The message's `kind`.
        tag: String,
        /// The request.
        request: HttpRequest,
    },
    /// Stop the program.
    Stop,
}

fn default_level() -> String {
    "info".to_owned()
}

impl Cmd {
    /// [`Cmd::Log`].
    pub fn log(level: &str, message: impl Into<String>) -> Self {
        Cmd::Log {
            level: level.to_owned(),
            message: message.into(),
        }
    }

    /// [`Cmd::Emit`] of an envelope.
    pub fn emit(output: &Envelope) -> Self {
        Cmd::Emit(Output::from_envelope(output))
    }

    /// [`Cmd::Emit`] of a JSON value (`application/json`).
    pub fn emit_json(value: Value) -> Self {
        Cmd::Emit(Output {
            content_type: content_type::JSON.to_owned(),
            kind: None,
            content: Some(value),
            content_base64: None,
        })
    }

    /// [`Cmd::Delay`].
    pub fn delay(ms: u64, tag: impl Into<String>, content: Value) -> Self {
        Cmd::Delay {
            ms,
            tag: tag.into(),
            content,
        }
    }

    /// [`Cmd::Http`].
    pub fn http(tag: impl Into<String>, request: HttpRequest) -> Self {
        Cmd::Http {
            tag: tag.into(),
            request,
        }
    }
}

/// An envelope in JSON, as [`Cmd::Emit`] carries it: `content` is the JSON value itself for a
/// JSON content type, a string for UTF-8 text, and `content_base64` for other bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    /// Default `application/json`.
    #[serde(default = "default_content_type")]
    pub content_type: String,
    /// The envelope's `kind`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// JSON (for JSON types) or text content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// Binary content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
}

fn default_content_type() -> String {
    content_type::JSON.to_owned()
}

impl Output {
    /// `envelope` in this form (its header's `kind` kept, the rest of the header dropped).
    pub fn from_envelope(envelope: &Envelope) -> Self {
        let mut out = Output {
            content_type: envelope.content_type.clone(),
            kind: envelope.header.kind.clone(),
            content: None,
            content_base64: None,
        };
        if content_type::is_json(&envelope.content_type)
            && let Ok(value) = serde_json::from_slice::<Value>(&envelope.content)
        {
            out.content = Some(value);
        } else if let Some(text) = envelope.text() {
            out.content = Some(Value::String(text.to_owned()));
        } else {
            out.content_base64 = Some(wire::base64_encode(&envelope.content));
        }
        out
    }

    /// Back to an envelope.
    pub fn to_envelope(&self) -> Result<Envelope, String> {
        let content = match (&self.content, &self.content_base64) {
            (Some(_), Some(_)) => return Err("give `content` or `content_base64`, not both".into()),
            (Some(Value::String(text)), None) if !content_type::is_json(&self.content_type) => {
                text.clone().into_bytes()
            }
            (Some(value), None) if content_type::is_json(&self.content_type) => {
                serde_json::to_vec(value).map_err(|e| e.to_string())?
            }
            (Some(_), None) => {
                return Err(format!(
                    "`content` of a `{}` output must be a string (or use content_base64)",
                    self.content_type
                ));
            }
            (None, Some(b64)) => {
                wire::base64_decode(b64).ok_or("`content_base64` is not base64")?
            }
            (None, None) => Vec::new(),
        };
        let mut env = Envelope::new(self.content_type.clone(), content);
        env.header.kind.clone_from(&self.kind);
        Ok(env)
    }
}

/// A subscription: a source of messages that stays live while `subscriptions(model)` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "sub", rename_all = "snake_case")]
pub enum Sub {
    /// A timer: every `ms` milliseconds, a message with `kind` = `tag` and content
    /// `{"time_ms": <milliseconds since the Unix epoch>}`.
    Every {
        /// The period.
        ms: u64,
        /// The message's `kind`.
        tag: String,
    },
    /// A file watch: when files under `path` (relative to the workspace root, inside it) change,
    /// a message with `kind` = `tag` and content `{"paths": [...]}` (workspace-relative, sorted).
    /// Changes within a short window are coalesced into one message.
    Watch {
        /// A file or directory (watched recursively).
        path: String,
        /// The message's `kind`.
        tag: String,
    },
    /// An external event stream the host provides by name: each event is delivered as a message
    /// with `kind` = `tag` and the event's content. A host that has no such stream ignores it.
    Port {
        /// The stream.
        name: String,
        /// The message's `kind`.
        tag: String,
    },
}

impl Sub {
    /// [`Sub::Every`].
    pub fn every(ms: u64, tag: impl Into<String>) -> Self {
        Sub::Every {
            ms,
            tag: tag.into(),
        }
    }

    /// [`Sub::Watch`].
    pub fn watch(path: impl Into<String>, tag: impl Into<String>) -> Self {
        Sub::Watch {
            path: path.into(),
            tag: tag.into(),
        }
    }

    /// [`Sub::Port`].
    pub fn port(name: impl Into<String>, tag: impl Into<String>) -> Self {
        Sub::Port {
            name: name.into(),
            tag: tag.into(),
        }
    }
}

/// A message as the host delivers it from a command or a subscription: `application/json`,
/// `kind` = `tag`.
pub fn message(tag: &str, content: &Value) -> Envelope {
    Envelope::new(
        content_type::JSON,
        serde_json::to_vec(content).unwrap_or_else(|_| b"null".to_vec()),
    )
    .with_kind(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_requests_round_trip() {
        let req = UpdateRequest {
            header: Header {
                seqnum: 3,
                session_id: "p".into(),
                kind: None,
            },
            msg: Envelope::new("text/plain", "hi").with_kind("say"),
            model: Envelope::json(&json!({"n": 1})).unwrap(),
        };
        let back = UpdateRequest::from_envelope(req.to_envelope()).unwrap();
        assert_eq!(back, req);
        let err = UpdateRequest::from_envelope(Envelope::new("text/plain", "x")).unwrap_err();
        assert!(err.to_string().contains(content_type::UPDATE), "{err}");
    }

    #[test]
    fn commands_and_subscriptions_have_stable_json() {
        let next = Next {
            model: json!(1),
            cmds: vec![
                Cmd::log("warn", "careful"),
                Cmd::emit_json(json!({"a": 1})),
                Cmd::delay(5, "tick", Value::Null),
                Cmd::http("got", HttpRequest::get("http://127.0.0.1/")),
                Cmd::Stop,
            ],
        };
        assert_eq!(
            serde_json::to_value(&next).unwrap(),
            json!({"model": 1, "cmds": [
                {"cmd": "log", "level": "warn", "message": "careful"},
                {"cmd": "emit", "content_type": "application/json", "content": {"a": 1}},
                {"cmd": "delay", "ms": 5, "tag": "tick"},
                {"cmd": "http", "tag": "got", "request": {"method": "GET", "url": "http://127.0.0.1/"}},
                {"cmd": "stop"}
            ]})
        );
        let subs: Subscriptions = serde_json::from_value(json!({"subs": [
            {"sub": "every", "ms": 10, "tag": "t"},
            {"sub": "watch", "path": "src", "tag": "w"},
            {"sub": "port", "name": "events", "tag": "e"}
        ]}))
        .unwrap();
        assert_eq!(
            subs.subs,
            [
                Sub::every(10, "t"),
                Sub::watch("src", "w"),
                Sub::port("events", "e")
            ]
        );
    }

    #[test]
    fn outputs_keep_json_text_and_bytes() {
        for env in [
            Envelope::json(&json!({"x": [1, 2]})).unwrap(),
            Envelope::new("text/typescript", "type A = 1;").with_kind("file"),
            Envelope::new("application/octet-stream", vec![0u8, 0xff]),
        ] {
            let out = Output::from_envelope(&env);
            let back = out.to_envelope().unwrap();
            assert_eq!(back.content_type, env.content_type);
            assert_eq!(back.header.kind, env.header.kind);
            if content_type::is_json(&env.content_type) {
                assert_eq!(
                    serde_json::from_slice::<Value>(&back.content).unwrap(),
                    serde_json::from_slice::<Value>(&env.content).unwrap()
                );
            } else {
                assert_eq!(back.content, env.content);
            }
        }
    }
}
