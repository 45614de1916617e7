//! What an action record and a last-run entry hold (the JSON bodies of their frames).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use morphir_envelope::Envelope;
use serde::{Deserialize, Serialize};

use crate::{Digest, Key, KeyManifest};

/// One line a step logged while it ran, replayed on a hit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogLine {
    /// `error`, `warn`, `info`, `debug` or `trace` (free text; the executor interprets it).
    pub level: String,
    /// The message.
    pub message: String,
}

impl LogLine {
    /// A log line.
    pub fn new(level: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            level: level.into(),
            message: message.into(),
        }
    }
}

/// What [`crate::Store::put`] stores for a successful step.
#[derive(Debug, Clone, Copy)]
pub struct NewAction<'a> {
    /// The step's id in the build graph (informational: a record is found by key).
    pub step_id: &'a str,
    /// The manifest the key was built from; must hash to the key passed to `put`.
    pub manifest: &'a KeyManifest,
    /// The step's output envelopes, in order. Stored whole (header included) in wire form.
    pub outputs: &'a [Envelope],
    /// What the step logged.
    pub logs: &'a [LogLine],
    /// The version of morphir that ran the step.
    pub executor_version: &'a str,
}

/// The action record stored at `actions/<2 hex>/<key>`: a key's outputs and how they were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// The key this record answers (checked against the file name and the manifest on read).
    pub key: Key,
    /// The step that produced it.
    pub step_id: String,
    /// Digests of the encoded output envelopes, in order: the names of their blobs, or of the
    /// bytes stored inside the record (see `inline`).
    pub outputs: Vec<Digest>,
    /// Per output, the length of its encoded envelope when it is stored inside the record file
    /// (after the JSON, in order), or 0 when it is a blob. Empty: every output is a blob.
    /// Small outputs live inline so a hit reads one file, not two.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<u64>,
    /// What the step logged.
    pub logs: Vec<LogLine>,
    /// The key's components, for `--explain`.
    pub manifest: KeyManifest,
    /// When the step ran, milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// The version of morphir that ran it.
    pub executor_version: String,
}

impl ActionRecord {
    /// When the step ran.
    pub fn created_at(&self) -> SystemTime {
        from_ms(self.created_at_ms)
    }
}

/// The last recorded run of a step (`steps/<hash of step id>`), so a miss can be explained
/// against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// The step's id.
    pub step_id: String,
    /// The key it had.
    pub key: Key,
    /// The key's components.
    pub manifest: KeyManifest,
    /// When it was recorded, milliseconds since the Unix epoch.
    pub at_ms: u64,
}

impl LastRun {
    /// When it was recorded.
    pub fn at(&self) -> SystemTime {
        from_ms(self.at_ms)
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}
