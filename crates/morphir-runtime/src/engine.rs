//! The Extism glue: the only code in the workspace that names Extism.
//!
//! A [`CoreModule`] is validated, adapted (see `adapter.rs`) and compiled once. Instances are made
//! from *lanes*: a lane is one compiled plugin with its own engine. Extism stops a call that
//! times out (or is cancelled) by advancing its engine's epoch, which interrupts every store of
//! that engine that is running at the moment, so two instances sharing an engine could stop each
//! other. An instance therefore holds a lane to itself while it lives and gives it back when
//! dropped; a new instance reuses an idle lane (instantiating from compiled code, no compile) and
//! only a second *concurrent* instance compiles another lane, which the per-user compile cache
//! turns into a load of the machine code already compiled.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use extism::{
    CompiledPlugin, CurrentPlugin, Function, Manifest, Plugin, PluginBuilder, UserData, Val,
    ValType, Wasm,
};
use morphir_envelope::abi::{self, Operation};
use morphir_envelope::{Capabilities, Envelope};

use crate::adapter::{self, GUEST_MODULE, INTERNAL_MODULE, MAIN_MODULE};
use crate::error::{CallError, Error, LoadError, Result};
use crate::stdlib::{self, HostState, LogRecord};
use crate::validate::{self, GuestInfo};
use crate::{HostContext, Limits};

/// Where compiled machine code is kept between processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompileCache {
    /// Never written: every process compiles every module.
    Disabled,
    /// A directory of this user's (never a shared build cache: machine code is trusted as-is
    /// when loaded, so a cache other users can write would let them run code as this one).
    Directory(PathBuf),
}

impl CompileCache {
    /// `$XDG_CACHE_HOME/morphir/wasmtime` (or the platform's equivalent), disabled when the
    /// platform has no per-user cache directory.
    pub fn per_user() -> Self {
        dirs::cache_dir().map_or(CompileCache::Disabled, |d| {
            CompileCache::Directory(d.join("morphir").join("wasmtime"))
        })
    }
}

/// How a [`Runtime`] is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Compiled-code cache.
    pub compile_cache: CompileCache,
    /// The largest module accepted, in bytes.
    pub max_module_size: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            compile_cache: CompileCache::per_user(),
            max_module_size: 64 << 20,
        }
    }
}

/// Loads extensions. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

#[derive(Debug)]
pub(crate) struct RuntimeInner {
    /// Path of the wasmtime cache configuration file, when the compile cache is on.
    pub(crate) cache_config: Option<PathBuf>,
    pub(crate) max_module_size: u64,
    /// The engine of Component Model extensions, made on first use (see `component.rs`).
    pub(crate) component_engine: Mutex<Option<wasmtime::Engine>>,
}

impl Runtime {
    /// A runtime with `config`. Creates the compile-cache directory if needed.
    pub fn new(config: &RuntimeConfig) -> Result<Self> {
        let cache_config = match &config.compile_cache {
            CompileCache::Disabled => None,
            CompileCache::Directory(dir) => Some(write_cache_config(dir)?),
        };
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                cache_config,
                max_module_size: config.max_module_size,
                component_engine: Mutex::new(None),
            }),
        })
    }

    /// Validates, compiles and checks a core module. Nothing of it runs before validation
    /// passed; then it is instantiated once to check its ABI version and read its capabilities.
    pub(crate) fn load_core(
        &self,
        name: &str,
        bytes: Vec<u8>,
        limits: Limits,
    ) -> Result<CoreModule> {
        let fail = |source| Error::load(name.to_owned(), source);
        let info = self.inspect(&bytes, limits, true).map_err(fail)?;
        let host_indices: Vec<i32> = info
            .host_imports
            .iter()
            .map(|n| stdlib::index(n).expect("validated"))
            .collect();
        let main = wat::parse_str(adapter::main_wat(
            info.operations.iter().copied(),
            &info.host_imports,
            &host_indices,
        ))
        .map_err(|e| fail(LoadError::Engine(format!("adapter: {e}"))))?;
        let bridge = if info.host_imports.is_empty() {
            None
        } else {
            Some(
                wat::parse_str(adapter::bridge_wat(&info.host_imports))
                    .map_err(|e| fail(LoadError::Engine(format!("bridge: {e}"))))?,
            )
        };
        let hash = blake3::hash(&bytes);
        let mut inner = ModuleInner {
            name: name.to_owned(),
            hash: *hash.as_bytes(),
            info,
            limits,
            guest: bytes,
            bridge,
            main,
            cache_config: self.inner.cache_config.clone(),
            capabilities: None,
            lanes: Mutex::new(Vec::new()),
        };
        let first = inner.new_lane().map_err(fail)?;
        inner
            .lanes
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .push(first);
        let mut module = CoreModule {
            inner: Arc::new(inner),
        };
        let capabilities = module.probe()?;
        Arc::get_mut(&mut module.inner)
            .expect("no instance outlives probe()")
            .capabilities = Some(capabilities);
        Ok(module)
    }
}

