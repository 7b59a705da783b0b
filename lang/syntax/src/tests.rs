//! Snapshot tests of the parser: each renders the source, the AST dump and the diagnostics.

use exp_diag::{render, SourceMap};

use crate::{dump, parse};

fn check(src: &str) -> String {
    let mut sources = SourceMap::new();
    let file = sources.add("test.exp", src);
    let (ast, diagnostics) = parse(file, src);
    format!(
        "--- source\n{src}\n--- ast\n{}--- diagnostics\n{}",
        dump(&ast),
        render(&diagnostics, &sources, false)
    )
}

/// A small file using every construct of the grammar; the formatter's tests reuse it.
pub(crate) const EVERY_CONSTRUCT: &str = r#"// A tiny experiment.
import std.digits
plugin "target/libmy.so"
seed 7

dataset digits = digits { test_fraction: 0.2 }
model net = mlp { hidden: [64, 32,], activation: "relu" }

/* two phases */
train a {
  model: net
  data: digits
  steps: 300 steps
  batch: 64, seed: 1
  optimizer: adamw { lr: 3e-3 }
  schedule: cosine { warmup: 10% }
  eval: [accuracy, loss]
  eval_every: 1 epoch
  log_every: 10 steps
}
merge soup = average(a, net)
merge wise = wise_ft(net, a) { alpha: 0.5 }
evaluate eval_soup {
  model: soup
  data: digits
  metrics: [accuracy]
  split: "te\"st\n"
}
report results { rows: [eval_soup, a] }
"#;

#[test]
fn quickstart() {
    insta::assert_snapshot!(check(EVERY_CONSTRUCT));
}

#[test]
fn values() {
    insta::assert_snapshot!(check(
        r#"model m = x { a: -3, b: 1.0e4, c: true, d: false, e: { f: 2 epochs }, g: [], h: 1E3 }
"#
    ));
}

#[test]
fn missing_brace() {
    insta::assert_snapshot!(check(
        r#"train a {
  model: net
  steps: 3 steps

model net = mlp
"#
    ));
}

#[test]
fn missing_equals() {
    insta::assert_snapshot!(check(
        r#"dataset d digits
"#
    ));
}

#[test]
fn garbage_at_top_level() {
    insta::assert_snapshot!(check(
        r#"seed 1
datasets d = digits
"#
    ));
}

#[test]
fn keyword_as_name() {
    insta::assert_snapshot!(check(
        r#"model model = mlp
"#
    ));
}

#[test]
fn unterminated_string() {
    insta::assert_snapshot!(check(
        r#"model m = mlp { activation: "relu }
dataset d = digits
"#
    ));
}

#[test]
fn bad_escape_and_huge_number() {
    insta::assert_snapshot!(check(
        r#"model m = mlp { activation: "re\qlu", hidden: [99999999999999999999999] }
"#
    ));
}

#[test]
fn plugin_paths_are_listed() {
    let src = "plugin \"a.so\"\nplugin \"b/c.so\"\nseed 1\n";
    let (ast, diagnostics) = parse(exp_diag::FileId(0), src);
    assert!(diagnostics.is_empty());
    let paths: Vec<String> = crate::plugin_paths(&ast)
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    assert_eq!(paths, ["a.so", "b/c.so"]);
}

#[test]
fn unterminated_string_at_end_of_line() {
    insta::assert_snapshot!(check(
        r#"plugin "lib.so
model m = mlp { activation: "relu
}
"#
    ));
}

#[test]
fn let_and_arithmetic_precedence() {
    insta::assert_snapshot!(check(
        r#"let a = 1 + 2 * 3
let b = -(a - b) / 2
let c = 10 - -5 - 2
let d = [warm * 2, 20% * 2, "x"]
let e = -a
train t { steps: warm + 100 steps, seed: base_seed + 1 }
"#
    ));
}

#[test]
fn let_is_a_keyword() {
    insta::assert_snapshot!(check("model let = mlp\n"));
}

/// Sweeps (grid, zip, seeds, nested), templates and their instances, sequences, quoted names,
/// dotted references and token durations.
pub(crate) const SWEEPS_AND_TEMPLATES: &str = include_str!("fixtures/sweeps_and_templates.exp");

