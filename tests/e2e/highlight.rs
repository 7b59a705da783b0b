//! Syntax highlighting: the TextMate grammar of the VS Code extension (`editors/vscode/`) is held
//! to the pest grammar (`lang/syntax/src/grammar.pest`) it sits beside.
//!
//! The grammar is run by a small TextMate tokenizer written here. It reads the grammar's
//! top-level `patterns`, `match` rules with `captures`, `begin`/`end` regions with their own
//! `patterns`, and `include`s of `#repository` rules, and works one line at a time as editors do.
//! At each position every candidate regex is searched for; the match that starts first wins, and
//! on a tie the region's `end` wins, then the rule listed first. Text inside a region takes the
//! region's scope; text outside every region that no rule matched has no scope at all, which is
//! what the coverage check looks for. The regexes run on Rust's `regex` crate, so the grammar must
//! keep to what it shares with Oniguruma (VS Code's engine): no lookaround, no backreferences.
//!
//! The files in `experiments/` and `stdlib/` must be accepted by both grammars, every character
//! must get a scope, and each piece of the AST that pest builds (keywords, names, keys, values)
//! must get the scope that names its kind. The files of `tests/ui/` are error files: the
//! tokenizer must not break on them, and those that still parse are checked like the others. So
//! are the ```exp examples of `docs/`, and inline samples of every construct of sweeps and
//! templates.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;

use exp_diag::{FileId, Span};
use exp_syntax::ast::{Block, Component, DefBody, DurationUnit, Expr, ExprKind, File, Item};

use crate::support::workspace_root;

const GRAMMAR: &str = "editors/vscode/syntaxes/exp.tmLanguage.json";
const MANIFEST: &str = "editors/vscode/package.json";
const PEST: &str = "lang/syntax/src/grammar.pest";

fn read(relative: &str) -> String {
    let path = workspace_root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
}

fn read_json(relative: &str) -> Value {
    serde_json::from_str(&read(relative))
        .unwrap_or_else(|error| panic!("`{relative}` is not valid JSON: {error}"))
}

mod textmate;

use textmate::{Grammar, Highlight};

const KEYWORD: &[&str] = &["keyword.", "storage.type."];

/// Checks that each piece of the AST has the scope of its kind.
fn check_ast(highlight: &Highlight, file: &File, problems: &mut Vec<String>) {
    check_items(highlight, &file.items, problems);
}

/// Checks that the keyword `word` is written at `start` and is scoped as a keyword.
fn check_keyword(highlight: &Highlight, start: usize, word: &str, problems: &mut Vec<String>) {
    if highlight.text[start..].starts_with(word) {
        highlight.expect(problems, start, start + word.len(), KEYWORD);
    } else {
        problems.push(format!(
            "{}: expected the keyword `{word}`",
            highlight.position(start)
        ));
    }
}

