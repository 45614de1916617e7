//! The Component Model host: components of the Morphir WIT worlds (`wit/`), called through
//! wasmtime's component API with the same envelopes, limits and errors as core modules.
//!
//! This and `engine.rs` are the only files that name the engine. Components do not go through
//! Extism (it hosts core modules only); they use the wasmtime Extism itself is built on, so the
//! tree has one wasmtime.
//!
//! Two families of worlds are recognised by what a component exports (the WIT is in `wit/`, the
//! mapping onto our operations in `docs/abi.md`, "Component Model extensions"):
//! * `morphir:extension` (seed 000): `initialize`, `capabilities`, `transform` over strings. The
//!   host turns a step request into `initialize(config)` (when the config changed) and
//!   `transform(input text)`.
//! * `morphir:ext@0.1.0` (seed 001): the same envelopes a core module sees, through the
//!   `common-backend`, `design-time-*` and `program` interfaces; `runtime` is imported.
//!
//! Limits. Memory: a [`wasmtime::ResourceLimiter`] on each store counts every memory's growth
//! against `max_memory` and traps past it. Time: epoch interruption with a per-store deadline.
//! All components of a runtime share one engine whose epoch a background thread advances every
//! [`TICK`]; each store's deadline is its own number of ticks from the start of its call, so one
//! call running out of time never interrupts another (the core path needs one engine per live
//! instance for the same guarantee, because Extism stops a call by advancing the engine's
//! epoch itself). Shared engine means one compile per component, however many instances run.
//! After a trap, a timeout or running out of memory the store is dropped; the next call
//! instantiates afresh.
//!
//! Imports: `morphir:ext/runtime` (and the type-only `morphir:ext/envelope`), and WASI 0.2,
//! which a component built for `wasm32-wasip2` imports whether it uses it or not: it gets a
//! context that denies everything the permissions do not grant (`wasi.rs`). Anything else is
//! refused at load, before it runs. We recommend `wasm32-unknown-unknown` wrapped with
//! `wit-component` (`scripts/build-extensions`): no WASI at all, and calls without the extra
//! thread WASI's blocking host functions need.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use morphir_envelope::abi::Operation;
use morphir_envelope::tea::{Cmd, Next, UpdateRequest};
use morphir_envelope::{Capabilities, Capability, Envelope, ErrorPayload, Header, StepRequest};
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentType, InstancePre, Lift, Linker, Lower, TypedFunc,
};
use wasmtime::{Engine, Store, StoreContextMut, Trap};

use crate::engine::{CAPABILITIES_MAX, CallOutput, Runtime, lock};
use crate::error::{CallError, Error, LoadError, Result};
use crate::stdlib::{self, HostState, LogLevel as OurLevel};
use crate::wasi::{self, Wasi};
use crate::{HostContext, Limits};

/// How often the shared engine's epoch advances: the resolution of `max_execution_time`.
const TICK: Duration = Duration::from_millis(5);

/// The seed 000 interface.
const SEED_EXTENSION: &str = "morphir:extension/extension";
const SEED_WORLD: &str = "morphir:extension/morphir-extension";

fn ext(interface: &str) -> String {
    format!("morphir:ext/{interface}@0.1.0")
}

// ---- WIT types (field and case order as in wit/; names as WIT spells them) ----

/// `morphir:ext/envelope.header`.
#[derive(ComponentType, Lift, Lower, Clone, Debug)]
#[component(record)]
struct WitHeader {
    seqnum: u64,
    #[component(name = "session-id")]
    session_id: String,
    kind: Option<String>,
}

/// `morphir:ext/envelope.envelope`.
#[derive(ComponentType, Lift, Lower, Clone, Debug)]
#[component(record)]
struct WitEnvelope {
    header: WitHeader,
    #[component(name = "content-type")]
    content_type: String,
    content: Vec<u8>,
}

impl From<&Envelope> for WitEnvelope {
    fn from(e: &Envelope) -> Self {
        WitEnvelope {
            header: WitHeader {
                seqnum: e.header.seqnum,
                session_id: e.header.session_id.clone(),
                kind: e.header.kind.clone(),
            },
            content_type: e.content_type.clone(),
            content: e.content.clone(),
        }
    }
}

impl From<WitEnvelope> for Envelope {
    fn from(e: WitEnvelope) -> Self {
        Envelope {
            header: Header {
                seqnum: e.header.seqnum,
                session_id: e.header.session_id,
                kind: e.header.kind,
            },
            content_type: e.content_type,
            content: e.content,
        }
    }
}

