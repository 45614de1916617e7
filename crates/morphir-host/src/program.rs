//! Runtime extensions (TEA): a [`ProgramActor`] owns one program's instance and model, runs its
//! commands and keeps its subscriptions live; a [`Program`] is the host's handle to it, with
//! `start`, `send` and `poll` (the seed's runtime API).
//!
//! ```text
//!  host (morphir run, later the daemon)
//!     │ start(flags) / send(msg) / publish(port, event) / stop()        ▲ poll() / next_event()
//!     ▼                                                                  │ Output, Log, Error, Stopped
//!  ProgramActor (own thread) ── Instance::call(init | update | subscriptions) ──► guest
//!     │ commands: log, emit, delay ─► timer task ─┐
//!     │           http ─► blocking fetch ─────────┤ messages back to the actor's mailbox
//!     │ subscriptions: every ─► interval task ────┤
//!     │                watch ─► notify watcher ───┘
//! ```
//!
//! The model lives on the host, as JSON, and goes into every `update`: a guest that traps or
//! breaks a limit is replaced by a fresh instance (the runtime does that) and the program goes
//! on with the model it had before the failed message. A failed `update` is reported as an
//! [`ProgramEvent::Error`] and changes nothing.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kameo::Actor;
use kameo::actor::{ActorRef, Spawn, WeakActorRef};
use kameo::message::{Context, Message};
use morphir_envelope::stdlib::HttpResponse;
use morphir_envelope::tea::{self, Cmd, Sub, UpdateRequest};
use morphir_runtime::{
    Envelope, Header, HostContext, HttpError, Instance, LogLevel, LogRecord, Module, Operation,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::Error;

/// How a program runs.
#[derive(Debug, Clone, Default)]
pub struct ProgramOptions {
    /// The session id every call's header carries (`morphir run` makes one per run).
    pub session: String,
    /// What its host functions and its `http` commands may do (environment view, allowed hosts,
    /// random seed). `workspace` is for design-time steps and is ignored here.
    pub context: HostContext,
    /// The directory `watch` subscriptions are relative to; they may not leave it.
    pub workspace_root: PathBuf,
}

/// What a program tells its host.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgramEvent {
    /// An `emit` command's envelope.
    Output(Envelope),
    /// A line the program logged (`log` host function or `log` command).
    Log(LogRecord),
    /// A call or a command failed; the program goes on with its previous model.
    Error(String),
    /// The program stopped (its `stop` command, or [`Program::stop`]). Nothing follows.
    Stopped,
}

/// The host's handle to a running program.
#[derive(Debug)]
pub struct Program {
    name: String,
    actor: ActorRef<ProgramActor>,
    events: mpsc::UnboundedReceiver<ProgramEvent>,
    model: Arc<Mutex<Value>>,
    pending: Arc<AtomicUsize>,
}

impl Program {
    /// Starts `module` as a program on an actor of its own: `init(flags)`, then its commands and
    /// subscriptions. Fails when the module is not a runtime extension or `init` fails.
    pub async fn start(
        module: Module,
        flags: Envelope,
        options: ProgramOptions,
    ) -> Result<Program, Error> {
        let name = module.name().to_owned();
        if !module.implements(Operation::Init) || !module.implements(Operation::Update) {
            let ops: Vec<String> = module.operations().map(|o| o.to_string()).collect();
            return Err(Error::NotAProgram {
                extension: name,
                operations: ops.join(", "),
            });
        }
        let (tx, events) = mpsc::unbounded_channel();
        let model = Arc::new(Mutex::new(Value::Null));
        let pending = Arc::new(AtomicUsize::new(0));
        let actor = ProgramActor::spawn_in_thread(ProgramArgs {
            module,
            options,
            events: tx,
            model: Arc::clone(&model),
            pending: Arc::clone(&pending),
        });
        let program = Program {
            name,
            actor,
            events,
            model,
            pending,
        };
        match program.actor.ask(Init(flags)).await {
            Ok(()) => Ok(program),
            Err(e) => {
                let _ = program.actor.stop_gracefully().await;
                Err(program.error(e))
            }
        }
    }

