//! Checks, through the tokenizer components, that the `tokenizer.json` files they write mean the
//! same thing to Python's `tokenizers` package: same ids for the same text, same text back from
//! the ids, and the same merges when Python trains with the same settings.
//!
//! The test runs the workspace's virtual environment (`crate::python`) and fails, saying what to
//! install, when it or its `tokenizers` package is missing.

use std::ffi::OsStr;
use std::path::Path;

use exp_plugin_api::sdk::{build, Component, Context, Tokenizer};
use exp_plugin_api::serde_json::{self, json, Value};
use exp_text::tokenizer::{Bpe, Bytes, TokenizerFile};

use crate::python;

/// Loads the tokenizer with Python, encodes and decodes every case, and writes the tokenizer back
/// out as Python serializes it.
const SCRIPT: &str = r#"
import json, sys
import tokenizers
from tokenizers import Tokenizer

tokenizer = Tokenizer.from_file(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    cases = json.load(f)
results = []
for text in cases:
    ids = tokenizer.encode(text, add_special_tokens=False).ids
    results.append({"ids": ids, "decoded": tokenizer.decode(ids, skip_special_tokens=False)})
tokenizer.save(sys.argv[3])
json.dump({"version": tokenizers.__version__, "results": results}, sys.stdout)
"#;

/// Trains Python's BPE with the settings `bpe` trains with, for comparing merges.
const TRAIN_SCRIPT: &str = r#"
import json, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

with open(sys.argv[1], encoding="utf-8") as f:
    request = json.load(f)
tokenizer = Tokenizer(models.BPE())
tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tokenizer.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(
    vocab_size=request["vocab_size"],
    min_frequency=request["min_frequency"],
    special_tokens=request["special_tokens"],
    initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    show_progress=False,
)
tokenizer.train_from_iterator(request["documents"], trainer=trainer)
sys.stdout.write(tokenizer.to_str())
"#;

fn tricky_texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "",
        " ",
        "a",
        "Hello, world!",
        "   leading spaces",
        "trailing spaces   ",
        "a  b   c    d",
        "\n",
        "\n\n\nthree newlines",
        "windows\r\nline\r\nends",
        "\ttabs\tand \t mixed \u{a0}nbsp",
        "I'm sure they're here, we'll see; it's John's 'quote'",
        "numbers 12345 3.14159 1e-9 0x1F",
        "héllo wörld, naïve café, Ångström",
        "e\u{301} (combining) vs \u{e9} (precomposed): no normalizer, both kept",
        "日本語のテキスト、中文文本，한국어",
        "مرحبا بالعالم and עברית",
        "emoji 😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷",
        "Z̴̡͓a̷̢l̶̨g̸̛o̵",
        "control \u{0}\u{1}\u{7}\u{1b}[0m \u{7f} and BOM \u{feff}",
        "<|endoftext|>",
        "before<|endoftext|>after",
        "<|endoftext|><|pad|><|mask|>",
        " <|endoftext|> spaced <|pad|>\n<|mask|>\n",
        "<|endoftext|\u{3e}",
        "<|endoftext>  <|endoftext|  |endoftext|>",
        "<|<|endoftext|>|>",
        "fn main() { println!(\"{}\", x); } // code",
        "\u{10ffff}\u{fffd}\u{200b}\u{2028}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    texts.push(" ".repeat(100));
    texts.push("\n".repeat(50) + "end");
    texts.push("abc".repeat(500));
    texts
}

fn corpus() -> Vec<String> {
    let base = tricky_texts();
    (0..60)
        .map(|i| {
            format!(
                "{} The quick brown fox {i} jumps over the lazy dog. {}",
                base[i % base.len()],
                base[(i * 7) % base.len()]
            )
        })
        .collect()
}

