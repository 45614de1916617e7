//! The input of a design-time step operation (`frontend-compile`, `transform`,
//! `backend-generate`): the step's input, its configuration and, for a frontend, the IR of the
//! tasks it depends on, as named envelopes.
//!
//! On the wire it is an envelope of type [`content_type::REQUEST`] whose content is a
//! [`FileBundle`] of parts: `input` (an encoded envelope), `config` (an encoded
//! `application/json` envelope) and zero or more `deps/<task>` (encoded envelopes). New parts may
//! be added in later ABI versions; readers ignore parts they do not know.

use crate::{DecodeError, Envelope, EnvelopeError, FileBundle, Header, content_type};

const PART_INPUT: &str = "input";
const PART_CONFIG: &str = "config";
const PART_DEP_PREFIX: &str = "deps/";

/// A step's request, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepRequest {
    /// The header of the request envelope (session and sequence number of the call).
    pub header: Header,
    /// What the step transforms: a [`FileBundle`] of input files for a frontend, the upstream
    /// step's output for a transform or a backend.
    pub input: Envelope,
    /// The step's configuration (`[extensions.config]` merged with the task's `config`).
    pub config: serde_json::Value,
    /// Outputs of the tasks this step's task depends on, by task name (frontends only).
    pub dependencies: Vec<(String, Envelope)>,
}

impl StepRequest {
    /// A request for `input` with no configuration.
    pub fn new(input: Envelope) -> Self {
        Self {
            header: Header::default(),
            input,
            config: serde_json::Value::Object(serde_json::Map::new()),
            dependencies: Vec::new(),
        }
    }

    /// Sets the configuration.
    #[must_use]
    pub fn with_config(mut self, config: serde_json::Value) -> Self {
        self.config = config;
        self
    }

    /// Adds a dependency's output.
    #[must_use]
    pub fn with_dependency(mut self, task: impl Into<String>, output: Envelope) -> Self {
        self.dependencies.push((task.into(), output));
        self
    }

    /// The request as the envelope a step operation receives.
    pub fn to_envelope(&self) -> Envelope {
        let config = serde_json::to_vec(&self.config).unwrap_or_else(|_| b"{}".to_vec());
        let mut bundle = FileBundle::new()
            .with_file(PART_INPUT, self.input.encode())
            .with_file(
                PART_CONFIG,
                Envelope::new(content_type::JSON, config).encode(),
            );
        for (task, env) in &self.dependencies {
            bundle.push(format!("{PART_DEP_PREFIX}{task}"), env.encode());
        }
        Envelope::new(content_type::REQUEST, bundle.encode()).with_header(self.header.clone())
    }

    /// Reads a step request. An envelope that is not a request is taken as the bare input
    /// (with no configuration), so a step can also be called by hand with its input alone.
    pub fn from_envelope(envelope: Envelope) -> Result<Self, EnvelopeError> {
        if envelope.content_type != content_type::REQUEST {
            let header = envelope.header.clone();
            return Ok(Self {
                header,
                ..Self::new(envelope)
            });
        }
        let bundle = FileBundle::decode(&envelope.content).map_err(EnvelopeError::Bundle)?;
        let mut request = Self {
            header: envelope.header,
            ..Self::default()
        };
        let mut have_input = false;
        for part in bundle.files {
            let env = Envelope::decode(&part.content).map_err(EnvelopeError::Bundle)?;
            if part.path == PART_INPUT {
                request.input = env;
                have_input = true;
            } else if part.path == PART_CONFIG {
                request.config = env.as_json()?;
            } else if let Some(task) = part.path.strip_prefix(PART_DEP_PREFIX) {
                request.dependencies.push((task.to_owned(), env));
            }
        }
        if !have_input {
            return Err(EnvelopeError::Bundle(DecodeError::Path(
                "request has no `input` part".to_owned(),
            )));
        }
        if request.config.is_null() {
            request.config = serde_json::Value::Object(serde_json::Map::new());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let req = StepRequest::new(Envelope::new("text/plain", "x"))
            .with_config(serde_json::json!({"a": [1, 2]}))
            .with_dependency("core", Envelope::new(content_type::MORPHIR_IR_JSON, "{}"));
        let back = StepRequest::from_envelope(req.to_envelope()).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn bare_input_is_accepted() {
        let env = Envelope::new("text/plain", "x");
        let req = StepRequest::from_envelope(env.clone()).unwrap();
        assert_eq!(req.input, env);
        assert_eq!(req.config, serde_json::json!({}));
    }
}
