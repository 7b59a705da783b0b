//! Help lines that suggest code must work when applied: each test takes a file with a mistake,
//! reads the fix from the binary's own help line, applies it as a user would, and runs
//! `exp check` again, which must then pass (STYLE E5: a help that does not work is a bug).

use crate::support::Test;

/// The pieces of code quoted (`` `code` ``) in the help line of the first diagnostic.
fn suggested(stderr: &str) -> Vec<String> {
    let help = stderr
        .lines()
        .find_map(|line| line.trim().strip_prefix("= help: "))
        .unwrap_or_else(|| panic!("no help line in:\n{stderr}"));
    help.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// Checks `before`, expects `code`, applies `fix(before, quoted code of the help)` and checks
/// again.
fn assert_fix_passes(before: &str, code: &str, fix: impl Fn(&str, &[String]) -> String) {
    let test = Test::new().file("study.exp", before);
    let outcome = test.run_with(&["check", "study.exp"]);
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(&format!("error[{code}]")),
        "{}",
        outcome.stderr
    );
    let after = fix(before, &suggested(&outcome.stderr));
    let test = Test::new().file("study.exp", &after);
    let outcome = test.run_with(&["check", "study.exp"]);
    assert_eq!(
        outcome.status, 0,
        "the fix the help suggests does not pass:\n{after}\n{}",
        outcome.stderr
    );
}

#[test]
fn the_copy_e0031_names_can_be_referred_to() {
    let before = "import std.digits
sweep lr in [1e-3, 1e-2], seeds 2 {
  train ft { model: digits_mlp, data: digits, steps: 5 steps, optimizer: adamw { lr: lr } }
}
evaluate e { model: ft, data: digits, metrics: [accuracy] }
";
    assert_fix_passes(before, "E0031", |text, quoted| {
        // "use `ft` inside the sweep .., name one copy (`ft[lr=0.001,seed=0]`), .."
        let copy = &quoted[1];
        assert_eq!(copy, "ft[lr=0.001,seed=0]");
        text.replace("model: ft,", &format!("model: {copy},"))
    });
}

#[test]
fn the_name_e0007_suggests_for_colliding_copies_passes() {
    let before = r#"import std.digits
sweep lr in [1e-3, 1e-2], seeds 2 {
  train "ft_{lr}" { model: digits_mlp, data: digits, steps: 5 steps, optimizer: adamw { lr: lr } }
}
"#;
    assert_fix_passes(before, "E0007", |text, quoted| {
        // "add `{seed}` to the name: `"ft_{lr}_{seed}"`"
        assert_eq!(quoted[1], r#""ft_{lr}_{seed}""#);
        text.replace(r#""ft_{lr}""#, &quoted[1])
    });
}

#[test]
fn the_axis_e0043_suggests_for_against_passes() {
    let before = r#"import std.digits
sweep lr in [1e-3, 1e-2] {
  train ft { model: digits_mlp, data: digits, steps: 5 steps, optimizer: adamw { lr: lr }, eval: [accuracy] }
}
report results { rows: [ft], against: "lrr" }
"#;
    let test = Test::new().file("study.exp", before);
    let outcome = test.run_with(&["check", "study.exp"]);
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("= help: did you mean \"lr\"?"),
        "{}",
        outcome.stderr
    );
    let after = before.replace("\"lrr\"", "\"lr\"");
    let outcome = Test::new()
        .file("study.exp", &after)
        .run_with(&["check", "study.exp"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
}
