//! The checksummed framing of every non-blob file (action records, last-run entries):
//!
//! ```text
//! offset  size  field
//!  0       4    magic: "MCAR" (action record), "MCAI" (action record with inline outputs),
//!               "MCLR" (last run of a step) or "MCLX" (the last-run index; "MCLI", its
//!               earlier form without records, is read as no index)
//!  4       4    CACHE_FORMAT_VERSION, u32 LE
//!  8       8    body length n, u64 LE
//! 16       n    body: UTF-8 JSON (MCAI: JSON length u64 LE, JSON, then the inline outputs;
//!               the index: binary entries, see `LastRunIndex` in store.rs)
//! 16+n    32    blake3 of bytes [0, 16+n)
//! ```
//!
//! The file's length must be exactly `48 + n`: a torn write (short file), a stray append, or a
//! flipped bit anywhere (header, body or checksum) is detected before the body is parsed.

use crate::CACHE_FORMAT_VERSION;

pub(crate) const RECORD_MAGIC: [u8; 4] = *b"MCAR";
pub(crate) const RECORD_INLINE_MAGIC: [u8; 4] = *b"MCAI";
pub(crate) const LAST_RUN_MAGIC: [u8; 4] = *b"MCLR";
pub(crate) const LAST_RUN_INDEX_MAGIC: [u8; 4] = *b"MCLX";

const HEADER: usize = 16;
pub(crate) const TRAILER: usize = 32;

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("{0} bytes is shorter than any record")]
    Short(usize),
    #[error("bad magic bytes {0:02x?}")]
    Magic([u8; 4]),
    #[error("format version {0}, expected {CACHE_FORMAT_VERSION}")]
    Version(u32),
    #[error("length field says {body} body bytes but the file holds {len} bytes")]
    Length { body: u64, len: usize },
    #[error("checksum mismatch")]
    Checksum,
}

pub(crate) fn encode(magic: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len() + TRAILER);
    out.extend_from_slice(&magic);
    out.extend_from_slice(&CACHE_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let sum = blake3::hash(&out);
    out.extend_from_slice(sum.as_bytes());
    out
}

/// The magic of a frame, unchecked (for a reader that accepts more than one).
pub(crate) fn magic(bytes: &[u8]) -> Option<[u8; 4]> {
    bytes.get(..4).map(|m| m.try_into().expect("4 bytes"))
}

/// The body of a frame, after checking length, magic, version and checksum.
pub(crate) fn decode(magic: [u8; 4], bytes: &[u8]) -> Result<&[u8], FrameError> {
    if bytes.len() < HEADER + TRAILER {
        return Err(FrameError::Short(bytes.len()));
    }
    let found: [u8; 4] = bytes[0..4].try_into().expect("4 bytes");
    if found != magic {
        return Err(FrameError::Magic(found));
    }
    let version = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if version != CACHE_FORMAT_VERSION {
        return Err(FrameError::Version(version));
    }
    let body = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    if (bytes.len() - HEADER - TRAILER) as u64 != body {
        return Err(FrameError::Length {
            body,
            len: bytes.len(),
        });
    }
    let (framed, sum) = bytes.split_at(bytes.len() - TRAILER);
    // blake3::Hash's equality is constant-time; not that it matters here.
    if blake3::hash(framed) != blake3::Hash::from_bytes(sum.try_into().expect("32 bytes")) {
        return Err(FrameError::Checksum);
    }
    Ok(&framed[HEADER..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_truncation_and_bit_flip_is_caught() {
        let frame = encode(RECORD_MAGIC, br#"{"a":1}"#);
        assert_eq!(decode(RECORD_MAGIC, &frame).unwrap(), br#"{"a":1}"#);
        assert_eq!(
            decode(LAST_RUN_MAGIC, &frame),
            Err(FrameError::Magic(RECORD_MAGIC))
        );
        for n in 0..frame.len() {
            assert!(decode(RECORD_MAGIC, &frame[..n]).is_err(), "prefix {n}");
        }
        for i in 0..frame.len() {
            for bit in 0..8 {
                let mut f = frame.clone();
                f[i] ^= 1 << bit;
                assert!(decode(RECORD_MAGIC, &f).is_err(), "flip {i}:{bit}");
            }
        }
        let mut longer = frame.clone();
        longer.push(0);
        assert!(decode(RECORD_MAGIC, &longer).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = decode(RECORD_MAGIC, &bytes);
        }
    }
}
