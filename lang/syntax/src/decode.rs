//! `decode`: a file's bytes as the text the parser reads.
//!
//! exp reads UTF-8 only. A leading byte-order mark (which some editors write) is not content
//! and is dropped. Bytes that are not UTF-8 are an error the caller reports with a location
//! (`ParseError::InvalidUtf8`), so the text keeps a replacement character (U+FFFD) in their
//! place: the diagnostic can then show the line and put its caret under the first of them.

use exp_diag::{Diagnostic, FileId, SourceMap, Span};

use crate::parse_error::ParseError;

/// The text of a source file, and where its first byte that is not UTF-8 was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The byte range, in `text`, of the replacement character standing for the first bytes
    /// that are not UTF-8; `None` when the file is UTF-8.
    pub invalid: Option<std::ops::Range<usize>>,
}

pub fn decode(bytes: &[u8]) -> Decoded {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded {
            text: text.to_string(),
            invalid: None,
        },
        Err(error) => {
            // The valid prefix is kept byte for byte by the lossy conversion, so the first
            // replacement character starts where the bad bytes did.
            let start = error.valid_up_to();
            Decoded {
                text: String::from_utf8_lossy(bytes).into_owned(),
                invalid: Some(start..start + char::REPLACEMENT_CHARACTER.len_utf8()),
            }
        }
    }
}

/// Decodes a file's bytes and adds its text to `sources` under `name`. The diagnostic, when
/// there is one, points at the first bytes that are not UTF-8; the text should then not be
/// parsed (the replacement character would only cause a second, vaguer error).
pub fn add_source(
    sources: &mut SourceMap,
    name: impl Into<String>,
    bytes: &[u8],
) -> (FileId, Option<Diagnostic>) {
    let decoded = decode(bytes);
    let file = sources.add(name, decoded.text);
    let diagnostic = decoded.invalid.map(|range| {
        ParseError::InvalidUtf8 {
            span: Span::new(file, range.start, range.end),
        }
        .to_diagnostic()
    });
    (file, diagnostic)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn utf8_passes_and_a_byte_order_mark_is_dropped() {
        assert_eq!(decode(b"seed 1\n").text, "seed 1\n");
        assert_eq!(decode(b"\xef\xbb\xbfseed 1\n").text, "seed 1\n");
        assert_eq!(decode("é".as_bytes()).invalid, None);
    }

    #[test]
    fn the_first_bad_byte_is_located_in_the_decoded_text() {
        let decoded = decode(b"seed 1\n\xff\xfe x \xc3");
        assert_eq!(decoded.invalid, Some(7..10));
        assert_eq!(&decoded.text[7..10], "\u{fffd}");
        // After a byte-order mark, offsets are in the text without it.
        let decoded = decode(b"\xef\xbb\xbfab\x80");
        assert_eq!(decoded.invalid, Some(2..5));
        // A sequence cut short at the end of the file is invalid too.
        assert_eq!(decode(b"ab\xe2\x82").invalid, Some(2..5));
    }
}