impl Runtime {
    /// The checks [`Runtime::load`] makes before compiling (size, validation, our ABI's shape,
    /// initial memory against `limits`), without compiling or running anything: for a caller
    /// that already knows the module's capabilities and must not pay for a compile it may never
    /// need, but wants a module that cannot load under this configuration refused up front.
    ///
    /// Function bodies are not validated: the caller knows these very bytes (by hash) loaded
    /// before, and they are most of the work (a fully cached build calls this for every
    /// extension). A body the engine would refuse is still refused when a step compiles it.
    pub fn check(&self, name: &str, bytes: &[u8], limits: Limits) -> Result<()> {
        self.inspect(bytes, limits, false)
            .map(drop)
            .map_err(|source| Error::load(name.to_owned(), source))
    }

    fn inspect(&self, bytes: &[u8], limits: Limits, bodies: bool) -> Result<GuestInfo, LoadError> {
        let info = validate::inspect(bytes, self.inner.max_module_size, bodies)?;
        if info.initial_memory > limits.max_memory {
            return Err(LoadError::InitialMemory {
                initial: info.initial_memory,
                limit: limits.max_memory,
            });
        }
        Ok(info)
    }
}

/// Writes the wasmtime cache configuration pointing at `dir` and returns its path.
fn write_cache_config(dir: &std::path::Path) -> Result<PathBuf> {
    let setup =
        |what: &str, e: std::io::Error| Error::Setup(format!("{what} {}: {e}", dir.display()));
    let code = dir.join("code");
    std::fs::create_dir_all(&code).map_err(|e| setup("cannot create compile cache", e))?;
    let code = std::path::absolute(&code).map_err(|e| setup("cannot resolve", e))?;
    let escaped = code
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    let path = dir.join("config.toml");
    let text = format!(
        "# Written by morphir: wasmtime's compiled-code cache, per user.\n[cache]\ndirectory = \"{escaped}\"\n"
    );
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        // temp + rename: two processes starting at once must not read a half-written file.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!("config.toml.{}.{seq}.tmp", std::process::id()));
        std::fs::write(&tmp, &text).map_err(|e| setup("cannot write config in", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| setup("cannot write config in", e))?;
    }
    Ok(path)
}

/// A validated, compiled extension. Cheap to clone; instances share its compiled code.
#[derive(Debug, Clone)]
pub(crate) struct CoreModule {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    name: String,
    hash: [u8; 32],
    info: GuestInfo,
    limits: Limits,
    guest: Vec<u8>,
    bridge: Option<Vec<u8>>,
    main: Vec<u8>,
    cache_config: Option<PathBuf>,
    capabilities: Option<Capabilities>,
    /// Idle lanes (see the module docs).
    lanes: Mutex<Vec<Lane>>,
}

impl std::fmt::Debug for ModuleInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreModule")
            .field("name", &self.name)
            .field(
                "hash",
                &blake3::Hash::from_bytes(self.hash).to_hex().as_str(),
            )
            .field("operations", &self.info.operations)
            .finish_non_exhaustive()
    }
}

/// One compiled plugin (one engine) and the host state its functions share.
struct Lane {
    compiled: CompiledPlugin,
    state: Arc<Mutex<HostState>>,
}

