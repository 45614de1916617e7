//! The local build cache: a content-addressed store that lets `morphir build` skip a step whose
//! inputs have not changed, and that users can trust.
//!
//! It sits between the scheduler and the extensions. Before running a step, the executor builds
//! the step's [`Key`] with a [`KeyBuilder`] (everything that can change the output: the
//! extension's Wasm hash, its config, the operation, declared env vars, upstream outputs by
//! [`content_digest`], input files by path and [`Digest`]) and asks [`Store::lookup`]. On a
//! hit it replays the stored logs and uses the stored envelopes; on a miss it runs the step,
//! and after a success calls [`Store::put`]. For `--explain`, each key comes with a
//! [`KeyManifest`] of named component hashes; [`diff`] against [`Store::last_run`] says what
//! changed (`input file src/a.json changed`).
//!
//! # Guarantees
//!
//! - **Never a wrong hit.** Keys hash a canonical, typed, length-prefixed preimage (see
//!   [`KeyBuilder`]). Every read re-verifies: the record's checksum, its key and manifest, and
//!   every output blob's blake3 against its name. Anything that fails is removed and reported
//!   as [`Lookup::Corrupt`], i.e. a miss.
//! - **Crash safety.** Every file is written to a `.tmp-*` file in its final directory and
//!   renamed into place; blobs are written before the record that names them. A process killed
//!   at any point leaves either no record or a complete one, plus at worst a temp file that
//!   [`Store::prune`] removes. Power loss is covered by verification (a torn entry is a miss)
//!   and, with [`Durability::Fsync`], by fsync in dependency order.
//! - **Concurrency.** Any number of threads and processes may read, write and prune one cache
//!   at once; the argument is in the docs of [`Store::prune`]'s module (`maintenance.rs`):
//!   writers share a file lock that prune takes exclusively, readers take none and at worst
//!   see a miss.
//!
//! The on-disk layout (`<root>/v1/{blobs,actions,steps}`) and the record format are described
//! in `cache/README.md` at the repository root.

#![deny(missing_docs)]

mod canonical;
mod digest;
mod failpoint;
mod frame;
mod fsutil;
mod key;
mod maintenance;
mod record;
mod remote;
mod store;

use std::path::PathBuf;

pub use canonical::canonical_json;
pub use digest::{Digest, Key, ParseHashError, content_digest};
pub use failpoint::{FAILPOINT_ENV, failpoint};
pub use key::{CACHE_FORMAT_VERSION, Change, ChangeKind, Component, KeyBuilder, KeyManifest, diff};
pub use maintenance::{PruneOptions, PruneReport, Stats};
pub use record::{ActionRecord, LastRun, LogLine, NewAction};
pub use remote::{BoxFuture, RemoteCache, RemoteHit, RemoteSummary};
pub use store::{
    Corruption, Durability, Hit, INLINE_MAX, IndexPrefetch, Lookup, StepHit, Store, StoreOptions,
    decode_record,
};

/// The directory under the cache root where the build remembers each extension module's
/// capabilities, one `<blake3 of the module>.json` per module, so a fully cached build compiles
/// nothing. Not part of a bucket: it does not depend on the cache format. `stats` counts it,
/// `prune` removes its entries by age, `clean` removes it.
pub const CAPABILITIES_DIR: &str = "capabilities-v1";

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong. Corrupt entries are not errors (they are misses, see
/// [`Lookup::Corrupt`]); these are failures the caller must hear about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed (other than "not found" where absence is a valid answer).
    #[error("cache: cannot {op} {}", path.display())]
    Io {
        /// What was being done (`read`, `rename into place`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key component was given two different values (a bug in the caller).
    #[error("key component `{0}` was given two different values")]
    ConflictingComponent(String),
    /// An input file path is not a clean relative `/`-separated path.
    #[error("input file path `{0}` is not a clean relative `/`-separated path")]
    InvalidInputPath(String),
    /// [`Store::put`] got a manifest that does not hash to the key.
    #[error("the manifest hashes to {manifest_key}, not to the key {key}")]
    ManifestMismatch {
        /// The key passed.
        key: Key,
        /// What the manifest hashes to.
        manifest_key: Key,
    },
    /// An output envelope cannot be encoded (a field over 4 GiB).
    #[error("output {index} of step `{step_id}` cannot be encoded")]
    Encode {
        /// The step.
        step_id: String,
        /// The output's position.
        index: usize,
        /// The cause.
        #[source]
        source: morphir_envelope::DecodeError,
    },
    /// A record could not be serialised.
    #[error("cache: cannot serialise a record")]
    Serialize(#[source] serde_json::Error),
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<Error>();
    assert_send_sync::<KeyBuilder>();
};
