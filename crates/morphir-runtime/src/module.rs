//! The runtime's public face: [`Module`] and [`Instance`] over either protocol.
//!
//! A core module (`engine.rs`, through Extism) and a Component Model component
//! (`component.rs`, wasmtime's component API) answer the same calls with the same envelopes,
//! limits and errors, so the build executor and everything above it see a protocol only as a
//! value in the configuration, passed to [`Runtime::load_as`].

use std::path::Path;

use morphir_envelope::abi::Operation;
use morphir_envelope::{Capabilities, Envelope};

use crate::component::{self, ComponentInstance, ComponentModule};
use crate::engine::{CallOutput, CoreInstance, CoreModule, Runtime};
use crate::error::{Error, LoadError, Result};
use crate::{HostContext, Limits};

/// How an extension is built, and so how the runtime loads and calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// A core WebAssembly module exporting the Morphir ABI (`docs/abi.md`).
    Core,
    /// A WebAssembly component of one of the Morphir WIT worlds (`wit/`, `docs/abi.md`,
    /// "Component Model extensions").
    Component,
}

impl Protocol {
    /// The name `morphir.toml` uses: `core` or `component`.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Core => "core",
            Protocol::Component => "component",
        }
    }

    /// What the bytes are, from their first 8 bytes (magic, then version and layer); `None` for
    /// anything that is not a Wasm binary of a known version.
    pub fn detect(bytes: &[u8]) -> Option<Protocol> {
        if bytes.len() < 8 || bytes[..4] != crate::validate::WASM_MAGIC {
            return None;
        }
        match bytes[4..8] {
            [1, 0, 0, 0] => Some(Protocol::Core),
            // Version 0x0d, layer 1: the Component Model binary format.
            [0x0d, 0, 1, 0] => Some(Protocol::Component),
            _ => None,
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Checks that `bytes` are of the configured `protocol`, without compiling anything: the build
/// calls this before it trusts capabilities it remembered for the module's hash. Bytes that are
/// not Wasm at all pass here and are refused with a full description by the load.
pub fn check_protocol(name: &str, bytes: &[u8], protocol: Protocol) -> Result<()> {
    match Protocol::detect(bytes) {
        Some(found) if found != protocol => Err(Error::load(
            name,
            LoadError::ProtocolMismatch {
                configured: protocol,
                found,
            },
        )),
        _ => Ok(()),
    }
}

impl Runtime {
    /// Reads, validates, compiles and checks the core module at `path`.
    pub fn load_file(&self, name: &str, path: &Path, limits: Limits) -> Result<Module> {
        self.load_file_as(Protocol::Core, name, path, limits)
    }

    /// Reads, validates, compiles and checks the extension at `path`, which must be of
    /// `protocol`.
    pub fn load_file_as(
        &self,
        protocol: Protocol,
        name: &str,
        path: &Path,
        limits: Limits,
    ) -> Result<Module> {
        let bytes = std::fs::read(path).map_err(|source| {
            Error::load(
                name,
                LoadError::Io {
                    path: path.to_owned(),
                    source,
                },
            )
        })?;
        self.load_as(protocol, name, bytes, limits)
    }

    /// Validates, compiles and checks a core module. Nothing of it runs before validation
    /// passed; then it is instantiated once to check its ABI version and read its capabilities.
    pub fn load(&self, name: &str, bytes: Vec<u8>, limits: Limits) -> Result<Module> {
        self.load_as(Protocol::Core, name, bytes, limits)
    }

    /// Validates, compiles and checks an extension of `protocol`. A module of the other protocol
    /// is refused with [`LoadError::ProtocolMismatch`], a component of no Morphir world with
    /// [`LoadError::WrongWorld`], before anything of it runs.
    pub fn load_as(
        &self,
        protocol: Protocol,
        name: &str,
        bytes: Vec<u8>,
        limits: Limits,
    ) -> Result<Module> {
        if bytes.len() as u64 <= self.inner.max_module_size {
            check_protocol(name, &bytes, protocol)?;
        }
        match protocol {
            Protocol::Core => Ok(Module(Kind::Core(self.load_core(name, bytes, limits)?))),
            Protocol::Component => Ok(Module(Kind::Component(std::sync::Arc::new(
                component::load(self, name, &bytes, limits)?,
            )))),
        }
    }
}

/// A validated, compiled extension. Cheap to clone; instances share its compiled code.
#[derive(Debug, Clone)]
pub struct Module(Kind);

#[derive(Debug, Clone)]
enum Kind {
    Core(CoreModule),
    Component(std::sync::Arc<ComponentModule>),
}

macro_rules! either {
    ($self:expr, $m:ident => $e:expr) => {
        match &$self.0 {
            Kind::Core($m) => $e,
            Kind::Component($m) => $e,
        }
    };
}

impl Module {
    /// The extension's name.
    pub fn name(&self) -> &str {
        either!(self, m => m.name())
    }

    /// How it is built.
    pub fn protocol(&self) -> Protocol {
        match self.0 {
            Kind::Core(_) => Protocol::Core,
            Kind::Component(_) => Protocol::Component,
        }
    }

    /// For a component, the WIT world it was recognised as (`morphir:extension/morphir-extension`,
    /// `morphir:ext/backend@0.1.0`, ...); `None` for a core module.
    pub fn world(&self) -> Option<&str> {
        match &self.0 {
            Kind::Core(_) => None,
            Kind::Component(m) => Some(m.world()),
        }
    }

    /// blake3 of the module's bytes.
    pub fn hash(&self) -> [u8; 32] {
        either!(self, m => m.hash())
    }

    /// The hash as `blake3:<hex>`, the form `morphir.toml` pins.
    pub fn hash_string(&self) -> String {
        format!("blake3:{}", blake3::Hash::from_bytes(self.hash()).to_hex())
    }

    /// The operations the module exports.
    pub fn operations(&self) -> impl Iterator<Item = Operation> + use<> {
        let ops: Vec<Operation> = either!(self, m => m.operations().collect());
        ops.into_iter()
    }

    /// True when the module exports `op`.
    pub fn implements(&self, op: Operation) -> bool {
        either!(self, m => m.implements(op))
    }

    /// Host functions the module imports (a core module), or the host interfaces it imports (a
    /// component: `morphir:ext/runtime@0.1.0`).
    pub fn host_imports(&self) -> &[String] {
        either!(self, m => m.host_imports())
    }

    /// Its limits.
    pub fn limits(&self) -> Limits {
        either!(self, m => m.limits())
    }

    /// What it said about itself when loaded.
    pub fn capabilities(&self) -> &Capabilities {
        either!(self, m => m.capabilities())
    }

    /// A new instance. Reuses compiled code (no compilation).
    pub fn instantiate(&self) -> Result<Instance> {
        let kind = match &self.0 {
            Kind::Core(m) => InstanceKind::Core(Box::new(m.instantiate()?)),
            Kind::Component(m) => InstanceKind::Component(ComponentInstance::new(m)?),
        };
        Ok(Instance {
            module: self.clone(),
            kind,
        })
    }
}

/// A live extension instance. Calls are serial (`&mut self`); run instances on separate threads
/// for parallelism.
///
/// After a trap, a timeout, an out-of-memory error or an ABI breach the instance's guest state is
/// discarded; the next call runs on a fresh one. Its [`HostContext`] survives that: it is the
/// host's, not the guest's.
#[derive(Debug)]
pub struct Instance {
    module: Module,
    kind: InstanceKind,
}

#[derive(Debug)]
enum InstanceKind {
    // Boxed: a core instance carries its lane and plugin inline.
    Core(Box<CoreInstance>),
    Component(ComponentInstance),
}

macro_rules! either_mut {
    ($self:expr, $i:ident => $e:expr) => {
        match &mut $self.kind {
            InstanceKind::Core($i) => $e,
            InstanceKind::Component($i) => $e,
        }
    };
}

impl Instance {
    /// The module this is an instance of.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// How many times a failed guest was thrown away and replaced.
    pub fn discarded(&self) -> u32 {
        match &self.kind {
            InstanceKind::Core(i) => i.discarded(),
            InstanceKind::Component(i) => i.discarded(),
        }
    }

    /// Installs what the standard library may do for the calls that follow (until the next
    /// `set_context`); a new instance allows nothing. The random stream restarts from the
    /// context's seed.
    pub fn set_context(&mut self, context: HostContext) {
        either_mut!(self, i => i.set_context(context));
    }

    /// The context as the guest left it (`set_env_var` changes its environment view).
    pub fn context(&self) -> HostContext {
        match &self.kind {
            InstanceKind::Core(i) => i.context(),
            InstanceKind::Component(i) => i.context(),
        }
    }

    /// [`Instance::set_context`], then [`Instance::call`]: one design-time call with its own
    /// grants.
    pub fn call_with(
        &mut self,
        op: Operation,
        input: &Envelope,
        context: &HostContext,
    ) -> Result<CallOutput> {
        self.set_context(context.clone());
        self.call(op, input)
    }

    /// Calls `op` with `input`, under the installed [`HostContext`].
    pub fn call(&mut self, op: Operation, input: &Envelope) -> Result<CallOutput> {
        either_mut!(self, i => i.call(op, input))
    }
}
