//! The contract between the Morphir host and its extensions.
//!
//! Every call into an extension takes an [`Envelope`] and returns one: a small [`Header`] the host
//! owns (`seqnum`, `session_id`, optional `kind`), a `content_type` and opaque `content` bytes.
//! This crate holds that type, the content types the project knows ([`content_type`]), the
//! compact binary wire form that crosses the host/guest boundary ([`Envelope::encode`],
//! [`Envelope::decode`]), the file bundle that frontends receive and backends return
//! ([`FileBundle`]), the constants of the guest ABI ([`abi`]), the payloads of the standard
//! library's host functions ([`stdlib`]) and of runtime extensions ([`tea`]).
//!
//! It is shared by the host (the runtime crate) and by guests (the SDK crate), so it depends on
//! `serde` and `serde_json` only and compiles for `wasm32-unknown-unknown`. Nothing here knows the
//! Wasm engine. The wire format is specified in `docs/abi.md`.

mod bundle;
mod capabilities;
mod envelope;
mod error_payload;
mod request;
mod wire;

pub mod abi;
pub mod content_type;
pub mod stdlib;
pub mod tea;

pub use bundle::{BundleFile, FileBundle};
pub use capabilities::{Capabilities, Capability};
pub use envelope::{Envelope, Header};
pub use error_payload::{ErrorPayload, KIND_ERROR};
pub use request::StepRequest;
pub use wire::{DecodeError, EnvelopeRef, WIRE_MAGIC, WIRE_VERSION, base64_decode, base64_encode};

/// The errors of this crate that are not wire-decoding errors.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The envelope does not carry the content type the caller asked for.
    #[error("expected content type {expected}, found `{found}`")]
    ContentType {
        /// What the caller expected (a type or a `+json` family).
        expected: &'static str,
        /// What the envelope says.
        found: String,
    },
    /// JSON content could not be (de)serialised.
    #[error("invalid JSON content: {0}")]
    Json(#[source] serde_json::Error),
    /// A file bundle's bytes are malformed.
    #[error("invalid file bundle: {0}")]
    Bundle(#[source] DecodeError),
}

/// For a Component Model guest: defines `to_ours` and `to_wit`, which convert between our
/// [`Envelope`] and the `envelope` record wit-bindgen generated (inside the guest crate, so its
/// type is the guest's own) from `wit/morphir-ext`. Pass the path of the generated
/// `morphir:ext/envelope` module:
///
/// ```ignore
/// morphir_envelope::wit_conversions!(bindings::morphir::ext::envelope);
/// ```
///
/// The record is field for field our envelope (`docs/abi.md`), so the conversions move every
/// field and copy nothing.
#[macro_export]
macro_rules! wit_conversions {
    ($($module:ident)::+) => {
        #[allow(dead_code, reason = "a guest uses one direction or both")]
        fn to_ours(e: $($module)::+::Envelope) -> $crate::Envelope {
            $crate::Envelope {
                header: $crate::Header {
                    seqnum: e.header.seqnum,
                    session_id: e.header.session_id,
                    kind: e.header.kind,
                },
                content_type: e.content_type,
                content: e.content,
            }
        }

        #[allow(dead_code, reason = "a guest uses one direction or both")]
        fn to_wit(e: $crate::Envelope) -> $($module)::+::Envelope {
            $($module)::+::Envelope {
                header: $($module)::+::Header {
                    seqnum: e.header.seqnum,
                    session_id: e.header.session_id,
                    kind: e.header.kind,
                },
                content_type: e.content_type,
                content: e.content,
            }
        }
    };
}