/// Where the next word after `at` starts, past whitespace and comments.
fn skip_blank(text: &str, mut at: usize) -> usize {
    loop {
        let rest = &text[at..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if trimmed.starts_with("//") {
            at += trimmed.find('\n').unwrap_or(trimmed.len());
        } else if let Some(body) = trimmed.strip_prefix("/*") {
            at += body.find("*/").map_or(trimmed.len(), |close| close + 4);
        } else {
            return at;
        }
    }
}

fn check_items(highlight: &Highlight, items: &[Item], problems: &mut Vec<String>) {
    let keyword = |span: Span, word: &str, problems: &mut Vec<String>| {
        check_keyword(highlight, span.start as usize, word, problems)
    };
    for item in items {
        match item {
            Item::Import(import) => {
                keyword(import.span, "import", problems);
                for segment in &import.path {
                    highlight.expect_span(problems, segment.span, &["entity.name.namespace"]);
                }
            }
            Item::Plugin(plugin) => {
                keyword(plugin.span, "plugin", problems);
                highlight.expect_span(problems, plugin.path_span, &["string.quoted"]);
            }
            Item::Seed(seed) => {
                keyword(seed.span, "seed", problems);
                highlight.expect_span(problems, seed.value_span, &["constant.numeric"]);
            }
            Item::Policy(policy) => {
                keyword(policy.span, "policy", problems);
                check_block(highlight, &policy.block, problems);
            }
            Item::Resources(resources) => {
                keyword(resources.span, "resources", problems);
                check_block(highlight, &resources.block, problems);
            }
            Item::Let(binding) => {
                keyword(binding.span, "let", problems);
                highlight.expect_span(problems, binding.name.span, &["entity.name.function"]);
                check_expr(highlight, &binding.value, problems);
            }
            Item::Def(def) => {
                keyword(def.span, def.kind.keyword(), problems);
                // A name written as a string, `train "ft_{lr}"`, is a string to be filled in.
                let name_scope = if def.quoted {
                    "string.quoted"
                } else {
                    "entity.name.function"
                };
                highlight.expect_span(problems, def.name.span, &[name_scope]);
                match &def.body {
                    DefBody::Component(component) => {
                        check_component(highlight, component, problems)
                    }
                    DefBody::Call {
                        component: merger,
                        inputs,
                        params,
                        ..
                    } => {
                        highlight.expect_span(problems, merger.span, &["support.function"]);
                        for input in inputs {
                            highlight.expect_span(problems, input.span, &["variable.other"]);
                        }
                        if let Some(block) = params {
                            check_block(highlight, block, problems);
                        }
                    }
                    DefBody::Block(block) => check_block(highlight, block, problems),
                }
            }
            Item::Sweep(sweep) => {
                keyword(sweep.span, "sweep", problems);
                if sweep.zip {
                    let at = skip_blank(&highlight.text, sweep.span.start as usize + "sweep".len());
                    check_keyword(highlight, at, "zip", problems);
                }
                for axis in &sweep.axes {
                    if axis.seeds {
                        // `seeds 3`: the axis `seed`, named by its keyword.
                        keyword(axis.span, "seeds", problems);
                    } else {
                        highlight.expect_span(problems, axis.name.span, &["variable.parameter"]);
                        let at = skip_blank(&highlight.text, axis.name.span.end as usize);
                        check_keyword(highlight, at, "in", problems);
                    }
                    check_expr(highlight, &axis.values, problems);
                }
                check_items(highlight, &sweep.items, problems);
            }
            Item::Template(template) => {
                keyword(template.span, "template", problems);
                highlight.expect_span(problems, template.name.span, &["entity.name.function"]);
                for param in &template.params {
                    highlight.expect_span(problems, param.span, &["variable.parameter"]);
                }
                check_items(highlight, &template.items, problems);
            }
            Item::Use(instance) => {
                keyword(instance.span, "use", problems);
                highlight.expect_span(problems, instance.name.span, &["entity.name.function"]);
                highlight.expect_span(problems, instance.template.span, &["support.function"]);
                for arg in &instance.args {
                    if let Some(key) = &arg.key {
                        highlight.expect_span(problems, key.span, &["variable.other.property"]);
                    }
                    check_expr(highlight, &arg.value, problems);
                }
            }
        }
    }
}

fn check_component(highlight: &Highlight, component: &Component, problems: &mut Vec<String>) {
    match &component.params {
        Some(block) => {
            highlight.expect_span(problems, component.name.span, &["support.function"]);
            check_block(highlight, block, problems);
        }
        None => highlight.expect_span(problems, component.name.span, &["variable.other"]),
    }
}

fn check_block(highlight: &Highlight, block: &Block, problems: &mut Vec<String>) {
    for field in &block.fields {
        highlight.expect_span(problems, field.key.span, &["variable.other.property"]);
        check_expr(highlight, &field.value, problems);
    }
}

fn check_expr(highlight: &Highlight, expr: &Expr, problems: &mut Vec<String>) {
    match &expr.kind {
        ExprKind::Int(_) | ExprKind::Float(_) => {
            highlight.expect_span(problems, expr.span, &["constant.numeric"]);
        }
        ExprKind::Bool(_) => highlight.expect_span(problems, expr.span, &["constant.language"]),
        ExprKind::Str(_) => highlight.expect_span(problems, expr.span, &["string.quoted"]),
        ExprKind::Duration(duration) => {
            highlight.expect_span(problems, expr.span, &["constant.numeric.duration"]);
            let (start, end) = (expr.span.start as usize, expr.span.end as usize);
            let unit_start = match duration.unit {
                DurationUnit::Fraction => end - 1,
                DurationUnit::Steps | DurationUnit::Epochs | DurationUnit::Tokens => {
                    let written = highlight.text[start..end]
                        .trim_end_matches(|c: char| c.is_ascii_alphabetic());
                    start + written.len()
                }
            };
            // The unit is one of pest's keywords: it is scoped as a keyword too.
            highlight.expect(problems, unit_start, end, &["keyword.other.unit"]);
        }
        ExprKind::Quantity(_) => {
            highlight.expect_span(problems, expr.span, &["constant.numeric.quantity"]);
            let (start, end) = (expr.span.start as usize, expr.span.end as usize);
            let written =
                highlight.text[start..end].trim_end_matches(|c: char| c.is_ascii_alphabetic());
            highlight.expect(
                problems,
                start + written.len(),
                end,
                &["keyword.other.unit"],
            );
        }
        ExprKind::List(items) => {
            for item in items {
                check_expr(highlight, item, problems);
            }
        }
        ExprKind::Record(block) => check_block(highlight, block, problems),
        ExprKind::Component(component) => check_component(highlight, component, problems),
        ExprKind::Binary { lhs, rhs, .. } => {
            check_expr(highlight, lhs, problems);
            check_expr(highlight, rhs, problems);
        }
        ExprKind::Neg(inner) | ExprKind::Paren(inner) => check_expr(highlight, inner, problems),
    }
}

/// The comments of a text, found by a scanner of their own that skips strings.
fn comment_ranges(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut ranges = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &text[at..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(text.len(), |newline| at + newline);
            ranges.push((at, end));
            at = end;
        } else if let Some(body) = rest.strip_prefix("/*") {
            let end = body
                .find("*/")
                .map_or(text.len(), |close| at + 2 + close + 2);
            ranges.push((at, end));
            at = end;
        } else if bytes[at] == b'"' {
            at += 1;
            while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                at += if bytes[at] == b'\\' { 2 } else { 1 };
            }
            at += 1;
        } else {
            at += 1;
        }
    }
    ranges
}

