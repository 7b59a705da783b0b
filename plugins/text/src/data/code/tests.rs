//! Tests of the `code` generator.

use std::collections::BTreeSet;

use super::{generate, Config, MAX_DEPTH, MAX_LINES, MIN_LINES};

/// Checks the structure of a Python-like program: indentation in steps of four spaces that grows by
/// exactly one level after a line ending in `:` and only then; balanced brackets on each line;
/// `elif`/`else` only after a block at their level; every `def` ends with a `return`; and no line
/// is deeper than `max_depth`. Returns the deepest level seen.
fn check_structure(text: &str, max_depth: usize) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut deepest = 0;
    let mut previous_level = 0;
    let mut opens_block = false;
    for (idx, line) in lines.iter().enumerate() {
        if line.is_empty() {
            assert!(
                !opens_block,
                "a block header is followed by a blank line:\n{text}"
            );
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        assert_eq!(
            indent % 4,
            0,
            "indentation is not a multiple of four: {line:?}"
        );
        let level = indent / 4;
        if opens_block {
            assert_eq!(
                level,
                previous_level + 1,
                "a block does not indent by one level at line {idx}:\n{text}"
            );
        } else {
            assert!(
                level <= previous_level,
                "unexpected indent at line {idx}:\n{text}"
            );
        }
        let code = line.trim_start();
        if code.starts_with("elif ") || code == "else:" {
            assert!(
                level < previous_level,
                "elif/else does not follow a block at line {idx}:\n{text}"
            );
        }
        let mut stack = Vec::new();
        for character in code.chars() {
            match character {
                '(' | '[' => stack.push(character),
                ')' => assert_eq!(stack.pop(), Some('('), "unbalanced ) in {line:?}"),
                ']' => assert_eq!(stack.pop(), Some('['), "unbalanced ] in {line:?}"),
                _ => {}
            }
        }
        assert!(stack.is_empty(), "unclosed bracket in {line:?}");
        opens_block = code.ends_with(':');
        deepest = deepest.max(level);
        previous_level = level;
    }
    assert!(!opens_block, "the document ends with a block header");
    assert!(
        deepest <= max_depth,
        "depth {deepest} > {max_depth}:\n{text}"
    );
    // Every function's last line is its return, one level in.
    for (idx, line) in lines.iter().enumerate() {
        if line.starts_with("def ") {
            let end = lines[idx + 1..]
                .iter()
                .position(|line| !line.starts_with(' '))
                .map_or(lines.len(), |offset| idx + 1 + offset);
            assert!(
                lines[end - 1].starts_with("    return "),
                "function without a final return:\n{text}"
            );
        }
    }
    assert!(lines.last().unwrap().starts_with("print("), "{text}");
    // Every `while` terminates: its counter changes only in the body's final `-= 1`.
    for (idx, line) in lines.iter().enumerate() {
        let code = line.trim_start();
        let Some(counter) = code
            .strip_prefix("while ")
            .and_then(|rest| rest.strip_suffix(" > 0:"))
        else {
            continue;
        };
        let level = line.len() - code.len();
        let body: Vec<&str> = lines[idx + 1..]
            .iter()
            .take_while(|line| line.len() - line.trim_start().len() > level)
            .copied()
            .collect();
        let decrement = format!("{}{counter} -= 1", " ".repeat(level + 4));
        assert_eq!(body.last(), Some(&decrement.as_str()), "{text}");
        let writes = body
            .iter()
            .filter(|line| {
                line.trim_start().starts_with(&format!("{counter} ")) && line.contains('=')
            })
            .count();
        assert_eq!(
            writes, 1,
            "the counter of `{code}` changes in its body:\n{text}"
        );
    }
    deepest
}

#[test]
fn every_document_is_well_formed_and_within_bounds() {
    for (max_depth, max_statements, max_functions, max_lines) in [
        (3, 4, 3, 40),
        (1, 2, 1, MIN_LINES),
        (MAX_DEPTH, 8, 8, 200),
        (2, 8, 8, 12),
        (4, 6, 2, 25),
    ] {
        let config = Config {
            count: 400,
            max_depth,
            max_statements,
            max_functions,
            max_lines,
        };
        let mut deepest = 0;
        for example in generate(&config, 1).unwrap() {
            assert!(
                example.text.lines().count() <= max_lines,
                "{}",
                example.text
            );
            deepest = deepest.max(check_structure(&example.text, max_depth));
        }
        assert_eq!(deepest, max_depth, "{config:?}");
    }
}

#[test]
fn the_grammar_produces_every_construct() {
    let corpus: String = generate(&Config::default(), 2)
        .unwrap()
        .into_iter()
        .map(|example| example.text)
        .collect();
    for construct in [
        "def ", "return ", "if ", "elif ", "else:", "for ", "while ", " -= 1", " += ", ".append(",
        "print(", "range(", "len(", "min(", "max(", "abs(", " // ", " % ", " and ", " or ", "not ",
        " = [",
    ] {
        assert!(corpus.contains(construct), "{construct}");
    }
    // Calls to functions defined earlier in the same document.
    assert!(corpus.lines().any(|line| line.starts_with("    ")
        && line.contains("_")
        && line.contains("(")
        && !line.contains("def ")));
}

#[test]
fn same_seed_same_programs_and_programs_vary() {
    let config = Config {
        count: 500,
        ..Config::default()
    };
    let first = generate(&config, 3).unwrap();
    assert_eq!(first, generate(&config, 3).unwrap());
    assert_ne!(first, generate(&config, 4).unwrap());
    let distinct: BTreeSet<&str> = first.iter().map(|example| example.text.as_str()).collect();
    assert_eq!(distinct.len(), 500);
}

#[test]
fn bad_configs_are_refused_with_the_parameter_named() {
    let cases = [
        (
            Config {
                count: 0,
                ..Config::default()
            },
            "count = 0",
        ),
        (
            Config {
                max_depth: 0,
                ..Config::default()
            },
            "max_depth = 0",
        ),
        (
            Config {
                max_depth: 7,
                ..Config::default()
            },
            "max_depth = 7",
        ),
        (
            Config {
                max_statements: 9,
                ..Config::default()
            },
            "max_statements = 9",
        ),
        (
            Config {
                max_functions: 0,
                ..Config::default()
            },
            "max_functions = 0",
        ),
        (
            Config {
                max_lines: 2,
                ..Config::default()
            },
            "max_lines = 2",
        ),
        (
            Config {
                max_lines: MAX_LINES + 1,
                ..Config::default()
            },
            "max_lines = 1001",
        ),
    ];
    for (config, expected) in cases {
        let error = generate(&config, 0).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}
