//! `LineIndex`: byte offsets in a document's text to LSP positions and back. LSP counts
//! columns in UTF-16 code units (the protocol's default encoding), exp in bytes.

use lsp_types::{Position, Range};

pub struct LineIndex {
    /// The byte offset where each line starts.
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, byte)| *byte == b'\n')
                .map(|(at, _)| at + 1),
        );
        LineIndex { starts }
    }

    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|start| *start <= offset) - 1;
        let start = self.starts[line];
        let column: usize = text
            .get(start..offset)
            .unwrap_or_default()
            .chars()
            .map(char::len_utf16)
            .sum();
        Position::new(line as u32, column as u32)
    }

    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(self.position(text, start), self.position(text, end))
    }

    /// The byte offset of a position; past the end of a line, the line's end.
    pub fn offset(&self, text: &str, position: Position) -> usize {
        let Some(start) = self.starts.get(position.line as usize).copied() else {
            return text.len();
        };
        let end = self
            .starts
            .get(position.line as usize + 1)
            .map_or(text.len(), |next| next - 1);
        let mut units = 0u32;
        for (at, character) in text[start..end].char_indices() {
            if units >= position.character {
                return start + at;
            }
            units += character.len_utf16() as u32;
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::LineIndex;
    use lsp_types::Position;

    #[test]
    fn columns_count_utf16_units() {
        let text = "a = 1\nμ = \"𝑥\" // x\n";
        let index = LineIndex::new(text);
        let x = text.find("//").unwrap();
        // `μ = "` is 5 units, `𝑥` (outside the BMP) 2, `" ` 2.
        assert_eq!(index.position(text, x), Position::new(1, 9));
        assert_eq!(index.offset(text, Position::new(1, 9)), x);
        assert_eq!(index.offset(text, Position::new(0, 99)), 5);
        assert_eq!(index.position(text, text.len()), Position::new(2, 0));
    }
}