    fn error<M, E: Into<Error>>(&self, e: kameo::error::SendError<M, E>) -> Error {
        use kameo::error::SendError;
        match e {
            SendError::HandlerError(e) => e.into(),
            SendError::ActorNotRunning(_) | SendError::ActorStopped => Error::Stopped {
                extension: self.name.clone(),
            },
            SendError::ActorRestarting(_) | SendError::MailboxFull(_) | SendError::Timeout(_) => {
                Error::Actor {
                    step: self.name.clone(),
                    reason: "the program's actor did not take the message".to_owned(),
                }
            }
        }
    }

    /// The extension's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a message and waits until the program's `update` has handled it. A failed update
    /// is an [`ProgramEvent::Error`], not an `Err`; `Err` means the program has stopped.
    pub async fn send(&self, msg: Envelope) -> Result<(), Error> {
        self.actor
            .ask(Deliver(msg))
            .await
            .map_err(|e| self.error(e))
    }

    /// Delivers `event` to the program if it subscribes to the stream `port` (as a message
    /// whose `kind` is the subscription's tag); otherwise drops it. Returns whether it was
    /// delivered.
    pub async fn publish(&self, port: &str, event: Envelope) -> Result<bool, Error> {
        self.actor
            .ask(Publish {
                port: port.to_owned(),
                event,
            })
            .await
            .map_err(|e| self.error(e))
    }

    /// Everything the program produced since the last poll, without waiting.
    pub fn poll(&mut self) -> Vec<ProgramEvent> {
        let mut out = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            out.push(event);
        }
        out
    }

    /// Waits for the next event; `None` once the program has stopped and every event was read.
    pub async fn next_event(&mut self) -> Option<ProgramEvent> {
        self.events.recv().await
    }

    /// The model after the last update that succeeded (readable while an update runs).
    pub fn model(&self) -> Value {
        self.model
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Commands still in flight: delayed messages and HTTP requests not yet delivered.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Stops the program (its subscriptions and pending commands end) and returns its final
    /// model. Works on a program that already stopped itself.
    pub async fn stop(self) -> Result<Value, Error> {
        let model = match self.actor.ask(Stop).await {
            Ok(model) => model,
            Err(_) => self.model(),
        };
        let _ = self.actor.stop_gracefully().await;
        self.actor.wait_for_shutdown().await;
        Ok(model)
    }
}

/// The actor's start arguments (made by [`Program::start`]).
#[derive(Debug)]
pub struct ProgramArgs {
    module: Module,
    options: ProgramOptions,
    events: mpsc::UnboundedSender<ProgramEvent>,
    model: Arc<Mutex<Value>>,
    pending: Arc<AtomicUsize>,
}

/// Owns a program's instance and model. Runs on a thread of its own: Wasm calls block.
pub struct ProgramActor {
    name: String,
    instance: Instance,
    options: ProgramOptions,
    events: mpsc::UnboundedSender<ProgramEvent>,
    model: Arc<Mutex<Value>>,
    pending: Arc<AtomicUsize>,
    seq: u64,
    stopped: bool,
    subs: BTreeMap<Sub, Live>,
    /// Delays and HTTP requests in flight, aborted when the program stops.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    me: Option<WeakActorRef<ProgramActor>>,
}

