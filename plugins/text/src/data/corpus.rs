//! A shipped real English corpus: Jane Austen's six completed novels (public domain), split into chapters.
//!
//! The texts are embedded with `include_bytes!` as gzip files, one per novel, exactly as extracted from
//! Debian's `r-cran-janeaustenr` package (provenance, checksums and licence in
//! the repository's `data/austen/LICENSE.md`, available here as [`LICENSE`]).
//! Gzip because its decoder (`flate2`, pure Rust) is small and decodes the 4 MB in milliseconds, and
//! 2.7x compression keeps the crate at 1.5 MB; xz or zstd would save about 0.4 MB more at the cost of a
//! heavier dependency.
//!
//! How a novel becomes documents:
//! - the text before the first chapter heading (title page, the author's advertisement in *Northanger
//!   Abbey*) and after the closing mark (`THE END`, `FINIS`, and the modern "A NOTE ON THE TEXT" after
//!   *Northanger Abbey*) is dropped;
//! - the text is cut at chapter headings (`CHAPTER XIV`, `Chapter 3`); headings and `VOLUME` lines are
//!   dropped, so a chapter is only its prose;
//! - paragraphs are the blocks between blank lines; a paragraph is re-flowed onto one line (the source
//!   is hard-wrapped at about 70 characters), except verse and letters, whose lines are indented in the
//!   source and keep their line breaks; runs of spaces become one space;
//! - editorial notes in square brackets (`[At this point in the first and second editions, Volume 1
//!   ends.]`), scene-break rows of asterisks and the underscores that mark italics are removed.
//!
//! A chapter is one document: paragraphs separated by a blank line, ending with `\n`.

use std::io::Read;
use std::sync::OnceLock;

use flate2::read::GzDecoder;

/// The corpus's name, also its folder under `data/`.
pub const NAME: &str = "austen";
/// Provenance and licence of the shipped texts.
pub const LICENSE: &str = include_str!("../../../../data/austen/LICENSE.md");

/// One novel as shipped: title, year of first publication, Project Gutenberg ebook number (the source
/// the package names) and the gzip-compressed text.
struct Source {
    title: &'static str,
    year: u16,
    gutenberg_ebook: u32,
    gzip: &'static [u8],
}

/// In order of publication.
const SOURCES: [Source; 6] = [
    Source {
        title: "Sense and Sensibility",
        year: 1811,
        gutenberg_ebook: 161,
        gzip: include_bytes!("../../../../data/austen/sensesensibility.txt.gz"),
    },
    Source {
        title: "Pride and Prejudice",
        year: 1813,
        gutenberg_ebook: 1342,
        gzip: include_bytes!("../../../../data/austen/prideprejudice.txt.gz"),
    },
    Source {
        title: "Mansfield Park",
        year: 1814,
        gutenberg_ebook: 141,
        gzip: include_bytes!("../../../../data/austen/mansfieldpark.txt.gz"),
    },
    Source {
        title: "Emma",
        year: 1815,
        gutenberg_ebook: 158,
        gzip: include_bytes!("../../../../data/austen/emma.txt.gz"),
    },
    Source {
        title: "Northanger Abbey",
        year: 1818,
        gutenberg_ebook: 121,
        gzip: include_bytes!("../../../../data/austen/northangerabbey.txt.gz"),
    },
    Source {
        title: "Persuasion",
        year: 1818,
        gutenberg_ebook: 105,
        gzip: include_bytes!("../../../../data/austen/persuasion.txt.gz"),
    },
];

/// Lines that end a novel: everything from the first of them on is dropped.
const CLOSING_MARKS: [&str; 4] = ["THE END", "FINIS", "Finis", "A NOTE ON THE TEXT"];

/// One novel, cleaned and split into chapters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    pub title: &'static str,
    /// Year of first publication.
    pub year: u16,
    /// The Project Gutenberg ebook the text comes from.
    pub gutenberg_ebook: u32,
    pub chapters: Vec<String>,
}

/// The novel's text exactly as shipped (the source lines joined with `\n`).
fn raw_text(source: &Source) -> Result<String, String> {
    let mut text = String::new();
    GzDecoder::new(source.gzip)
        .read_to_string(&mut text)
        .map_err(|error| {
            format!(
                "the embedded text of {} is corrupt ({error}); this is a bug in exp's text plugin",
                source.title
            )
        })?;
    Ok(text)
}

/// Whether `line` is a chapter heading such as `CHAPTER XIV` or `Chapter 3`.
fn is_chapter_heading(line: &str) -> bool {
    let Some(number) = line
        .strip_prefix("CHAPTER ")
        .or_else(|| line.strip_prefix("Chapter "))
    else {
        return false;
    };
    !number.is_empty()
        && (number.chars().all(|c| c.is_ascii_digit())
            || number.chars().all(|c| "IVXLC".contains(c)))
}

