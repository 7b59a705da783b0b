//! Tests of `text_files`: every format, glob expansion, and every error naming its parameter.

use std::path::Path;

use exp_plugin_api::sdk::{build, Component, Config, Params, PluginError, Split, TextDataset};
use exp_plugin_api::serde_json::{json, Value};

use super::{TextFiles, TextFilesConfig};
use crate::dataset::test_support::{all_documents, context};

/// Parameters reading `paths` in `format`, with every document in train.
fn params(paths: &[&Path], format: &str) -> Value {
    let paths: Vec<&str> = paths.iter().map(|path| path.to_str().unwrap()).collect();
    json!({
        "paths": paths, "format": format, "source": "tests", "license": "CC0-1.0",
        "validation_fraction": 0.0, "test_fraction": 0.0,
    })
}

fn texts(params: Value) -> Vec<String> {
    let dataset = build::<TextFiles>(params, &context()).unwrap();
    all_documents(&dataset)
        .into_iter()
        .map(|document| document.text)
        .collect()
}

/// The error of building with `params`, and of `check` alone (what `exp check` runs).
fn errors(params: Value) -> (PluginError, Result<(), PluginError>) {
    let built = build::<TextFiles>(params.clone(), &context())
        .err()
        .unwrap();
    let params = Params::from_json(&params)
        .unwrap()
        .with_defaults(&TextFilesConfig::params());
    let checked = TextFiles::check(&TextFilesConfig::from_params(&params).unwrap());
    (built, checked)
}

#[test]
fn text_and_paragraphs() {
    let directory = tempfile::tempdir().unwrap();
    let (a, b) = (
        directory.path().join("a.txt"),
        directory.path().join("b.txt"),
    );
    std::fs::write(&a, "First para,\ntwo lines.\n\n\nSecond.\n").unwrap();
    std::fs::write(&b, "  \n").unwrap();
    assert_eq!(
        texts(params(&[&a, &b], "text")),
        ["First para,\ntwo lines.\n\n\nSecond.\n"]
    );
    assert_eq!(
        texts(params(&[&a, &b], "paragraphs")),
        ["First para,\ntwo lines.\n", "Second.\n"]
    );
    let dataset = build::<TextFiles>(params(&[&a], "paragraphs"), &context()).unwrap();
    let info = dataset.info();
    assert_eq!(
        (info.source.as_str(), info.license.as_str()),
        ("tests", "CC0-1.0")
    );
    assert_eq!(info.train_len, 2);
}

#[test]
fn globs_are_sorted_and_files_read_once() {
    let directory = tempfile::tempdir().unwrap();
    for name in ["b.txt", "a.txt", "c.md"] {
        std::fs::write(directory.path().join(name), format!("from {name}")).unwrap();
    }
    std::fs::create_dir(directory.path().join("sub.txt")).unwrap();
    let pattern = directory.path().join("*.txt");
    let again = directory.path().join("a.txt");
    assert_eq!(
        texts(params(&[&pattern, &again], "text")),
        ["from a.txt", "from b.txt"]
    );
    let (built, checked) = errors(params(&[&directory.path().join("*.json")], "text"));
    assert_eq!(built.field.as_deref(), Some("paths"));
    assert!(
        built.message.starts_with("no file matches `"),
        "{}",
        built.message
    );
    assert_eq!(checked, Err(built));
}

#[test]
fn jsonl_reads_the_field_and_names_bad_lines() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("data.jsonl");
    std::fs::write(
        &file,
        "{\"body\": \"one\"}\n\n{\"body\": \"two\", \"id\": 2}\n",
    )
    .unwrap();
    let mut good = params(&[&file], "jsonl");
    good["field"] = json!("body");
    assert_eq!(texts(good.clone()), ["one", "two"]);
    std::fs::write(&file, "{\"body\": \"one\"}\n{\"text\": \"two\"}\n").unwrap();
    let (error, checked) = errors(good.clone());
    assert!(checked.is_ok(), "check does not read the lines");
    assert_eq!(error.field.as_deref(), Some("field"));
    assert!(
        error.message.starts_with("line 2 of `"),
        "{}",
        error.message
    );
    assert!(
        error.message.ends_with("data.jsonl` has no field `body`"),
        "{}",
        error.message
    );
    std::fs::write(&file, "{\"body\": 3}\n").unwrap();
    let (error, _) = errors(good.clone());
    assert!(
        error.message.contains("is not a string but a number"),
        "{}",
        error.message
    );
    std::fs::write(&file, "{\"body\": \"one\"}\nnot json\n").unwrap();
    let (error, _) = errors(good);
    assert_eq!(error.field.as_deref(), Some("paths"));
    assert!(error.message.contains("line 2 of `") && error.message.contains("is not JSON"));
}