/// Fails the test unless `text` parses without a diagnostic and passes `check_valid`.
fn assert_valid(grammar: &Grammar, text: &str) {
    let (file, diagnostics) = exp_syntax::parse(FileId(0), text);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let problems = check_valid(grammar, text, &file);
    assert!(problems.is_empty(), "{text}\n{}", problems.join("\n"));
}

/// Every check for a file both grammars must accept; returns what is wrong, one line each.
fn check_valid(grammar: &Grammar, text: &str, file: &File) -> Vec<String> {
    let highlight = grammar.tokenize(text);
    let mut problems = Vec::new();
    for (at, character) in text.char_indices() {
        if !character.is_whitespace() && highlight.scopes[at].is_empty() {
            problems.push(format!(
                "{} `{character}`: no rule matched",
                highlight.position(at)
            ));
        }
    }
    check_ast(&highlight, file, &mut problems);
    for (start, end) in comment_ranges(text) {
        let end = text[..end].trim_end_matches(['\r', '\n']).len();
        highlight.expect(&mut problems, start, end, &["comment."]);
    }
    problems
}

/// The text of a file, or `None` for a directory or bytes that are not UTF-8.
fn text_of(path: &Path) -> Option<String> {
    String::from_utf8(std::fs::read(path).ok()?).ok()
}

fn exp_files(dir: &str) -> Vec<PathBuf> {
    let path = workspace_root().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
        .unwrap_or_else(|error| panic!("cannot list `{}`: {error}", path.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "exp"))
        .collect();
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn experiments_and_stdlib_are_accepted_by_both_grammars() {
    let grammar = Grammar::load();
    let files: Vec<PathBuf> = ["experiments", "stdlib"]
        .iter()
        .flat_map(|dir| exp_files(dir))
        .collect();
    assert!(
        !files.is_empty(),
        "found no .exp files in experiments/ or stdlib/"
    );
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read an .exp file");
        let (ast, diagnostics) = exp_syntax::parse(FileId(0), &text);
        assert!(
            diagnostics.is_empty(),
            "pest rejects {}: {diagnostics:#?}",
            relative(path)
        );
        for problem in check_valid(&grammar, &text, &ast) {
            failures.push(format!("{}:{problem}", relative(path)));
        }
    }
    assert!(
        failures.is_empty(),
        "the TextMate grammar ({GRAMMAR}) disagrees with the parser:\n{}",
        failures.join("\n")
    );
}