fn specials() -> Vec<String> {
    ["<|endoftext|>", "<|pad|>", "<|mask|>"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn context() -> Context {
    Context {
        seed: 0,
        device: "cpu".into(),
        data: None,
    }
}

/// Runs `script` with `args` under the workspace's Python, which must have `tokenizers`.
fn run_python(script: &str, args: &[&Path]) -> Vec<u8> {
    let args: Vec<&OsStr> = args.iter().map(|path| path.as_os_str()).collect();
    python::run(script, &args, &["tokenizers"]).stdout
}

fn encode(tokenizer: &impl Tokenizer, text: &str) -> Vec<u32> {
    tokenizer.encode(&[text]).unwrap().remove(0)
}

/// A `bpe` component trained on `documents`.
fn trained_bpe(documents: &[String], vocab_size: usize, min_frequency: u64) -> Bpe {
    let params = json!({"vocab_size": vocab_size, "min_frequency": min_frequency, "special_tokens": specials()});
    let mut bpe = build::<Bpe>(params, &context()).unwrap();
    let documents: Vec<&str> = documents.iter().map(String::as_str).collect();
    bpe.train(&documents).unwrap();
    bpe
}

/// Runs the Python side on `tokenizer` and checks it against the Rust side.
fn check_against_python<T: Tokenizer>(tokenizer: &T) {
    let directory = tempfile::tempdir().unwrap();
    let json_path = directory.path().join("tokenizer.json");
    let cases_path = directory.path().join("cases.json");
    let python_json_path = directory.path().join("python-tokenizer.json");
    std::fs::write(&json_path, tokenizer.to_json().unwrap()).unwrap();
    let texts = tricky_texts();
    std::fs::write(&cases_path, serde_json::to_string(&texts).unwrap()).unwrap();

    let stdout = run_python(SCRIPT, &[&json_path, &cases_path, &python_json_path]);
    let reply: Value = serde_json::from_slice(&stdout).unwrap();
    let version = reply["version"].as_str().unwrap();
    eprintln!("Python tokenizers {version}");

    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), texts.len());
    for (text, result) in texts.iter().zip(results) {
        let rust_ids = encode(tokenizer, text);
        let python_ids: Vec<u32> = serde_json::from_value(result["ids"].clone()).unwrap();
        assert_eq!(rust_ids, python_ids, "ids differ for {text:?}");
        assert_eq!(
            result["decoded"].as_str().unwrap(),
            text,
            "Python decode of {text:?}"
        );
        assert_eq!(
            &tokenizer.decode(&rust_ids).unwrap(),
            text,
            "Rust decode of {text:?}"
        );
    }

    // The other direction: the file as Python writes it loads here, as a `tokenizer_file` and
    // into the same component with `load_json`, and encodes the same.
    let params = json!({"path": python_json_path.to_str().unwrap()});
    let from_file = build::<TokenizerFile>(params, &context()).unwrap();
    let mut reloaded = build::<Bytes>(json!({}), &context()).unwrap();
    reloaded
        .load_json(&std::fs::read_to_string(&python_json_path).unwrap())
        .unwrap();
    assert_eq!(from_file.vocabulary(), tokenizer.vocabulary());
    for text in &texts {
        let ids = encode(tokenizer, text);
        assert_eq!(
            encode(&from_file, text),
            ids,
            "{} reads {text:?} differently",
            TokenizerFile::NAME
        );
        assert_eq!(
            encode(&reloaded, text),
            ids,
            "the reloaded tokenizer reads {text:?} differently"
        );
    }
}

#[test]
fn trained_bpe_matches_python() {
    let tokenizer = trained_bpe(&corpus(), 700, 2);
    assert!(
        tokenizer.vocabulary().vocab_size > 300,
        "training made few merges"
    );
    check_against_python(&tokenizer);
}

#[test]
fn bytes_tokenizer_matches_python() {
    let params = json!({"special_tokens": specials()});
    check_against_python(&build::<Bytes>(params, &context()).unwrap());
}

#[test]
fn python_training_finds_the_same_merges() {
    let documents = corpus();
    let (vocab_size, min_frequency) = (700, 2);
    let directory = tempfile::tempdir().unwrap();
    let request_path = directory.path().join("request.json");
    let request = json!({
        "documents": documents,
        "vocab_size": vocab_size,
        "min_frequency": min_frequency,
        "special_tokens": specials(),
    });
    std::fs::write(&request_path, request.to_string()).unwrap();
    let python: Value =
        serde_json::from_slice(&run_python(TRAIN_SCRIPT, &[&request_path])).unwrap();

    let tokenizer = trained_bpe(&documents, vocab_size, min_frequency);
    let rust: Value = serde_json::from_str(&tokenizer.to_json().unwrap()).unwrap();
    assert_eq!(rust["model"]["vocab"], python["model"]["vocab"]);
    assert_eq!(rust["model"]["merges"], python["model"]["merges"]);
    assert_eq!(rust["added_tokens"], python["added_tokens"]);
}
