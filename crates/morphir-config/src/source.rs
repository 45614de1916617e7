//! A loaded file's text plus the line table that turns byte spans into 1-based line:col.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use crate::error::Location;

#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) path: Arc<Path>,
    pub(crate) text: String,
    /// Byte offset of the first character of every line.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub(crate) fn new(path: &Path, text: String) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            path: Arc::from(path),
            text,
            line_starts,
        }
    }

    /// The location of a byte span. Columns count characters, not bytes.
    pub(crate) fn location(&self, span: Range<usize>) -> Location {
        let mut start = span.start.min(self.text.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts[line - 1];
        let column = self.text[line_start..start].chars().count() + 1;
        Location {
            file: Arc::clone(&self.path),
            line,
            column,
            span: start..span.end.max(start),
        }
    }

    /// The location of the first character of the file.
    pub(crate) fn start(&self) -> Location {
        self.location(0..0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_chars() {
        let file = SourceFile::new(Path::new("m.toml"), "a = 1\né = \"x\"\n".to_owned());
        let loc = file.location(0..1);
        assert_eq!((loc.line, loc.column), (1, 1));
        // `=` on line 2 comes after the two-byte `é` and a space.
        let eq = file.text.rfind('=').unwrap();
        let loc = file.location(eq..eq + 1);
        assert_eq!((loc.line, loc.column), (2, 3));
        assert_eq!(loc.to_string(), "m.toml:2:3");
        // Past the end clamps to the end.
        let loc = file.location(999..999);
        assert_eq!(loc.line, 3);
    }
}