impl ModuleInner {
    fn new_lane(&self) -> Result<Lane, LoadError> {
        let user_data = UserData::new(HostState::new(self.name.clone()));
        let state = user_data
            .get()
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        let call = Function::new(
            "call",
            [ValType::I32, ValType::I64],
            [ValType::I64],
            user_data.clone(),
            host_call,
        )
        .with_namespace(INTERNAL_MODULE);
        let fault = Function::new(
            "fault",
            [ValType::I32, ValType::I32, ValType::I32],
            [],
            user_data,
            host_fault,
        )
        .with_namespace(INTERNAL_MODULE);

        // The manifest is always ours, built from validated bytes: Extism would otherwise read
        // non-Wasm input as a manifest of its own.
        let mut wasm = vec![Wasm::data(self.guest.clone()).with_name(GUEST_MODULE)];
        if let Some(bridge) = &self.bridge {
            wasm.push(Wasm::data(bridge.clone()).with_name(abi::HOST_MODULE));
        }
        wasm.push(Wasm::data(self.main.clone()).with_name(MAIN_MODULE));
        let manifest = Manifest::new(wasm)
            .with_memory_max(self.limits.memory_pages())
            .with_timeout(self.limits.max_execution_time);
        let builder = PluginBuilder::new(manifest)
            .with_wasi(false)
            .with_functions([call, fault]);
        let builder = match &self.cache_config {
            Some(path) => builder.with_cache_config(path),
            None => builder.with_cache_disabled(),
        };
        let compiled = builder
            .compile()
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        Ok(Lane { compiled, state })
    }
}

pub(crate) fn lock(state: &Mutex<HostState>) -> std::sync::MutexGuard<'_, HostState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `call(index, request_offset) -> response_offset`: a standard-library call from the bridge.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature Extism requires"
)]
fn host_call(
    plugin: &mut CurrentPlugin,
    inputs: &[Val],
    outputs: &mut [Val],
    user_data: UserData<HostState>,
) -> Result<(), extism::Error> {
    let index = inputs[0].unwrap_i32();
    let offset = inputs[1].unwrap_i64() as u64;
    let handle = plugin
        .memory_handle(offset)
        .ok_or_else(|| extism::Error::msg("host call: request block not found"))?;
    let request = Envelope::decode(plugin.memory_bytes(handle)?);
    plugin.memory_free(handle)?;
    let state = user_data.get()?;
    let response = match request {
        Ok(request) => stdlib::dispatch(&mut lock(&state), index, &request),
        Err(e) => Some(Envelope::error_message(format!(
            "host function `{}`: the request is not a valid envelope: {e}",
            stdlib::NAMES.get(index as usize).unwrap_or(&"?")
        ))),
    };
    outputs[0] = match response {
        Some(env) => Val::I64(plugin.memory_new(env.encode())?.offset() as i64),
        None => Val::I64(0),
    };
    Ok(())
}

/// `fault(code, a, b)`: the adapter caught the guest breaking the ABI. Records why and traps.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the signature Extism requires"
)]
fn host_fault(
    _plugin: &mut CurrentPlugin,
    inputs: &[Val],
    _outputs: &mut [Val],
    user_data: UserData<HostState>,
) -> Result<(), extism::Error> {
    let (code, a, b) = (
        inputs[0].unwrap_i32(),
        inputs[1].unwrap_i32() as u32,
        inputs[2].unwrap_i32() as u32,
    );
    let why = match code {
        adapter::fault::ALLOC_FAILED => {
            format!(
                "its allocator ({}) returned null for {a} bytes",
                abi::EXPORT_ALLOC
            )
        }
        adapter::fault::OUTPUT_OUT_OF_BOUNDS => {
            format!("it returned an output at {a:#x}, {b} bytes long, outside its memory")
        }
        adapter::fault::REQUEST_OUT_OF_BOUNDS => {
            format!(
                "it passed a host function a request at {a:#x}, {b} bytes long, outside its memory"
            )
        }
        adapter::fault::INPUT_TOO_LARGE => {
            format!(
                "input of {} bytes is over 4 GiB",
                (u64::from(a) << 32) | u64::from(b)
            )
        }
        _ => format!("unknown fault {code}"),
    };
    let state = user_data.get()?;
    lock(&state).fault = Some(why.clone());
    Err(extism::Error::msg(why))
}

impl CoreModule {
    /// The extension's name.
    pub(crate) fn name(&self) -> &str {
        &self.inner.name
    }

    /// blake3 of the module's bytes.
    pub(crate) fn hash(&self) -> [u8; 32] {
        self.inner.hash
    }

