//! Tests of `format`: snapshots of the canonical layout, idempotence over every valid file the
//! repository holds, and comments inserted at every gap between tokens.

use std::path::PathBuf;

use crate::format;

/// The source and its formatted text; also checks that formatting twice changes nothing.
fn check(src: &str) -> String {
    let formatted = match format(src) {
        Ok(formatted) => formatted,
        Err(diagnostics) => {
            let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
            return format!("--- source\n{src}\n--- errors\n{}\n", messages.join("\n"));
        }
    };
    assert_idempotent(&formatted);
    format!("--- source\n{src}\n--- formatted\n{formatted}")
}

fn assert_idempotent(formatted: &str) {
    let again =
        format(formatted).unwrap_or_else(|_| panic!("the output does not format:\n{formatted}"));
    assert_eq!(again, formatted, "formatting is not idempotent");
}

#[test]
fn messy_file_with_comments_everywhere() {
    insta::assert_snapshot!(check(
        r#"// header comment

// second header paragraph
import std.digits   // trailing on an import
import std.optim
plugin "a.so"
seed 7 /* seed */
dataset   digits=digits{test_fraction:0.2,}
/* a block comment
   over two lines */
model net = mlp { hidden: [64, 32,], activation: "relu" // why relu
}
model wide = mlp { hidden: [1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024], activation: "relu", dropout: 0.5 }


train a { model: net, data: digits
  // the length

  steps: 300   steps
  batch: 64, seed: 1 // the seed
  optimizer: /* fast */ adamw { lr: 3e-3, weight_decay: 1.0e-4 }
  schedule: cosine { warmup: 10 % /* short */ }
  eval: [accuracy, // first
         loss]
  eval_every: 1 epoch
  // dangling at the end of a block
}
merge soup = average(a, /* inputs */ net,)
merge wise = wise_ft(net, a) { alpha: 0.5 }
evaluate e { model: soup, data: digits, metrics: [accuracy], split: "te\"st // not a comment" }
report r {} // empty
// the end
"#
    ));
}

#[test]
fn long_values_break_one_per_line() {
    insta::assert_snapshot!(check(
        r#"model m = mlp { hidden: [128], activation: "relu", extra: { a: [100000000, 200000000, 300000000, 400000000, 500000000] } }
train t { model: m, data: d, eval: [accuracy, loss, accuracy, loss, accuracy, loss, accuracy, loss, accuracy, loss] }
"#
    ));
}

#[test]
fn literals_and_units_are_kept_as_written() {
    insta::assert_snapshot!(check(
        r#"model m = x { a: -3, b: 1.0e4, c: true, d: 3e-3, e: { f: 2 epochs, g: 1 step, h: 1.5% }, i: [], j: 1E3, k: m {} }
"#
    ));
}

#[test]
fn comments_alone_and_empty_files() {
    assert_eq!(format("").ok().as_deref(), Some(""));
    assert_eq!(format("\n\n").ok().as_deref(), Some(""));
    assert_eq!(
        format("  // only\n\n\n/* comments */  \n").ok().as_deref(),
        Some("// only\n\n/* comments */\n")
    );
}

