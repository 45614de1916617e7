//! The standard library: host functions guests import from `morphir:host`.
//!
//! Every host function takes a request envelope and may return a response envelope. The guest
//! never sees the engine: the generated bridge (see `adapter.rs`) copies the request out of guest
//! memory into the engine's, calls [`dispatch`] with the function's index, and copies the
//! response back into a buffer from the guest's allocator.
//!
//! What a host function may do is the instance's [`HostContext`]: its environment view, the
//! hosts it may reach, the files it may read, its random seed. A refused call returns an error
//! envelope with the code `permission-denied` to the guest and is logged at `warn` with the
//! extension's name (tracing target `morphir::permissions`, shown by default).
//! Payload shapes are in `morphir_envelope::stdlib`; the contract in `docs/abi.md`.

use std::time::Instant;

use morphir_envelope::stdlib::{
    self as lib, FQNameParts, HttpRequest, RandomRequest, SetEnvVar, code,
};
use morphir_envelope::{Envelope, content_type};
use serde::{Deserialize, Serialize};

use crate::HostContext;

/// Host functions this runtime provides, in index order (the index is baked into the adapter).
pub(crate) const NAMES: &[&str] = &lib::ALL;

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

/// At most this many log lines are kept (and emitted) per call; the rest are dropped and counted.
pub const MAX_LOG_LINES_PER_CALL: usize = 1_000;
/// At most this many bytes of log text are kept per call (a line that would go over is dropped
/// whole).
pub const MAX_LOG_BYTES_PER_CALL: usize = 1024 * 1024;

/// What a call logged past the caps.
#[derive(Debug, Default, Clone, Copy)]
struct Dropped {
    lines: usize,
    bytes: usize,
    /// Where the note about them sits in the call's logs.
    note: usize,
}

/// The `kind` the guest SDK's panic hook uses: the message is the panic's, and a trap that
/// follows is reported with it.
pub(crate) const KIND_PANIC: &str = "panic";

/// Per-instance state the host functions share with the instance that owns them.
pub(crate) struct HostState {
    pub(crate) extension: String,
    pub(crate) logs: Vec<LogRecord>,
    /// Bytes of text in `logs`.
    log_bytes: usize,
    /// Lines over the caps, once there are any.
    dropped: Option<Dropped>,
    pub(crate) panic: Option<String>,
    pub(crate) fault: Option<String>,
    /// What the host functions may do; see [`HostContext`].
    pub(crate) context: HostContext,
    /// The `random` stream, from `context.seed`.
    rng: blake3::OutputReader,
    /// When the running call must end (its `max_execution_time`); bounds blocking host calls.
    pub(crate) deadline: Option<Instant>,
    /// Counts [`HostState::set_context`] calls: a component's WASI context is rebuilt when it
    /// moves (`wasi.rs`).
    pub(crate) generation: u64,
    /// The partial last line of a WASI component's stdout and stderr (`wasi.rs`).
    pub(crate) stdio: [Vec<u8>; 2],
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("extension", &self.extension)
            .field("logs", &self.logs.len())
            .finish_non_exhaustive()
    }
}

fn rng(seed: &[u8; 32]) -> blake3::OutputReader {
    blake3::Hasher::new_keyed(seed)
        .update(b"morphir random v1")
        .finalize_xof()
}

impl HostState {
    pub(crate) fn new(extension: String) -> Self {
        let context = HostContext::default();
        Self {
            extension,
            logs: Vec::new(),
            log_bytes: 0,
            dropped: None,
            panic: None,
            fault: None,
            rng: rng(&context.seed),
            context,
            deadline: None,
            generation: 0,
            stdio: [Vec::new(), Vec::new()],
        }
    }

    /// Per call: logs and failure notes start empty. The context stays.
    pub(crate) fn reset(&mut self) {
        self.logs.clear();
        self.log_bytes = 0;
        self.dropped = None;
        self.panic = None;
        self.fault = None;
    }