impl std::fmt::Debug for ProgramActor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgramActor")
            .field("name", &self.name)
            .field("seq", &self.seq)
            .field("stopped", &self.stopped)
            .field("subs", &self.subs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A live subscription; dropping it ends it.
enum Live {
    Task(tokio::task::JoinHandle<()>),
    Watch(
        #[expect(dead_code, reason = "kept alive: dropping it stops watching")]
        notify::RecommendedWatcher,
        tokio::task::JoinHandle<()>,
    ),
    Port,
}

impl Drop for Live {
    fn drop(&mut self) {
        match self {
            Live::Task(task) | Live::Watch(_, task) => task.abort(),
            Live::Port => {}
        }
    }
}

impl Actor for ProgramActor {
    type Args = ProgramArgs;
    type Error = Error;

    fn on_start(
        args: Self::Args,
        actor_ref: ActorRef<Self>,
    ) -> impl Future<Output = Result<Self, Self::Error>> + Send {
        std::future::ready(Self::new(args, &actor_ref))
    }
}

impl ProgramActor {
    fn new(args: ProgramArgs, actor_ref: &ActorRef<Self>) -> Result<Self, Error> {
        let mut instance = args.module.instantiate()?;
        let mut context = args.options.context.clone();
        context.workspace = None;
        instance.set_context(context);
        Ok(ProgramActor {
            name: args.module.name().to_owned(),
            instance,
            options: args.options,
            events: args.events,
            model: args.model,
            pending: args.pending,
            seq: 0,
            stopped: false,
            subs: BTreeMap::new(),
            tasks: Vec::new(),
            me: Some(actor_ref.downgrade()),
        })
    }
}

/// Runs `init`.
struct Init(Envelope);
/// A message for `update`.
struct Deliver(Envelope);
/// A message from a command the actor spawned: counted in `pending` until handled.
struct Pending(Envelope);
/// An event of a named stream.
struct Publish {
    port: String,
    event: Envelope,
}
/// Stop; replies with the final model.
struct Stop;

impl Message<Init> for ProgramActor {
    type Reply = Result<(), Error>;

    #[expect(
        clippy::unused_async_trait_impl,
        reason = "kameo's handler is async; this one blocks on purpose, on the actor's own thread"
    )]
    async fn handle(&mut self, msg: Init, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let input = msg.0.with_header(self.header());
        let out = self.instance.call(Operation::Init, &input)?;
        self.logs(out.logs);
        let (model, cmds) = parse_next(&out.envelope).map_err(|why| Error::Program {
            extension: self.name.clone(),
            reason: format!("`init` returned {why}"),
        })?;
        self.set_model(model);
        self.run(cmds);
        self.refresh_subscriptions();
        Ok(())
    }
}

impl Message<Deliver> for ProgramActor {
    type Reply = Result<(), Error>;

    #[expect(
        clippy::unused_async_trait_impl,
        reason = "kameo's handler is async; this one blocks on purpose, on the actor's own thread"
    )]
    async fn handle(&mut self, msg: Deliver, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        if self.stopped {
            return Err(Error::Stopped {
                extension: self.name.clone(),
            });
        }
        self.update(msg.0);
        Ok(())
    }
}

impl Message<Pending> for ProgramActor {
    type Reply = ();

    async fn handle(&mut self, msg: Pending, _ctx: &mut Context<Self, Self::Reply>) {
        if !self.stopped {
            self.update(msg.0);
        }
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Message<Publish> for ProgramActor {
    type Reply = Result<bool, Error>;

    #[expect(
        clippy::unused_async_trait_impl,
        reason = "kameo's handler is async; this one blocks on purpose, on the actor's own thread"
    )]
    async fn handle(&mut self, msg: Publish, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        if self.stopped {
            return Err(Error::Stopped {
                extension: self.name.clone(),
            });
        }
        let tags: Vec<String> = self
            .subs
            .keys()
            .filter_map(|sub| match sub {
                Sub::Port { name, tag } if *name == msg.port => Some(tag.clone()),
                _ => None,
            })
            .collect();
        for tag in &tags {
            self.update(msg.event.clone().with_kind(tag.clone()));
        }
        Ok(!tags.is_empty())
    }
}

impl Message<Stop> for ProgramActor {
    type Reply = Result<Value, Error>;

    #[expect(
        clippy::unused_async_trait_impl,
        reason = "kameo's handler is async; this one runs on the actor's own thread"
    )]
    async fn handle(&mut self, _msg: Stop, _ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.halt();
        Ok(self.current_model())
    }
}

