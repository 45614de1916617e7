//! Names and numbers of the guest ABI, version 1 (specified in `docs/abi.md`).
//!
//! A core Wasm extension exports its linear memory, an allocator pair, the ABI version and one
//! function per operation it implements. Every operation has the signature
//! `(ptr: i32, len: i32) -> i64`: the input is an encoded [`crate::Envelope`] the host wrote at
//! `ptr` in guest memory (allocated with [`EXPORT_ALLOC`]); the result packs where the guest put
//! its encoded output envelope, `(out_ptr << 32) | out_len`. The host frees both buffers with
//! [`EXPORT_FREE`] once it has copied the output out.
//!
//! Host functions (the standard library) are imported from [`HOST_MODULE`] with the same
//! signature: an encoded request envelope in guest memory in, a packed pointer/length of a
//! response envelope (allocated by the host through [`EXPORT_ALLOC`]) out, `0` for none.

/// The ABI version this crate describes; a guest exports it from [`EXPORT_ABI_VERSION`].
pub const ABI_VERSION: u32 = 1;

/// The guest's linear memory.
pub const EXPORT_MEMORY: &str = "memory";
/// `() -> i32`: the ABI version the guest was built against.
pub const EXPORT_ABI_VERSION: &str = "morphir_abi_version";
/// `(len: i32) -> i32`: allocate `len` bytes (align 8) in guest memory; `0` when out of memory.
pub const EXPORT_ALLOC: &str = "morphir_alloc";
/// `(ptr: i32, len: i32)`: free what [`EXPORT_ALLOC`] returned.
pub const EXPORT_FREE: &str = "morphir_free";

/// The module name guests import host functions from. Never Extism's.
pub const HOST_MODULE: &str = "morphir:host";

/// An operation of the ABI: its seed name and its export name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `get-capabilities() -> Envelope`: a JSON capabilities document.
    GetCapabilities,
    /// `frontend-compile(input) -> Envelope`: source files to IR.
    FrontendCompile,
    /// `transform(input) -> Envelope`: IR to IR.
    Transform,
    /// `backend-generate(input) -> Envelope`: IR to a file bundle.
    BackendGenerate,
    /// TEA `init(flags)` (runtime extensions).
    Init,
    /// TEA `update(msg, model)` (runtime extensions).
    Update,
    /// TEA `subscriptions(model)` (runtime extensions).
    Subscriptions,
}

impl Operation {
    /// Every operation, design-time first.
    pub const ALL: [Operation; 7] = [
        Operation::GetCapabilities,
        Operation::FrontendCompile,
        Operation::Transform,
        Operation::BackendGenerate,
        Operation::Init,
        Operation::Update,
        Operation::Subscriptions,
    ];

    /// The name the seed and our docs use (`frontend-compile`).
    pub const fn name(self) -> &'static str {
        match self {
            Operation::GetCapabilities => "get-capabilities",
            Operation::FrontendCompile => "frontend-compile",
            Operation::Transform => "transform",
            Operation::BackendGenerate => "backend-generate",
            Operation::Init => "init",
            Operation::Update => "update",
            Operation::Subscriptions => "subscriptions",
        }
    }

    /// The guest export that implements it (`morphir_frontend_compile`).
    pub const fn export_name(self) -> &'static str {
        match self {
            Operation::GetCapabilities => "morphir_get_capabilities",
            Operation::FrontendCompile => "morphir_frontend_compile",
            Operation::Transform => "morphir_transform",
            Operation::BackendGenerate => "morphir_backend_generate",
            Operation::Init => "morphir_init",
            Operation::Update => "morphir_update",
            Operation::Subscriptions => "morphir_subscriptions",
        }
    }

    /// Parses a seed name (`transform`) or an export name (`morphir_transform`).
    pub fn parse(s: &str) -> Option<Operation> {
        Operation::ALL
            .into_iter()
            .find(|op| op.name() == s || op.export_name() == s)
    }

    /// True for the design-time operations frontend, transform and backend (the ones a build
    /// step runs).
    pub const fn is_step(self) -> bool {
        matches!(
            self,
            Operation::FrontendCompile | Operation::Transform | Operation::BackendGenerate
        )
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Packs an output location the way an operation returns it.
pub const fn pack(ptr: u32, len: u32) -> i64 {
    (((ptr as u64) << 32) | len as u64) as i64
}

/// Splits what an operation returned into `(ptr, len)`.
pub const fn unpack(packed: i64) -> (u32, u32) {
    let v = packed as u64;
    ((v >> 32) as u32, v as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips() {
        for (p, l) in [(0, 0), (8, 100), (u32::MAX, u32::MAX), (0x1000_0000, 7)] {
            assert_eq!(unpack(pack(p, l)), (p, l));
        }
    }

    #[test]
    fn operations_parse_by_either_name() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.name()), Some(op));
            assert_eq!(Operation::parse(op.export_name()), Some(op));
        }
        assert_eq!(Operation::parse("process"), None);
    }
}
