//! Logging to the host: messages reach the host's log under the extension's name, and are
//! replayed when a cached step is restored.

use morphir_envelope::{Envelope, content_type};

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "morphir:host")]
    unsafe extern "C" {
        pub(super) fn log(ptr: i32, len: i32) -> i64;
    }
}

fn send(kind: &str, message: &str) {
    let request = Envelope::new(content_type::TEXT, message.as_bytes()).with_kind(kind);
    #[cfg(target_arch = "wasm32")]
    {
        let bytes = request.encode();
        // SAFETY: the host reads `bytes` during the call and returns no response for `log`.
        unsafe {
            host::log(bytes.as_ptr() as usize as i32, bytes.len() as i32);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        // Off-Wasm (unit tests of an extension on the build machine) there is no host.
        let _ = request;
    }
}

/// Logs at `trace`.
pub fn trace(message: &str) {
    send("trace", message);
}
/// Logs at `debug`.
pub fn debug(message: &str) {
    send("debug", message);
}
/// Logs at `info`.
pub fn info(message: &str) {
    send("info", message);
}
/// Logs at `warn`.
pub fn warn(message: &str) {
    send("warn", message);
}
/// Logs at `error`.
pub fn error(message: &str) {
    send("error", message);
}

/// Sends a panic's message to the host before the guest traps.
#[cfg(feature = "panic-message")]
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| send("panic", &info.to_string())));
    });
}