    /// The operations the module exports.
    pub(crate) fn operations(&self) -> impl Iterator<Item = Operation> + '_ {
        self.inner.info.operations.iter().copied()
    }

    /// True when the module exports `op`.
    pub(crate) fn implements(&self, op: Operation) -> bool {
        self.inner.info.operations.contains(&op)
    }

    /// Host functions the module imports.
    pub(crate) fn host_imports(&self) -> &[String] {
        &self.inner.info.host_imports
    }

    /// Its limits.
    pub(crate) fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// What it said about itself when loaded.
    pub(crate) fn capabilities(&self) -> &Capabilities {
        self.inner
            .capabilities
            .as_ref()
            .expect("set by Runtime::load")
    }

    /// A new instance. Reuses an idle compiled lane when there is one (no compilation).
    pub(crate) fn instantiate(&self) -> Result<CoreInstance> {
        let idle = self
            .inner
            .lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let lane = match idle {
            Some(lane) => lane,
            None => self
                .inner
                .new_lane()
                .map_err(|source| Error::load(self.inner.name.clone(), source))?,
        };
        // A lane returned by an earlier instance keeps that instance's grants: start from none.
        lock(&lane.state).set_context(HostContext::default());
        let mut instance = CoreInstance {
            module: self.clone(),
            lane: Some(lane),
            plugin: None,
            input: Vec::new(),
            discarded: 0,
        };
        instance.ensure_plugin()?;
        Ok(instance)
    }

    /// Checks the ABI version and reads the capabilities, on a first instance.
    fn probe(&self) -> Result<Capabilities> {
        let fail = |source| Error::load(self.inner.name.clone(), source);
        let mut instance = self.instantiate()?;
        let version = instance.abi_version()?;
        if version != abi::ABI_VERSION {
            return Err(fail(LoadError::AbiVersion {
                found: version,
                expected: abi::ABI_VERSION,
            }));
        }
        let out = instance
            .call(Operation::GetCapabilities, &Envelope::empty())
            .map_err(|e| fail(LoadError::Capabilities(e.to_string())))?;
        let caps: Capabilities = out
            .envelope
            .as_json()
            .map_err(|e| fail(LoadError::Capabilities(e.to_string())))?;
        for declared in &caps.operations {
            match Operation::parse(declared) {
                Some(op) if self.implements(op) => {}
                Some(op) => {
                    return Err(fail(LoadError::Capabilities(format!(
                        "declares `{op}` but does not export `{}`",
                        op.export_name()
                    ))));
                }
                None => {
                    return Err(fail(LoadError::Capabilities(format!(
                        "declares unknown operation `{declared}`"
                    ))));
                }
            }
        }
        for op in self.operations() {
            if op != Operation::GetCapabilities && !caps.implements(op.name()) {
                return Err(fail(LoadError::Capabilities(format!(
                    "exports `{}` but does not declare `{op}`",
                    op.export_name()
                ))));
            }
        }
        Ok(caps)
    }
}

/// The output cap for `get-capabilities` when the configured one is smaller.
pub(crate) const CAPABILITIES_MAX: u64 = 1 << 20;

/// What a successful call returns.
#[derive(Debug, Clone)]
pub struct CallOutput {
    /// The output envelope (never an error envelope: those become [`CallError::Guest`]).
    pub envelope: Envelope,
    /// What the extension logged during the call.
    pub logs: Vec<LogRecord>,
}

/// A live extension instance. Calls are serial (`&mut self`); run instances on separate threads
/// for parallelism.
///
/// After a trap, a timeout, an out-of-memory error or an ABI breach the instance's guest state is
/// discarded (Extism would carry it on); the next call runs on a fresh one.
pub(crate) struct CoreInstance {
    module: CoreModule,
    lane: Option<Lane>,
    plugin: Option<Plugin>,
    /// Reused encode buffer.
    input: Vec<u8>,
    discarded: u32,
}

impl std::fmt::Debug for CoreInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreInstance")
            .field("module", &self.module.inner.name)
            .field("live", &self.plugin.is_some())
            .field("discarded", &self.discarded)
            .finish_non_exhaustive()
    }
}

impl CoreInstance {
    /// How many times a failed guest was thrown away and replaced.
    pub(crate) fn discarded(&self) -> u32 {
        self.discarded
    }

    fn lane(&self) -> &Lane {
        self.lane.as_ref().expect("a live instance holds its lane")
    }

    fn ensure_plugin(&mut self) -> Result<&mut Plugin> {
        if self.plugin.is_none() {
            let plugin = Plugin::new_from_compiled(&self.lane().compiled).map_err(|e| {
                Error::load(
                    self.module.inner.name.clone(),
                    LoadError::Engine(format!("{e:#}")),
                )
            })?;
            self.plugin = Some(plugin);
        }
        Ok(self.plugin.as_mut().expect("just set"))
    }

