//! The language reference, `docs/language.md`, is kept true by running the real binary on its
//! examples:
//! - every block tagged `exp` must pass `exp check` (exit 0); tagged `exp run`, it must also
//!   run to the end (`exp run FILE --out out --no-cache`, exit 0); tagged `exp run-fails`, the
//!   run must exit 1 and print the first line of the `text` block that follows;
//! - every block tagged `exp-error` must fail `exp check` (exit 2), and the first line of the
//!   `text` block that follows it (the recorded `error[E....]: ...`) must be in its stderr.
//!
//! A block holding lines `// file: PATH` is several files: each such line starts a file at PATH
//! (the line itself is not written), and the last file is the experiment. Other blocks are
//! written to `example.exp`, the name the recorded diagnostics show.

use crate::support::{workspace_root, Outcome, Test};

const DOC: &str = "docs/language.md";
const MARKER: &str = "// file: ";

/// A fenced block: its info string, the 1-based line of its opening fence, its lines.
struct Block {
    info: String,
    line: usize,
    body: Vec<String>,
}

impl Block {
    fn words(&self) -> Vec<&str> {
        self.info.split_whitespace().collect()
    }

    /// The files the block holds, the experiment last.
    fn files(&self) -> Vec<(String, String)> {
        let mut files: Vec<(String, Vec<&str>)> = Vec::new();
        for line in &self.body {
            match line.strip_prefix(MARKER) {
                Some(path) => files.push((path.trim().to_string(), Vec::new())),
                None => match files.last_mut() {
                    Some((_, lines)) => lines.push(line),
                    None => files.push(("example.exp".to_string(), vec![line])),
                },
            }
        }
        files
            .into_iter()
            .map(|(path, lines)| {
                let text = lines.join("\n");
                (path, format!("{}\n", text.trim_end()))
            })
            .collect()
    }

    fn location(&self) -> String {
        format!("{DOC}:{} (```{})", self.line, self.info)
    }

    /// A test directory with the block's files, and the path of the experiment.
    fn setup(&self) -> (Test, String) {
        let files = self.files();
        assert!(!files.is_empty(), "{}: empty block", self.location());
        let mut test = Test::new();
        for (path, text) in &files {
            test = test.file(path, text);
        }
        let main = files
            .last()
            .map(|(path, _)| path.clone())
            .unwrap_or_default();
        (test, main)
    }
}

fn blocks() -> Vec<Block> {
    let text = std::fs::read_to_string(workspace_root().join(DOC)).expect("read docs/language.md");
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (idx, line) in text.lines().enumerate() {
        match open.take() {
            Some(block) if line.trim_end() == "```" => blocks.push(block),
            Some(mut block) => {
                block.body.push(line.to_string());
                open = Some(block);
            }
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block {
                        info: info.trim().to_string(),
                        line: idx + 1,
                        body: Vec::new(),
                    });
                }
            }
        }
    }
    assert!(open.is_none(), "{DOC} ends inside a fenced block");
    blocks
}

/// The first line of the `text` block right after block `idx`: the recorded diagnostic.
fn recorded(blocks: &[Block], idx: usize) -> Result<String, String> {
    let block = &blocks[idx];
    let Some(next) = blocks.get(idx + 1).filter(|next| next.info == "text") else {
        return Err(format!(
            "{}: must be followed by a ```text block with the diagnostic it prints",
            block.location()
        ));
    };
    match next.body.first() {
        Some(first) if first.starts_with("error[") => Ok(first.clone()),
        _ => Err(format!(
            "{DOC}:{}: the ```text block after line {} must start with the `error[E....]: ...` line",
            next.line, block.line
        )),
    }
}

fn show(outcome: &Outcome) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        outcome.status, outcome.stdout, outcome.stderr
    )
}

fn assert_no_failures(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} example(s) of {DOC} are wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_exp_block_of_the_reference_checks_clean() {
    let blocks = blocks();
    let mut checked = 0;
    let mut failures = Vec::new();
    for block in blocks
        .iter()
        .filter(|block| block.words().first() == Some(&"exp"))
    {
        checked += 1;
        let (test, main) = block.setup();
        let outcome = test.run_with(&["check", &main]);
        if outcome.status != 0 {
            failures.push(format!(
                "{}: `exp check` should accept it:\n{}",
                block.location(),
                show(&outcome)
            ));
        }
    }
    assert!(checked >= 10, "{DOC} has only {checked} ```exp blocks");
    assert_no_failures(failures);
}

#[test]
fn every_exp_error_block_of_the_reference_prints_its_recorded_diagnostic() {
    let blocks = blocks();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (idx, block) in blocks.iter().enumerate() {
        if block.words().first() != Some(&"exp-error") {
            continue;
        }
        checked += 1;
        let expected = match recorded(&blocks, idx) {
            Ok(expected) => expected,
            Err(problem) => {
                failures.push(problem);
                continue;
            }
        };
        let (test, main) = block.setup();
        let outcome = test.run_with(&["check", &main]);
        if outcome.status != 2 || !outcome.stderr.contains(&expected) {
            failures.push(format!(
                "{}: `exp check` should exit 2 and print\n    {expected}\nbut:\n{}",
                block.location(),
                show(&outcome)
            ));
        }
    }
    assert!(
        checked >= 10,
        "{DOC} has only {checked} ```exp-error blocks"
    );
    assert_no_failures(failures);
}

