//! Checks a guest before the engine sees it: magic bytes, size, a full validation with
//! wasmparser, and the shape of our ABI (exports, their types, where imports come from).
//!
//! Extism reads bytes that are not Wasm as a *manifest*, which can grant itself file and network
//! access; so nothing reaches Extism that has not passed [`inspect`], and the manifest is always
//! built by us from validated bytes.

use std::collections::BTreeSet;

use morphir_envelope::abi::{self, Operation};
use wasmparser::types::EntityType;
use wasmparser::{ValType, Validator};

use crate::error::LoadError;

/// `\0asm`.
pub(crate) const WASM_MAGIC: [u8; 4] = *b"\0asm";
/// Core module binary version 1.
const MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// What the runtime needs to know about a validated guest.
#[derive(Debug, Clone)]
pub(crate) struct GuestInfo {
    /// Operations the guest exports.
    pub(crate) operations: BTreeSet<Operation>,
    /// Host functions it imports from [`abi::HOST_MODULE`], in import order.
    pub(crate) host_imports: Vec<String>,
    /// Its memory's initial size in bytes.
    pub(crate) initial_memory: u64,
}

/// Describes what the bytes look like, for an error message.
fn describe(bytes: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return "it looks like JSON";
    }
    let head = &bytes[..bytes.len().min(256)];
    match std::str::from_utf8(head).map(str::trim_start) {
        Ok("") => "it is empty",
        Ok(t) if t.starts_with("(module") || t.starts_with("(component") => {
            "it looks like WebAssembly text (WAT); compile it to a binary .wasm first"
        }
        Ok(t) if t.starts_with('[') || t.contains(" = ") || t.starts_with('#') => {
            "it looks like TOML or another text file"
        }
        Ok(_) => "it is text",
        Err(_) => "its first bytes are not the Wasm magic `\\0asm`",
    }
}

fn func_sig(
    types: &wasmparser::types::Types,
    ty: EntityType,
) -> Option<(Vec<ValType>, Vec<ValType>)> {
    match ty {
        EntityType::Func(id) | EntityType::FuncExact(id) => {
            let f = types[id].unwrap_func();
            Some((f.params().to_vec(), f.results().to_vec()))
        }
        _ => None,
    }
}

fn sig_text(sig: &(Vec<ValType>, Vec<ValType>)) -> String {
    let list = |v: &[ValType]| {
        v.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!("(param {}) (result {})", list(&sig.0), list(&sig.1))
}

/// One pass of wasmparser's validator over `bytes` (`Validator::validate_all`, with the
/// function bodies optional), refusing a start section.
fn validate(bytes: &[u8], bodies: bool) -> Result<wasmparser::types::Types, LoadError> {
    let invalid = |e: wasmparser::BinaryReaderError| LoadError::Invalid(e.to_string());
    let mut validator = Validator::new();
    let mut allocations = wasmparser::FuncValidatorAllocations::default();
    let mut types = None;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(invalid)?;
        // A start function runs while the engine instantiates the module, before any call (and
        // so before the call's time limit is armed): a looping one would hang the host. The ABI
        // has no use for it (Rust guests never have one), so it is refused.
        if let wasmparser::Payload::StartSection { .. } = payload {
            return Err(LoadError::BadExport {
                name: "(start)".to_owned(),
                reason:
                    "a module may not have a start function; do initialisation in the operations"
                        .to_owned(),
            });
        }
        match validator.payload(&payload).map_err(invalid)? {
            wasmparser::ValidPayload::Func(func, body) if bodies => {
                let mut func = func.into_validator(allocations);
                func.validate(&body).map_err(invalid)?;
                allocations = func.into_allocations();
            }
            wasmparser::ValidPayload::End(end) => types = Some(end),
            _ => {}
        }
    }
    types.ok_or_else(|| LoadError::Invalid("the module ends early".to_owned()))
}