/// `{"model": ..., "cmds": [...]}`: the model, and each command parsed on its own (an unknown
/// command is reported without losing the others).
fn parse_next(envelope: &Envelope) -> Result<(Value, Vec<Result<Cmd, String>>), String> {
    let value: Value = envelope
        .as_json()
        .map_err(|e| format!("an output that is not {{\"model\", \"cmds\"}} JSON: {e}"))?;
    let Value::Object(mut map) = value else {
        return Err("an output that is not a JSON object".to_owned());
    };
    let model = map
        .remove("model")
        .ok_or_else(|| "an output without `model`".to_owned())?;
    let cmds = match map.remove("cmds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(cmds)) => cmds
            .into_iter()
            .map(|c| {
                let text = c.to_string();
                serde_json::from_value(c).map_err(|e| format!("invalid command {text}: {e}"))
            })
            .collect(),
        Some(_) => return Err("`cmds` that is not an array".to_owned()),
    };
    Ok((model, cmds))
}

impl ProgramActor {
    fn header(&mut self) -> Header {
        self.seq += 1;
        Header {
            seqnum: self.seq,
            session_id: self.options.session.clone(),
            kind: None,
        }
    }

    fn emit(&self, event: ProgramEvent) {
        // The host may have stopped listening; the program does not care.
        let _ = self.events.send(event);
    }

    fn fail(&self, why: String) {
        tracing::warn!(target: "morphir::program", extension = self.name.as_str(), "{why}");
        self.emit(ProgramEvent::Error(why));
    }

    fn logs(&self, logs: Vec<LogRecord>) {
        for line in logs {
            self.emit(ProgramEvent::Log(line));
        }
    }