#[test]
fn sweeps_templates_and_sequences() {
    insta::assert_snapshot!(check(SWEEPS_AND_TEMPLATES));
}

#[test]
fn sweep_needs_an_axis() {
    insta::assert_snapshot!(check("sweep { train a {} }\n"));
}

// Malformed input: every file gets a located diagnostic, never a panic or a stack overflow.

#[test]
fn unterminated_block_comment() {
    insta::assert_snapshot!(check("model m = mlp\n/* the rest\nis lost\n"));
}

#[test]
fn invisible_characters_are_shown_escaped() {
    insta::assert_snapshot!(check("model m = mlp\n\u{200b}model n = mlp\n"));
}

#[test]
fn control_characters_are_shown_escaped() {
    for (src, shown) in [("\u{1}", "`\\u{1}`"), ("seed 1\u{0}", "`\\u{0}`")] {
        let (_, diagnostics) = parse(exp_diag::FileId(0), src);
        let message = &diagnostics[0].message;
        assert!(message.ends_with(&format!("found {shown}")), "{message}");
    }
}

#[test]
fn brackets_nested_too_deep() {
    let src = format!("let a = {}1{}\n", "[".repeat(300), "]".repeat(300));
    let (ast, diagnostics) = parse(exp_diag::FileId(0), &src);
    assert!(ast.items.is_empty());
    let [diagnostic] = &diagnostics[..] else {
        panic!("one diagnostic expected: {diagnostics:?}");
    };
    assert_eq!(diagnostic.code, "E0039");
    // The caret is at the 257th `[`: 8 bytes of `let a = ` and 256 levels before it.
    assert_eq!(
        diagnostic.primary_span().map(|span| span.start),
        Some(8 + 256)
    );
}

#[test]
fn nesting_deep_enough_to_overflow_any_stack_is_an_error() {
    for src in [
        format!("let a = {}\n", "(".repeat(1_000_000)),
        format!("let a = {}1\n", "- ".repeat(1_000_000)),
        format!("model m = x {}\n", "{ a: ".repeat(200_000)),
        format!(
            "sweep a in [1] {{\n{}",
            "sweep b in [1] {\n".repeat(100_000)
        ),
    ] {
        let (_, diagnostics) = parse(exp_diag::FileId(0), &src);
        let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["E0039"], "{}", &src[..40]);
    }
}

#[test]
fn a_flat_chain_of_operators_is_bounded_too() {
    // pest reads `1 + 1 + ..` as a flat list, but the AST nests it to the left: one level per
    // operator, which later passes recurse over.
    let src = format!("let a = 1{}\nlet b = 2\n", " + 1".repeat(100_000));
    let (ast, diagnostics) = parse(exp_diag::FileId(0), &src);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0039"]);
    assert_eq!(ast.items.len(), 2, "the rest of the file is still read");
    // Deep but within the bound: no error.
    let src = format!("let a = 1{}\n", " * 2".repeat(1000));
    assert!(parse(exp_diag::FileId(0), &src).1.is_empty());
}

#[test]
fn a_stray_closer_at_the_start_names_what_was_expected() {
    let (_, diagnostics) = parse(exp_diag::FileId(0), "}\n");
    assert_eq!(
        diagnostics[0].message,
        "syntax error: expected a definition, found `}`"
    );
}

#[test]
fn resources_block() {
    insta::assert_snapshot!(check(
        r#"resources {
  default: { cpus: 2, memory: 4 GB, time: 30 min, partition: "cpu", account: "lab" }
  train: { gpus: 1, time: 2 h }
  ft_big: { memory: 16 GiB, gpu_type: "a100" }
}
"#
    ));
}

/// Every unit of memory and time; a unit word followed by `:` is the next field's key.
#[test]
fn quantities() {
    insta::assert_snapshot!(check(
        r#"model m = x { a: 512 MB, b: 512 MiB, c: 1.5 GB, d: 2 GiB, e: 1 TB, f: 1 TiB, g: 90 s, h: 30 min, i: 0.5 h }
model n = x {
  a: 2
  h: 3
  b: 4 // a comment
  s: 5
  c: 6 min
  min: 7
}
"#
    ));
}

#[test]
fn a_quantity_needs_a_known_unit() {
    insta::assert_snapshot!(check(
        r#"resources { default: { memory: 4 gb } }
"#
    ));
}
