//! Calling the standard library: one import per host function, from `morphir:host` only.
//!
//! Each wrapper module ([`crate::env`], [`crate::http`], ...) calls its own import, so a guest
//! imports exactly the host functions it uses. Off Wasm (native unit tests of an extension)
//! there is no host: calls go to a stand-in installed with [`set_test_host`], or fail with the
//! code `unavailable`.

use morphir_envelope::stdlib::code;
use morphir_envelope::{Envelope, ErrorPayload};

#[cfg(target_arch = "wasm32")]
pub(crate) mod imports {
    #[link(wasm_import_module = "morphir:host")]
    unsafe extern "C" {
        pub(crate) fn get_env_var(ptr: i32, len: i32) -> i64;
        pub(crate) fn set_env_var(ptr: i32, len: i32) -> i64;
        pub(crate) fn random(ptr: i32, len: i32) -> i64;
        pub(crate) fn http(ptr: i32, len: i32) -> i64;
        pub(crate) fn workspace(ptr: i32, len: i32) -> i64;
        pub(crate) fn ir_helpers(ptr: i32, len: i32) -> i64;
    }
}

/// Calls host function `$name` (an import of [`imports`]) with a request envelope; evaluates to
/// `Result<Option<Envelope>, ErrorPayload>` (an error envelope becomes `Err`).
macro_rules! host_call {
    ($name:ident, $request:expr) => {{
        #[cfg(target_arch = "wasm32")]
        {
            $crate::host::call_import(
                // SAFETY: the import follows the ABI's host-function convention.
                |ptr, len| unsafe { $crate::host::imports::$name(ptr, len) },
                $request,
            )
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            $crate::host::call_test_host(stringify!($name), $request)
        }
    }};
}
pub(crate) use host_call;

/// Sends `request` through `import` and takes ownership of the response.
#[cfg(target_arch = "wasm32")]
pub(crate) fn call_import(
    import: impl FnOnce(i32, i32) -> i64,
    request: &Envelope,
) -> Result<Option<Envelope>, ErrorPayload> {
    let bytes = request.encode();
    let packed = import(bytes.as_ptr() as usize as i32, bytes.len() as i32);
    drop(bytes);
    if packed == 0 {
        return Ok(None);
    }
    let (ptr, len) = morphir_envelope::abi::unpack(packed);
    // SAFETY: the host wrote `len` bytes at `ptr`, in a buffer it got from our `morphir_alloc`,
    // and hands it over to us.
    let response = unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
    let decoded = Envelope::decode(response);
    crate::rt::free(ptr as i32, len as i32);
    match decoded {
        Ok(env) => match env.error_payload() {
            Some(payload) => Err(payload),
            None => Ok(Some(env)),
        },
        Err(e) => Err(
            ErrorPayload::new(format!("the host sent an invalid response: {e}")).with_code("abi"),
        ),
    }
}

/// A stand-in for the host in native tests: gets the host function's name and the request.
pub type TestHost = Box<dyn Fn(&str, &Envelope) -> Option<Envelope>>;

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static TEST_HOST: std::cell::RefCell<Option<TestHost>> = const { std::cell::RefCell::new(None) };
}

/// Installs (or, with `None`, removes) a stand-in for the host functions on this thread, for
/// native unit tests of an extension. Does nothing in a Wasm build.
pub fn set_test_host(host: Option<TestHost>) {
    #[cfg(not(target_arch = "wasm32"))]
    TEST_HOST.with(|h| *h.borrow_mut() = host);
    #[cfg(target_arch = "wasm32")]
    drop(host);
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn call_test_host(
    name: &str,
    request: &Envelope,
) -> Result<Option<Envelope>, ErrorPayload> {
    let response = TEST_HOST.with(|h| {
        h.borrow()
            .as_ref()
            .map(|host| host(name, request))
            .ok_or_else(|| {
                ErrorPayload::new(format!(
                    "host function `{name}` is only available inside the Morphir runtime \
                 (install a stand-in with morphir_ext_sdk::host::set_test_host)"
                ))
                .with_code(code::UNAVAILABLE)
            })
    })?;
    match response {
        Some(env) => match env.error_payload() {
            Some(payload) => Err(payload),
            None => Ok(Some(env)),
        },
        None => Ok(None),
    }
}

/// The response of a host function that must answer.
pub(crate) fn expect(
    function: &str,
    response: Result<Option<Envelope>, ErrorPayload>,
) -> Result<Envelope, ErrorPayload> {
    response?.ok_or_else(|| {
        ErrorPayload::new(format!("host function `{function}` returned nothing"))
            .with_code(code::FAILED)
    })
}

/// JSON content of a response.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    function: &str,
    envelope: &Envelope,
) -> Result<T, ErrorPayload> {
    envelope.as_json().map_err(|e| {
        ErrorPayload::new(format!(
            "host function `{function}`: unexpected response: {e}"
        ))
        .with_code("abi")
    })
}
