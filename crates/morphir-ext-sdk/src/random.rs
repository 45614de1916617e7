//! Random bytes from the host. In a design-time step the stream is seeded from the step's cache
//! key, so the step stays reproducible (and cacheable); a runtime program gets a seed of its
//! own when it starts. Not for cryptographic secrets.

use morphir_envelope::stdlib::RandomRequest;
use morphir_envelope::{Envelope, ErrorPayload};

use crate::host::{expect, host_call};

/// `n` random bytes (at most 65 536 per call).
pub fn bytes(n: u32) -> Result<Vec<u8>, ErrorPayload> {
    let request = Envelope::json(&RandomRequest { bytes: n })
        .map_err(|e| ErrorPayload::new(e.to_string()))?;
    Ok(expect("random", host_call!(random, &request))?.content)
}

/// A random `u64`.
pub fn u64() -> Result<u64, ErrorPayload> {
    let b = bytes(8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[..8]);
    Ok(u64::from_le_bytes(word))
}
