//! A small TextMate tokenizer: enough of the format (top-level `patterns`, `match` rules with
//! `captures`, `begin`/`end` regions with their own `patterns`, `include`s of `#repository`
//! rules) to run the extension's grammar one line at a time, as editors do.

use std::collections::HashMap;

use regex::{Captures, Regex};
use serde_json::Value;

use exp_diag::Span;

use super::{read_json, GRAMMAR};

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

pub(super) struct Grammar {
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
    pub(super) fn from_json(rule: &Value) -> Rule {
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
pub(super) struct Highlight {
    pub(super) text: String,
    pub(super) scopes: Vec<Vec<String>>,
}

impl Grammar {
    pub(super) fn load() -> Grammar {
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

    pub(super) fn tokenize(&self, text: &str) -> Highlight {
        let mut highlight = Highlight {
            text: text.to_string(),
            scopes: vec![Vec::new(); text.len()],
        };
        let mut stack: Vec<&Region> = Vec::new();
        let mut line_start = 0;
        for raw_line in text.split_inclusive('\n') {
            let line = raw_line.trim_end_matches('\n').trim_end_matches('\r');
            self.tokenize_line(line, line_start, &mut stack, &mut highlight.scopes);
            // The line break belongs to the regions still open after it, as in editors (a block
            // comment over several lines is comment throughout).
            let open = stack_scopes(&stack);
            fill(
                &mut highlight.scopes,
                line_start + line.len()..line_start + raw_line.len(),
                &open,
            );
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
    pub(super) fn position(&self, at: usize) -> String {
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
        format!("{line}:{column}")
    }

    /// Whether every byte of `start..end` has a scope beginning with one of `prefixes`.
    pub(super) fn has(&self, start: usize, end: usize, prefixes: &[&str]) -> bool {
        start < end
            && self.scopes[start..end].iter().all(|byte| {
                byte.iter()
                    .any(|scope| prefixes.iter().any(|prefix| scope.starts_with(prefix)))
            })
    }

    pub(super) fn expect(
        &self,
        problems: &mut Vec<String>,
        start: usize,
        end: usize,
        prefixes: &[&str],
    ) {
        if !self.has(start, end, prefixes) {
            let found = self.scopes.get(start).cloned().unwrap_or_default();
            problems.push(format!(
                "{} `{}`: expected a scope starting with {prefixes:?}, found {found:?}",
                self.position(start),
                &self.text[start..end],
            ));
        }
    }

    pub(super) fn expect_span(&self, problems: &mut Vec<String>, span: Span, prefixes: &[&str]) {
        self.expect(problems, span.start as usize, span.end as usize, prefixes);
    }

    /// The scopes at the first occurrence of `needle`, for the spot checks.
    pub(super) fn scopes_at(&self, needle: &str) -> &[String] {
        let at = self
            .text
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` is not in the file"));
        &self.scopes[at]
    }

    /// Fails the test unless a scope at the first occurrence of `needle` starts with `prefix`.
    pub(super) fn assert_scoped(&self, needle: &str, prefix: &str) {
        let scopes = self.scopes_at(needle);
        assert!(
            scopes.iter().any(|scope| scope.starts_with(prefix)),
            "`{needle}` should be scoped `{prefix}*`, found {scopes:?}"
        );
    }
}
