//! `text_files`: a user's own text, read from files the `.exp` file names (`paths`, relative
//! to it, globs allowed; the host hands the component absolute paths).
//!
//! `format` says what a document is: a whole file (`text`), a block of lines between blank lines
//! (`paragraphs`), the string `field` of each line of JSON Lines (`jsonl`), or the column named
//! `field` of each row of a CSV file with a header row (`csv`). Blank documents are skipped, and
//! identical ones are kept once (before the split, like every text dataset here).
//!
//! `source` and `license` are required: the run's data ledger records them, and a licence policy
//! is checked against them. `check` verifies the parameters and that the files exist (and, for
//! CSV, that each has the column), so `exp check` reports those; `create` does the same and then
//! reads every file, naming the file, and the line or byte offset, of anything it cannot read.

mod read;

use exp_plugin_api::sdk::{
    Choice, Component, Config, Context, DataInfo, Document, PluginError, Result, Split, TextDataset,
};

use super::{SplitConfig, Splits};
use crate::data::Example;
use read::{check_csv_columns, expand, read_documents};

/// What one document of a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum Format {
    /// A whole file.
    Text,
    /// A block of lines between blank lines.
    Paragraphs,
    /// The string `field` of each line of JSON Lines.
    Jsonl,
    /// The column `field` of each row of a CSV file with a header row.
    Csv,
}

#[derive(Debug, Clone, Config)]
pub struct TextFilesConfig {
    /// files to read, relative to the experiment file; globs such as "notes/*.txt" take their matches in sorted order
    #[param(path)]
    pub paths: Vec<String>,
    /// what a document is: "text" (a whole file), "paragraphs" (blocks between blank lines), "jsonl" (a line's `field`), "csv" (a row's column `field`)
    #[param(default = "text")]
    pub format: Format,
    /// the JSON field ("jsonl") or the CSV column ("csv") that holds the text
    #[param(default = "text")]
    pub field: String,
    /// where the text comes from, recorded in the run's data ledger
    pub source: String,
    /// the licence the text is under (an SPDX name such as "CC-BY-4.0" where there is one), recorded in the data ledger and checked against a licence policy
    pub license: String,
    #[param(flatten)]
    pub split: SplitConfig,
}

pub struct TextFiles {
    splits: Splits,
}

impl Component for TextFiles {
    type Config = TextFilesConfig;
    const NAME: &'static str = "text_files";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "your own text files (plain, paragraphs, JSON Lines or CSV), with their source and licence";

    fn check(config: &TextFilesConfig) -> Result<()> {
        check_parameters(config)?;
        let files = expand(&config.paths)?;
        if config.format == Format::Csv {
            check_csv_columns(&files, &config.field)?;
        }
        Ok(())
    }

    fn create(config: TextFilesConfig, _context: &Context) -> Result<Self> {
        check_parameters(&config)?;
        let files = expand(&config.paths)?;
        let documents = read_documents(&files, config.format, &config.field)?;
        if documents.is_empty() {
            return Err(PluginError::in_field(
                "paths",
                format!(
                    "the {} read hold no text: every document is blank",
                    count_files(files.len())
                ),
            ));
        }
        let documents: Vec<Example> = documents.into_iter().map(Example::document).collect();
        Ok(TextFiles {
            splits: Splits::new(documents, &config.split, &config.source, &config.license)?,
        })
    }
}

impl TextDataset for TextFiles {
    fn info(&self) -> DataInfo {
        self.splits.info()
    }

    fn documents(&self, split: Split) -> Result<Vec<Document>> {
        Ok(self.splits.documents(split))
    }
}

/// The rules between parameters, checked without reading a file.
fn check_parameters(config: &TextFilesConfig) -> Result<()> {
    config.split.check()?;
    for (name, value) in [("source", &config.source), ("license", &config.license)] {
        if value.trim().is_empty() {
            return Err(PluginError::in_field(
                name,
                format!("`{name}` must say something: the data ledger records it"),
            ));
        }
    }
    if matches!(config.format, Format::Jsonl | Format::Csv) && config.field.trim().is_empty() {
        return Err(PluginError::in_field(
            "field",
            format!(
                "format `{}` needs the name of the {} that holds the text",
                config.format.word(),
                if config.format == Format::Csv {
                    "column"
                } else {
                    "field"
                }
            ),
        ));
    }
    if config.paths.is_empty() {
        return Err(PluginError::in_field("paths", "no files given"));
    }
    Ok(())
}

/// "1 file", "3 files".
fn count_files(count: usize) -> String {
    match count {
        1 => "1 file".to_string(),
        _ => format!("{count} files"),
    }
}

#[cfg(test)]
mod tests;
