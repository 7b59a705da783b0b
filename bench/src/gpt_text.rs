//! The text the GPT rows train on: one file the harness writes beside the experiment, read by
//! exp through `text_files` (format "text": the whole file is one document) and by the PyTorch
//! script byte by byte, so both sides see exactly the same tokens.
//!
//! The text is ASCII sentences of words drawn from a fixed list with the SDK's seeded `Rng`, so
//! it is the same on every run; its content only has to be text, since the rows measure speed.

use std::path::Path;

use exp_plugin_api::sdk::Rng;

/// The file name, beside the experiment file that names it.
pub const TEXT_FILE: &str = "gpt-text.txt";

/// The `bytes` tokenizer's special tokens, ids 0 and 1; the first is the end-of-text token
/// that follows the document in the packed stream.
pub const SPECIAL_TOKENS: [&str; 2] = ["<|endoftext|>", "<|pad|>"];

/// About how many bytes (tokens) the file holds: 1,600 windows of 256 tokens, more than the
/// longest row draws in one epoch.
const TARGET_BYTES: usize = 400_000;

const WORDS: &[&str] = &[
    "the", "garden", "river", "morning", "letter", "house", "walked", "quietly", "along", "under",
    "bright", "evening", "sister", "carriage", "dinner", "window", "and", "of", "to", "a", "in",
    "was", "her", "it", "that", "she", "he", "had", "not", "you", "be", "with", "for", "as", "his",
    "at", "by", "on", "my", "all", "have", "which", "so", "but", "this", "from", "every", "friend",
    "always", "could", "would", "said", "thought", "never", "little", "great",
];

/// The text: sentences of 5 to 16 words, a capital first and a full stop last.
pub fn text() -> String {
    let mut rng = Rng::new(0x6770_7431);
    let mut text = String::with_capacity(TARGET_BYTES + 128);
    while text.len() < TARGET_BYTES {
        let words = 5 + rng.next_u64() % 12;
        for index in 0..words {
            let word = WORDS[(rng.next_u64() % WORDS.len() as u64) as usize];
            if index == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    text.extend(first.to_uppercase());
                    text.push_str(chars.as_str());
                }
            } else {
                text.push(' ');
                text.push_str(word);
            }
        }
        text.push_str(if rng.next_u64().is_multiple_of(5) {
            ".\n"
        } else {
            ". "
        });
    }
    text
}

/// Writes the text into `directory`.
pub fn write(directory: &Path) -> std::io::Result<()> {
    std::fs::write(directory.join(TEXT_FILE), text())
}

#[cfg(test)]
mod tests {
    use super::{text, TARGET_BYTES};

    #[test]
    fn the_text_is_ascii_sentences_and_the_same_every_time() {
        let first = text();
        assert!(first.len() >= TARGET_BYTES && first.is_ascii());
        assert!(first.starts_with(char::is_uppercase), "{}", &first[..40]);
        // No special token can appear in it, or the tokenizer would read it as one.
        assert!(!first.contains("<|"));
        assert_eq!(first, text());
    }
}