#[test]
fn a_syntax_error_is_reported_and_nothing_is_formatted() {
    let errors = format("train a {\n  model: net\n").expect_err("a syntax error");
    assert_eq!(errors[0].code, "E0001");
    let errors = format("model m = mlp { activation: \"relu }\n").expect_err("an open string");
    assert_eq!(errors[0].code, "E0002");
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.exp` file of `experiments/` and `tests/ui/` that parses.
fn repository_files() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in ["experiments", "tests/ui"] {
        let Ok(entries) = std::fs::read_dir(workspace_root().join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "exp") {
                // The error corpus also holds a directory and bytes that are not UTF-8: those
                // are no text to format.
                let Some(text) = std::fs::read(&path)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                else {
                    continue;
                };
                files.push((path, text));
            }
        }
    }
    files.sort();
    files
}

/// Valid inputs of the parser tests in `tests.rs`.
const PARSER_TEST_INPUTS: &[&str] = &[
    crate::tests::EVERY_CONSTRUCT,
    "model m = x { a: -3, b: 1.0e4, c: true, d: false, e: { f: 2 epochs }, g: [], h: 1E3 }\n",
    "plugin \"a.so\"\nplugin \"b/c.so\"\nseed 1\n",
];

#[test]
fn formatting_is_idempotent_on_every_valid_file() {
    let files = repository_files();
    assert!(files
        .iter()
        .any(|(path, _)| path.ends_with("quickstart.exp")));
    let mut formatted_count = 0;
    for (path, text) in &files {
        // The error corpus holds files that do not parse; those are refused, not formatted.
        if let Ok(formatted) = format(text) {
            assert_idempotent(&formatted);
            formatted_count += 1;
        } else {
            assert!(
                path.starts_with(workspace_root().join("tests/ui")),
                "{}",
                path.display()
            );
        }
    }
    assert!(formatted_count > 10);
    for text in PARSER_TEST_INPUTS {
        assert_idempotent(&format(text).expect("a valid parser test input"));
    }
}

/// A comment of each kind inserted at every whitespace gap of a file: `format` checks its own
/// output (same AST, same comments), so this only needs it to succeed and be idempotent.
#[test]
fn comments_anywhere_are_kept_and_formatting_stays_idempotent() {
    let sources = [
        PARSER_TEST_INPUTS[0].to_string(),
        std::fs::read_to_string(workspace_root().join("experiments/quickstart.exp"))
            .expect("read quickstart.exp"),
    ];
    for src in &sources {
        let gaps: Vec<usize> = src
            .char_indices()
            .filter(|(_, c)| c.is_whitespace())
            .map(|(idx, _)| idx)
            .collect();
        for gap in gaps {
            for comment in ["/* c */", "// c\n", "\n/* c\n  d */\n", "\n\n// c\n\n"] {
                let mut text = src.clone();
                text.insert_str(gap, comment);
                if crate::parse(exp_diag::FileId(0), &text).1.is_empty() {
                    let formatted = format(&text)
                        .unwrap_or_else(|_| panic!("format refused or failed on:\n{text}"));
                    let again = format(&formatted).expect("the output formats");
                    assert_eq!(again, formatted, "not idempotent on:\n{text}");
                }
            }
        }
    }
}

#[test]
fn lets_and_arithmetic() {
    insta::assert_snapshot!(check(
        r#"import std.digits
let   base_lr=1e-3
let warm = 10%*2
// the steps
let total=(300 steps+warm_steps)*2
let neg = -( base_lr -1e-4 )/2
let xs=[1,2+3 , "a"]
model net = mlp
train t { model: net, data: digits, steps: total - 100 steps, seed: 1+1, optimizer: adamw { lr: base_lr * 2 } }
"#
    ));
}

#[test]
fn sweeps_templates_and_sequences() {
    insta::assert_snapshot!(check(
        r#"template finetune(net,data,lr){train ft { model: net, data: data, steps: 10 steps, optimizer: adamw { lr: lr } }
// the score
evaluate score { model: ft, data: data, metrics: [accuracy] }}
sweep   lr in [1e-3, 3e-3],seeds 3 {
  use run=finetune(net, digits, lr:lr)  // an instance
  train "ft_{lr}" { model: run.ft, data: digits, steps: 1 epoch, optimizer: sgd }

  sweep zip a in [1, 2], b in ["x", "y"] {}
}
sequence seq { model: net, tasks: [t1, t2], steps: 10 steps, optimizer: sgd }
"#
    ));
}

#[test]
fn resources_blocks_and_quantities() {
    insta::assert_snapshot!(check(
        r#"resources{default:{cpus:2,memory:4   GB,time:30 min}
train: { gpus: 1, time: 2
  h }
ft_big:{memory:16 GiB,gpu_type:"a100", partition: "gpu", account: "a-long-account-name", time: 90 min}}
"#
    ));
}