/// Whether a paragraph is an editorial note or a scene break rather than the author's prose.
fn is_apparatus(paragraph: &[&str]) -> bool {
    let joined = paragraph
        .iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join(" ");
    let bracketed = joined.starts_with('[') && joined.ends_with(']');
    let scene_break = joined.chars().all(|c| c == '*' || c == ' ');
    let volume = joined.starts_with("VOLUME ");
    bracketed || scene_break || volume
}

/// A paragraph's lines as clean text: re-flowed onto one line, or line by line for indented verse.
fn paragraph_text(paragraph: &[&str]) -> String {
    let indented = paragraph.iter().any(|line| line.starts_with("  "));
    let line_separator = if indented { '\n' } else { ' ' };
    let mut text = String::new();
    for (line_idx, line) in paragraph.iter().enumerate() {
        if line_idx > 0 {
            text.push(line_separator);
        }
        // Runs of spaces collapse to one: *Sense and Sensibility* puts two spaces after each sentence.
        for (word_idx, word) in line.split_whitespace().enumerate() {
            if word_idx > 0 {
                text.push(' ');
            }
            text.extend(word.chars().filter(|&c| c != '_'));
        }
    }
    text
}

/// A chapter's body lines as a document.
fn chapter_text(lines: &[&str]) -> String {
    let mut paragraphs = Vec::new();
    for block in lines.split(|line| line.trim().is_empty()) {
        if !block.is_empty() && !is_apparatus(block) {
            paragraphs.push(paragraph_text(block));
        }
    }
    paragraphs.join("\n\n") + "\n"
}

fn book(source: &Source) -> Result<Book, String> {
    let text = raw_text(source)?;
    let lines: Vec<&str> = text.lines().collect();
    let headings: Vec<usize> = (0..lines.len())
        .filter(|&idx| is_chapter_heading(lines[idx].trim()))
        .collect();
    let last_heading = *headings.last().ok_or_else(|| {
        format!(
            "the embedded text of {} has no chapter headings; this is a bug in exp's text plugin",
            source.title
        )
    })?;
    let end = (last_heading..lines.len())
        .find(|&idx| CLOSING_MARKS.contains(&lines[idx].trim()))
        .unwrap_or(lines.len());
    let chapters = headings
        .iter()
        .enumerate()
        .map(|(position, &heading)| {
            let next = headings.get(position + 1).copied().unwrap_or(end);
            chapter_text(&lines[heading + 1..next])
        })
        .collect();
    Ok(Book {
        title: source.title,
        year: source.year,
        gutenberg_ebook: source.gutenberg_ebook,
        chapters,
    })
}

/// The six novels in order of publication.
/// The error can only come from damaged embedded data, a bug in the build.
pub fn books() -> Result<Vec<Book>, String> {
    SOURCES.iter().map(book).collect()
}

/// Every chapter of every novel, in order of publication: 269 documents.
pub fn documents() -> Result<Vec<String>, String> {
    Ok(books()?
        .into_iter()
        .flat_map(|book| book.chapters)
        .collect())
}

/// [`documents`], decoded once per process and shared, so every dataset built in one run (and every
/// test) pays for the decoding once.
pub fn shared_documents() -> Result<&'static [String], String> {
    static DOCUMENTS: OnceLock<Result<Vec<String>, String>> = OnceLock::new();
    DOCUMENTS
        .get_or_init(documents)
        .as_deref()
        .map_err(Clone::clone)
}

/// Shorter documents for studies that want more of them: each chapter's paragraphs, merged in order
/// until a passage has at least `min_chars` bytes (a chapter's final passage may be shorter).
/// Passages never cross a chapter boundary.
pub fn passages(min_chars: usize) -> Result<Vec<String>, String> {
    Ok(passages_of(documents()?, min_chars))
}