/// The fenced blocks tagged `exp` or `exp-*` in the Markdown files of `docs/`: where each
/// starts, and its text.
fn docs_examples() -> Vec<(String, String)> {
    let dir = workspace_root().join("docs");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list `{}`: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    paths.sort();
    let mut examples = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("read a Markdown file");
        // `Some(None)`: inside a block of another language.
        let mut open: Option<Option<(usize, String)>> = None;
        for (idx, line) in text.lines().enumerate() {
            match open.take() {
                Some(block) if line.trim_end() == "```" => {
                    if let Some((start, body)) = block {
                        examples.push((format!("{}:{start}", relative(path)), body));
                    }
                }
                Some(Some((start, mut body))) => {
                    body.push_str(line);
                    body.push('\n');
                    open = Some(Some((start, body)));
                }
                Some(None) => open = Some(None),
                None => {
                    if let Some(info) = line.strip_prefix("```") {
                        let word = info.split_whitespace().next().unwrap_or("");
                        let exp = word == "exp" || word.starts_with("exp-");
                        open = Some(exp.then(|| (idx + 1, String::new())));
                    }
                }
            }
        }
    }
    examples
}

#[test]
fn docs_examples_are_accepted_by_both_grammars() {
    let grammar = Grammar::load();
    let examples = docs_examples();
    assert!(
        examples.len() >= 10,
        "found only {} ```exp blocks in docs/",
        examples.len()
    );
    let mut failures = Vec::new();
    for (location, text) in &examples {
        let highlight = grammar.tokenize(text);
        assert_eq!(highlight.scopes.len(), text.len());
        // Error examples and fragments may not parse; whether they should is reference.rs's
        // business. Those that parse are checked in full.
        let (ast, diagnostics) = exp_syntax::parse(FileId(0), text);
        if diagnostics.is_empty() {
            for problem in check_valid(&grammar, text, &ast) {
                failures.push(format!("{location}, block line {problem}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the TextMate grammar ({GRAMMAR}) disagrees with the parser:\n{}",
        failures.join("\n")
    );
}

#[test]
fn error_files_do_not_break_the_highlighter() {
    let grammar = Grammar::load();
    let files = exp_files("tests/ui");
    assert!(!files.is_empty(), "found no .exp files in tests/ui/");
    let mut failures = Vec::new();
    for path in &files {
        // Some entries are malformed on purpose beyond what an editor shows as text (a
        // directory, bytes that are not UTF-8): those are for `exp check` alone.
        let Some(text) = text_of(path) else {
            continue;
        };
        let highlight = grammar.tokenize(&text);
        assert_eq!(highlight.scopes.len(), text.len());
        // Most of these files are wrong only in meaning: those that parse are checked in full.
        let (ast, diagnostics) = exp_syntax::parse(FileId(0), &text);
        if diagnostics.is_empty() {
            for problem in check_valid(&grammar, &text, &ast) {
                failures.push(format!("{}:{problem}", relative(path)));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn lets_and_arithmetic_are_highlighted() {
    let grammar = Grammar::load();
    let text = "let base = 1e-3\nlet warm = (10% + 5%) * 2\nmodel net = mlp { hidden: [base * -2 / 4, -(warm)] }\n";
    assert_valid(&grammar, text);
    let highlight = grammar.tokenize(text);
    let has = |needle: &str, prefix: &str| highlight.assert_scoped(needle, prefix);
    has("let base", "storage.type");
    has("base = 1e-3", "entity.name.function");
    has("* 2", "keyword.operator.arithmetic");
    has("+ 5%", "keyword.operator.arithmetic");
    has("/ 4", "keyword.operator.arithmetic");
}

/// Every construct of sweeps and templates: the parser's own snapshot test reads the same file.
const SWEEPS_AND_TEMPLATES: &str =
    include_str!("../../lang/syntax/src/fixtures/sweeps_and_templates.exp");

/// The same constructs written tightly, across lines and around comments.
const SWEEPS_AND_TEMPLATES_TIGHT: &str = r#"template finetune(net,data,lr){train ft { model: net, data: data, steps: 1 token }
evaluate score { model: ft, data: data, metrics: [accuracy] }}
template pair(
  a, // the first
  b
) { merge both = average(a, b) }
sweep   lr in [1e-3, 3e-3],seeds 3 {
  use run=finetune(net, digits, lr:lr)  // an instance
  use two = pair(run.ft, net)
  train "ft_{lr}_{{x}}" { model: run.ft, data: digits, steps: 1 epoch, optimizer: sgd }
  sweep zip
    a in [1, 2],
    b in ["x", "y"] /* axes */ { sequence "s_{ a }" { models: [two.both] } }
}
sequence seq { model: net, tasks: [t1, t2], steps: 10 steps, optimizer: sgd }
merge m = average(run.ft, two.both) { alpha: 0.5 }
"#;

#[test]
fn sweeps_templates_and_sequences_are_highlighted() {
    let grammar = Grammar::load();
    for text in [SWEEPS_AND_TEMPLATES, SWEEPS_AND_TEMPLATES_TIGHT] {
        assert_valid(&grammar, text);
    }
    let highlight = grammar.tokenize(SWEEPS_AND_TEMPLATES);
    let has = |needle: &str, prefix: &str| highlight.assert_scoped(needle, prefix);
    has("template finetune", "storage.type.template");
    has("finetune(net, data", "entity.name.function");
    has("net, data, lr)", "variable.parameter");
    has("lr) {", "variable.parameter");
    has("tokens", "keyword.other.unit");
    has("1000 tokens", "constant.numeric.duration");
    has("sweep lr", "keyword.control");
    has("lr in [1e-3", "variable.parameter");
    has("in [1e-3", "keyword.control");
    has("seeds 3", "keyword.control");
    has("use run", "storage.type.use");
    has("run = finetune", "entity.name.function");
    has("finetune(net, digits", "support.function");
    has("lr: lr)", "variable.other.property");
    has("\"ft_{lr}\"", "string.quoted.double");
    has("{lr}\"", "meta.interpolation");
    has("lr}\"", "variable.other");
    has("run.ft, data", "variable.other");
    has(".ft, data", "variable.other");
    has("zip a", "keyword.control");
    has("b in", "variable.parameter");
    has("sequence seq", "storage.type.definition");
    has("seq {", "entity.name.function");
    has("average(run.ft", "support.function");
    has("run.ft, seq)", "variable.other");
    // `{{` is a brace, not an interpolation.
    let tight = grammar.tokenize(SWEEPS_AND_TEMPLATES_TIGHT);
    let scopes = tight.scopes_at("{{x}}");
    assert!(
        scopes
            .iter()
            .any(|scope| scope.starts_with("constant.character.escape"))
            && !scopes
                .iter()
                .any(|scope| scope.starts_with("meta.interpolation")),
        "{scopes:?}"
    );
    // A template whose `)` is missing: its parameter list ends at the `{`.
    let broken = grammar.tokenize("template f(a, b {\n  train t { model: a }\n}\n");
    assert!(broken
        .scopes_at("train")
        .iter()
        .any(|scope| scope.starts_with("storage.type")));
}

#[test]
fn quickstart_spot_checks() {
    let grammar = Grammar::load();
    let highlight = grammar.tokenize(&read("experiments/quickstart.exp"));
    let has = |needle: &str, prefix: &str| highlight.assert_scoped(needle, prefix);
    has("// quickstart.exp", "comment.line");
    has("// `digits`", "comment.line");
    has("import std", "keyword.other.import");
    has("std.digits", "entity.name.namespace");
    has("train a {", "storage.type");
    has("a {\n", "entity.name.function");
    has("\"relu\"", "string.quoted.double");
    has("3e-3", "constant.numeric");
    has("20 epochs", "constant.numeric.duration");
    has("epochs\n", "keyword.other.unit");
    has("5%", "constant.numeric.duration");
    has("% }", "keyword.other.unit.percent");
    has("model: net", "variable.other.property");
    has("adamw {", "support.function");
    has("average(", "support.function");
    has("true", "constant.language");
    has("0.25", "constant.numeric");
    // A keyword used as a key is a key, not a keyword.
    let key = highlight.scopes_at("model: net");
    assert!(
        !key.iter().any(|scope| scope.starts_with("storage.type")),
        "{key:?}"
    );
}

#[test]
fn regions_span_lines_and_strings_end_at_the_line() {
    let grammar = Grammar::load();
    let text = "/* one\ntwo */ seed 1\nmodel m = mlp { activation: \"re\\\"lu\\q }\ntrain t {}\n";
    let highlight = grammar.tokenize(text);
    assert!(highlight.has(0, "/* one".len(), &["comment.block"]));
    assert!(highlight.has(
        "/* one\n".len(),
        text.find(" seed").unwrap(),
        &["comment.block"]
    ));
    assert!(highlight
        .scopes_at("seed 1")
        .iter()
        .any(|s| s.starts_with("keyword.other")));
    assert!(highlight
        .scopes_at("\\\"")
        .iter()
        .any(|s| s.starts_with("constant.character.escape")));
    assert!(highlight
        .scopes_at("\\q")
        .iter()
        .any(|s| s.starts_with("invalid.illegal")));
    // The unclosed string ends with its line, as in the parser: `train` is a keyword again.
    assert!(highlight
        .scopes_at("train")
        .iter()
        .any(|s| s.starts_with("storage.type")));
}

/// The words of pest's `keyword` rule.
fn pest_keywords() -> BTreeSet<String> {
    let pest = read(PEST);
    let start = Regex::new(r"(?m)^keyword\s*=\s*@?\{")
        .unwrap()
        .find(&pest)
        .unwrap_or_else(|| panic!("{PEST} has no `keyword = @{{ .. }}` rule"))
        .end();
    let mut depth = 1;
    let end = pest[start..]
        .char_indices()
        .find_map(|(at, character)| {
            match character {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(start + at)
        })
        .expect("the keyword rule is closed");
    Regex::new(r#""([A-Za-z_]+)""#)
        .unwrap()
        .captures_iter(&pest[start..end])
        .map(|found| found[1].to_string())
        .collect()
}

/// The words of every group of bare words, `(a|b|c)`, in the TextMate grammar's regexes.
fn textmate_keywords() -> BTreeSet<String> {
    fn regexes(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("match" | "begin" | "end", Value::String(source)) => {
                            out.push(source.clone())
                        }
                        _ => regexes(inner, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| regexes(item, out)),
            _ => {}
        }
    }
    let mut sources = Vec::new();
    regexes(&read_json(GRAMMAR), &mut sources);
    let group = Regex::new(r"\((?:\?:)?([a-z]+(?:\|[a-z]+)*)\)").unwrap();
    sources
        .iter()
        .flat_map(|source| {
            group
                .captures_iter(source)
                .map(|found| found[1].to_string())
                .collect::<Vec<_>>()
        })
        .flat_map(|words| words.split('|').map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn both_grammars_have_the_same_keywords() {
    let pest = pest_keywords();
    assert!(
        pest.len() > 5,
        "read too few keywords from {PEST}: {pest:?}"
    );
    let textmate = textmate_keywords();
    let missing: Vec<_> = pest.difference(&textmate).collect();
    let extra: Vec<_> = textmate.difference(&pest).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the keywords of {PEST} and {GRAMMAR} differ.\n\
         in pest only: {missing:?}\nin TextMate only: {extra:?}\n\
         add a keyword to both: to the `keyword` rule (and a `kw_` rule if it starts an item) and \
         to a `(a|b|c)` group of the TextMate grammar with the scope of its kind"
    );
}

#[test]
fn the_vscode_manifest_points_at_the_grammar() {
    let manifest = read_json(MANIFEST);
    assert_eq!(manifest["name"], "exp-language");
    let language = &manifest["contributes"]["languages"][0];
    assert_eq!(language["id"], "exp");
    assert!(language["extensions"]
        .as_array()
        .is_some_and(|e| e.contains(&Value::from(".exp"))));
    let configuration = language["configuration"]
        .as_str()
        .expect("a language configuration");
    let configuration = read_json(&format!("editors/vscode/{configuration}"));
    assert_eq!(configuration["comments"]["lineComment"], "//");
    assert_eq!(
        configuration["comments"]["blockComment"],
        serde_json::json!(["/*", "*/"])
    );
    let contributed = &manifest["contributes"]["grammars"][0];
    assert_eq!(contributed["language"], "exp");
    assert_eq!(contributed["scopeName"], "source.exp");
    let path = contributed["path"].as_str().expect("a grammar path");
    assert_eq!(
        format!("editors/vscode/{}", path.trim_start_matches("./")),
        GRAMMAR
    );
    assert_eq!(read_json(GRAMMAR)["scopeName"], "source.exp");
}

#[test]
fn resources_and_quantities_are_highlighted() {
    let text = "resources {\n  default: { cpus: 2, memory: 4 GB, time: 30 min }\n  train: { gpus: 1, time: 1.5 h, partition: \"gpu\" }\n  ft: { memory: 512 MiB, time: 90 s }\n}\n";
    let grammar = Grammar::load();
    assert_valid(&grammar, text);
    let highlight = grammar.tokenize(text);
    let has = |needle: &str, prefix: &str| highlight.assert_scoped(needle, prefix);
    has("resources", "keyword.other");
    has("train:", "variable.other.property");
    has("4 GB", "constant.numeric.quantity");
    has("GB", "keyword.other.unit");
    has("min }", "keyword.other.unit");
    has("MiB", "keyword.other.unit");
    has("s }", "keyword.other.unit");
}