/// `morphir:ext/runtime.log-level`.
#[expect(
    dead_code,
    reason = "its values are made by the Lift derive, from the guest's"
)]
#[derive(ComponentType, Lift, Lower, Clone, Copy, Debug)]
#[component(enum)]
#[repr(u8)]
enum WitLogLevel {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

/// `morphir:ext/runtime.env-value`.
#[derive(ComponentType, Lift, Lower, Clone, Debug)]
#[component(variant)]
enum EnvValue {
    #[component(name = "text")]
    Text(String),
    #[component(name = "text-list")]
    TextList(Vec<String>),
    #[component(name = "boolean")]
    Boolean(bool),
    #[component(name = "v-u8")]
    U8(u8),
    #[component(name = "v-u16")]
    U16(u16),
    #[component(name = "v-u32")]
    U32(u32),
    #[component(name = "v-u64")]
    U64(u64),
    #[component(name = "v-s8")]
    S8(i8),
    #[component(name = "v-s16")]
    S16(i16),
    #[component(name = "v-s32")]
    S32(i32),
    #[component(name = "v-s64")]
    S64(i64),
    #[component(name = "v-f32")]
    F32(f32),
    #[component(name = "v-f64")]
    F64(f64),
}

impl EnvValue {
    /// Our environment view holds strings: this is the string a variable is set to.
    fn to_text(&self) -> String {
        match self {
            EnvValue::Text(s) => s.clone(),
            // The separator of PATH-like lists on the platforms Morphir targets.
            EnvValue::TextList(l) => l.join(":"),
            EnvValue::Boolean(b) => b.to_string(),
            EnvValue::U8(v) => v.to_string(),
            EnvValue::U16(v) => v.to_string(),
            EnvValue::U32(v) => v.to_string(),
            EnvValue::U64(v) => v.to_string(),
            EnvValue::S8(v) => v.to_string(),
            EnvValue::S16(v) => v.to_string(),
            EnvValue::S32(v) => v.to_string(),
            EnvValue::S64(v) => v.to_string(),
            EnvValue::F32(v) => v.to_string(),
            EnvValue::F64(v) => v.to_string(),
        }
    }
}

/// `morphir:extension/extension.capability`.
#[derive(ComponentType, Lift, Lower, Clone, Debug)]
#[component(record)]
struct SeedCapability {
    name: String,
    description: String,
    #[component(name = "params-schema")]
    params_schema: Option<String>,
    #[component(name = "return-schema")]
    return_schema: Option<String>,
}

/// `morphir:extension/extension.init-result`.
#[derive(ComponentType, Lift, Lower, Clone, Debug)]
#[component(record)]
struct InitResult {
    status: String,
}

// ---- the engine ----

/// The runtime's component engine, made on first use, with its epoch ticker.
fn engine(runtime: &Runtime) -> Result<Engine, LoadError> {
    let mut slot = runtime
        .inner
        .component_engine
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(engine) = &*slot {
        return Ok(engine.clone());
    }
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    if let Some(path) = &runtime.inner.cache_config {
        let cache = wasmtime::Cache::from_file(Some(path))
            .map_err(|e| LoadError::Engine(format!("compile cache: {e:#}")))?;
        config.cache(Some(cache));
    }
    let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
    // The ticker holds the engine weakly: it stops once the runtime and its modules are gone.
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("morphir-epoch".to_owned())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .map_err(|e| LoadError::Engine(format!("cannot start the epoch thread: {e}")))?;
    *slot = Some(engine.clone());
    Ok(engine)
}

/// Ticks of [`TICK`] covering `limit`, plus one: the tick in progress when the deadline is set
/// may end at once.
fn deadline_ticks(limit: Duration) -> u64 {
    (limit.as_nanos() / TICK.as_nanos()) as u64 + 2
}

// ---- store state and limits ----

/// Counts every memory of a store against `max_memory`.
struct MemoryLimiter {
    limit: usize,
    used: usize,
    /// The total a refused growth asked for.
    refused: Option<usize>,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.refused = Some(total);
            // An error, not `false`: the guest traps at once instead of seeing `memory.grow`
            // fail and aborting somewhere less clear.
            return Err(wasmtime::format_err!(
                "memory would grow to {total} bytes, over max_memory ({} bytes)",
                self.limit
            ));
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any real guest.
        Ok(desired <= 1 << 20)
    }
}

struct Data {
    host: Arc<Mutex<HostState>>,
    memory: MemoryLimiter,
    /// The configuration `initialize` last received (seed 000 world), per store.
    initialized: Option<String>,
    /// For a component that imports WASI (`wasi.rs`), else `None`.
    wasi: Option<Wasi>,
}

impl wasmtime_wasi::WasiView for Data {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasi_of(self).view()
    }
}

fn wasi_of(data: &mut Data) -> &mut Wasi {
    data.wasi
        .as_mut()
        .expect("WASI is linked only for components that import it, whose stores have it")
}

// ---- what a component exports ----