/// [`passages`] of the given chapters.
pub fn passages_of(chapters: Vec<String>, min_chars: usize) -> Vec<String> {
    let mut passages = Vec::new();
    for chapter in chapters {
        let mut passage = String::new();
        for paragraph in chapter.trim_end().split("\n\n") {
            if !passage.is_empty() {
                passage.push_str("\n\n");
            }
            passage.push_str(paragraph);
            if passage.len() >= min_chars {
                passages.push(std::mem::take(&mut passage) + "\n");
            }
        }
        if !passage.is_empty() {
            passages.push(passage + "\n");
        }
    }
    passages
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::{books, documents, is_chapter_heading, passages, raw_text, Book, LICENSE, SOURCES};

    /// The books, decoded once for all tests (decoding in a debug build takes a while).
    fn cached_books() -> &'static [Book] {
        static BOOKS: OnceLock<Vec<Book>> = OnceLock::new();
        BOOKS.get_or_init(|| books().unwrap())
    }

    fn cached_documents() -> Vec<&'static String> {
        cached_books()
            .iter()
            .flat_map(|book| &book.chapters)
            .collect()
    }

    #[test]
    fn the_corpus_has_six_novels_and_269_chapters() {
        let books = cached_books();
        let chapters: Vec<usize> = books.iter().map(|book| book.chapters.len()).collect();
        assert_eq!(chapters, [50, 61, 48, 55, 31, 24]);
        assert_eq!(cached_documents().len(), 269);
        let bytes: usize = cached_documents().iter().map(|chapter| chapter.len()).sum();
        assert!((3_500_000..4_200_000).contains(&bytes), "{bytes}");
    }

    #[test]
    fn chapters_start_and_end_where_the_novels_do() {
        let documents = cached_documents();
        assert!(documents[0].starts_with("The family of Dashwood had long been settled in Sussex."));
        let pride = &cached_books()[1].chapters[0];
        assert!(pride.starts_with(
            "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife."
        ));
        let emma = &cached_books()[3].chapters[0];
        assert!(emma.starts_with("Emma Woodhouse, handsome, clever, and rich,"));
        assert!(documents
            .last()
            .unwrap()
            .trim_end()
            .ends_with("national importance."));
    }

    #[test]
    fn no_boilerplate_or_editorial_apparatus_remains() {
        for (idx, chapter) in cached_documents().into_iter().enumerate() {
            for forbidden in [
                "Gutenberg",
                "GUTENBERG",
                "eBook",
                "www.",
                "http",
                "A NOTE ON THE TEXT",
                "Signet",
                "Edinburgh University Press",
                "first and second editions",
                "CHAPTER",
                "VOLUME",
                "THE END",
                "FINIS",
                "_",
                "* * *",
            ] {
                assert!(
                    !chapter.contains(forbidden),
                    "chapter {idx} contains {forbidden:?}"
                );
            }
            assert!(
                !chapter.contains("\n\n\n"),
                "chapter {idx} has an empty paragraph"
            );
            assert!(!chapter.contains("  "), "chapter {idx} has a run of spaces");
            assert!(chapter.ends_with('\n') && !chapter.ends_with("\n\n"));
        }
    }

    #[test]
    fn prose_is_reflowed_and_verse_keeps_its_lines() {
        let documents = cached_documents();
        let prose_lines: usize = documents
            .iter()
            .map(|chapter| chapter.lines().count())
            .sum();
        let paragraphs: usize = documents
            .iter()
            .map(|chapter| chapter.split("\n\n").count())
            .sum();
        // Nearly every paragraph is one line; the extra lines are verse and letters.
        assert!(
            prose_lines < paragraphs * 2 + 1000,
            "{prose_lines} lines, {paragraphs} paragraphs"
        );
        let emma = &cached_books()[3].chapters;
        assert!(emma.iter().any(|chapter| chapter
            .contains("My first doth affliction denote,\nWhich my second is destin'd to feel")));
    }

    #[test]
    fn the_text_is_valid_utf8_and_the_decoding_deterministic() {
        // Decoding into a String checks UTF-8; the one non-ASCII character in the novels is the pound sign.
        for source in &SOURCES {
            let text = raw_text(source).unwrap();
            assert!(
                text.chars().all(|c| c.is_ascii() || c == '£'),
                "{}",
                source.title
            );
        }
        let fresh = documents().unwrap();
        assert_eq!(fresh.iter().collect::<Vec<_>>(), cached_documents());
    }

    #[test]
    fn passages_cover_the_chapters_in_order() {
        let passages = passages(2000).unwrap();
        assert!(passages.len() > 1500, "{}", passages.len());
        let joined: String = passages
            .iter()
            .map(|passage| passage.trim_end())
            .collect::<Vec<_>>()
            .join("\n\n");
        let chapters: String = cached_documents()
            .into_iter()
            .map(|chapter| chapter.trim_end())
            .collect::<Vec<_>>()
            .join("\n\n");
        assert_eq!(joined, chapters);
        let short = passages
            .iter()
            .filter(|passage| passage.len() < 2000)
            .count();
        assert!(
            short <= 269,
            "only a chapter's last passage may be short: {short}"
        );
    }

    #[test]
    fn headings_are_recognised() {
        assert!(is_chapter_heading("CHAPTER XLVIII"));
        assert!(is_chapter_heading("Chapter 12"));
        assert!(!is_chapter_heading("Chapter"));
        assert!(!is_chapter_heading("CHAPTER one"));
        assert!(!is_chapter_heading("Chapters 4"));
    }

    #[test]
    fn the_licence_names_its_sources() {
        for source in &SOURCES {
            assert!(
                LICENSE.contains(&format!("ebooks/{}", source.gutenberg_ebook)),
                "{}",
                source.title
            );
        }
        assert!(LICENSE.contains("r-cran-janeaustenr"));
        assert!(LICENSE.contains("public domain"));
    }
}
