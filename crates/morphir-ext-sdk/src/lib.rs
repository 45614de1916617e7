//! Write Morphir extensions in plain Rust.
//!
//! An extension is a `cdylib` built for `wasm32-unknown-unknown`. Implement one or more of
//! [`Frontend`], [`Transform`] and [`Backend`] on a type, then call [`export!`] once:
//!
//! ```ignore
//! use morphir_ext_sdk::{export, Envelope, ErrorPayload, StepRequest, Transform};
//!
//! struct Upper;
//!
//! impl Transform for Upper {
//!     fn transform(request: StepRequest) -> Result<Envelope, ErrorPayload> {
//!         let text = request.input.text().ok_or_else(|| ErrorPayload::new("input is not text"))?;
//!         Ok(Envelope::new("text/plain", text.to_uppercase()))
//!     }
//! }
//!
//! export! {
//!     name: "upper",
//!     description: "Upper-cases text.",
//!     transform: Upper,
//! }
//! ```
//!
//! The macro emits the exports of the Morphir guest ABI (`docs/abi.md`): memory, allocator, ABI
//! version, capabilities and one function per operation. You never touch a pointer, and nothing
//! here depends on a Wasm engine: the guest imports only from `morphir:host`, and only what it
//! uses ([`log`]).

#![expect(
    unsafe_code,
    reason = "the ABI is raw pointers into linear memory; all of it is in `rt`"
)]

pub mod log;
#[doc(hidden)]
pub mod rt;

pub use morphir_envelope::{
    Capabilities, Capability, Envelope, ErrorPayload, FileBundle, Header, StepRequest, abi,
    content_type,
};

/// A frontend: source files in (a [`FileBundle`] as the request's `input`), IR out.
pub trait Frontend {
    /// `frontend-compile`.
    fn frontend_compile(request: StepRequest) -> Result<Envelope, ErrorPayload>;
}

/// A transform: IR in, IR out.
pub trait Transform {
    /// `transform`.
    fn transform(request: StepRequest) -> Result<Envelope, ErrorPayload>;
}

/// A backend: IR in, a [`FileBundle`] of artifacts out (see [`Envelope::files`]).
pub trait Backend {
    /// `backend-generate`.
    fn backend_generate(request: StepRequest) -> Result<Envelope, ErrorPayload>;
}

/// Emits the guest ABI for the given implementations. Every key but `name` is optional; give at
/// least one of `frontend`, `transform`, `backend`.
///
/// ```ignore
/// export! {
///     name: "my-extension",
///     version: env!("CARGO_PKG_VERSION"),   // default: the crate's version
///     description: "What it does.",
///     accepts: ["application/morphir-ir+json"],
///     produces: ["application/x-morphir-files"],
///     frontend: MyFrontend,
///     transform: MyTransform,
///     backend: MyBackend,
/// }
/// ```
#[macro_export]
macro_rules! export {
    (
        name: $name:expr
        $(, version: $version:expr)?
        $(, description: $description:expr)?
        $(, accepts: [$($accepts:expr),* $(,)?])?
        $(, produces: [$($produces:expr),* $(,)?])?
        $(, frontend: $frontend:ty)?
        $(, transform: $transform:ty)?
        $(, backend: $backend:ty)?
        $(,)?
    ) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn morphir_abi_version() -> i32 {
            $crate::abi::ABI_VERSION as i32
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn morphir_alloc(len: i32) -> i32 {
            $crate::rt::alloc(len)
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn morphir_free(ptr: i32, len: i32) {
            $crate::rt::free(ptr, len)
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn morphir_get_capabilities(ptr: i32, len: i32) -> i64 {
            $crate::rt::run_raw(ptr, len, |_input| {
                let mut operations: ::std::vec::Vec<::std::string::String> = ::std::vec::Vec::new();
                $( let _ = ::core::marker::PhantomData::<$frontend>; operations.push("frontend-compile".into()); )?
                $( let _ = ::core::marker::PhantomData::<$transform>; operations.push("transform".into()); )?
                $( let _ = ::core::marker::PhantomData::<$backend>; operations.push("backend-generate".into()); )?
                let version: &str = env!("CARGO_PKG_VERSION");
                $( let version: &str = $version; )?
                let description: &str = "";
                $( let description: &str = $description; )?
                let capabilities = $crate::Capabilities {
                    name: ::std::string::String::from($name),
                    version: version.into(),
                    description: description.into(),
                    operations,
                    accepts: ::std::vec![$($($accepts.into()),*)?],
                    produces: ::std::vec![$($($produces.into()),*)?],
                    capabilities: ::std::vec::Vec::new(),
                };
                $crate::Envelope::json(&capabilities)
                    .map_err(|e| $crate::ErrorPayload::new(e.to_string()))
            })
        }

        $(
            #[unsafe(no_mangle)]
            pub extern "C" fn morphir_frontend_compile(ptr: i32, len: i32) -> i64 {
                $crate::rt::run_step(ptr, len, <$frontend as $crate::Frontend>::frontend_compile)
            }
        )?
        $(
            #[unsafe(no_mangle)]
            pub extern "C" fn morphir_transform(ptr: i32, len: i32) -> i64 {
                $crate::rt::run_step(ptr, len, <$transform as $crate::Transform>::transform)
            }
        )?
        $(
            #[unsafe(no_mangle)]
            pub extern "C" fn morphir_backend_generate(ptr: i32, len: i32) -> i64 {
                $crate::rt::run_step(ptr, len, <$backend as $crate::Backend>::backend_generate)
            }
        )?
    };
}