/// Which family of worlds a component belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `morphir:extension` (seed 000).
    Seed,
    /// `morphir:ext@0.1.0` (seed 001).
    Ext,
}

/// Export indices, found once per component.
#[derive(Debug, Default)]
struct Exports {
    // morphir:extension
    initialize: Option<ComponentExportIndex>,
    capabilities: Option<ComponentExportIndex>,
    transform_text: Option<ComponentExportIndex>,
    // morphir:ext
    get_capabilities: Option<ComponentExportIndex>,
    steps: BTreeMap<Operation, ComponentExportIndex>,
    init: Option<ComponentExportIndex>,
    update: Option<ComponentExportIndex>,
    subscriptions: Option<ComponentExportIndex>,
}

type EnvFn = TypedFunc<(WitEnvelope,), (WitEnvelope,)>;
type PairFn<P> = TypedFunc<P, ((WitEnvelope, WitEnvelope),)>;

/// The typed functions of one instantiation.
enum Funcs {
    Seed {
        initialize: TypedFunc<(String,), (InitResult,)>,
        capabilities: TypedFunc<(), (Vec<SeedCapability>,)>,
        transform: TypedFunc<(String,), (Result<String, String>,)>,
    },
    Ext {
        get_capabilities: TypedFunc<(), (WitEnvelope,)>,
        steps: BTreeMap<Operation, EnvFn>,
        init: Option<PairFn<(WitEnvelope,)>>,
        update: Option<PairFn<(WitEnvelope, WitEnvelope)>>,
        subscriptions: Option<EnvFn>,
    },
}

/// A validated, compiled component.
pub(crate) struct ComponentModule {
    name: String,
    hash: [u8; 32],
    limits: Limits,
    family: Family,
    world: String,
    exports: Exports,
    imports: Vec<String>,
    /// It imports WASI (`wasi.rs`).
    wasi: bool,
    pre: InstancePre<Data>,
    capabilities: Option<Capabilities>,
    /// The memory a failed instantiation asked for (bytes), when `max_memory` refused it.
    refused_at_instantiation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for ComponentModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentModule")
            .field("name", &self.name)
            .field("world", &self.world)
            .finish_non_exhaustive()
    }
}

const IMPORTS_HELP: &str = "a component may import only `morphir:ext/runtime@0.1.0` (and the \
     types of `morphir:ext/envelope@0.1.0`) and WASI 0.2 (given a context that denies what the \
     permissions do not grant). Build it for wasm32-unknown-unknown and wrap it with \
     wit-component (scripts/build-extensions), or for wasm32-wasip2";

const WASI_VERSION_HELP: &str = "only WASI 0.2 (the interfaces `wasi:*@0.2.x`) is provided to \
     components; build it for wasm32-wasip2 (or wasm32-unknown-unknown, with no WASI)";

fn expected_worlds() -> String {
    format!(
        "a Morphir component exports `{SEED_EXTENSION}` (world morphir:extension), or `{}` with \
         `{}`, `{}` and/or `{}` (worlds frontend, transform, backend of morphir:ext@0.1.0), or \
         `{}` (world extension of morphir:ext@0.1.0); see wit/ and docs/abi.md",
        ext("common-backend"),
        ext("design-time-frontend"),
        ext("design-time-transform"),
        ext("design-time-backend"),
        ext("program"),
    )
}

/// Validates, compiles and checks a component: imports, the world it exports, then one
/// instantiation to type-check its functions and read its capabilities.
pub(crate) fn load(
    runtime: &Runtime,
    name: &str,
    bytes: &[u8],
    limits: Limits,
) -> Result<ComponentModule> {
    let fail = |source| Error::load(name.to_owned(), source);
    if bytes.len() as u64 > runtime.inner.max_module_size {
        return Err(fail(LoadError::TooLarge {
            size: bytes.len() as u64,
            max: runtime.inner.max_module_size,
        }));
    }
    let engine = engine(runtime).map_err(fail)?;
    // `from_binary`: never the text format, whatever the `wat` feature allows elsewhere.
    let component = Component::from_binary(&engine, bytes)
        .map_err(|e| fail(LoadError::Invalid(format!("{e:#}"))))?;
    let ty = component.component_type();

    let mut imports = Vec::new();
    let mut imports_wasi = false;
    for (import, _) in ty.imports(&engine) {
        if import == ext("runtime") || wasi::provides(import) {
            imports_wasi |= import != ext("runtime");
            imports.push(import.to_owned());
        } else if import != ext("envelope") {
            return Err(fail(LoadError::ComponentImport {
                name: import.to_owned(),
                help: if wasi::other_version(import) {
                    WASI_VERSION_HELP
                } else {
                    IMPORTS_HELP
                },
            }));
        }
    }
    let export_names: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_owned()).collect();
    let (family, world, exports) = recognise(&component, &export_names).map_err(fail)?;

    let mut linker = Linker::<Data>::new(&engine);
    define_runtime(&mut linker).map_err(|e| fail(LoadError::Engine(format!("{e:#}"))))?;
    if imports_wasi {
        wasi::link(&mut linker, wasi_of)
            .map_err(|e| fail(LoadError::Engine(format!("linking WASI: {e:#}"))))?;
    }
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        fail(LoadError::WrongWorld {
            reason: format!(
                "its imports do not match `{}` in wit/morphir-ext{}: {e:#}",
                ext("runtime"),
                if imports_wasi {
                    " or the WASI 0.2 the host provides"
                } else {
                    ""
                }
            ),
            help: expected_worlds(),
        })
    })?;
    let mut module = ComponentModule {
        name: name.to_owned(),
        hash: *blake3::hash(bytes).as_bytes(),
        limits,
        family,
        world,
        exports,
        imports,
        wasi: imports_wasi,
        pre,
        capabilities: None,
        refused_at_instantiation: std::sync::atomic::AtomicU64::new(0),
    };
    let capabilities = module.probe()?;
    module.capabilities = Some(capabilities);
    Ok(module)
}

