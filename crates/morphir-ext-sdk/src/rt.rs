//! What the [`crate::export!`] macro calls: the pointer work of the ABI, in one place.

use std::alloc::Layout;

use morphir_envelope::tea::{Cmd, Next, Subscriptions, UpdateRequest};
use morphir_envelope::{Capability, Envelope, ErrorPayload, StepRequest, abi};

use crate::Program;

/// Every ABI buffer is allocated with this alignment, so `alloc` and `free` agree on layouts.
const ALIGN: usize = 8;

/// `morphir_alloc`: `len` bytes, or 0 when out of memory. A zero-length request gets a non-null
/// dangling pointer that is never dereferenced.
pub fn alloc(len: i32) -> i32 {
    let Ok(len) = usize::try_from(len) else {
        return 0;
    };
    if len == 0 {
        return ALIGN as i32;
    }
    match Layout::from_size_align(len, ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { std::alloc::alloc(layout) as usize as i32 },
        Err(_) => 0,
    }
}

/// `morphir_free`: releases what [`alloc`] returned for the same `len`.
pub fn free(ptr: i32, len: i32) {
    let Ok(len) = usize::try_from(len) else {
        return;
    };
    if len == 0 || ptr == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(len, ALIGN) {
        // SAFETY: the host frees only buffers it got from `alloc(len)` or that an operation
        // returned (also from `alloc`), with the same length.
        unsafe { std::alloc::dealloc(ptr as u32 as usize as *mut u8, layout) }
    }
}

/// The named capabilities [`crate::export!`] reports: the author's, or one per role the module
/// implements (so the document never claims nothing while the module does something).
pub fn named_capabilities(given: Vec<Capability>, operations: &[String]) -> Vec<Capability> {
    if !given.is_empty() {
        return given;
    }
    let mut named = Vec::new();
    for op in operations {
        let description = match op.as_str() {
            "frontend-compile" => "Compiles source files into Morphir IR.",
            "transform" => "Transforms Morphir IR into Morphir IR.",
            "backend-generate" => "Generates files from Morphir IR.",
            // The three TEA operations are one capability.
            "init" => "Runs as a program (init, update, subscriptions).",
            _ => continue,
        };
        let name = if op == "init" { "program" } else { op.as_str() };
        named.push(Capability::new(name, description));
    }
    named
}

/// Puts `envelope` in a fresh [`alloc`] buffer and returns its packed location.
fn hand_over(envelope: &Envelope) -> i64 {
    let len = envelope.encoded_len();
    let Ok(len32) = i32::try_from(len) else {
        return hand_over(&Envelope::error_message(format!(
            "output envelope of {len} bytes is too large"
        )));
    };
    let ptr = alloc(len32);
    if ptr == 0 && len > 0 {
        // The host reports a null output as an allocator failure.
        return abi::pack(0, len as u32);
    }
    // SAFETY: `ptr` is a fresh allocation of `len` bytes.
    let out = unsafe { std::slice::from_raw_parts_mut(ptr as u32 as usize as *mut u8, len) };
    envelope
        .encode_to_slice(out)
        .expect("buffer sized by encoded_len");
    abi::pack(ptr as u32, len as u32)
}

/// Decodes the input at `(ptr, len)`, runs `f`, and hands the output (or an error envelope) to
/// the host. The input buffer belongs to the host, which frees it.
pub fn run_raw(
    ptr: i32,
    len: i32,
    f: impl FnOnce(Envelope) -> Result<Envelope, ErrorPayload>,
) -> i64 {
    #[cfg(feature = "panic-message")]
    crate::log::install_panic_hook();
    // SAFETY: the host wrote `len` bytes at `ptr` (a buffer from `alloc`) and keeps them alive
    // for the duration of the call.
    let input = unsafe {
        std::slice::from_raw_parts(ptr as u32 as usize as *const u8, len as u32 as usize)
    };
    let output = match Envelope::decode(input) {
        Ok(envelope) => {
            let header = envelope.header.clone();
            match f(envelope) {
                Ok(mut out) => {
                    // Echo the call's session and sequence number; the guest's `kind` stays.
                    out.header.seqnum = header.seqnum;
                    out.header.session_id = header.session_id;
                    out
                }
                Err(payload) => Envelope::error(&payload),
            }
        }
        Err(e) => Envelope::error(
            &ErrorPayload::new(format!("the host sent an invalid envelope: {e}")).with_code("abi"),
        ),
    };
    hand_over(&output)
}

/// [`run_raw`] for a step operation: decodes the [`StepRequest`] first.
pub fn run_step(ptr: i32, len: i32, f: fn(StepRequest) -> Result<Envelope, ErrorPayload>) -> i64 {
    run_raw(ptr, len, |envelope| {
        let request = StepRequest::from_envelope(envelope).map_err(|e| {
            ErrorPayload::new(format!("invalid step request: {e}")).with_code("abi")
        })?;
        f(request)
    })
}

fn next<M: serde::Serialize>(model: &M, cmds: Vec<Cmd>) -> Result<Envelope, ErrorPayload> {
    let model = serde_json::to_value(model)
        .map_err(|e| ErrorPayload::new(format!("cannot encode the model as JSON: {e}")))?;
    Envelope::json(&Next { model, cmds }).map_err(|e| ErrorPayload::new(e.to_string()))
}

fn model_of<P: Program>(envelope: &Envelope) -> Result<P::Model, ErrorPayload> {
    envelope.as_json().map_err(|e| {
        ErrorPayload::new(format!(
            "the host sent a model this program cannot read: {e}"
        ))
        .with_code("invalid-model")
    })
}

/// TEA `init`.
pub fn run_init<P: Program>(ptr: i32, len: i32) -> i64 {
    run_raw(ptr, len, |flags| {
        let (model, cmds) = P::init(flags)?;
        next(&model, cmds)
    })
}

/// TEA `update`: decodes the [`UpdateRequest`] and the model.
pub fn run_update<P: Program>(ptr: i32, len: i32) -> i64 {
    run_raw(ptr, len, |envelope| {
        let request = UpdateRequest::from_envelope(envelope).map_err(|e| {
            ErrorPayload::new(format!("invalid update request: {e}")).with_code("abi")
        })?;
        let model = model_of::<P>(&request.model)?;
        let (model, cmds) = P::update(request.msg, model)?;
        next(&model, cmds)
    })
}

/// TEA `subscriptions`.
pub fn run_subscriptions<P: Program>(ptr: i32, len: i32) -> i64 {
    run_raw(ptr, len, |envelope| {
        let model = model_of::<P>(&envelope)?;
        Envelope::json(&Subscriptions {
            subs: P::subscriptions(&model),
        })
        .map_err(|e| ErrorPayload::new(e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_capabilities_follow_the_operations_unless_given() {
        let ops: Vec<String> = ["transform", "init", "update", "subscriptions"]
            .map(String::from)
            .to_vec();
        let names: Vec<String> = named_capabilities(Vec::new(), &ops)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["transform", "program"]);
        let own = vec![Capability::new("summarise", "Summarises.")];
        assert_eq!(named_capabilities(own.clone(), &ops), own);
    }
}