    /// Installs a context; the random stream restarts from its seed.
    pub(crate) fn set_context(&mut self, context: HostContext) {
        self.rng = rng(&context.seed);
        self.context = context;
        self.generation += 1;
    }

    /// Logs a line under the extension's name and keeps it with the call's logs, within the
    /// per-call caps ([`MAX_LOG_LINES_PER_CALL`], [`MAX_LOG_BYTES_PER_CALL`]). Past them, lines
    /// are dropped and counted in one `warn` note kept with the logs (so a cache hit replays
    /// it too), emitted once when the first line is dropped.
    pub(crate) fn record(&mut self, level: LogLevel, message: String) {
        let kept = self.logs.len() - usize::from(self.dropped.is_some());
        if self.dropped.is_none()
            && kept < MAX_LOG_LINES_PER_CALL
            && self.log_bytes + message.len() <= MAX_LOG_BYTES_PER_CALL
        {
            emit(&self.extension, level, &message);
            self.log_bytes += message.len();
            self.logs.push(LogRecord { level, message });
            return;
        }
        let dropped = self.dropped.get_or_insert_with(|| Dropped {
            note: self.logs.len(),
            ..Dropped::default()
        });
        dropped.lines += 1;
        dropped.bytes += message.len();
        let first = dropped.lines == 1;
        let note = format!(
            "extension `{}` logged more than one call may keep ({MAX_LOG_LINES_PER_CALL} lines \
             or {MAX_LOG_BYTES_PER_CALL} bytes): {} more line{} ({} bytes) dropped",
            self.extension,
            dropped.lines,
            if dropped.lines == 1 { "" } else { "s" },
            dropped.bytes
        );
        let at = dropped.note;
        if first {
            emit(
                &self.extension,
                LogLevel::Warn,
                &format!(
                    "extension `{}` logged more than one call may keep \
                     ({MAX_LOG_LINES_PER_CALL} lines or {MAX_LOG_BYTES_PER_CALL} bytes); the \
                     rest of this call's lines are dropped",
                    self.extension
                ),
            );
            self.logs.push(LogRecord {
                level: LogLevel::Warn,
                message: note,
            });
        } else {
            self.logs[at].message = note;
        }
    }

    /// A refused call: logged at `warn` under target `morphir::permissions` with the extension's
    /// name (on by default, so a user sees every refusal, whether or not the guest reports it),
    /// and answered with a `permission-denied` error envelope.
    fn refuse(&mut self, function: &str, message: String) -> Envelope {
        tracing::warn!(
            target: "morphir::permissions",
            extension = self.extension.as_str(),
            "extension `{}`: host function `{function}` refused: {message}",
            self.extension
        );
        lib::denied(message)
    }
}

/// Emits an extension's log line as a tracing event (target `morphir::extension`, the extension
/// as a field), as the `log` host function does.
pub fn emit(extension: &str, level: LogLevel, message: &str) {
    // Guest logs go under one target, with the extension as a field, so `RUST_LOG` can select
    // them (`morphir::extension=debug`) and a subscriber can show whose they are.
    match level {
        LogLevel::Trace => tracing::trace!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Info => tracing::info!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "morphir::extension", extension, "{message}"),
        LogLevel::Error => tracing::error!(target: "morphir::extension", extension, "{message}"),
    }
}