/// Finds the world a component exports, and the indices of its functions.
fn recognise(
    component: &Component,
    names: &[String],
) -> Result<(Family, String, Exports), LoadError> {
    let wrong = |reason: String| LoadError::WrongWorld {
        reason,
        help: expected_worlds(),
    };
    let has = |n: &str| names.iter().any(|e| e == n);
    let func = |interface: &str, f: &str| -> Result<ComponentExportIndex, LoadError> {
        let (_, iface) = component
            .get_export(None, interface)
            .ok_or_else(|| wrong(format!("no export `{interface}`")))?;
        component
            .get_export_index(Some(&iface), f)
            .ok_or_else(|| wrong(format!("exports `{interface}` without its function `{f}`")))
    };
    let found = || {
        if names.is_empty() {
            "it exports nothing".to_owned()
        } else {
            format!("it exports {}", names.join(", "))
        }
    };

    if has(SEED_EXTENSION) {
        let exports = Exports {
            initialize: Some(func(SEED_EXTENSION, "initialize")?),
            capabilities: Some(func(SEED_EXTENSION, "capabilities")?),
            transform_text: Some(func(SEED_EXTENSION, "transform")?),
            ..Exports::default()
        };
        return Ok((Family::Seed, SEED_WORLD.to_owned(), exports));
    }

    let mut exports = Exports::default();
    let mut roles = Vec::new();
    for (interface, f, op, role) in [
        (
            "design-time-frontend",
            "frontend-compile",
            Operation::FrontendCompile,
            "frontend",
        ),
        (
            "design-time-transform",
            "transform",
            Operation::Transform,
            "transform",
        ),
        (
            "design-time-backend",
            "backend-generate",
            Operation::BackendGenerate,
            "backend",
        ),
    ] {
        if has(&ext(interface)) {
            exports.steps.insert(op, func(&ext(interface), f)?);
            roles.push(role);
        }
    }
    let program = has(&ext("program"));
    if program {
        exports.init = Some(func(&ext("program"), "init")?);
        exports.update = Some(func(&ext("program"), "update")?);
        exports.subscriptions = Some(func(&ext("program"), "subscriptions")?);
    }
    if !exports.steps.is_empty() {
        if !has(&ext("common-backend")) {
            return Err(wrong(format!(
                "it exports design-time interfaces but not `{}` (its get-capabilities); {}",
                ext("common-backend"),
                found()
            )));
        }
        exports.get_capabilities = Some(func(&ext("common-backend"), "get-capabilities")?);
    } else if program {
        exports.get_capabilities = Some(func(&ext("program"), "get-capabilities")?);
    } else {
        return Err(wrong(format!(
            "{} and none of the Morphir interfaces",
            found()
        )));
    }
    let world = match (roles.as_slice(), program) {
        ([role], false) => format!("morphir:ext/{role}@0.1.0"),
        ([], true) => "morphir:ext/extension@0.1.0".to_owned(),
        (_, false) => "morphir:ext/design-time@0.1.0".to_owned(),
        (_, true) => format!("morphir:ext@0.1.0 ({} + program)", roles.join(" + ")),
    };
    Ok((Family::Ext, world, exports))
}