    fn current_model(&self) -> Value {
        self.model
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_model(&self, model: Value) {
        *self.model.lock().unwrap_or_else(PoisonError::into_inner) = model;
    }

    fn model_envelope(&self) -> Envelope {
        Envelope::json(&self.current_model())
            .unwrap_or_else(|_| Envelope::new("application/json", "null"))
    }

    /// One `update`: on success the new model, its commands, its subscriptions.
    fn update(&mut self, msg: Envelope) {
        let request = UpdateRequest {
            header: self.header(),
            msg,
            model: self.model_envelope(),
        }
        .to_envelope();
        match self.instance.call(Operation::Update, &request) {
            Ok(out) => {
                self.logs(out.logs);
                match parse_next(&out.envelope) {
                    Ok((model, cmds)) => {
                        self.set_model(model);
                        self.run(cmds);
                        self.refresh_subscriptions();
                    }
                    Err(why) => self.fail(format!(
                        "extension `{}`, operation `update`: returned {why}; the message was dropped",
                        self.name
                    )),
                }
            }
            Err(e) => self.fail(format!("{e}; the message was dropped, the model kept")),
        }
    }

    fn run(&mut self, cmds: Vec<Result<Cmd, String>>) {
        for cmd in cmds {
            if self.stopped {
                break;
            }
            match cmd {
                Ok(cmd) => self.command(cmd),
                Err(why) => self.fail(format!("extension `{}`: {why}", self.name)),
            }
        }
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Log { level, message } => {
                let level = LogLevel::parse(&level).unwrap_or(LogLevel::Info);
                morphir_runtime::emit_extension_log(&self.name, level, &message);
                self.emit(ProgramEvent::Log(LogRecord { level, message }));
            }
            Cmd::Emit(output) => match output.to_envelope() {
                Ok(env) => self.emit(ProgramEvent::Output(env)),
                Err(why) => self.fail(format!("extension `{}`: invalid emit: {why}", self.name)),
            },
            Cmd::Delay { ms, tag, content } => {
                let msg = tea::message(&tag, &content);
                self.spawn_pending(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    msg
                });
            }
            Cmd::Http { tag, request } => {
                let policy = self.options.context.http.clone();
                let name = self.name.clone();
                self.spawn_pending(async move {
                    let fetched = tokio::task::spawn_blocking(move || {
                        morphir_runtime::http_fetch(&request, &policy, None)
                    })
                    .await
                    .unwrap_or_else(|e| Err(HttpError::Failed(e.to_string())));
                    tea::message(&tag, &http_content(&name, fetched))
                });
            }
            Cmd::Stop => {
                self.halt();
            }
        }
    }

    /// Spawns a command whose result is a message for this program.
    fn spawn_pending(&mut self, work: impl Future<Output = Envelope> + Send + 'static) {
        let Some(me) = self.me.clone() else { return };
        self.pending.fetch_add(1, Ordering::SeqCst);
        let pending = Arc::clone(&self.pending);
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::spawn(async move {
            let msg = work.await;
            let delivered = match me.upgrade() {
                Some(actor) => actor.tell(Pending(msg)).await.is_ok(),
                None => false,
            };
            if !delivered {
                pending.fetch_sub(1, Ordering::SeqCst);
            }
        }));
    }

    fn halt(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.subs.clear();
        for task in self.tasks.drain(..) {
            if !task.is_finished() {
                task.abort();
                self.pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.emit(ProgramEvent::Stopped);
    }

    /// Asks `subscriptions(model)` and makes the live set match it: new ones start, dropped ones
    /// end, unchanged ones keep running (a timer is not reset by an update).
    fn refresh_subscriptions(&mut self) {
        if self.stopped || !self.instance.module().implements(Operation::Subscriptions) {
            return;
        }
        let input = self.model_envelope().with_header(self.header());
        let wanted = match self.instance.call(Operation::Subscriptions, &input) {
            Ok(out) => {
                self.logs(out.logs);
                let subs = match out.envelope.as_json::<Value>() {
                    Ok(Value::Object(mut map)) => map.remove("subs"),
                    _ => Some(Value::Bool(false)),
                };
                match subs {
                    Some(Value::Array(subs)) => subs,
                    None | Some(Value::Null) => Vec::new(),
                    Some(_) => {
                        self.fail(format!(
                            "extension `{}`, operation `subscriptions`: returned an output that is not {{\"subs\": [...]}}",
                            self.name
                        ));
                        return;
                    }
                }
            }
            Err(e) => {
                self.fail(format!("{e}; the subscriptions stay as they were"));
                return;
            }
        };
        let mut next = BTreeMap::new();
        for value in wanted {
            let text = value.to_string();
            let sub: Sub = match serde_json::from_value(value) {
                Ok(sub) => sub,
                Err(e) => {
                    self.fail(format!(
                        "extension `{}`: invalid subscription {text}: {e}",
                        self.name
                    ));
                    continue;
                }
            };
            if next.contains_key(&sub) {
                continue;
            }
            let live = match self.subs.remove(&sub) {
                Some(live) => live,
                None => match self.start(&sub) {
                    Ok(live) => live,
                    Err(why) => {
                        self.fail(format!("extension `{}`: {why}", self.name));
                        continue;
                    }
                },
            };
            next.insert(sub, live);
        }
        // What is left in `self.subs` was dropped by the program; replacing it ends it.
        self.subs = next;
    }

    fn start(&self, sub: &Sub) -> Result<Live, String> {
        let me = self.me.clone().ok_or("the program is stopping")?;
        match sub {
            Sub::Every { ms, tag } => {
                if *ms == 0 {
                    return Err("`every` needs a period of at least 1 ms".to_owned());
                }
                let period = Duration::from_millis(*ms);
                let tag = tag.clone();
                Ok(Live::Task(tokio::spawn(async move {
                    let mut interval =
                        tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        interval.tick().await;
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis() as u64);
                        let msg = tea::message(&tag, &json!({ "time_ms": now }));
                        let Some(actor) = me.upgrade() else { return };
                        if actor.tell(Deliver(msg)).await.is_err() {
                            return;
                        }
                    }
                })))
            }
            Sub::Watch { path, tag } => self.watch(path, tag.clone(), me),
            Sub::Port { .. } => Ok(Live::Port),
        }
    }

    fn watch(
        &self,
        path: &str,
        tag: String,
        me: WeakActorRef<ProgramActor>,
    ) -> Result<Live, String> {
        use notify::Watcher as _;
        let relative = Path::new(path);
        if path.is_empty()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "cannot watch `{path}`: give a path relative to the workspace, inside it"
            ));
        }
        let root = self
            .options
            .workspace_root
            .canonicalize()
            .map_err(|e| format!("cannot watch `{path}`: the workspace root: {e}"))?;
        let full = root
            .join(relative)
            .canonicalize()
            .map_err(|e| format!("cannot watch `{path}`: {e}"))?;
        if !full.starts_with(&root) {
            return Err(format!(
                "cannot watch `{path}`: it resolves outside the workspace"
            ));
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<notify::Event>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                if let Ok(event) = event {
                    let _ = tx.send(event);
                }
            })
            .map_err(|e| format!("cannot watch `{path}`: {e}"))?;
        watcher
            .watch(&full, notify::RecursiveMode::Recursive)
            .map_err(|e| format!("cannot watch `{path}`: {e}"))?;
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Coalesce a burst (an editor's save is several events) into one message.
                let mut events = vec![first];
                let window = tokio::time::sleep(Duration::from_millis(50));
                tokio::pin!(window);
                loop {
                    tokio::select! {
                        () = &mut window => break,
                        more = rx.recv() => match more {
                            Some(event) => events.push(event),
                            None => break,
                        },
                    }
                }
                let mut paths: Vec<String> = events
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.kind,
                            notify::EventKind::Create(_)
                                | notify::EventKind::Modify(_)
                                | notify::EventKind::Remove(_)
                        )
                    })
                    .flat_map(|e| e.paths.iter())
                    .filter_map(|p| relative_to(&root, p))
                    .collect();
                paths.sort();
                paths.dedup();
                if paths.is_empty() {
                    continue;
                }
                let msg = tea::message(&tag, &json!({ "paths": paths }));
                let Some(actor) = me.upgrade() else { return };
                if actor.tell(Deliver(msg)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Live::Watch(watcher, task))
    }
}

