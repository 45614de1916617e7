//! The standard library: host functions guests import from `morphir:host`.
//!
//! Every host function takes a request envelope and may return a response envelope. The guest
//! never sees the engine: the generated bridge (see `adapter.rs`) copies the request out of guest
//! memory into the engine's, calls [`dispatch`] with the function's index, and copies the
//! response back into a buffer from the guest's allocator.

use morphir_envelope::Envelope;
use serde::{Deserialize, Serialize};

/// Host functions this runtime provides, in index order (the index is baked into the adapter).
pub(crate) const NAMES: &[&str] = &["log"];

pub(crate) fn is_known(name: &str) -> bool {
    NAMES.contains(&name)
}

pub(crate) fn index(name: &str) -> Option<i32> {
    NAMES.iter().position(|n| *n == name).map(|i| i as i32)
}

/// A log level, as guests name it in the `kind` of a `log` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something is wrong.
    Error,
}

impl LogLevel {
    /// Parses `trace`, `debug`, `info`, `warn`/`warning`, `error`.
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => return None,
        })
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// One line an extension logged during a call. The build keeps these with a cached step so a
/// cache hit can replay them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Its level.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
}

/// The `kind` the guest SDK's panic hook uses: the message is the panic's, and a trap that
/// follows is reported with it.
pub(crate) const KIND_PANIC: &str = "panic";

/// Per-instance state the host functions share with the instance that owns them.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) extension: String,
    pub(crate) logs: Vec<LogRecord>,
    pub(crate) panic: Option<String>,
    pub(crate) fault: Option<String>,
}

impl HostState {
    pub(crate) fn new(extension: String) -> Self {
        Self {
            extension,
            logs: Vec::new(),
            panic: None,
            fault: None,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.logs.clear();
        self.panic = None;
        self.fault = None;
    }
}

/// Runs host function `index` for the instance whose state is `state`.
pub(crate) fn dispatch(state: &mut HostState, index: i32, request: &Envelope) -> Option<Envelope> {
    match NAMES.get(index as usize).copied() {
        Some("log") => {
            log(state, request);
            None
        }
        _ => Some(Envelope::error_message(format!(
            "unknown host function index {index}"
        ))),
    }
}

fn log(state: &mut HostState, request: &Envelope) {
    let message = String::from_utf8_lossy(&request.content).into_owned();
    let kind = request.header.kind.as_deref().unwrap_or("info");
    let level = if kind == KIND_PANIC {
        state.panic = Some(message.clone());
        LogLevel::Error
    } else {
        LogLevel::parse(kind).unwrap_or(LogLevel::Info)
    };
    let extension = state.extension.as_str();
    // Guest logs go under one target, with the extension as a field, so `RUST_LOG` can select
    // them (`morphir::extension=debug`) and a subscriber can show whose they are.
    match level {
        LogLevel::Trace => tracing::trace!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Info => tracing::info!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Error => tracing::error!(target: "morphir::extension", extension, "{message}"),
    }
    state.logs.push(LogRecord { level, message });
}