/// `morphir:ext/runtime@0.1.0`, under the store's [`HostContext`] (the core ABI's `log`,
/// `get_env_var` and `set_env_var`, with the same permissions).
fn define_runtime(linker: &mut Linker<Data>) -> wasmtime::Result<()> {
    // Type-only interface: nothing to define but the instance a component may import.
    linker.instance(&ext("envelope"))?;
    let mut runtime = linker.instance(&ext("runtime"))?;
    runtime.func_wrap(
        "log",
        |cx: StoreContextMut<'_, Data>, (level, msg): (WitLogLevel, String)| {
            let level = match level {
                WitLogLevel::Trace => OurLevel::Trace,
                WitLogLevel::Debug => OurLevel::Debug,
                WitLogLevel::Info => OurLevel::Info,
                WitLogLevel::Warn => OurLevel::Warn,
                WitLogLevel::Error => OurLevel::Error,
            };
            lock(&cx.data().host).record(level, msg);
            Ok(())
        },
    )?;
    runtime.func_wrap(
        "get-env-var",
        |cx: StoreContextMut<'_, Data>, (name,): (String,)| {
            let mut host = lock(&cx.data().host);
            let value = if let Some(value) = host.context.env.get(&name) {
                value.clone().map(EnvValue::Text)
            } else {
                // The WIT has no error case: a refusal reads as unset, and is logged.
                stdlib::refuse_env(&mut host, "get-env-var", &name);
                None
            };
            Ok((value,))
        },
    )?;
    runtime.func_wrap(
        "set-env-var",
        |cx: StoreContextMut<'_, Data>, (name, value): (String, EnvValue)| {
            let mut host = lock(&cx.data().host);
            match host.context.env.get_mut(&name) {
                Some(slot) => *slot = Some(value.to_text()),
                None => stdlib::refuse_env(&mut host, "set-env-var", &name),
            }
            Ok(())
        },
    )?;
    Ok(())
}

impl ComponentModule {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn world(&self) -> &str {
        &self.world
    }

    pub(crate) fn hash(&self) -> [u8; 32] {
        self.hash
    }