    fn abi_version(&mut self) -> Result<u32> {
        let name = self.module.inner.name.clone();
        let plugin = self.ensure_plugin()?;
        let out: Vec<u8> = plugin
            .call::<&[u8], &[u8]>(adapter::ABI_VERSION_EXPORT, &[])
            .map(<[u8]>::to_vec)
            .map_err(|e| {
                Error::load(
                    name,
                    LoadError::Engine(format!("calling {}: {e:#}", abi::EXPORT_ABI_VERSION)),
                )
            })?;
        let bytes: [u8; 8] = out.as_slice().try_into().unwrap_or_default();
        Ok(u64::from_le_bytes(bytes) as u32)
    }

    /// Installs what the standard library may do for the calls that follow (until the next
    /// `set_context`); a new instance allows nothing. The random stream restarts from the
    /// context's seed. The context survives a discarded guest: it is the host's, not the
    /// guest's.
    pub(crate) fn set_context(&mut self, context: HostContext) {
        lock(&self.lane().state).set_context(context);
    }

    /// The context as the guest left it (`set_env_var` changes its environment view).
    pub(crate) fn context(&self) -> HostContext {
        lock(&self.lane().state).context.clone()
    }

    /// Calls `op` with `input`, under the installed [`HostContext`].
    pub(crate) fn call(&mut self, op: Operation, input: &Envelope) -> Result<CallOutput> {
        let fail = |module: &CoreModule, source| Error::call(module.inner.name.clone(), op, source);
        if !self.module.implements(op) {
            return Err(fail(&self.module, CallError::NotImplemented));
        }
        self.input.clear();
        if input.encode_into(&mut self.input).is_err() {
            return Err(fail(
                &self.module,
                CallError::InputTooLarge(input.encoded_len() as u64),
            ));
        }
        let state = Arc::clone(&self.lane().state);
        let limits = self.module.inner.limits;
        {
            let mut state = lock(&state);
            state.reset();
            state.deadline = Some(std::time::Instant::now() + limits.max_execution_time);
        }
        // The output cap is for step results; a capabilities document is small but must not be
        // refused by a tight cap meant for them.
        let max_output = if op == Operation::GetCapabilities {
            limits.max_output.max(CAPABILITIES_MAX)
        } else {
            limits.max_output
        };
        let input = std::mem::take(&mut self.input);
        let result = self.ensure_plugin().map(|plugin| {
            match plugin.call::<&[u8], &[u8]>(op.export_name(), &input) {
                Ok(bytes) if bytes.len() as u64 > max_output => Err(CallError::OutputTooLarge {
                    size: bytes.len() as u64,
                    max: max_output,
                }),
                Ok(bytes) => Envelope::decode(bytes).map_err(CallError::InvalidOutput),
                Err(e) => Err(classify(&e, &limits, &lock(&state))),
            }
        });
        self.input = input;
        let result = result?;
        let logs = std::mem::take(&mut lock(&state).logs);
        match result {
            Ok(envelope) => match envelope.error_payload() {
                Some(payload) => Err(fail(&self.module, CallError::Guest(Box::new(payload)))),
                None => Ok(CallOutput { envelope, logs }),
            },
            Err(source) => {
                if source.is_fatal() {
                    // Guest state after a trap cannot be trusted: drop the store, keep the
                    // compiled lane.
                    self.plugin = None;
                    self.discarded += 1;
                }
                Err(fail(&self.module, source))
            }
        }
    }
}

/// Maps an Extism call error to ours.
fn classify(e: &extism::Error, limits: &Limits, state: &HostState) -> CallError {
    if let Some(fault) = &state.fault {
        return CallError::Abi(fault.clone());
    }
    // Extism reports these two with bare messages (see `Plugin::raw_call`).
    match e.to_string().as_str() {
        "timeout" => {
            return CallError::Timeout {
                limit: limits.max_execution_time,
            };
        }
        "oom" => {
            return CallError::OutOfMemory {
                limit: limits.max_memory,
            };
        }
        _ => {}
    }
    let chain = format!("{e:#}");
    if chain.contains("oom") && chain.contains("memory") {
        return CallError::OutOfMemory {
            limit: limits.max_memory,
        };
    }
    let trap = chain
        .lines()
        .find(|l| l.contains("wasm trap") || l.contains("trap"))
        .unwrap_or_else(|| chain.lines().next().unwrap_or(""))
        .trim()
        .to_owned();
    match &state.panic {
        Some(panic) => CallError::Trap(format!("panicked: {panic}")),
        None => CallError::Trap(trap),
    }
}

impl Drop for CoreInstance {
    fn drop(&mut self) {
        // The store goes first; the lane (compiled code, its engine) waits for the next instance.
        self.plugin = None;
        if let Some(lane) = self.lane.take() {
            self.module
                .inner
                .lanes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(lane);
        }
    }
}
