//! A bundle of files: what the host passes a frontend (its input files) and what a backend
//! returns (the artifacts the host writes). Binary, like the envelope, so a large generated file
//! costs a copy:
//!
//! ```text
//! "MFIL" | version u8 (1) | count u32 LE | count × (path_len u32 | path UTF-8 | len u32 | bytes)
//! ```
//!
//! Paths are relative, `/`-separated, without `.` or `..` components; the host checks them again
//! before writing anything (a guest is not trusted to follow the rule).

use crate::DecodeError;

const MAGIC: [u8; 4] = *b"MFIL";
const VERSION: u8 = 1;

/// One file of a [`FileBundle`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BundleFile {
    /// Relative, `/`-separated path.
    pub path: String,
    /// The file's bytes.
    pub content: Vec<u8>,
}

/// An ordered list of files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FileBundle {
    /// The files, in the order the producer gave them.
    pub files: Vec<BundleFile>,
}

/// True for a clean relative path: not empty, no leading `/`, no `\`, no NUL, no empty, `.` or
/// `..` component, no Windows drive prefix.
pub(crate) fn is_clean_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && !path.contains(':')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

impl FileBundle {
    /// An empty bundle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file (builder style).
    #[must_use]
    pub fn with_file(mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.push(path, content);
        self
    }

    /// Adds a file.
    pub fn push(&mut self, path: impl Into<String>, content: impl Into<Vec<u8>>) {
        self.files.push(BundleFile {
            path: path.into(),
            content: content.into(),
        });
    }

    /// The file at `path`, if present.
    pub fn get(&self, path: &str) -> Option<&BundleFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// The binary form.
    pub fn encode(&self) -> Vec<u8> {
        let size = 9 + self
            .files
            .iter()
            .map(|f| 8 + f.path.len() + f.content.len())
            .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.files.len() as u32).to_le_bytes());
        for f in &self.files {
            out.extend_from_slice(&(f.path.len() as u32).to_le_bytes());
            out.extend_from_slice(f.path.as_bytes());
            out.extend_from_slice(&(f.content.len() as u32).to_le_bytes());
            out.extend_from_slice(&f.content);
        }
        out
    }

    /// Reads the binary form, checking every path. Never panics, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { bytes, at: 0 };
        let magic = r.take(4u32)?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic {
                what: "file bundle",
                found: magic.to_vec(),
            });
        }
        let version = r.take(1u32)?[0];
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let count = r.u32()?;
        // Each entry needs at least 8 bytes: refuse a count the bytes cannot hold before
        // reserving memory for it.
        if u64::from(count) * 8 > (bytes.len() - r.at) as u64 {
            return Err(DecodeError::Truncated {
                needed: r.at as u64 + u64::from(count) * 8,
                got: bytes.len() as u64,
            });
        }
        let mut files = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = r.u32()?;
            let path = std::str::from_utf8(r.take(len)?).map_err(|_| DecodeError::Utf8("path"))?;
            if !is_clean_relative_path(path) {
                return Err(DecodeError::Path(path.to_owned()));
            }
            let len = r.u32()?;
            let content = r.take(len)?.to_vec();
            files.push(BundleFile {
                path: path.to_owned(),
                content,
            });
        }
        if r.at != bytes.len() {
            return Err(DecodeError::Trailing((bytes.len() - r.at) as u64));
        }
        Ok(FileBundle { files })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: impl Into<u64>) -> Result<&'a [u8], DecodeError> {
        let len = len.into();
        let end = self.at as u64 + len;
        if end > self.bytes.len() as u64 {
            return Err(DecodeError::Truncated {
                needed: end,
                got: self.bytes.len() as u64,
            });
        }
        let s = &self.bytes[self.at..end as usize];
        self.at = end as usize;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.take(4u32)?.try_into().expect("4 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_truncation() {
        let b = FileBundle::new()
            .with_file("a/b.txt", "hello")
            .with_file("c.bin", vec![0u8, 1, 2]);
        let bytes = b.encode();
        assert_eq!(FileBundle::decode(&bytes).unwrap(), b);
        for n in 0..bytes.len() {
            assert!(
                FileBundle::decode(&bytes[..n]).is_err(),
                "prefix {n} accepted"
            );
        }
    }

    #[test]
    fn unclean_paths_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "C:/x",
            "a\0",
        ] {
            let bytes = FileBundle::new().with_file(bad, "x").encode();
            assert!(
                matches!(
                    FileBundle::decode(&bytes),
                    Err(DecodeError::Path(_) | DecodeError::Utf8(_))
                ),
                "{bad:?} accepted"
            );
        }
        assert!(is_clean_relative_path("src/deep/file.ts"));
    }

    #[test]
    fn absurd_count_is_refused_without_allocating() {
        let mut bytes = b"MFIL\x01".to_vec();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            FileBundle::decode(&bytes),
            Err(DecodeError::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = FileBundle::decode(&bytes);
        }
    }
}