    pub(crate) fn operations(&self) -> impl Iterator<Item = Operation> + '_ {
        let mut ops = vec![Operation::GetCapabilities];
        match self.family {
            Family::Seed => ops.push(Operation::Transform),
            Family::Ext => {
                ops.extend(self.exports.steps.keys().copied());
                if self.exports.init.is_some() {
                    ops.extend([Operation::Init, Operation::Update, Operation::Subscriptions]);
                }
            }
        }
        ops.into_iter()
    }

    pub(crate) fn implements(&self, op: Operation) -> bool {
        self.operations().any(|o| o == op)
    }

    pub(crate) fn host_imports(&self) -> &[String] {
        &self.imports
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn capabilities(&self) -> &Capabilities {
        self.capabilities.as_ref().expect("set by load")
    }

    /// A fresh store and instance, with the typed functions looked up (and so type-checked).
    fn instantiate(&self, host: &Arc<Mutex<HostState>>) -> Result<Live, CallError> {
        let limit = self.limits.memory_pages() as usize * 65_536;
        let mut store = Store::new(
            self.pre.engine(),
            Data {
                host: Arc::clone(host),
                memory: MemoryLimiter {
                    limit,
                    used: 0,
                    refused: None,
                },
                initialized: None,
                wasi: self.wasi.then(|| Wasi::new(host)),
            },
        );
        store.limiter(|data| &mut data.memory);
        // Instantiation runs the component's start code: it is under the time limit too, and
        // under the same WASI rules as a call.
        store.set_epoch_deadline(deadline_ticks(self.limits.max_execution_time));
        store.epoch_deadline_trap();
        let instantiated = match store.data_mut().wasi.as_mut() {
            None => self.pre.instantiate(&mut store),
            Some(wasi) => {
                wasi.prepare(host, Instant::now() + self.limits.max_execution_time);
                let pre = &self.pre;
                let store = &mut store;
                wasi::isolated(move || pre.instantiate(store))
            }
        };
        let instance = match instantiated {
            Ok(instance) => instance,
            Err(e) => {
                // What the refused growth asked for, for a load-time report of initial memory.
                self.refused_at_instantiation.store(
                    store.data().memory.refused.unwrap_or(0) as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                return Err(classify(&e, &self.limits, &store));
            }
        };
        let typed = |e: wasmtime::Error| CallError::Engine(format!("{e:#}"));
        let x = &self.exports;
        let funcs = match self.family {
            Family::Seed => Funcs::Seed {
                initialize: instance
                    .get_typed_func(&mut store, x.initialize.as_ref().expect("seed"))
                    .map_err(typed)?,
                capabilities: instance
                    .get_typed_func(&mut store, x.capabilities.as_ref().expect("seed"))
                    .map_err(typed)?,
                transform: instance
                    .get_typed_func(&mut store, x.transform_text.as_ref().expect("seed"))
                    .map_err(typed)?,
            },
            Family::Ext => {
                let mut steps = BTreeMap::new();
                for (op, index) in &x.steps {
                    steps.insert(
                        *op,
                        instance.get_typed_func(&mut store, index).map_err(typed)?,
                    );
                }
                Funcs::Ext {
                    get_capabilities: instance
                        .get_typed_func(&mut store, x.get_capabilities.as_ref().expect("ext"))
                        .map_err(typed)?,
                    steps,
                    init: x
                        .init
                        .as_ref()
                        .map(|i| instance.get_typed_func(&mut store, i))
                        .transpose()
                        .map_err(typed)?,
                    update: x
                        .update
                        .as_ref()
                        .map(|i| instance.get_typed_func(&mut store, i))
                        .transpose()
                        .map_err(typed)?,
                    subscriptions: x
                        .subscriptions
                        .as_ref()
                        .map(|i| instance.get_typed_func(&mut store, i))
                        .transpose()
                        .map_err(typed)?,
                }
            }
        };
        Ok(Live { store, funcs })
    }

    /// One instantiation: type-checks the functions and reads the capabilities.
    fn probe(&self) -> Result<Capabilities> {
        let fail = |source| Error::load(self.name.clone(), source);
        let host = Arc::new(Mutex::new(HostState::new(self.name.clone())));
        let mut live = match self.instantiate(&host) {
            Ok(live) => live,
            Err(CallError::OutOfMemory { .. }) => {
                return Err(fail(LoadError::InitialMemory {
                    initial: self
                        .refused_at_instantiation
                        .load(std::sync::atomic::Ordering::Relaxed),
                    limit: self.limits.max_memory,
                }));
            }
            Err(CallError::Engine(e)) => {
                return Err(fail(LoadError::WrongWorld {
                    reason: format!("a function does not have the type wit/ gives it: {e}"),
                    help: expected_worlds(),
                }));
            }
            Err(e) => return Err(fail(LoadError::Capabilities(e.to_string()))),
        };
        let deadline = Instant::now() + self.limits.max_execution_time;
        let caps = match live.funcs {
            Funcs::Seed { capabilities, .. } => {
                let (list,) = live
                    .run(&host, deadline, |l| capabilities.call(&mut l.store, ()))
                    .map_err(|e| fail(LoadError::Capabilities(format!("capabilities(): {e:#}"))))?;
                seed_capabilities(&self.name, list)
            }
            Funcs::Ext {
                get_capabilities, ..
            } => {
                let (env,) = live
                    .run(&host, deadline, |l| get_capabilities.call(&mut l.store, ()))
                    .map_err(|e| {
                        fail(LoadError::Capabilities(format!("get-capabilities: {e:#}")))
                    })?;
                let env: Envelope = env.into();
                let caps: Capabilities = env
                    .as_json()
                    .map_err(|e| fail(LoadError::Capabilities(e.to_string())))?;
                for declared in &caps.operations {
                    match Operation::parse(declared) {
                        Some(op) if self.implements(op) => {}
                        _ => {
                            return Err(fail(LoadError::Capabilities(format!(
                                "declares `{declared}`, which its exports ({}) do not implement",
                                self.world
                            ))));
                        }
                    }
                }
                for op in self.operations() {
                    if op != Operation::GetCapabilities
                        && op != Operation::Subscriptions
                        && !caps.implements(op.name())
                    {
                        return Err(fail(LoadError::Capabilities(format!(
                            "exports `{op}` but does not declare it"
                        ))));
                    }
                }
                caps
            }
        };
        Ok(caps)
    }
}

/// The seed 000 world has a list of named capabilities and no name, version or operation
/// list: the configuration's name stands in, and the world implements `transform`.
fn seed_capabilities(name: &str, list: Vec<SeedCapability>) -> Capabilities {
    let description = list
        .iter()
        .find(|c| c.name == "transform")
        .or(list.first())
        .map(|c| c.description.clone())
        .unwrap_or_default();
    Capabilities {
        name: name.to_owned(),
        version: String::new(),
        description,
        operations: vec![Operation::Transform.name().to_owned()],
        accepts: Vec::new(),
        produces: Vec::new(),
        capabilities: list
            .into_iter()
            .map(|c| Capability {
                name: c.name,
                description: c.description,
                params_schema: c.params_schema,
                return_schema: c.return_schema,
            })
            .collect(),
    }
}

/// Maps a wasmtime error from a call or an instantiation to ours.
fn classify(e: &wasmtime::Error, limits: &Limits, store: &Store<Data>) -> CallError {
    if store.data().memory.refused.is_some() {
        return CallError::OutOfMemory {
            limit: limits.max_memory,
        };
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return CallError::Trap(format!(
            "the component called WASI exit with status {}",
            exit.0
        ));
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Timeout {
            limit: limits.max_execution_time,
        },
        Some(trap) => CallError::Trap(trap.to_string()),
        None => CallError::Trap(format!("{e:#}").lines().next().unwrap_or("").to_owned()),
    }
}

struct Live {
    store: Store<Data>,
    funcs: Funcs,
}

impl Live {
    /// Runs `f` on this instance until `deadline`: directly, or for a component that imports
    /// WASI with its context brought up to date and on a thread where WASI can block
    /// ([`wasi::isolated`]).
    fn run<R: Send>(
        &mut self,
        host: &Arc<Mutex<HostState>>,
        deadline: Instant,
        f: impl FnOnce(&mut Live) -> R + Send,
    ) -> R {
        match self.store.data_mut().wasi.as_mut() {
            None => f(self),
            Some(wasi) => {
                wasi.prepare(host, deadline);
                let result = wasi::isolated(|| f(self));
                wasi::flush_partial(&mut lock(host));
                result
            }
        }
    }

    /// A wait of the last call was cut at its deadline: the call timed out.
    fn overslept(&self) -> bool {
        self.store.data().wasi.as_ref().is_some_and(Wasi::overslept)
    }
}

/// A live component instance; see [`crate::Instance`].
pub(crate) struct ComponentInstance {
    module: Arc<ComponentModule>,
    host: Arc<Mutex<HostState>>,
    live: Option<Live>,
    discarded: u32,
}

impl std::fmt::Debug for ComponentInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentInstance")
            .field("module", &self.module.name)
            .field("live", &self.live.is_some())
            .field("discarded", &self.discarded)
            .finish_non_exhaustive()
    }
}

