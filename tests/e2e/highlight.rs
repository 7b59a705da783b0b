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
//! tokenizer must not break on them, and those that still parse are checked like the others.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use regex::{Captures, Regex};
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

/// A grammar rule with its regexes compiled.
enum Rule {
    Match {
        regex: Regex,
        name: Option<String>,
        captures: Vec<(usize, String)>,
    },
    Region(Region),
    Include(String),
    Group(Vec<Rule>),
}

struct Region {
    begin: Regex,
    end: Regex,
    name: Option<String>,
    content_name: Option<String>,
    begin_captures: Vec<(usize, String)>,
    end_captures: Vec<(usize, String)>,
    patterns: Vec<Rule>,
}

struct Grammar {
    patterns: Vec<Rule>,
    repository: HashMap<String, Rule>,
}

fn compile(source: &str) -> Regex {
    Regex::new(source).unwrap_or_else(|error| {
        panic!(
            "the regex `{source}` in {GRAMMAR} does not compile with Rust's `regex` crate; \
             keep to the subset it shares with Oniguruma (no lookaround, no backreferences, \
             no possessive quantifiers):\n{error}"
        )
    })
}

fn captures_of(rule: &Value, key: &str) -> Vec<(usize, String)> {
    let Some(map) = rule.get(key).and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut captures: Vec<(usize, String)> = map
        .iter()
        .filter_map(|(index, capture)| {
            let index = index.parse().expect("capture keys are group numbers");
            let name = capture.get("name")?.as_str()?.to_string();
            Some((index, name))
        })
        .collect();
    captures.sort();
    captures
}

fn rules_of(value: &Value) -> Vec<Rule> {
    value
        .as_array()
        .map(|rules| rules.iter().map(Rule::from_json).collect())
        .unwrap_or_default()
}

impl Rule {
    fn from_json(rule: &Value) -> Rule {
        let text = |key: &str| rule.get(key).and_then(Value::as_str).map(str::to_string);
        if let Some(include) = text("include") {
            let key = include.strip_prefix('#').unwrap_or_else(|| {
                panic!("only `#repository` includes are supported, found `{include}`")
            });
            Rule::Include(key.to_string())
        } else if let Some(source) = text("match") {
            Rule::Match {
                regex: compile(&source),
                name: text("name"),
                captures: captures_of(rule, "captures"),
            }
        } else if let Some(begin) = text("begin") {
            let end = text("end").expect("a `begin` rule has an `end`");
            let shared = captures_of(rule, "captures");
            let or_shared = |key: &str| match captures_of(rule, key) {
                own if own.is_empty() => shared.clone(),
                own => own,
            };
            Rule::Region(Region {
                begin: compile(&begin),
                end: compile(&end),
                name: text("name"),
                content_name: text("contentName"),
                begin_captures: or_shared("beginCaptures"),
                end_captures: or_shared("endCaptures"),
                patterns: rules_of(&rule["patterns"]),
            })
        } else if rule.get("patterns").is_some() {
            Rule::Group(rules_of(&rule["patterns"]))
        } else {
            panic!("a rule with none of `include`, `match`, `begin` or `patterns`: {rule}")
        }
    }
}

/// What won at one position: the open region's end, a `match` rule, or a region's begin.
enum Choice<'g> {
    End,
    Match(&'g [(usize, String)], Option<&'g str>),
    Begin(&'g Region),
}

/// The scopes of every byte of a text, innermost last; an empty list means no rule matched it.
struct Highlight {
    text: String,
    scopes: Vec<Vec<String>>,
}

impl Grammar {
    fn load() -> Grammar {
        let json = read_json(GRAMMAR);
        let repository = json["repository"]
            .as_object()
            .map(|entries| {
                entries
                    .iter()
                    .map(|(key, rule)| (key.clone(), Rule::from_json(rule)))
                    .collect()
            })
            .unwrap_or_default();
        Grammar {
            patterns: rules_of(&json["patterns"]),
            repository,
        }
    }

