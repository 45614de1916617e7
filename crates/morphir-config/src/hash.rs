//! `blake3:<64 hex>` pins for extension modules.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The only algorithm accepted in a pin, and its prefix.
const PREFIX: &str = "blake3:";

/// What a hash must look like; ends every hash-format error.
pub(crate) const HASH_HELP: &str =
    "write \"blake3:\" followed by the 64 lowercase hex digits of the file's BLAKE3 hash";

/// A BLAKE3 digest pinned in `morphir.toml` as `hash = "blake3:<64 lowercase hex digits>"`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Blake3Hash([u8; 32]);

impl Blake3Hash {
    /// The hash of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// The raw digest.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hashes the file at `path` and compares it with this pin.
    pub fn verify_file(&self, path: &Path) -> Result<(), HashError> {
        let mut hasher = blake3::Hasher::new();
        hasher
            .update_reader(std::fs::File::open(path).map_err(|source| HashError::Read {
                path: path.to_owned(),
                source,
            })?)
            .map_err(|source| HashError::Read {
                path: path.to_owned(),
                source,
            })?;
        let found = Self(*hasher.finalize().as_bytes());
        if found == *self {
            Ok(())
        } else {
            Err(HashError::Mismatch {
                path: path.to_owned(),
                expected: *self,
                found,
            })
        }
    }
}

impl fmt::Display for Blake3Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Blake3Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Blake3Hash {
    type Err = String;

    /// Parses `blake3:<64 lowercase hex digits>`. The error says what is wrong, without help.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(hex) = s.strip_prefix(PREFIX) else {
            return Err(match s.split_once(':') {
                Some((algorithm, _)) => format!("unsupported algorithm `{algorithm}`"),
                None => "the `blake3:` prefix is missing".to_owned(),
            });
        };
        if hex.len() != 64 {
            return Err(format!("expected 64 hex digits, found {}", hex.len()));
        }
        if let Some(bad) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(format!("`{bad}` is not a lowercase hex digit (0-9, a-f)"));
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().as_chunks::<2>().0) {
            let pair = std::str::from_utf8(pair).expect("checked ASCII above");
            *byte = u8::from_str_radix(pair, 16).expect("checked hex digits above");
        }
        Ok(Self(bytes))
    }
}

/// Why a file does not match its pinned hash.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The file could not be read.
    #[error("cannot read `{}` to check its hash: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file's content has another hash than the pin.
    #[error(
        "`{}` does not match its pinned hash: expected {expected}, found {found}; rebuild the extension or update `hash`",
        path.display()
    )]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The pin from the configuration.
        expected: Blake3Hash,
        /// The hash of the file as it is.
        found: Blake3Hash,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let text = format!("blake3:{}", "ab".repeat(32));
        let hash: Blake3Hash = text.parse().unwrap();
        assert_eq!(hash.to_string(), text);
        assert_eq!(hash.as_bytes(), &[0xab; 32]);
    }

    #[test]
    fn bad_formats() {
        let cases = [
            ("ab".repeat(32), "prefix is missing"),
            (
                format!("sha256:{}", "ab".repeat(32)),
                "unsupported algorithm `sha256`",
            ),
            ("blake3:abc".to_owned(), "expected 64 hex digits, found 3"),
            (
                format!("blake3:{}", "AB".repeat(32)),
                "`A` is not a lowercase hex digit",
            ),
            (format!("blake3:{}", "zz".repeat(32)), "`z` is not"),
        ];
        for (text, expected) in cases {
            let error = text.parse::<Blake3Hash>().unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.wasm");
        std::fs::write(&path, b"\0asm").unwrap();
        Blake3Hash::of_bytes(b"\0asm").verify_file(&path).unwrap();
        let error = Blake3Hash::of_bytes(b"other")
            .verify_file(&path)
            .unwrap_err();
        assert!(
            matches!(error, HashError::Mismatch { found, .. } if found == Blake3Hash::of_bytes(b"\0asm"))
        );
        let error = Blake3Hash::of_bytes(b"")
            .verify_file(&dir.path().join("missing"))
            .unwrap_err();
        assert!(matches!(error, HashError::Read { .. }));
    }
}