impl ComponentInstance {
    pub(crate) fn new(module: &Arc<ComponentModule>) -> Result<Self> {
        let host = Arc::new(Mutex::new(HostState::new(module.name.clone())));
        let live = module
            .instantiate(&host)
            .map_err(|e| Error::load(module.name.clone(), LoadError::Engine(e.to_string())))?;
        Ok(Self {
            module: Arc::clone(module),
            host,
            live: Some(live),
            discarded: 0,
        })
    }

    pub(crate) fn discarded(&self) -> u32 {
        self.discarded
    }

    pub(crate) fn set_context(&mut self, context: HostContext) {
        lock(&self.host).set_context(context);
    }

    pub(crate) fn context(&self) -> HostContext {
        lock(&self.host).context.clone()
    }

    pub(crate) fn call(&mut self, op: Operation, input: &Envelope) -> Result<CallOutput> {
        let module = Arc::clone(&self.module);
        let fail = |source| Error::call(module.name.clone(), op, source);
        if !module.implements(op) {
            return Err(fail(CallError::NotImplemented));
        }
        let limits = module.limits;
        lock(&self.host).reset();
        if self.live.is_none() {
            match module.instantiate(&self.host) {
                Ok(live) => self.live = Some(live),
                Err(e) => return Err(fail(e)),
            }
        }
        let live = self.live.as_mut().expect("just made");
        live.store
            .set_epoch_deadline(deadline_ticks(limits.max_execution_time));
        live.store.data_mut().memory.refused = None;
        // One deadline for the call: its host functions' and its WASI waits'.
        let deadline = Instant::now() + limits.max_execution_time;
        lock(&self.host).deadline = Some(deadline);
        let mut result = live.run(&self.host, deadline, |live| dispatch(live, op, input));
        if live.overslept() && Instant::now() >= deadline {
            // It waited on a clock until its deadline: a timeout whatever it returned after.
            result = Err(Failure::Call(CallError::Timeout {
                limit: limits.max_execution_time,
            }));
        }
        let logs = std::mem::take(&mut lock(&self.host).logs);
        let result = result.and_then(|envelope| {
            let max = if op == Operation::GetCapabilities {
                limits.max_output.max(CAPABILITIES_MAX)
            } else {
                limits.max_output
            };
            let size = envelope.encoded_len() as u64;
            if size > max {
                return Err(Failure::Call(CallError::OutputTooLarge { size, max }));
            }
            Ok(envelope)
        });
        match result {
            Ok(envelope) => match envelope.error_payload() {
                Some(payload) => Err(fail(CallError::Guest(Box::new(payload)))),
                None => Ok(CallOutput { envelope, logs }),
            },
            Err(failure) => {
                let error = match failure {
                    Failure::Engine(e) => {
                        let live = self.live.as_ref().expect("live");
                        classify(&e, &limits, &live.store)
                    }
                    Failure::Call(e) => e,
                };
                if error.is_fatal() {
                    // Guest state after a trap cannot be trusted: drop the store, keep the
                    // compiled component.
                    self.live = None;
                    self.discarded += 1;
                }
                Err(fail(error))
            }
        }
    }
}

/// Why a call failed before it produced an envelope.
enum Failure {
    /// The engine reported a trap, an interrupt or a refused growth: classified afterwards.
    Engine(wasmtime::Error),
    /// Ours, already classified.
    Call(CallError),
}