    /// The `match` and `begin` rules of a pattern list, includes and groups flattened, in order.
    fn leaves<'g>(&'g self, rules: &'g [Rule], depth: usize, out: &mut Vec<&'g Rule>) {
        assert!(depth < 32, "the includes of {GRAMMAR} loop");
        for rule in rules {
            match rule {
                Rule::Include(key) => {
                    let target = self.repository.get(key).unwrap_or_else(|| {
                        panic!("`#{key}` is included but not in the repository")
                    });
                    self.leaves(std::slice::from_ref(target), depth + 1, out);
                }
                Rule::Group(inner) => self.leaves(inner, depth + 1, out),
                Rule::Match { .. } | Rule::Region(_) => out.push(rule),
            }
        }
    }

    fn tokenize(&self, text: &str) -> Highlight {
        let mut highlight = Highlight {
            text: text.to_string(),
            scopes: vec![Vec::new(); text.len()],
        };
        let mut stack: Vec<&Region> = Vec::new();
        let mut line_start = 0;
        for raw_line in text.split_inclusive('\n') {
            let line = raw_line.trim_end_matches('\n').trim_end_matches('\r');
            self.tokenize_line(line, line_start, &mut stack, &mut highlight.scopes);
            line_start += raw_line.len();
        }
        highlight
    }

    fn tokenize_line<'g>(
        &'g self,
        line: &str,
        offset: usize,
        stack: &mut Vec<&'g Region>,
        scopes: &mut [Vec<String>],
    ) {
        let mut pos = 0;
        // A zero-width rule can match forever at one place; a bounded loop cannot hang the test.
        for _ in 0..4 * line.len() + 16 {
            let outer = stack_scopes(stack);
            let mut best: Option<(usize, Choice, Captures)> = None;
            if let Some(region) = stack.last() {
                if let Some(found) = region.end.captures_at(line, pos) {
                    best = Some((found.get(0).map_or(pos, |m| m.start()), Choice::End, found));
                }
            }
            if pos < line.len() {
                let patterns = stack.last().map_or(&self.patterns[..], |r| &r.patterns[..]);
                let mut leaves = Vec::new();
                self.leaves(patterns, 0, &mut leaves);
                for rule in leaves {
                    let (regex, choice) = match rule {
                        Rule::Match {
                            regex,
                            name,
                            captures,
                        } => (regex, Choice::Match(captures, name.as_deref())),
                        Rule::Region(region) => (&region.begin, Choice::Begin(region)),
                        Rule::Include(_) | Rule::Group(_) => unreachable!("flattened by leaves"),
                    };
                    let Some(found) = regex.captures_at(line, pos) else {
                        continue;
                    };
                    let start = found.get(0).map_or(pos, |m| m.start());
                    if best
                        .as_ref()
                        .is_none_or(|(best_start, _, _)| start < *best_start)
                    {
                        best = Some((start, choice, found));
                    }
                }
            }
            let Some((start, choice, found)) = best else {
                fill(scopes, offset + pos..offset + line.len(), &outer);
                return;
            };
            let end = found.get(0).map_or(start, |m| m.end());
            fill(scopes, offset + pos..offset + start, &outer);
            // Opening or closing a region is progress even when nothing was consumed.
            let progressed = end > pos || !matches!(choice, Choice::Match(..));
            match choice {
                Choice::End => {
                    let region = stack.pop().expect("an end needs an open region");
                    let mut around = stack_scopes(stack);
                    around.extend(region.name.clone());
                    paint(scopes, offset, &found, &around, &region.end_captures);
                }
                Choice::Match(captures, name) => {
                    let mut around = outer.clone();
                    around.extend(name.map(str::to_string));
                    paint(scopes, offset, &found, &around, captures);
                }
                Choice::Begin(region) => {
                    let mut around = outer.clone();
                    around.extend(region.name.clone());
                    paint(scopes, offset, &found, &around, &region.begin_captures);
                    stack.push(region);
                }
            }
            pos = if progressed {
                end
            } else {
                // A zero-width match where the last one ended: step over one character.
                let step = line[pos..].chars().next().map_or(1, char::len_utf8);
                fill(scopes, offset + pos..offset + pos + step, &outer);
                pos + step
            };
            if pos >= line.len()
                && stack
                    .last()
                    .is_none_or(|r| r.end.find_at(line, pos).is_none())
            {
                return;
            }
        }
    }
}

fn stack_scopes(stack: &[&Region]) -> Vec<String> {
    stack
        .iter()
        .flat_map(|region| region.name.iter().chain(&region.content_name).cloned())
        .collect()
}

fn fill(scopes: &mut [Vec<String>], range: std::ops::Range<usize>, base: &[String]) {
    let end = range.end.min(scopes.len());
    for byte in &mut scopes[range.start.min(end)..end] {
        *byte = base.to_vec();
    }
}