#[test]
fn csv_reads_the_column_and_check_finds_a_missing_one() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("rows.csv");
    std::fs::write(&file, "id,text\n1,\"a, quoted\nvalue\"\n2,plain\n3,\n").unwrap();
    assert_eq!(
        texts(params(&[&file], "csv")),
        ["a, quoted\nvalue", "plain"]
    );
    let mut missing = params(&[&file], "csv");
    missing["field"] = json!("body");
    let (error, checked) = errors(missing);
    assert_eq!(error.field.as_deref(), Some("field"));
    assert!(
        error
            .message
            .ends_with("rows.csv` has no column `body`; its header names `id`, `text`"),
        "{}",
        error.message
    );
    assert_eq!(checked, Err(error));
    std::fs::write(&file, "id,text\n1,one\n2,two,extra\n").unwrap();
    let (error, _) = errors(params(&[&file], "csv"));
    assert_eq!(error.field.as_deref(), Some("paths"));
    assert!(
        error.message.starts_with("line 3 of `"),
        "{}",
        error.message
    );
}

#[test]
fn files_that_cannot_be_read_are_named() {
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("missing.txt");
    let (error, checked) = errors(params(&[&missing], "text"));
    assert_eq!(error.field.as_deref(), Some("paths"));
    assert!(
        error.message.ends_with("missing.txt` does not exist"),
        "{}",
        error.message
    );
    assert_eq!(checked, Err(error));
    let (error, _) = errors(params(&[directory.path()], "text"));
    assert!(
        error.message.contains("is a directory"),
        "{}",
        error.message
    );

    let latin1 = directory.path().join("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9 au lait").unwrap();
    let (error, checked) = errors(params(&[&latin1], "text"));
    assert!(checked.is_ok());
    assert_eq!(error.field.as_deref(), Some("paths"));
    assert!(
        error.message.ends_with(
            "latin1.txt` is not UTF-8 text: the byte at offset 3 starts an invalid sequence"
        ),
        "{}",
        error.message
    );

    let blank = directory.path().join("blank.txt");
    std::fs::write(&blank, "\n \n").unwrap();
    let (error, _) = errors(params(&[&blank], "paragraphs"));
    assert_eq!(error.field.as_deref(), Some("paths"));
    assert_eq!(
        error.message,
        "the 1 file read hold no text: every document is blank"
    );
}

#[test]
fn parameters_are_checked_before_any_file() {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("a.txt");
    std::fs::write(&file, "text").unwrap();
    for (name, value, field) in [
        ("source", json!(" "), "source"),
        ("license", json!(""), "license"),
        ("validation_fraction", json!(0.5), "validation_fraction"),
    ] {
        let mut bad = params(&[&file], "text");
        bad[name] = value;
        bad["test_fraction"] = json!(0.5);
        let (error, checked) = errors(bad);
        assert_eq!(error.field.as_deref(), Some(field), "{}", error.message);
        assert_eq!(checked, Err(error));
    }
    let mut no_field = params(&[&file], "jsonl");
    no_field["field"] = json!("");
    assert_eq!(errors(no_field).0.field.as_deref(), Some("field"));
    let (error, _) = errors(params(&[], "text"));
    assert_eq!(
        (error.field.as_deref(), error.message.as_str()),
        (Some("paths"), "no files given")
    );
    // `source` and `license` have no default.
    let mut unlicensed = params(&[&file], "text");
    unlicensed.as_object_mut().unwrap().remove("license");
    let error = build::<TextFiles>(unlicensed, &context()).err().unwrap();
    assert_eq!(error.field.as_deref(), Some("license"));
    let dataset = build::<TextFiles>(params(&[&file], "text"), &context()).unwrap();
    assert_eq!(dataset.documents(Split::Validation).unwrap(), []);
}