/// Runs host function `index` for the instance whose state is `state`.
pub(crate) fn dispatch(state: &mut HostState, index: i32, request: &Envelope) -> Option<Envelope> {
    let Some(&name) = NAMES.get(index as usize) else {
        return Some(Envelope::error_message(format!(
            "unknown host function index {index}"
        )));
    };
    match name {
        lib::LOG => {
            log(state, request);
            None
        }
        lib::GET_ENV_VAR => Some(get_env_var(state, request)),
        lib::SET_ENV_VAR => set_env_var(state, request),
        lib::RANDOM => Some(random(state, request)),
        lib::HTTP => Some(http(state, request)),
        lib::WORKSPACE => Some(workspace(state, request)),
        lib::IR_HELPERS => Some(ir_helpers(request)),
        _ => Some(Envelope::error_message(format!(
            "host function `{name}` is not implemented"
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
    state.record(level, message);
}

fn invalid(function: &str, why: impl std::fmt::Display) -> Envelope {
    lib::failure(
        code::INVALID_REQUEST,
        format!("host function `{function}`: invalid request: {why}"),
    )
}

fn json_request<T: for<'de> Deserialize<'de>>(
    function: &str,
    request: &Envelope,
) -> Result<T, Envelope> {
    serde_json::from_slice(&request.content).map_err(|e| invalid(function, e))
}

fn allowed_env(state: &HostState) -> String {
    if state.context.env.is_empty() {
        "none".to_owned()
    } else {
        state
            .context
            .env
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn env_denied(state: &mut HostState, function: &str, name: &str) -> Envelope {
    let allowed = allowed_env(state);
    state.refuse(
        function,
        format!(
            "environment variable `{name}` is not in the extension's permissions.env \
             ({allowed}); add it to [extensions.permissions] env in morphir.toml"
        ),
    )
}

/// A refused environment access of a component's `runtime` import (whose WIT has no error
/// case): logged like any refusal.
pub(crate) fn refuse_env(state: &mut HostState, function: &str, name: &str) {
    let _ = env_denied(state, function, name);
}

fn get_env_var(state: &mut HostState, request: &Envelope) -> Envelope {
    let Some(name) = request.text() else {
        return invalid(lib::GET_ENV_VAR, "the name is not UTF-8");
    };
    match state.context.env.get(name) {
        Some(Some(value)) => Envelope::new(content_type::TEXT, value.clone()),
        Some(None) => Envelope::empty(),
        None => env_denied(state, lib::GET_ENV_VAR, name),
    }
}

fn set_env_var(state: &mut HostState, request: &Envelope) -> Option<Envelope> {
    let set: SetEnvVar = match json_request(lib::SET_ENV_VAR, request) {
        Ok(set) => set,
        Err(e) => return Some(e),
    };
    match state.context.env.get_mut(&set.name) {
        Some(slot) => {
            *slot = set.value;
            None
        }
        None => Some(env_denied(state, lib::SET_ENV_VAR, &set.name)),
    }
}

fn random(state: &mut HostState, request: &Envelope) -> Envelope {
    let wanted = if request.content.is_empty() {
        8
    } else {
        match json_request::<RandomRequest>(lib::RANDOM, request) {
            Ok(r) => r.bytes,
            Err(e) => return e,
        }
    };
    if wanted > RandomRequest::MAX {
        return invalid(
            lib::RANDOM,
            format!("at most {} bytes per call", RandomRequest::MAX),
        );
    }
    let mut bytes = vec![0; wanted as usize];
    state.rng.fill(&mut bytes);
    lib::bytes_response(bytes)
}

fn http(state: &mut HostState, request: &Envelope) -> Envelope {
    let req: HttpRequest = match json_request(lib::HTTP, request) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match crate::http::fetch(&req, &state.context.http, state.deadline) {
        Ok(response) => Envelope::json(&response).unwrap_or_else(|e| {
            lib::failure(code::FAILED, format!("cannot encode the response: {e}"))
        }),
        Err(crate::HttpError::Denied(message)) => state.refuse(lib::HTTP, message),
        Err(e) => lib::failure(e.code(), format!("http: {e}")),
    }
}

fn workspace(state: &mut HostState, request: &Envelope) -> Envelope {
    let Some(access) = state.context.workspace.clone() else {
        return lib::failure(
            code::UNAVAILABLE,
            "host function `workspace` is available to design-time steps only",
        );
    };
    match request.header.kind.as_deref() {
        Some(lib::workspace::LIST) => Envelope::json(&access.files.keys().collect::<Vec<_>>())
            .unwrap_or_else(|e| lib::failure(code::FAILED, e.to_string())),
        Some(lib::workspace::READ) => {
            let Some(path) = request.text() else {
                return invalid(lib::WORKSPACE, "the path is not UTF-8");
            };
            let path = path.to_owned();
            let Some(expected) = access.files.get(&path) else {
                return state.refuse(
                    lib::WORKSPACE,
                    format!(
                        "`{path}` is not one of the step's declared input files; a step reads \
                         only files its task's `inputs` match"
                    ),
                );
            };
            let full = access.root.join(&path);
            // A declared input that is a symbolic link out of the project is refused too.
            let inside = match (full.canonicalize(), access.root.canonicalize()) {
                (Ok(f), Ok(r)) => f.starts_with(r),
                _ => false,
            };
            if !inside {
                return state.refuse(
                    lib::WORKSPACE,
                    format!("`{path}` resolves outside the project directory"),
                );
            }
            match std::fs::read(&full) {
                Ok(bytes) => {
                    if let Some(hash) = expected
                        && blake3::hash(&bytes).as_bytes() != hash
                    {
                        return lib::failure(
                            code::FAILED,
                            format!(
                                "`{path}` changed since the step's cache key was computed; \
                                 run the build again"
                            ),
                        );
                    }
                    lib::bytes_response(bytes)
                }
                Err(e) => lib::failure(code::FAILED, format!("cannot read `{path}`: {e}")),
            }
        }
        other => invalid(
            lib::WORKSPACE,
            format!(
                "unknown kind {other:?}; use `{}` or `{}`",
                lib::workspace::READ,
                lib::workspace::LIST
            ),
        ),
    }
}

#[derive(Deserialize)]
struct NameRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    words: Option<Vec<String>>,
}

#[derive(Deserialize, Serialize)]
struct ConvertRequest {
    ir: serde_json::Value,
    to: serde_json::Value,
}

fn ir_helpers(request: &Envelope) -> Envelope {
    let ok = |value: &dyn erased::Json| {
        value
            .to_envelope()
            .unwrap_or_else(|e| lib::failure(code::FAILED, e))
    };
    match request.header.kind.as_deref() {
        Some(lib::ir::NAME) => match json_request::<NameRequest>(lib::IR_HELPERS, request) {
            Ok(NameRequest {
                name: Some(name),
                words: None,
            }) => ok(&crate::names::forms(crate::names::words(&name))),
            Ok(NameRequest {
                name: None,
                words: Some(words),
            }) => ok(&crate::names::forms(
                words.iter().flat_map(|w| crate::names::words(w)).collect(),
            )),
            Ok(_) => invalid(lib::IR_HELPERS, "give `name` or `words`"),
            Err(e) => e,
        },
        Some(lib::ir::PARSE_FQNAME) => match json_request::<String>(lib::IR_HELPERS, request) {
            Ok(text) => match crate::names::parse_fqname(&text) {
                Ok(parts) => ok(&parts),
                Err(e) => invalid(lib::IR_HELPERS, e),
            },
            Err(e) => e,
        },
        Some(lib::ir::PRINT_FQNAME) => {
            match json_request::<FQNameParts>(lib::IR_HELPERS, request) {
                Ok(parts) => match crate::names::print_fqname(&parts) {
                    Ok(text) => ok(&text),
                    Err(e) => invalid(lib::IR_HELPERS, e),
                },
                Err(e) => e,
            }
        }
        Some(lib::ir::CONVERT) => match json_request::<ConvertRequest>(lib::IR_HELPERS, request) {
            Ok(req) if req.to.as_str() == Some(crate::names::CONVERT_TO) => {
                match crate::names::convert(&req.ir) {
                    Ok(ir) => ok(&ir),
                    Err(e) => invalid(lib::IR_HELPERS, format!("convert: {e}")),
                }
            }
            Ok(req) => lib::failure(
                code::UNAVAILABLE,
                format!(
                    "ir_helpers `convert`: cannot write {}; this host writes \"{}\" (from \
                     morphir-elm formatVersion 1-3, the v4 draft or canonical IR)",
                    req.to,
                    crate::names::CONVERT_TO
                ),
            ),
            Err(e) => e,
        },
        other => invalid(
            lib::IR_HELPERS,
            format!(
                "unknown helper {other:?}; the helpers are `{}`, `{}`, `{}`, `{}`",
                lib::ir::NAME,
                lib::ir::PARSE_FQNAME,
                lib::ir::PRINT_FQNAME,
                lib::ir::CONVERT
            ),
        ),
    }
}

/// Serialisable values as JSON envelopes, behind one object-safe trait.
mod erased {
    use morphir_envelope::Envelope;

    pub(super) trait Json {
        fn to_envelope(&self) -> Result<Envelope, String>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_envelope(&self) -> Result<Envelope, String> {
            Envelope::json(self).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> HostState {
        HostState::new("t".to_owned())
    }

    #[test]
    fn the_random_stream_follows_the_seed() {
        let draw = |seed: u8| {
            let mut s = state();
            s.set_context(HostContext::default().with_seed([seed; 32]));
            let req = Envelope::json(&RandomRequest { bytes: 16 }).unwrap();
            (random(&mut s, &req).content, random(&mut s, &req).content)
        };
        let (a1, a2) = draw(1);
        assert_eq!(draw(1), (a1.clone(), a2.clone()));
        assert_ne!(a1, a2);
        assert_ne!(draw(2).0, a1);
    }

    #[test]
    fn env_is_a_private_view() {
        let mut s = state();
        let mut ctx = HostContext::default();
        ctx.env.insert("A".into(), Some("1".into()));
        s.set_context(ctx);
        let get = |s: &mut HostState, n: &str| get_env_var(s, &Envelope::new("text/plain", n));
        assert_eq!(get(&mut s, "A").text(), Some("1"));
        let set = Envelope::json(&SetEnvVar {
            name: "A".into(),
            value: None,
        })
        .unwrap();
        assert_eq!(set_env_var(&mut s, &set), None);
        assert_eq!(get(&mut s, "A").content_type, content_type::EMPTY);
        let refused = get(&mut s, "PATH");
        assert_eq!(
            refused.error_payload().unwrap().code.as_deref(),
            Some(code::PERMISSION_DENIED)
        );
        assert!(
            refused.error_payload().unwrap().message.contains("`PATH`"),
            "{refused:?}"
        );
    }

    #[test]
    fn logs_are_capped_per_call_by_lines_and_bytes_with_one_note() {
        let mut s = state();
        for i in 0..MAX_LOG_LINES_PER_CALL + 7 {
            s.record(LogLevel::Info, format!("line {i}"));
        }
        assert_eq!(s.logs.len(), MAX_LOG_LINES_PER_CALL + 1);
        let note = s.logs.last().unwrap();
        assert_eq!(note.level, LogLevel::Warn);
        assert!(
            note.message.ends_with("7 more lines (63 bytes) dropped"),
            "{}",
            note.message
        );

        // The next call starts with the whole allowance; a huge line is dropped whole.
        s.reset();
        s.record(LogLevel::Info, "small".into());
        s.record(LogLevel::Info, "x".repeat(MAX_LOG_BYTES_PER_CALL));
        s.record(LogLevel::Info, "after".into());
        let messages: Vec<&str> = s.logs.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(messages[0], "small");
        assert!(
            messages[1].ends_with(&format!(
                "2 more lines ({} bytes) dropped",
                MAX_LOG_BYTES_PER_CALL + 5
            )),
            "{}",
            messages[1]
        );
    }
}