/// Gives a whole match the scopes `around`, then adds each named capture's scope inside it.
fn paint(
    scopes: &mut [Vec<String>],
    offset: usize,
    found: &Captures,
    around: &[String],
    captures: &[(usize, String)],
) {
    let Some(whole) = found.get(0) else {
        return;
    };
    fill(scopes, offset + whole.start()..offset + whole.end(), around);
    for (index, name) in captures {
        if let Some(group) = found.get(*index) {
            for byte in &mut scopes[offset + group.start()..offset + group.end()] {
                byte.push(name.clone());
            }
        }
    }
}

impl Highlight {
    fn position(&self, at: usize) -> String {
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
        format!("{line}:{column}")
    }

    /// Whether every byte of `start..end` has a scope beginning with one of `prefixes`.
    fn has(&self, start: usize, end: usize, prefixes: &[&str]) -> bool {
        start < end
            && self.scopes[start..end].iter().all(|byte| {
                byte.iter()
                    .any(|scope| prefixes.iter().any(|prefix| scope.starts_with(prefix)))
            })
    }

    fn expect(&self, problems: &mut Vec<String>, start: usize, end: usize, prefixes: &[&str]) {
        if !self.has(start, end, prefixes) {
            let found = self.scopes.get(start).cloned().unwrap_or_default();
            problems.push(format!(
                "{} `{}`: expected a scope starting with {prefixes:?}, found {found:?}",
                self.position(start),
                &self.text[start..end],
            ));
        }
    }

    fn expect_span(&self, problems: &mut Vec<String>, span: Span, prefixes: &[&str]) {
        self.expect(problems, span.start as usize, span.end as usize, prefixes);
    }

    /// The scopes at the first occurrence of `needle`, for the spot checks.
    fn scopes_at(&self, needle: &str) -> &[String] {
        let at = self
            .text
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` is not in the file"));
        &self.scopes[at]
    }
}

const KEYWORD: &[&str] = &["keyword.", "storage.type."];

/// Checks that each piece of the AST has the scope of its kind.
fn check_ast(highlight: &Highlight, file: &File, problems: &mut Vec<String>) {
    let keyword = |span: Span, word: &str, problems: &mut Vec<String>| {
        let start = span.start as usize;
        if highlight.text[start..].starts_with(word) {
            highlight.expect(problems, start, start + word.len(), KEYWORD);
        } else {
            problems.push(format!(
                "{}: the item does not start with `{word}`",
                highlight.position(start)
            ));
        }
    };
    for item in &file.items {
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
            Item::Def(def) => {
                keyword(def.span, def.kind.keyword(), problems);
                highlight.expect_span(problems, def.name.span, &["entity.name.function"]);
                match &def.body {
                    DefBody::Component(component) => {
                        check_component(highlight, component, problems)
                    }
                    DefBody::Merge {
                        merger,
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
                DurationUnit::Steps | DurationUnit::Epochs => {
                    let written = highlight.text[start..end]
                        .trim_end_matches(|c: char| c.is_ascii_alphabetic());
                    start + written.len()
                }
            };
            // The unit is one of pest's keywords: it is scoped as a keyword too.
            highlight.expect(problems, unit_start, end, &["keyword.other.unit"]);
        }
        ExprKind::List(items) => {
            for item in items {
                check_expr(highlight, item, problems);
            }
        }
        ExprKind::Record(block) => check_block(highlight, block, problems),
        ExprKind::Component(component) => check_component(highlight, component, problems),
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
        } else if rest.starts_with("/*") {
            let end = rest[2..]
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

#[test]
fn error_files_do_not_break_the_highlighter() {
    let grammar = Grammar::load();
    let files = exp_files("tests/ui");
    assert!(!files.is_empty(), "found no .exp files in tests/ui/");
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read an .exp file");
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
fn quickstart_spot_checks() {
    let grammar = Grammar::load();
    let highlight = grammar.tokenize(&read("experiments/quickstart.exp"));
    let has = |needle: &str, prefix: &str| {
        let scopes = highlight.scopes_at(needle);
        assert!(
            scopes.iter().any(|scope| scope.starts_with(prefix)),
            "`{needle}` should be scoped `{prefix}*`, found {scopes:?}"
        );
    };
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
