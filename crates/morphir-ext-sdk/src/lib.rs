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
//! here depends on a Wasm engine: the guest imports only from `morphir:host`, and only the host
//! functions it uses: [`log`], [`env`], [`random`], [`http`], [`workspace`], [`ir`], each
//! governed by the extension's permissions in `morphir.toml`.
//!
//! ## Runtime extensions (TEA)
//!
//! A runtime extension is a [`Program`]: `init(flags)`, `update(msg, model)` and
//! `subscriptions(model)`, in the Elm architecture. The host keeps the model, runs the
//! [`tea::Cmd`]s a program returns (log, emit an output, a delayed message, an HTTP request whose
//! response comes back as a message, stop) and keeps its [`tea::Sub`]s live (timers, file
//! watches, named event streams). `morphir run <extension>` runs one.
//!
//! ```ignore
//! use morphir_ext_sdk::tea::{Cmd, Sub};
//! use morphir_ext_sdk::{export, Envelope, ErrorPayload, Program};
//!
//! struct Counter;
//!
//! impl Program for Counter {
//!     type Model = i64;
//!     fn init(_flags: Envelope) -> Result<(i64, Vec<Cmd>), ErrorPayload> {
//!         Ok((0, vec![]))
//!     }
//!     fn update(msg: Envelope, n: i64) -> Result<(i64, Vec<Cmd>), ErrorPayload> {
//!         let by: i64 = msg.as_json().map_err(|e| ErrorPayload::new(e.to_string()))?;
//!         Ok((n + by, vec![Cmd::emit_json((n + by).into())]))
//!     }
//!     fn subscriptions(_n: &i64) -> Vec<Sub> {
//!         vec![]
//!     }
//! }
//!
//! export! { name: "counter", program: Counter }
//! ```
//!
//! ## One crate, two variants
//!
//! One crate can build a design-time variant, a runtime variant, or one module that exports
//! both ABIs, behind features (the packaging the design recommends; `extensions/ir-eval` does
//! it):
//!
//! ```toml
//! [features]
//! default = ["design-time", "runtime"]   # one module, both ABIs
//! design-time = []
//! runtime = []
//! ```
//!
//! ```ignore
//! #[cfg(all(feature = "design-time", feature = "runtime"))]
//! export! { name: "ir-eval", transform: Eval, program: Eval }
//! #[cfg(all(feature = "design-time", not(feature = "runtime")))]
//! export! { name: "ir-eval", transform: Eval }
//! #[cfg(all(feature = "runtime", not(feature = "design-time")))]
//! export! { name: "ir-eval", program: Eval }
//! ```
//!
//! `cargo build --target wasm32-unknown-unknown --profile guest -p ir-eval
//! --no-default-features --features runtime` then builds the runtime-only module.

#![expect(
    unsafe_code,
    reason = "the ABI is raw pointers into linear memory; all of it is in `rt`"
)]

pub mod env;
pub mod host;
pub mod http;
pub mod ir;
pub mod log;
pub mod random;
#[doc(hidden)]
pub mod rt;
pub mod workspace;

pub use morphir_envelope::{
    Capabilities, Capability, Envelope, ErrorPayload, FileBundle, Header, StepRequest, abi,
    content_type,
};

/// The runtime-extension (TEA) payloads: commands, subscriptions, the update request.
pub mod tea {
    pub use morphir_envelope::tea::{
        Cmd, Next, Output, Sub, Subscriptions, UpdateRequest, message,
    };
}

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

/// A runtime extension: a program in the Elm architecture. The host owns the model (as JSON)
/// between calls, so the guest keeps no state of its own, and a guest that traps is replaced
/// without losing the program.
pub trait Program {
    /// The program's state, carried by the host as JSON between calls.
    type Model: serde::Serialize + serde::de::DeserializeOwned;

    /// `init(flags)`: the first model and commands. `morphir run` passes its `--flags` (JSON).
    fn init(flags: Envelope) -> Result<(Self::Model, Vec<tea::Cmd>), ErrorPayload>;

    /// `update(msg, model)`: the next model and commands. A message from a command or a
    /// subscription has `header.kind` = the `tag` it was given; one sent from outside (the
    /// stdin of `morphir run`) has no `kind`. Returning an error keeps the previous model.
    fn update(
        msg: Envelope,
        model: Self::Model,
    ) -> Result<(Self::Model, Vec<tea::Cmd>), ErrorPayload>;

    /// `subscriptions(model)`: what should be live for this model (asked after `init` and every
    /// `update`). None by default.
    fn subscriptions(model: &Self::Model) -> Vec<tea::Sub> {
        let _ = model;
        Vec::new()
    }
}

/// Emits the guest ABI for the given implementations. Every key but `name` is optional; give at
/// least one of `frontend`, `transform`, `backend`, `program`.
///
/// `capabilities` lists the named capabilities of the capabilities document (the seed's
/// `capability` record). Without it (or with an empty list) there is one per role the module
/// implements: `frontend-compile`, `transform`, `backend-generate`, and `program` for a runtime
/// extension, each with a sentence saying what the role does.
///
/// ```ignore
/// export! {
///     name: "my-extension",
///     version: env!("CARGO_PKG_VERSION"),   // default: the crate's version
///     description: "What it does.",
///     accepts: ["application/morphir-ir+json"],
///     produces: ["application/x-morphir-files"],
///     capabilities: [Capability::new("summarise", "Summarises each module.")],
///     frontend: MyFrontend,
///     transform: MyTransform,
///     backend: MyBackend,
///     program: MyProgram,                  // a runtime extension (TEA)
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
        $(, capabilities: [$($capability:expr),* $(,)?])?
        $(, frontend: $frontend:ty)?
        $(, transform: $transform:ty)?
        $(, backend: $backend:ty)?
        $(, program: $program:ty)?
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
                $(
                    let _ = ::core::marker::PhantomData::<$program>;
                    operations.push("init".into());
                    operations.push("update".into());
                    operations.push("subscriptions".into());
                )?
                let version: &str = env!("CARGO_PKG_VERSION");
                $( let version: &str = $version; )?
                let description: &str = "";
                $( let description: &str = $description; )?
                let named: ::std::vec::Vec<$crate::Capability> =
                    ::std::vec![$($($capability),*)?];
                let named = $crate::rt::named_capabilities(named, &operations);
                let capabilities = $crate::Capabilities {
                    name: ::std::string::String::from($name),
                    version: version.into(),
                    description: description.into(),
                    operations,
                    accepts: ::std::vec![$($($accepts.into()),*)?],
                    produces: ::std::vec![$($($produces.into()),*)?],
                    capabilities: named,
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
        $(
            #[unsafe(no_mangle)]
            pub extern "C" fn morphir_init(ptr: i32, len: i32) -> i64 {
                $crate::rt::run_init::<$program>(ptr, len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn morphir_update(ptr: i32, len: i32) -> i64 {
                $crate::rt::run_update::<$program>(ptr, len)
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn morphir_subscriptions(ptr: i32, len: i32) -> i64 {
                $crate::rt::run_subscriptions::<$program>(ptr, len)
            }
        )?
    };
}
