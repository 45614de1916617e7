//! The binary wire form of an envelope (`docs/abi.md`, "Wire format").
//!
//! ```text
//! offset size
//!  0      4   magic "MENV"
//!  4      1   wire version (1)
//!  5      1   flags: bit 0 = `kind` present; other bits 0
//!  6      8   seqnum, u64 little-endian
//! 14      4   session_id length (u32 LE)
//! 18      4   kind length (u32 LE, 0 when absent)
//! 22      4   content_type length (u32 LE)
//! 26      4   content length (u32 LE)
//! 30      …   session_id, kind, content_type (UTF-8), then content
//! ```
//!
//! Content comes last and is copied as one block, so a megabyte of IR costs a memcpy, not a
//! parse. The total length must match exactly: trailing bytes are an error, not ignored.

use crate::{Envelope, Header};

/// The first four bytes of every encoded envelope.
pub const WIRE_MAGIC: [u8; 4] = *b"MENV";
/// The wire version this crate writes and reads.
pub const WIRE_VERSION: u8 = 1;

const FIXED: usize = 30;
const FLAG_KIND: u8 = 1;

/// Why bytes are not an encoded envelope (or file bundle).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the format needs.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes the header promises.
        needed: u64,
        /// Bytes present.
        got: u64,
    },
    /// The magic bytes are wrong: this is not our format at all.
    #[error("bad magic bytes {found:02x?}: not a Morphir {what}")]
    BadMagic {
        /// What was expected (`envelope`, `file bundle`).
        what: &'static str,
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A version this build does not read.
    #[error("unsupported wire version {0} (this build reads version {WIRE_VERSION})")]
    Version(u8),
    /// Flags this build does not know.
    #[error("unknown flags {0:#04x}")]
    Flags(u8),
    /// More bytes than the header accounts for.
    #[error("{0} trailing bytes after the end")]
    Trailing(u64),
    /// A string field is not UTF-8.
    #[error("field `{0}` is not valid UTF-8")]
    Utf8(&'static str),
    /// A field is too large to encode (over 4 GiB).
    #[error("field `{0}` is longer than 4 GiB")]
    TooLarge(&'static str),
    /// A bundle entry's path is not a clean relative path.
    #[error("invalid path `{0}` in file bundle")]
    Path(String),
}

fn len_u32(len: usize, field: &'static str) -> Result<u32, DecodeError> {
    u32::try_from(len).map_err(|_| DecodeError::TooLarge(field))
}

impl Envelope {
    /// The exact size of [`Envelope::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        FIXED
            + self.header.session_id.len()
            + self.header.kind.as_ref().map_or(0, String::len)
            + self.content_type.len()
            + self.content.len()
    }

    /// The binary wire form.
    ///
    /// # Panics
    /// When a field exceeds 4 GiB, which no Wasm32 guest can hold; use
    /// [`Envelope::try_encode`] where the size is not already bounded.
    pub fn encode(&self) -> Vec<u8> {
        self.try_encode().expect("envelope field over 4 GiB")
    }

    /// The binary wire form, or which field is too large for it.
    pub fn try_encode(&self) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Writes the binary wire form into `out`, which must be exactly
    /// [`Envelope::encoded_len`] bytes long (a guest encodes straight into a buffer from its own
    /// allocator this way, with no intermediate copy).
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<(), DecodeError> {
        if out.len() != self.encoded_len() {
            return Err(DecodeError::Truncated {
                needed: self.encoded_len() as u64,
                got: out.len() as u64,
            });
        }
        let mut v = Vec::new();
        // Header fields are small; the content is the only large part and is copied once.
        let head = FIXED + self.encoded_len() - FIXED - self.content.len();
        Envelope {
            header: self.header.clone(),
            content_type: self.content_type.clone(),
            content: Vec::new(),
        }
        .encode_into(&mut v)?;
        // `v` has the content length 0 in its header: patch it.
        let content = len_u32(self.content.len(), "content")?;
        v[26..30].copy_from_slice(&content.to_le_bytes());
        out[..head].copy_from_slice(&v);
        out[head..].copy_from_slice(&self.content);
        Ok(())
    }

    /// Appends the binary wire form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        let kind = self.header.kind.as_deref();
        let session = len_u32(self.header.session_id.len(), "session_id")?;
        let kind_len = len_u32(kind.map_or(0, str::len), "kind")?;
        let ct = len_u32(self.content_type.len(), "content_type")?;
        let content = len_u32(self.content.len(), "content")?;
        out.reserve(self.encoded_len());
        out.extend_from_slice(&WIRE_MAGIC);
        out.push(WIRE_VERSION);
        out.push(if kind.is_some() { FLAG_KIND } else { 0 });
        out.extend_from_slice(&self.header.seqnum.to_le_bytes());
        for n in [session, kind_len, ct, content] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(self.header.session_id.as_bytes());
        out.extend_from_slice(kind.unwrap_or("").as_bytes());
        out.extend_from_slice(self.content_type.as_bytes());
        out.extend_from_slice(&self.content);
        Ok(())
    }

    /// Reads the binary wire form. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        let r = EnvelopeRef::decode(bytes)?;
        Ok(Envelope {
            header: Header {
                seqnum: r.seqnum,
                session_id: r.session_id.to_owned(),
                kind: r.kind.map(str::to_owned),
            },
            content_type: r.content_type.to_owned(),
            content: r.content.to_vec(),
        })
    }
}

