//! 32-byte blake3 hashes: [`Key`] names an action (a step's inputs), [`Digest`] names content
//! (a blob, an envelope's payload, an input file). Two types so one is never passed for the other.

use std::path::Path;

use morphir_envelope::Envelope;

use crate::Error;

/// Why a string is not a 64-digit hex hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a 64-digit hex blake3 hash")]
pub struct ParseHashError(pub String);

macro_rules! hash_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps raw hash bytes.
            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The raw hash bytes.
            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Lower-case hex, 64 characters (the form used in file names and records).
            pub fn to_hex(&self) -> String {
                hex(&self.0)
            }
        }

        impl From<blake3::Hash> for $name {
            fn from(h: blake3::Hash) -> Self {
                Self(*h.as_bytes())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.to_hex())
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseHashError;

            /// Parses 64 hex digits (either case).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex(s).map(Self).ok_or_else(|| ParseHashError(s.to_owned()))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hash_type! {
    /// The cache key of a step: the hash of its [`crate::KeyManifest`] (see
    /// [`crate::KeyBuilder`]). Displays as 64 lower-case hex digits.
    Key
}

hash_type! {
    /// The blake3 hash of some content: a blob's bytes ([`Digest::of`]), an envelope's content
    /// type and payload ([`content_digest`]), an input file. Displays as 64 lower-case hex digits.
    Digest
}

impl Digest {
    /// The plain blake3 hash of `bytes`: the name of a blob holding them, and the hash to pass
    /// [`crate::KeyBuilder::input_file`] for a file with this content.
    pub fn of(bytes: &[u8]) -> Self {
        blake3::hash(bytes).into()
    }

    /// [`Digest::of`] a file's content, streamed (the file is not loaded whole).
    pub fn of_file(path: &Path) -> crate::Result<Self> {
        let io = |source| Error::Io {
            op: "hash",
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut hasher = blake3::Hasher::new();
        // `update_reader` reads in large chunks of its own; no BufReader needed.
        hasher.update_reader(file).map_err(io)?;
        Ok(hasher.finalize().into())
    }
}

/// The identity of an envelope for caching: blake3 over its length-prefixed content type and
/// content. The header (`seqnum`, `session_id`, `kind`) is host bookkeeping that differs on
/// every run, so it is never hashed.
pub fn content_digest(envelope: &Envelope) -> Digest {
    let mut h = blake3::Hasher::new_derive_key("morphir-cache envelope content digest v1");
    update_part(&mut h, envelope.content_type.as_bytes());
    update_part(&mut h, &envelope.content);
    h.finalize().into()
}

/// Feeds one length-prefixed part (`len u64 LE ‖ bytes`) to a hasher.
pub(crate) fn update_part(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn parse_hex(s: &str) -> Option<[u8; 32]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, [hi, lo]) in out.iter_mut().zip(s.as_chunks::<2>().0) {
        *o = (nibble(*hi)? << 4) | nibble(*lo)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use morphir_envelope::Header;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let d = Digest::of(b"hello");
        assert_eq!(d.to_hex(), blake3::hash(b"hello").to_hex().as_str());
        assert_eq!(d.to_hex().parse::<Digest>().unwrap(), d);
        assert_eq!(d.to_hex().to_uppercase().parse::<Digest>().unwrap(), d);
        for bad in ["", "00", &"g".repeat(64), &"0".repeat(63), &"0".repeat(65)] {
            assert!(bad.parse::<Key>().is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    }

    #[test]
    fn content_digest_ignores_the_header_only() {
        let a = Envelope::new("application/json", "{}");
        let b = a.clone().with_header(Header {
            seqnum: 9,
            session_id: "other".into(),
            kind: Some("x".into()),
        });
        assert_eq!(content_digest(&a), content_digest(&b));
        // Moving a byte between the content type and the content changes the digest.
        let c = Envelope::new("application/json{", "}");
        assert_ne!(content_digest(&a), content_digest(&c));
    }

    #[test]
    fn file_digest_matches_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(Digest::of_file(&p).unwrap(), Digest::of(b"abc"));
    }
}