#[expect(
    clippy::too_many_lines,
    reason = "one pass over the module's imports and exports"
)]
/// Validates `bytes` as a Morphir core-Wasm extension of ABI version 1. With `bodies` false,
/// everything but the function bodies: the module's structure, types, imports and exports, in
/// a fraction of the time (the bodies are most of a module; the engine validates them anyway
/// when it compiles). For modules already loaded once, by their hash.
pub(crate) fn inspect(bytes: &[u8], max_size: u64, bodies: bool) -> Result<GuestInfo, LoadError> {
    if bytes.len() as u64 > max_size {
        return Err(LoadError::TooLarge {
            size: bytes.len() as u64,
            max: max_size,
        });
    }
    if bytes.len() < 8 || bytes[..4] != WASM_MAGIC {
        return Err(LoadError::NotWasm {
            what: describe(bytes),
        });
    }
    if bytes[4..8] != MODULE_VERSION {
        return Err(LoadError::NotCoreModule {
            version: u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")),
        });
    }
    let types = validate(bytes, bodies)?;
    let types_ref = types.as_ref();

    let mut host_imports = Vec::new();
    for (module, name, ty) in types_ref.core_imports().into_iter().flatten() {
        if module != abi::HOST_MODULE {
            return Err(LoadError::ForeignImport {
                module: module.to_owned(),
                name: name.to_owned(),
            });
        }
        let sig = func_sig(&types, ty).ok_or_else(|| LoadError::BadImport {
            name: name.to_owned(),
            reason: "only functions can be imported from the host".to_owned(),
        })?;
        if sig != (vec![ValType::I32, ValType::I32], vec![ValType::I64]) {
            return Err(LoadError::BadImport {
                name: name.to_owned(),
                reason: format!(
                    "host functions have type (param i32 i32) (result i64), found {}",
                    sig_text(&sig)
                ),
            });
        }
        if !crate::stdlib::is_known(name) {
            return Err(LoadError::BadImport {
                name: name.to_owned(),
                reason: format!(
                    "no such host function; this runtime provides: {}",
                    crate::stdlib::NAMES.join(", ")
                ),
            });
        }
        host_imports.push(name.to_owned());
    }

    let exports: Vec<(&str, EntityType)> = types_ref.core_exports().into_iter().flatten().collect();
    let find = |name: &str| exports.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
    let require_func = |name: &'static str, params: &[ValType], results: &[ValType]| {
        let ty = find(name).ok_or(LoadError::MissingExport { name })?;
        let sig = func_sig(&types, ty).ok_or(LoadError::BadExport {
            name: name.to_owned(),
            reason: "it must be a function".to_owned(),
        })?;
        if sig.0 != params || sig.1 != results {
            return Err(LoadError::BadExport {
                name: name.to_owned(),
                reason: format!(
                    "expected {}, found {}",
                    sig_text(&(params.to_vec(), results.to_vec())),
                    sig_text(&sig)
                ),
            });
        }
        Ok(())
    };

    let initial_memory = match find(abi::EXPORT_MEMORY) {
        Some(EntityType::Memory(m)) => {
            if m.memory64 || m.shared {
                return Err(LoadError::BadExport {
                    name: abi::EXPORT_MEMORY.to_owned(),
                    reason: "the memory must be a plain 32-bit, unshared memory".to_owned(),
                });
            }
            m.initial.saturating_mul(65_536)
        }
        Some(_) => {
            return Err(LoadError::BadExport {
                name: abi::EXPORT_MEMORY.to_owned(),
                reason: "it must be a memory".to_owned(),
            });
        }
        None => {
            return Err(LoadError::MissingExport {
                name: abi::EXPORT_MEMORY,
            });
        }
    };
    require_func(abi::EXPORT_ABI_VERSION, &[], &[ValType::I32])?;
    require_func(abi::EXPORT_ALLOC, &[ValType::I32], &[ValType::I32])?;
    require_func(abi::EXPORT_FREE, &[ValType::I32, ValType::I32], &[])?;

    let mut operations = BTreeSet::new();
    for op in Operation::ALL {
        if find(op.export_name()).is_some() {
            require_func(
                op.export_name(),
                &[ValType::I32, ValType::I32],
                &[ValType::I64],
            )?;
            operations.insert(op);
        }
    }
    if !operations.contains(&Operation::GetCapabilities) {
        return Err(LoadError::MissingExport {
            name: Operation::GetCapabilities.export_name(),
        });
    }
    if operations.len() == 1 {
        return Err(LoadError::NoOperations);
    }
    // A runtime (TEA) extension exports both `init` and `update`; `subscriptions` is optional.
    match (
        operations.contains(&Operation::Init),
        operations.contains(&Operation::Update),
    ) {
        (true, false) => {
            return Err(LoadError::MissingExport {
                name: Operation::Update.export_name(),
            });
        }
        (false, true) => {
            return Err(LoadError::MissingExport {
                name: Operation::Init.export_name(),
            });
        }
        _ => {}
    }
    if operations.contains(&Operation::Subscriptions) && !operations.contains(&Operation::Init) {
        return Err(LoadError::MissingExport {
            name: Operation::Init.export_name(),
        });
    }
    Ok(GuestInfo {
        operations,
        host_imports,
        initial_memory,
    })
}
