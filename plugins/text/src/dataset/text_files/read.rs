//! Reading `text_files`: expanding `paths` into files, and each file into documents by format.
//!
//! Expansion: an entry with a glob character (`*`, `?`, `[`) is a pattern whose matching files
//! are taken in sorted order (directories it matches are skipped); any other entry must be an
//! existing file. Entries are taken in the order written, and a file named twice is read once, so
//! the list of files, and with it the documents' order, depends only on the parameters and the
//! files present.
//!
//! Every error names the file, and the line (JSON Lines, CSV) or byte offset (UTF-8) at fault;
//! it blames `paths` for what is wrong with a file and `field` for a missing field or column.

use std::fs;
use std::path::{Path, PathBuf};

use exp_plugin_api::sdk::{PluginError, Result};
use exp_plugin_api::serde_json::Value;

use super::Format;

/// The files `paths` names, in order, each once.
pub fn expand(paths: &[String]) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in paths {
        let found = if entry.contains(['*', '?', '[']) {
            matches(entry)?
        } else {
            vec![existing_file(entry)?]
        };
        for file in found {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

/// The files a glob pattern matches, sorted.
fn matches(pattern: &str) -> Result<Vec<PathBuf>> {
    let entries = glob::glob(pattern).map_err(|error| {
        PluginError::in_field(
            "paths",
            format!("`{pattern}` is not a valid glob pattern: {error}"),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|error| {
            PluginError::in_field(
                "paths",
                format!(
                    "cannot read `{}` while matching `{pattern}`: {}",
                    error.path().display(),
                    error.error()
                ),
            )
        })?;
        if path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(PluginError::in_field(
            "paths",
            format!("no file matches `{pattern}`"),
        ));
    }
    files.sort();
    Ok(files)
}

fn existing_file(entry: &str) -> Result<PathBuf> {
    let path = PathBuf::from(entry);
    if path.is_file() {
        Ok(path)
    } else if path.is_dir() {
        Err(PluginError::in_field(
            "paths",
            format!("`{entry}` is a directory: name its files, or match them with a glob such as `{entry}/*.txt`"),
        ))
    } else {
        Err(PluginError::in_field(
            "paths",
            format!("`{entry}` does not exist"),
        ))
    }
}

/// The text of `file`, which must be UTF-8.
fn read_text(file: &Path) -> Result<String> {
    let bytes = fs::read(file).map_err(|error| {
        PluginError::in_field(
            "paths",
            format!("cannot read `{}`: {error}", file.display()),
        )
    })?;
    String::from_utf8(bytes).map_err(|error| {
        PluginError::in_field(
            "paths",
            format!(
                "`{}` is not UTF-8 text: the byte at offset {} starts an invalid sequence",
                file.display(),
                error.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Every non-blank document of `files`, in order.
pub fn read_documents(files: &[PathBuf], format: Format, field: &str) -> Result<Vec<String>> {
    let mut documents = Vec::new();
    for file in files {
        let text = read_text(file)?;
        let found = match format {
            Format::Text => vec![text],
            Format::Paragraphs => paragraphs(&text),
            Format::Jsonl => jsonl(file, &text, field)?,
            Format::Csv => csv_column(file, &text, field)?,
        };
        documents.extend(
            found
                .into_iter()
                .filter(|document| !document.trim().is_empty()),
        );
    }
    Ok(documents)
}

/// Blocks of lines between blank lines, each ending with a newline.
fn paragraphs(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .split(|line| line.trim().is_empty())
        .filter(|block| !block.is_empty())
        .map(|block| block.join("\n") + "\n")
        .collect()
}

/// The string `field` of every non-blank line.
fn jsonl(file: &Path, text: &str, field: &str) -> Result<Vec<String>> {
    let mut documents = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {} of `{}`", index + 1, file.display());
        let value: Value = exp_plugin_api::serde_json::from_str(line).map_err(|error| {
            PluginError::in_field("paths", format!("{} is not JSON: {error}", at()))
        })?;
        match value.get(field) {
            Some(Value::String(document)) => documents.push(document.clone()),
            Some(other) => {
                return Err(PluginError::in_field(
                    "field",
                    format!(
                        "`{field}` on {} is not a string but {}",
                        at(),
                        json_kind(other)
                    ),
                ))
            }
            None => {
                return Err(PluginError::in_field(
                    "field",
                    format!("{} has no field `{field}`", at()),
                ))
            }
        }
    }
    Ok(documents)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The column `field` of every row of a CSV file with a header row.
fn csv_column(file: &Path, text: &str, field: &str) -> Result<Vec<String>> {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let column = column_index(file, &mut reader, field)?;
    let mut documents = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| csv_error(file, &error))?;
        documents.push(record.get(column).unwrap_or_default().to_string());
    }
    Ok(documents)
}

/// The index of the column called `field`, from the header row.
fn column_index<R: std::io::Read>(
    file: &Path,
    reader: &mut csv::Reader<R>,
    field: &str,
) -> Result<usize> {
    let headers = reader.headers().map_err(|error| csv_error(file, &error))?;
    headers
        .iter()
        .position(|name| name == field)
        .ok_or_else(|| {
            let names: Vec<String> = headers.iter().map(|name| format!("`{name}`")).collect();
            PluginError::in_field(
                "field",
                format!(
                    "`{}` has no column `{field}`; its header names {}",
                    file.display(),
                    names.join(", ")
                ),
            )
        })
}

fn csv_error(file: &Path, error: &csv::Error) -> PluginError {
    let at = match error.position() {
        Some(position) => format!("line {} of `{}`", position.line(), file.display()),
        None => format!("`{}`", file.display()),
    };
    PluginError::in_field("paths", format!("{at} is not valid CSV: {error}"))
}

/// Checks that every CSV file has the column, reading only its header row.
pub fn check_csv_columns(files: &[PathBuf], field: &str) -> Result<()> {
    for file in files {
        let opened = fs::File::open(file).map_err(|error| {
            PluginError::in_field(
                "paths",
                format!("cannot read `{}`: {error}", file.display()),
            )
        })?;
        column_index(file, &mut csv::Reader::from_reader(opened), field)?;
    }
    Ok(())
}