#[test]
fn the_runnable_examples_of_the_reference_run() {
    let blocks = blocks();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (idx, block) in blocks.iter().enumerate() {
        let words = block.words();
        if words.first() != Some(&"exp") {
            continue;
        }
        let fails = words.contains(&"run-fails");
        if !fails && !words.contains(&"run") {
            continue;
        }
        ran += 1;
        let expected = if fails {
            match recorded(&blocks, idx) {
                Ok(expected) => Some(expected),
                Err(problem) => {
                    failures.push(problem);
                    continue;
                }
            }
        } else {
            None
        };
        let (test, main) = block.setup();
        let outcome = test.run_with(&["run", &main, "--out", "out", "--no-cache"]);
        let ok = match &expected {
            Some(expected) => outcome.status == 1 && outcome.stderr.contains(expected.as_str()),
            None => outcome.status == 0,
        };
        if !ok {
            let wanted = match &expected {
                Some(expected) => format!("exit 1 and print\n    {expected}"),
                None => "exit 0".to_string(),
            };
            failures.push(format!(
                "{}: `exp run --no-cache` should {wanted}, but:\n{}",
                block.location(),
                show(&outcome)
            ));
        } else if expected.is_none() {
            for file in ["manifest.json", "metrics.jsonl"] {
                if !test.path("out").join(file).exists() {
                    failures.push(format!("{}: the run wrote no {file}", block.location()));
                }
            }
        }
    }
    assert!(
        blocks.iter().any(|block| block.info == "exp run"),
        "{DOC} has no complete experiment tagged ```exp run"
    );
    assert!(ran > 0);
    assert_no_failures(failures);
}

#[test]
fn the_reference_lists_every_diagnostic_code() {
    let text = std::fs::read_to_string(workspace_root().join(DOC)).expect("read docs/language.md");
    let codes = (1..=53).map(|n| format!("E{n:04}")).chain([
        "E0100".to_string(),
        "E0200".to_string(),
        "W0001".to_string(),
        "W0002".to_string(),
    ]);
    let missing: Vec<String> = codes
        .filter(|code| !text.contains(&format!("| {code} |")))
        .collect();
    assert!(
        missing.is_empty(),
        "the table of diagnostic codes in {DOC} has no row for {}",
        missing.join(", ")
    );
}

/// The text of the section that starts at the line `heading` (`### \`train\``), up to the next
/// heading of the same level or above.
fn section<'d>(doc: &'d str, heading: &str) -> Option<&'d str> {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let start = doc.find(&format!("\n{heading}\n"))? + 1;
    let body = &doc[start + heading.len()..];
    let end = body
        .match_indices("\n#")
        .find(|(at, _)| {
            let hashes = body[at + 1..].chars().take_while(|c| *c == '#').count();
            hashes <= level && body[at + 1 + hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(at, _)| at);
    Some(&body[..end])
}

/// Every standard module and every field the checker accepts appears in the reference, in the
/// section of its block, so that nothing the language has is undocumented (`sequence`'s
/// `models` and `std.continual` once were).
#[test]
fn every_stdlib_module_and_every_field_is_documented() {
    let doc = std::fs::read_to_string(workspace_root().join(DOC)).expect("read docs/language.md");
    let mut missing = Vec::new();

    let imports = section(&doc, "### `import`").expect("a section `### `import``");
    let mut modules: Vec<String> = std::fs::read_dir(workspace_root().join("stdlib"))
        .expect("list stdlib/")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "exp"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    modules.sort();
    assert!(modules.len() >= 2, "{modules:?}");
    for module in &modules {
        if !imports.contains(&format!("`std.{module}`")) {
            missing.push(format!("the module `std.{module}` under `### `import``"));
        }
        // And the binary has it: a file that imports it checks.
        let outcome = Test::new()
            .file("example.exp", &format!("import std.{module}\n"))
            .run_with(&["check", "example.exp"]);
        assert_eq!(outcome.status, 0, "std.{module}: {}", outcome.stderr);
    }

    let sections = [
        ("train", "### `train`"),
        ("train mixture", "### Data-mixture schedules"),
        ("sequence", "## Task sequences and hooks"),
        ("sequence replay", "## Task sequences and hooks"),
        ("evaluate", "### `evaluate`"),
        ("sample", "### `dataset`"),
        ("report", "### `report`"),
        ("report choose", "### `report`"),
        ("resources", "### `resources`"),
    ];
    for (block, fields) in exp_check::block_fields() {
        let Some((_, heading)) = sections.iter().find(|(known, _)| *known == block) else {
            panic!("the checker has fields for `{block}`: say in `sections` where {DOC} documents them");
        };
        let text =
            section(&doc, heading).unwrap_or_else(|| panic!("{DOC} has no section `{heading}`"));
        for field in fields {
            if !text.contains(&format!("`{field}`")) {
                missing.push(format!(
                    "the field `{field}` of `{block}` under `{heading}`"
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{DOC} does not document:\n  {}",
        missing.join("\n  ")
    );
}
