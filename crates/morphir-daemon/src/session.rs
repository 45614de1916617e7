//! TEA sessions kept by the daemon (`morphir session`): programs started by one CLI invocation
//! and driven by later ones, by id. Each is a [`Program`] on an actor of its own; the daemon
//! keeps the events it produces until a client polls them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use morphir_host::{Program, ProgramEvent};
use serde_json::Value;

use crate::protocol::{SessionEvent, SessionInfo};

/// How often a waiting poll looks for events: the program is not locked in between, so a
/// `send` from another client is never held up by a poll.
const POLL_SLICE: Duration = Duration::from_millis(10);

/// The longest a poll may wait (a client asking for more gets this).
pub(crate) const MAX_POLL_WAIT: Duration = Duration::from_secs(60);

/// At most this many sessions at once: each holds a live instance.
pub(crate) const MAX_SESSIONS: usize = 256;

struct Session {
    extension: String,
    /// `None` once stopped (by a client, the reaper, or shutdown).
    program: tokio::sync::Mutex<Option<Program>>,
    last_used: Mutex<Instant>,
}

impl Session {
    fn touch(&self) {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    fn idle(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }
}

/// The daemon's sessions.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<BTreeMap<String, Arc<Session>>>,
}

fn event(event: ProgramEvent) -> SessionEvent {
    match event {
        ProgramEvent::Output(envelope) => SessionEvent::Output(
            serde_json::to_value(morphir_envelope::tea::Output::from_envelope(&envelope))
                .unwrap_or(Value::Null),
        ),
        ProgramEvent::Log(line) => SessionEvent::Log {
            level: line.level.as_str().to_owned(),
            message: line.message,
        },
        ProgramEvent::Error(why) => SessionEvent::Error(why),
        ProgramEvent::Stopped => SessionEvent::Stopped,
    }
}

fn unknown(id: &str) -> String {
    format!(
        "no session `{id}` in this daemon (it stopped, was reaped after its idle timeout, or the \
         daemon restarted); `morphir session list` shows the running ones"
    )
}

impl Sessions {
    fn get(&self, id: &str) -> Result<Arc<Session>, String> {
        let session = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| unknown(id))?;
        session.touch();
        Ok(session)
    }

    fn remove(&self, id: &str) -> Option<Arc<Session>> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    }

    /// Whether another session may start.
    pub(crate) fn has_room(&self) -> bool {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
            < MAX_SESSIONS
    }

    /// Keeps a started program under `id`.
    pub(crate) fn insert(&self, id: String, program: Program) {
        let session = Arc::new(Session {
            extension: program.name().to_owned(),
            program: tokio::sync::Mutex::new(Some(program)),
            last_used: Mutex::new(Instant::now()),
        });
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, session);
    }

    /// Hands `message` to the program's `update`.
    pub(crate) async fn send(&self, id: &str, message: &Value) -> Result<(), String> {
        let session = self.get(id)?;
        let envelope = morphir_envelope::Envelope::json(message)
            .map_err(|e| format!("the message is not an envelope: {e}"))?;
        let guard = session.program.lock().await;
        let Some(program) = guard.as_ref() else {
            return Err(unknown(id));
        };
        program.send(envelope).await.map_err(|e| {
            format!("session `{id}` does not take messages any more ({e}); poll it to see why")
        })
    }

    /// Events since the last poll, waiting up to `wait` for the first. A `Stopped` event ends
    /// the session.
    pub(crate) async fn poll(&self, id: &str, wait: Duration) -> Result<Vec<SessionEvent>, String> {
        let session = self.get(id)?;
        let deadline = Instant::now() + wait.min(MAX_POLL_WAIT);
        loop {
            let events: Vec<SessionEvent> = {
                let mut guard = session.program.lock().await;
                let Some(program) = guard.as_mut() else {
                    return Err(unknown(id));
                };
                program.poll().into_iter().map(event).collect()
            };
            if events.contains(&SessionEvent::Stopped) {
                self.remove(id);
                tracing::info!(session = id, "session stopped by its program");
            }
            if !events.is_empty() || Instant::now() >= deadline {
                return Ok(events);
            }
            tokio::time::sleep(POLL_SLICE).await;
        }
    }

    /// Stops the program: its events not polled yet and its final model.
    pub(crate) async fn stop(&self, id: &str) -> Result<(Vec<SessionEvent>, Value), String> {
        let session = self.remove(id).ok_or_else(|| unknown(id))?;
        let Some(mut program) = session.program.lock().await.take() else {
            return Err(unknown(id));
        };
        let events = program.poll().into_iter().map(event).collect();
        let model = program
            .stop()
            .await
            .map_err(|e| format!("session `{id}` did not stop cleanly: {e}"))?;
        Ok((events, model))
    }

    /// The sessions running now.
    pub(crate) fn list(&self) -> Vec<SessionInfo> {
        let sessions: Vec<(String, Arc<Session>)> = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(id, s)| (id.clone(), Arc::clone(s)))
            .collect();
        sessions
            .into_iter()
            .map(|(id, s)| {
                let pending = s
                    .program
                    .try_lock()
                    .ok()
                    .and_then(|p| p.as_ref().map(Program::pending));
                SessionInfo {
                    id,
                    extension: s.extension.clone(),
                    pending: pending.unwrap_or(0),
                    idle_ms: crate::status::millis(s.idle()),
                }
            })
            .collect()
    }

    /// Stops the sessions no client used for `idle`; returns how many.
    pub(crate) fn reap(&self, idle: Duration) -> usize {
        let stale: Vec<(String, Arc<Session>)> = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            let ids: Vec<String> = map
                .iter()
                .filter(|(_, s)| s.idle() > idle)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| map.remove(&id).map(|s| (id, s)))
                .collect()
        };
        for (id, session) in &stale {
            tracing::info!(session = %id, "session idle for {idle:?}: stopping it");
            let session = Arc::clone(session);
            tokio::spawn(async move {
                if let Some(program) = session.program.lock().await.take() {
                    let _ = program.stop().await;
                }
            });
        }
        stale.len()
    }

    /// Drops every session (shutdown): their actors stop with their handles.
    pub(crate) fn clear(&self) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}