/// A decoded envelope that borrows its fields from the encoded bytes (no copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeRef<'a> {
    /// `header.seqnum`.
    pub seqnum: u64,
    /// `header.session_id`.
    pub session_id: &'a str,
    /// `header.kind`.
    pub kind: Option<&'a str>,
    /// `content_type`.
    pub content_type: &'a str,
    /// `content`.
    pub content: &'a [u8],
}

impl<'a> EnvelopeRef<'a> {
    /// Reads the binary wire form without copying. Never panics, whatever the bytes.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 4 || bytes[..4] != WIRE_MAGIC {
            if bytes.len() < 4 && WIRE_MAGIC.starts_with(bytes) {
                return Err(DecodeError::Truncated {
                    needed: FIXED as u64,
                    got: bytes.len() as u64,
                });
            }
            return Err(DecodeError::BadMagic {
                what: "envelope",
                found: bytes[..bytes.len().min(4)].to_vec(),
            });
        }
        if bytes.len() < FIXED {
            return Err(DecodeError::Truncated {
                needed: FIXED as u64,
                got: bytes.len() as u64,
            });
        }
        if bytes[4] != WIRE_VERSION {
            return Err(DecodeError::Version(bytes[4]));
        }
        let flags = bytes[5];
        if flags & !FLAG_KIND != 0 {
            return Err(DecodeError::Flags(flags));
        }
        let seqnum = u64::from_le_bytes(bytes[6..14].try_into().expect("8 bytes"));
        let field = |at: usize| {
            u64::from(u32::from_le_bytes(
                bytes[at..at + 4].try_into().expect("4 bytes"),
            ))
        };
        let (session_len, kind_len, ct_len, content_len) =
            (field(14), field(18), field(22), field(26));
        if flags & FLAG_KIND == 0 && kind_len != 0 {
            return Err(DecodeError::Flags(flags));
        }
        // u64 arithmetic: four u32 lengths cannot overflow it, whatever a hostile guest writes.
        let needed = FIXED as u64 + session_len + kind_len + ct_len + content_len;
        let got = bytes.len() as u64;
        if got < needed {
            return Err(DecodeError::Truncated { needed, got });
        }
        if got > needed {
            return Err(DecodeError::Trailing(got - needed));
        }
        let mut at = FIXED;
        let mut take = |len: u64| {
            let s = &bytes[at..at + len as usize];
            at += len as usize;
            s
        };
        let utf8 = |b, name| std::str::from_utf8(b).map_err(|_| DecodeError::Utf8(name));
        let session_id = utf8(take(session_len), "session_id")?;
        let kind = utf8(take(kind_len), "kind")?;
        let content_type = utf8(take(ct_len), "content_type")?;
        let content = take(content_len);
        Ok(EnvelopeRef {
            seqnum,
            session_id,
            kind: (flags & FLAG_KIND != 0).then_some(kind),
            content_type,
            content,
        })
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (for the JSON form of binary content).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Inverse of [`base64_encode`]; `None` for anything that is not canonical padded base64.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (i, chunk) in s.chunks(4).enumerate() {
        let last = i == s.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Envelope {
        Envelope::new("application/json", br#"{"a":1}"#.to_vec()).with_header(Header {
            seqnum: 7,
            session_id: "build-1".into(),
            kind: Some("error".into()),
        })
    }

    #[test]
    fn layout_is_as_documented() {
        let bytes = sample().encode();
        assert_eq!(&bytes[..4], b"MENV");
        assert_eq!(bytes[4], 1);
        assert_eq!(bytes[5], 1);
        assert_eq!(u64::from_le_bytes(bytes[6..14].try_into().unwrap()), 7);
        assert_eq!(bytes.len(), sample().encoded_len());
        assert!(bytes.ends_with(br#"{"a":1}"#));
    }

    #[test]
    fn encode_to_slice_matches_encode() {
        let env = sample();
        let mut buf = vec![0u8; env.encoded_len()];
        env.encode_to_slice(&mut buf).unwrap();
        assert_eq!(buf, env.encode());
        assert!(env.encode_to_slice(&mut [0u8; 3]).is_err());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            let err = Envelope::decode(&bytes[..n]).unwrap_err();
            assert!(matches!(err, DecodeError::Truncated { .. }), "{n}: {err}");
        }
    }

    #[test]
    fn malformed_bytes_are_named() {
        let mut bytes = sample().encode();
        bytes.push(0);
        assert_eq!(Envelope::decode(&bytes), Err(DecodeError::Trailing(1)));
        assert!(matches!(
            Envelope::decode(br#"{"header":{}}"#),
            Err(DecodeError::BadMagic { .. })
        ));
        let mut v2 = sample().encode();
        v2[4] = 2;
        assert_eq!(Envelope::decode(&v2), Err(DecodeError::Version(2)));
        let mut flags = sample().encode();
        flags[5] = 0x80;
        assert_eq!(Envelope::decode(&flags), Err(DecodeError::Flags(0x80)));
        let mut bad_utf8 = Envelope::new("text/plain", "x").encode();
        bad_utf8[30] = 0xff; // first byte of content_type
        assert_eq!(
            Envelope::decode(&bad_utf8),
            Err(DecodeError::Utf8("content_type"))
        );
        let mut huge = sample().encode();
        huge[26..30].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            Envelope::decode(&huge),
            Err(DecodeError::Truncated { .. })
        ));
    }

    #[test]
    fn base64_known_answers() {
        for (raw, enc) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64_encode(raw), enc);
            assert_eq!(base64_decode(enc).unwrap(), raw);
        }
        assert!(base64_decode("Zg=").is_none());
        assert!(base64_decode("Zg==Zg==").is_none());
        assert!(base64_decode("Z!==").is_none());
    }

    fn any_envelope() -> impl Strategy<Value = Envelope> {
        (
            any::<u64>(),
            ".{0,20}",
            proptest::option::of(".{0,10}"),
            ".{0,30}",
            proptest::collection::vec(any::<u8>(), 0..512),
        )
            .prop_map(
                |(seqnum, session_id, kind, content_type, content)| Envelope {
                    header: Header {
                        seqnum,
                        session_id,
                        kind,
                    },
                    content_type,
                    content,
                },
            )
    }

    proptest! {
        #[test]
        fn wire_round_trip(env in any_envelope()) {
            let bytes = env.encode();
            prop_assert_eq!(bytes.len(), env.encoded_len());
            prop_assert_eq!(Envelope::decode(&bytes).unwrap(), env);
        }

        #[test]
        fn json_round_trip(env in any_envelope()) {
            let s = serde_json::to_string(&env).unwrap();
            prop_assert_eq!(serde_json::from_str::<Envelope>(&s).unwrap(), env);
        }

        #[test]
        fn base64_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Envelope::decode(&bytes);
        }

        #[test]
        fn decode_never_panics_on_valid_prefix(env in any_envelope(), tail in proptest::collection::vec(any::<u8>(), 0..40), cut in 0usize..600) {
            let mut bytes = env.encode();
            bytes.truncate(cut.min(bytes.len()));
            bytes.extend_from_slice(&tail);
            let _ = Envelope::decode(&bytes);
        }
    }
}
