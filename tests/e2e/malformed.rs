//! Malformed experiment files, as a user's disk or editor makes them: cut short, with stray
//! bytes, not UTF-8, with invisible characters, a byte-order mark in mid-file, nested past what
//! exp reads. Whatever the damage, `exp check` (and `exp graph`, `exp run`, which load files the
//! same way) must answer with a located error (`file:line:col`) and exit 2: never a panic, a
//! crash or the exit code of a file that cannot be read.
//!
//! The damaged files are made from `experiments/quickstart.exp` by a fixed pseudo-random walk,
//! so a failure names a file that can be made again.

use crate::support::{workspace_root, Outcome, Test};

/// A small deterministic generator (SplitMix64): the same damage on every run.
struct Damage(u64);

impl Damage {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Byte strings that break a file in the ways files get broken.
const STRAY: &[&[u8]] = &[
    b"\xff",
    b"\xe9",
    b"\xc3",
    b"\x00",
    b"\x07",
    b"\r",
    b"\xef\xbb\xbf",
    "\u{200b}".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{a0}".as_bytes(),
    "é".as_bytes(),
    b"\"",
    b"/*",
    b"{",
    b"]",
    b"99999999999999999999999",
    b"1e999",
];

fn damaged_files() -> Vec<(String, Vec<u8>)> {
    let original = std::fs::read(workspace_root().join("experiments/quickstart.exp"))
        .expect("read experiments/quickstart.exp");
    let mut damage = Damage(12);
    let mut files = Vec::new();
    for case in 0..40 {
        let mut bytes = original.clone();
        let at = damage.below(bytes.len());
        let how = match case % 4 {
            0 => {
                bytes.truncate(at);
                "cut"
            }
            1 => {
                let stray = STRAY[damage.below(STRAY.len())];
                bytes.splice(at..at, stray.iter().copied());
                "insert"
            }
            2 => {
                let stray = STRAY[damage.below(STRAY.len())];
                let end = (at + stray.len()).min(bytes.len());
                bytes.splice(at..end, stray.iter().copied());
                "overwrite"
            }
            _ => {
                let end = (at + 1 + damage.below(40)).min(bytes.len());
                bytes.drain(at..end);
                "delete"
            }
        };
        files.push((format!("{how}_{case}_at_{at}.exp"), bytes));
    }
    files
}

/// `name:LINE:COL` somewhere in the text.
fn has_location(text: &str, name: &str) -> bool {
    text.match_indices(&format!("{name}:"))
        .any(|(at, matched)| {
            let rest = &text[at + matched.len()..];
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().unwrap_or("");
            let col: String = parts
                .next()
                .unwrap_or("")
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            !line.is_empty() && line.chars().all(|c| c.is_ascii_digit()) && !col.is_empty()
        })
}

fn assert_answered(name: &str, bytes: &[u8], outcome: &Outcome) {
    let shown = String::from_utf8_lossy(bytes);
    assert!(
        outcome.status == 0 || outcome.status == 2,
        "`{name}` exited {} (0 or 2 expected):\n{shown}\n--- stderr\n{}",
        outcome.status,
        outcome.stderr
    );
    if outcome.status == 2 {
        assert!(
            outcome.stderr.contains("error[E") && has_location(&outcome.stderr, name),
            "`{name}` has no located error:\n{shown}\n--- stderr\n{}",
            outcome.stderr
        );
    }
}

#[test]
fn damaged_files_get_a_located_error_and_exit_2() {
    let mut rejected = 0;
    for (name, bytes) in damaged_files() {
        let test = Test::new().bytes(&name, &bytes);
        let outcome = test.run_with(&["check", &name]);
        assert_answered(&name, &bytes, &outcome);
        rejected += usize::from(outcome.status == 2);
    }
    // Most damage breaks the file; a cut between two definitions may leave a valid one.
    assert!(
        rejected >= 30,
        "only {rejected} of 40 damaged files were rejected"
    );
}

#[test]
fn graph_and_run_refuse_a_malformed_file_like_check() {
    let name = "latin1.exp";
    let bytes = b"dataset d = digits\nmodel caf\xe9 = mlp\n";
    let test = Test::new().bytes(name, bytes);
    for args in [
        ["graph", name].as_slice(),
        ["run", name, "--no-cache"].as_slice(),
    ] {
        let outcome = test.run_with(args);
        assert_eq!(outcome.status, 2, "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains("error[E0038]"),
            "{}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains("latin1.exp:2:10"),
            "{}",
            outcome.stderr
        );
    }
    assert!(!test.path("runs").exists(), "nothing may run");
}

#[test]
fn json_diagnostics_of_malformed_files_carry_their_location() {
    let test = Test::new()
        .bytes("a.exp", b"seed 1\n\xff\n")
        .dir("b.exp")
        .bytes("c.exp", b"");
    for (name, line, column) in [("a.exp", 2, 1), ("b.exp", 1, 1), ("c.exp", 1, 1)] {
        let outcome = test.run_with(&["check", name, "--message-format", "json"]);
        assert_eq!(outcome.status, 2, "{name}: {}", outcome.stderr);
        let first: serde_json::Value = serde_json::from_str(
            outcome
                .stdout
                .lines()
                .next()
                .expect("one diagnostic per line"),
        )
        .expect("JSON");
        assert_eq!(first["location"]["file"], name);
        assert_eq!(first["location"]["line"], line);
        assert_eq!(first["location"]["column"], column);
    }
}

#[test]
fn a_missing_file_is_still_a_file_that_cannot_be_read() {
    // Not malformed input but no input: exit 3, as documented.
    let outcome = Test::new().run_with(&["check", "nowhere.exp"]);
    assert_eq!(outcome.status, 3, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("cannot read `nowhere.exp`"));
}