impl From<wasmtime::Error> for Failure {
    fn from(e: wasmtime::Error) -> Self {
        Failure::Engine(e)
    }
}

fn guest(message: String) -> Failure {
    Failure::Call(CallError::Guest(Box::new(ErrorPayload::new(message))))
}

/// Maps one of our operations onto the component's functions (`docs/abi.md`).
fn dispatch(live: &mut Live, op: Operation, input: &Envelope) -> Result<Envelope, Failure> {
    let store = &mut live.store;
    match &live.funcs {
        Funcs::Seed {
            initialize,
            capabilities,
            transform,
        } => match op {
            Operation::GetCapabilities => {
                let (list,) = capabilities.call(&mut *store, ())?;
                let caps = seed_capabilities(&store.data().host_name(), list);
                Envelope::json(&caps).map_err(|e| Failure::Call(CallError::Engine(e.to_string())))
            }
            Operation::Transform => {
                let request = StepRequest::from_envelope(input.clone())
                    .map_err(|e| guest(format!("the step request is malformed: {e}")))?;
                let config = serde_json::to_string(&request.config)
                    .map_err(|e| Failure::Call(CallError::Engine(e.to_string())))?;
                if store.data().initialized.as_deref() != Some(config.as_str()) {
                    let (result,) = initialize.call(&mut *store, (config.clone(),))?;
                    if result.status != "ready" {
                        return Err(Failure::Call(CallError::Guest(Box::new(
                            ErrorPayload::new(format!(
                                "initialize returned status {:?}, not \"ready\"",
                                result.status
                            ))
                            .with_code("initialize"),
                        ))));
                    }
                    store.data_mut().initialized = Some(config);
                }
                let input = request.input;
                let Ok(text) = String::from_utf8(input.content) else {
                    return Err(guest(format!(
                        "the morphir:extension world passes text, and the input ({}) is not \
                         UTF-8; use a morphir:ext component for binary content",
                        input.content_type
                    )));
                };
                let (result,) = transform.call(&mut *store, (text,))?;
                match result {
                    Ok(out) => {
                        Ok(Envelope::new(input.content_type, out).with_header(request.header))
                    }
                    Err(message) => Err(guest(message)),
                }
            }
            _ => Err(Failure::Call(CallError::NotImplemented)),
        },
        Funcs::Ext {
            get_capabilities,
            steps,
            init,
            update,
            subscriptions,
        } => match op {
            Operation::GetCapabilities => Ok(get_capabilities.call(&mut *store, ())?.0.into()),
            Operation::Init => {
                let f = init
                    .as_ref()
                    .ok_or(Failure::Call(CallError::NotImplemented))?;
                let ((model, cmds),) = f.call(&mut *store, (input.into(),))?;
                next(&model.into(), &cmds.into())
            }
            Operation::Update => {
                let f = update
                    .as_ref()
                    .ok_or(Failure::Call(CallError::NotImplemented))?;
                let request = UpdateRequest::from_envelope(input.clone())
                    .map_err(|e| guest(format!("the update request is malformed: {e}")))?;
                let ((model, cmds),) = f.call(
                    &mut *store,
                    ((&request.msg).into(), (&request.model).into()),
                )?;
                next(&model.into(), &cmds.into())
            }
            Operation::Subscriptions => {
                let f = subscriptions
                    .as_ref()
                    .ok_or(Failure::Call(CallError::NotImplemented))?;
                Ok(f.call(&mut *store, (input.into(),))?.0.into())
            }
            step => {
                let f = steps
                    .get(&step)
                    .ok_or(Failure::Call(CallError::NotImplemented))?;
                Ok(f.call(&mut *store, (input.into(),))?.0.into())
            }
        },
    }
}

/// `program`'s `(model, cmds)` pair as the `{"model", "cmds"}` document the host's TEA loop
/// reads (the core ABI's `init`/`update` output).
fn next(model: &Envelope, cmds: &Envelope) -> Result<Envelope, Failure> {
    for e in [model, cmds] {
        if let Some(payload) = e.error_payload() {
            return Err(Failure::Call(CallError::Guest(Box::new(payload))));
        }
    }
    let model_value: serde_json::Value = model
        .as_json()
        .map_err(|e| guest(format!("the model envelope is not JSON: {e}")))?;
    let cmds: Vec<Cmd> = if cmds.content.is_empty() {
        Vec::new()
    } else {
        cmds.as_json().map_err(|e| {
            guest(format!(
                "the commands envelope is not a JSON list of commands: {e}"
            ))
        })?
    };
    Envelope::json(&Next {
        model: model_value,
        cmds,
    })
    .map_err(|e| Failure::Call(CallError::Engine(e.to_string())))
}

impl Data {
    fn host_name(&self) -> String {
        lock(&self.host).extension.clone()
    }
}