/// `path` relative to `root`, `/`-separated (a removed file cannot be canonicalised: its
/// parent is).
fn relative_to(root: &Path, path: &Path) -> Option<String> {
    let resolved = path.canonicalize().ok().or_else(|| {
        let parent = path.parent()?.canonicalize().ok()?;
        Some(parent.join(path.file_name()?))
    })?;
    let rel = resolved.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The content of an `http` command's reply: the response, or `{"error": {message, code}}`.
fn http_content(extension: &str, fetched: Result<HttpResponse, HttpError>) -> Value {
    match fetched {
        Ok(response) => serde_json::to_value(response).unwrap_or(Value::Null),
        Err(e) => {
            if let HttpError::Denied(why) = &e {
                tracing::warn!(
                    target: "morphir::permissions",
                    extension,
                    "extension `{extension}`: command `http` refused: {why}"
                );
            }
            json!({ "error": { "message": e.to_string(), "code": e.code() } })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_command_is_reported_alone() {
        let out = Envelope::json(&json!({
            "model": {"n": 1},
            "cmds": [{"cmd": "teleport"}, {"cmd": "stop"}]
        }))
        .unwrap();
        let (model, cmds) = parse_next(&out).unwrap();
        assert_eq!(model, json!({"n": 1}));
        assert!(cmds[0].as_ref().unwrap_err().contains("teleport"));
        assert_eq!(cmds[1], Ok(Cmd::Stop));
        let bad = Envelope::json(&json!({"cmds": []})).unwrap();
        assert!(parse_next(&bad).unwrap_err().contains("without `model`"));
    }
}
