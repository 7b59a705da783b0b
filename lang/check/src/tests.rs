//! Snapshot tests of the checker: each renders the source and the diagnostics (STYLE T1).

use exp_diag::{render, Diagnostic, SourceMap};
use proptest::prelude::*;

use crate::testing::{TestCatalog, TestWorld};
use crate::{check, check_file, Body};

fn world() -> TestWorld {
    TestWorld::new().module(
        "std.digits",
        "// The digits dataset with the standard split.\ndataset digits = digits { test_fraction: 0.2 }\n",
    )
}

fn check_src(src: &str) -> String {
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", src);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    let mut out = format!("--- source\n{src}\n--- diagnostics\n");
    out.push_str(&render(&diagnostics, &sources, false));
    if let Some(program) = program {
        out.push_str("--- definitions\n");
        for def in &program.defs {
            let uses: Vec<String> = def
                .body
                .uses()
                .iter()
                .map(|(role, id)| format!("{role}={}", program.def(*id).name))
                .collect();
            let point = def
                .expansion
                .as_ref()
                .map(|expansion| {
                    format!(" family={} point={:?}", expansion.family, expansion.point)
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "{} {} [{}]{point}\n",
                def.kind.keyword(),
                def.name,
                uses.join(" ")
            ));
        }
    }
    out
}

macro_rules! snapshot {
    ($name:ident, $src:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(check_src($src));
        }
    };
}

const OK: &str = r#"import std.digits
seed 7
model net = mlp { hidden: [64], activation: "relu" }
train a {
  model: net
  data: digits
  steps: 300 steps
  optimizer: adamw { lr: 3e-3 }
  schedule: cosine { warmup: 10% }
  eval: [accuracy, loss]
}
train b { model: net, data: digits, steps: 1 epoch, optimizer: sgd { lr: 1 }, seed: 3 }
merge soup = average(a, b)
evaluate eval_soup { model: soup, data: digits, metrics: [accuracy] }
report results { rows: [eval_soup, a] }
"#;

snapshot!(valid_program, OK);

// Sweeps, templates, sequences, hooks and interpolation.

snapshot!(
    sweep_grid_zip_and_seeds,
    r#"import std.digits
model net = mlp
let lrs = [1e-3, 3e-3]
sweep lr in lrs, seeds 2 {
  train ft { model: net, data: digits, steps: 10 steps, optimizer: adamw { lr: lr * 2 } }
  evaluate "score_{lr}_{seed}" { model: ft, data: digits, metrics: [accuracy] }
}
sweep zip alpha in [0.25, 0.75], tag in ["low", "high"] {
  merge "wise_{tag}" = wise_ft(net, ft) { alpha: alpha }
}
report results { rows: [ft] }
"#
);

snapshot!(
    template_instances_and_results,
    r#"import std.digits
model net = mlp
template finetune(start, data, lr) {
  let double = lr * 2
  train ft { model: start, data: data, steps: 10 steps, optimizer: sgd { lr: double } }
  evaluate score { model: ft, data: data, metrics: [accuracy] }
}
use slow = finetune(net, digits, 1e-3)
use fast = finetune(net, data: digits, lr: 1e-2)
merge soup = average(slow.ft, fast.ft)
report results { rows: [slow, fast, fast.ft] }
"#
);

// Templates in sweeps in templates in sweeps: a template sweeping over a list it defines
// itself, a copy named by a string, and a family reached
// through two instances. The expansion declares each level's names once and keeps them for
// when the level is copied; what could depend on the scope is declared again there (and in
// debug builds every kept answer is checked against declaring it again).
snapshot!(
    nested_templates_and_sweeps,
    r#"import std.digits
model net = mlp
template tune(start) {
  let lrs = [0.1, 0.2]
  sweep lr in lrs {
    train ft { model: start, data: digits, steps: 10 steps, optimizer: sgd { lr: lr } }
    evaluate score { model: ft, data: digits, metrics: [accuracy] }
  }
}
template arm(start) {
  train pre { model: start, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 } }
  sweep width in [1, 2] {
    use tuned = tune(pre)
  }
}
sweep seeds 2 {
  use a = arm(net)
  evaluate "pre_{seed}" { model: a.pre, data: digits, metrics: [accuracy] }
}
report results { rows: [a.tuned.score, pre_0] }
"#
);

// Levels whose names depend on the scope they are declared in: a template sweeping over a
// family (a point per copy of it, which only the copy of the template's items sees). Such
// names are declared again where the level's items are copied; debug builds check every kept
// answer against declaring it again. And a call whose input is a template parameter bound to
// a component, not a definition: "cannot find" names the parameter when the component has
// parameters, the component's name when it has none (next).
snapshot!(
    scope_dependent_levels,
    r#"import std.digits
sweep seeds 2 {
  model base = mlp
}
template over_family(start) {
  sweep m in [base] {
    train ft { model: m, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 } }
    evaluate e { model: start, data: digits, metrics: [accuracy] }
  }
}
sweep width in [1, 2] {
  model pre = mlp
  use a = over_family(pre)
}
"#
);

snapshot!(
    a_call_input_bound_to_a_component_with_parameters,
    r#"import std.digits
template merged(other) {
  merge soup = average(other, other)
}
use c = merged(adamw { lr: 0.1 })
"#
);

snapshot!(
    a_call_input_bound_to_a_bare_component,
    r#"import std.digits
template merged(other) {
  merge soup = average(other, other)
}
use d = merged(sgd)
"#
);

snapshot!(
    sequence_with_hooks_and_replay,
    r#"import std.digits
model net = mlp
dataset other = digits { test_fraction: 0.3 }
sequence seq {
  model: net
  tasks: [digits, other]
  steps: 10 steps
  optimizer: sgd { lr: 0.1 }
  hooks: [l2 { lambda: 0.5 }, sfa { every: 25%, beta: 0.5 }]
  replay: { size: 10%, ratio: 25%, selection: "uniform" }
}
train joint { model: net, data: [digits, other], steps: 1000 tokens, optimizer: sgd { lr: 0.1 } }
merge both = average(joint, seq)
sequence given { models: [joint, both], tasks: [digits, other] }
sequence wrong { models: [net], tasks: [digits, other], steps: 10 steps }
report results { rows: [seq, joint, given] }
"#
);

snapshot!(
    sweep_over_lists_and_blocks,
    r#"import std.digits
sweep hidden in [[32], [64, 64]], opt in [adamw { lr: 1e-3 }, adamw { lr: 1e-2 }], extra in [{ a: 1 }, { a: 2 }] {
  model net = mlp { hidden: hidden }
  train ft { model: net, data: digits, steps: 10 steps, optimizer: opt }
}
"#
);

snapshot!(
    sweep_errors,
    r#"import std.digits
model net = mlp
sweep lr in 3 { model a = mlp }
sweep zip x in [1, 2], y in [1] { model b = mlp }
sweep seeds "two" { model c = mlp }
sweep seeds 20000 { model d = mlp }
sweep seeds 0 { model e = mlp }
sweep s in [1, 2] {
  import std.digits
  train ft { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 } }
}
train after { model: ft, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 } }
evaluate "e_{missing}" { model: net, data: digits, metrics: [accuracy] }
"#
);

// An axis swept twice: in one header, and through a template used inside a sweep.
snapshot!(
    repeated_axes,
    r#"import std.digits
sweep lr in [0.1, 0.2], lr in [0.3] { model a = mlp }
template seeded(start) {
  sweep seeds 2 { train ft { model: start, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 } } }
}
sweep seeds 3 {
  use run = seeded(digits_mlp)
}
"#
);

snapshot!(
    template_errors,
    r#"import std.digits
model net = mlp
template t(a, b) { model m = mlp }
template loop(x) { use again = loop(x) }
use one = t(net)
use two = t(net, net, net)
use three = t(net, c: net)
use four = tt(net, net)
use five = loop(1)
"#
);

snapshot!(
    scheduled_parameters,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 }, hooks: [sfa { every: 10%, beta: linear { warmup: 20% } }] }
train b { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 }, hooks: [sfa { every: 10%, beta: 0.25 }] }
train c { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 }, hooks: [sfa { every: 10%, beta: adamw }, sfa { every: 10%, beta: linar }, sfa { every: 10%, beta: "high" }] }
"#
);

snapshot!(
    mixture_errors,
    r#"import std.digits
model net = mlp
train a { model: net, data: [digits, digits], steps: 10 steps, optimizer: sgd { lr: 0.1 }, mixture: { at: [0%, 50%], weights: [[1, 0]] } }
train b { model: net, data: [digits, digits], steps: 10 steps, optimizer: sgd { lr: 0.1 }, mixture: { at: [0%], weights: [[1, 0, 1]], mode: 1 } }
train c { model: net, data: [digits, digits], steps: 10 steps, optimizer: sgd { lr: 0.1 }, mixture: { at: [0%, 90%], weights: [[0.9, 0.1], [0.5, 0.5]], interpolate: true } }
"#
);

// Warmups and mixture points past the end of the phase; what cannot be compared before the
// run (epochs against steps) and what ends exactly at the end passes.
snapshot!(
    points_past_the_phase,
    r#"import std.digits
model net = mlp
train a { model: net, data: [digits, digits], steps: 10 steps, optimizer: sgd { lr: 0.1 }, mixture: { at: [0 steps, 12 steps], weights: [[1, 0], [0, 1]] } }
sequence s { model: net, tasks: [digits, digits], steps: 10 steps, optimizer: sgd { lr: 0.1 }, schedule: linear { warmup: 120% } }
train b { model: net, data: digits, steps: 2 epochs, optimizer: sgd { lr: 0.1 }, schedule: cosine { warmup: 2 epochs } }
train c { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 }, schedule: cosine { warmup: 5 epochs } }
"#
);

snapshot!(
    hook_errors,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 }, hooks: [average, adamw, l3] }
sequence s { model: net, tasks: [], steps: 10 steps, optimizer: sgd { lr: 0.1 }, replay: { size: 0, ratio: 2.0, pick: 1 } }
"#
);

snapshot!(
    syntax_error_missing_brace,
    r#"train a {
  model: net
model net = mlp
"#
);

snapshot!(
    unterminated_string,
    r#"model net = mlp { activation: "relu }
"#
);

snapshot!(
    undefined_name,
    r#"import std.digits
model net = mlp
evaluate e { model: nett, data: digits, metrics: [accuracy] }
"#
);

snapshot!(
    duplicate_definition,
    r#"model net = mlp
model net = mlp { dropout: 0.1 }
"#
);

snapshot!(
    wrong_definition_kind,
    r#"model net = mlp
evaluate e { model: net, data: net, metrics: [accuracy] }
"#
);

snapshot!(
    percentage_steps,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 10%, optimizer: sgd { lr: 0.1 } }
"#
);

snapshot!(
    unknown_component,
    r#"import std.digits
model net = mlpp
train a { model: net, data: digits, steps: 10 steps, optimizer: adamm }
"#
);

snapshot!(
    component_of_wrong_kind,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 10 steps, optimizer: adamw, schedule: adamw }
"#
);

snapshot!(
    unknown_parameter,
    r#"model net = mlp { hiden: [32] }
"#
);

snapshot!(
    parameter_wrong_type,
    r#"model net = mlp { hidden: 32, activation: relu }
model net2 = mlp { activation: "rleu" }
"#
);

snapshot!(
    parameter_out_of_range,
    r#"model net = mlp { dropout: 1.5, hidden: [0] }
"#
);

snapshot!(
    missing_required_field,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits }
"#
);

snapshot!(
    missing_required_param,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 5 steps, optimizer: sgd }
"#
);

snapshot!(
    unknown_field_in_train,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 5 steps, optimizer: sgd { lr: 0.1 }, bacth: 8, colour: 1 }
"#
);

snapshot!(
    merge_with_one_input,
    r#"model net = mlp
merge soup = average(net)
"#
);

snapshot!(
    cycle,
    r#"import std.digits
train a { model: b, data: digits, steps: 5 steps, optimizer: adamw }
train b { model: a, data: digits, steps: 5 steps, optimizer: adamw }
train c { model: c, data: digits, steps: 5 steps, optimizer: adamw }
"#
);

snapshot!(
    missing_import,
    r#"import std.digitz
"#
);

snapshot!(
    duplicate_seed,
    r#"seed 1
seed 2
"#
);

snapshot!(
    wrong_field_values,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 300, batch: "x", seed: -1, optimizer: sgd { lr: -1 }, eval: accuracy, log_every: 0 steps }
evaluate e { model: net, data: digits, metrics: [], split: "val" }
report r { rows: [net] }
"#
);

snapshot!(
    duration_where_number_expected,
    r#"model net = mlp
merge m = wise_ft(net, net) { alpha: 2 epochs }
"#
);

snapshot!(
    many_errors_at_once,
    r#"import std.digits
seed 1
seed 2
model net = mlp { hidden: [64], activaton: "relu" }
model net = mlp
train a {
  model: nett
  data: net
  steps: 10%
  optimizer: adam { lr: 1e-3 }
  schedule: adamw
  eval: [accuracy, los]
  colour: "red"
}
merge soup = average(a)
evaluate e { model: soup, data: digits }
report r { rows: [e, a, missing] }
"#
);

#[test]
fn imported_module_errors_point_into_the_module() {
    let world = TestWorld::new().module("std.broken", "seed 3\ndataset d = digitz\n");
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", "import std.broken\n");
    let (program, diagnostics) = check(&mut sources, main, &world, &TestCatalog::new());
    assert!(program.is_none());
    insta::assert_snapshot!(render(&diagnostics, &sources, false));
}

#[test]
fn defaults_are_filled_and_ints_coerced() {
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", OK);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.expect("no errors, so a program");
    assert_eq!(program.seed, 7);
    let train_b = program.defs.iter().find(|def| def.name == "b").expect("b");
    let Body::Train { spec, seed, .. } = &train_b.body else {
        panic!("b is a train");
    };
    assert_eq!(*seed, Some(3));
    assert_eq!(spec.batch, 32);
    // No `schedule:`: the learning rate is the number written, not a schedule.
    assert_eq!(spec.optimizer.params["lr"], exp_ir::Value::Float(1.0));
    assert_eq!(spec.optimizer.params["momentum"], exp_ir::Value::Float(0.0));
}

const LETS: &str = r#"import std.digits
let base_lr = 1e-3
let width = 32
let warm = 10% * 2
let total = warm_steps * 3 + 100 steps
let warm_steps = 100 steps
let base_seed = 7
model net = mlp { hidden: [width * 2, width], activation: "relu" }
train a {
  model: net
  data: digits
  steps: total
  batch: width
  seed: base_seed + 1
  optimizer: adamw { lr: base_lr * 2, weight_decay: -(0.5 - 1) / 2 }
  schedule: cosine { warmup: warm }
  eval_every: total / 4
}
"#;

snapshot!(lets_used_everywhere, LETS);

#[test]
fn lets_resolve_to_their_values() {
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", LETS);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.expect("no errors, so a program");
    let bodies: Vec<String> = program
        .defs
        .iter()
        .map(|def| format!("{} {}: {:#?}", def.kind.keyword(), def.name, def.body))
        .collect();
    insta::assert_snapshot!(bodies.join("\n"));
}

snapshot!(
    let_arithmetic_type_error,
    "let name = \"a\" * 2\nmodel net = mlp { hidden: [name] }\n"
);
snapshot!(
    let_negate_a_string,
    "let name = -\"a\"\nmodel net = mlp { hidden: [name] }\n"
);
snapshot!(
    let_cycle,
    "let a = b + 1\nlet b = c * 2\nlet c = a\nmodel net = mlp { hidden: [a] }\n"
);
snapshot!(
    let_refers_to_itself,
    "let a = a + 1\nmodel net = mlp { hidden: [a] }\n"
);
snapshot!(
    let_duration_unit_mismatch,
    "import std.digits\nmodel net = mlp\ntrain t { model: net, data: digits, steps: 10 steps + 3 epochs, optimizer: sgd }\n"
);
snapshot!(
    let_division_by_zero,
    "let zero = 2 - 2\nlet lr = 1e-3 / zero\nmodel net = mlp\nmodel other = mlp { hidden: [lr] }\n"
);
snapshot!(
    let_used_where_a_definition_is_expected,
    "import std.digits\nlet net = 3\ntrain t { model: net, data: digits, steps: 10 steps, optimizer: sgd }\n"
);
snapshot!(
    definition_used_as_a_let_value,
    "model net = mlp\nlet width = net * 2\nmodel other = mlp { hidden: [width] }\n"
);
snapshot!(
    component_in_a_let,
    "let opt = adamw { lr: 1e-3 }\nmodel other = mlp { hidden: [opt] }\n"
);
snapshot!(
    undefined_name_in_arithmetic,
    "let width = 32\nmodel other = mlp { hidden: [widht * 2] }\n"
);
snapshot!(
    let_with_the_wrong_type_for_its_place,
    "let act = 3\nmodel other = mlp { activation: act }\n"
);
snapshot!(
    let_named_like_a_definition,
    "model net = mlp\nlet net = 3\nlet x = 1\nlet x = 2\nmodel other = mlp { hidden: [x, net] }\n"
);
snapshot!(
    unused_let_is_a_warning,
    "let unused = 3\nlet used = 4\nmodel other = mlp { hidden: [used] }\n"
);

#[test]
fn an_unused_let_alone_still_gives_a_program() {
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", "let unused = 3\nmodel net = mlp\n");
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(program.is_some());
    assert_eq!(diagnostics.len(), 1);
    assert!(!diagnostics[0].is_error());
}

/// Checks that no input makes the checker panic, and that every primary span is in its file.
fn assert_spans_inside(src: &str) {
    let mut sources = SourceMap::new();
    let main = sources.add("fuzz.exp", src);
    let (_, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    for diagnostic in &diagnostics {
        let span = diagnostic
            .primary_span()
            .expect("every diagnostic has a primary span");
        let text = sources.text(span.file);
        assert!(span.start <= span.end, "{diagnostic:?}");
        assert!((span.end as usize) <= text.len(), "{diagnostic:?}");
        assert!(text.is_char_boundary(span.start as usize), "{diagnostic:?}");
        assert!(text.is_char_boundary(span.end as usize), "{diagnostic:?}");
    }
    let _ = render(&diagnostics, &sources, false);
}

/// Checks a file given as raw bytes, as the binary reads it: no panic, and the outcome is a
/// program or at least one error, each error with a span inside its file (so it renders as
/// `file:line:col`).
fn assert_bytes_get_located_errors(bytes: &[u8]) {
    let mut sources = SourceMap::new();
    let (program, diagnostics) = check_file(
        &mut sources,
        "fuzz.exp",
        bytes,
        &world(),
        &TestCatalog::new(),
    );
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(program.is_none(), !errors.is_empty(), "{diagnostics:?}");
    for diagnostic in &diagnostics {
        let span = diagnostic
            .primary_span()
            .unwrap_or_else(|| panic!("no location: {diagnostic:?}"));
        let text = sources.text(span.file);
        assert!(span.start <= span.end, "{diagnostic:?}");
        assert!((span.end as usize) <= text.len(), "{diagnostic:?}");
        assert!(text.is_char_boundary(span.start as usize), "{diagnostic:?}");
        assert!(text.is_char_boundary(span.end as usize), "{diagnostic:?}");
    }
    let _ = render(&diagnostics, &sources, false);
}

#[test]
fn malformed_files_get_located_errors() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"dataset d = digits\n\xff\n".to_vec(), "E0038"),
        (b"\xef\xbb\xbf".to_vec(), "E0040"),
        (b"   \r\n\t// nothing\r\n".to_vec(), "E0040"),
        (b"\x00".to_vec(), "E0001"),
        (
            b"dataset d = digits\r\nmodel m = mlp { hidden: [64\r\n".to_vec(),
            "E0001",
        ),
        (
            b"model m = mlp { dropout: 0.5 / 1e400 }\n".to_vec(),
            "E0003",
        ),
        (
            format!("let a = {}", "{".repeat(10_000)).into_bytes(),
            "E0039",
        ),
    ];
    for (bytes, code) in cases {
        let mut sources = SourceMap::new();
        let (_, diagnostics) = check_file(
            &mut sources,
            "bad.exp",
            &bytes,
            &world(),
            &TestCatalog::new(),
        );
        let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, [code], "{:?}", String::from_utf8_lossy(&bytes));
        assert_bytes_get_located_errors(&bytes);
    }
}

#[test]
fn a_module_that_is_not_utf8_is_located_in_the_module() {
    struct BytesWorld;
    impl crate::World for BytesWorld {
        fn load_module(&self, path: &[String]) -> Option<(String, Vec<u8>)> {
            (path.join(".") == "shared")
                .then(|| ("shared.exp".into(), b"model m = \xe9\n".to_vec()))
        }
    }
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", "import shared\nmodel net = mlp\n");
    let (program, diagnostics) = check(&mut sources, main, &BytesWorld, &TestCatalog::new());
    assert!(program.is_none());
    let [diagnostic] = &diagnostics[..] else {
        panic!("one diagnostic expected: {diagnostics:?}");
    };
    assert_eq!(diagnostic.code, "E0038");
    let span = diagnostic.primary_span().expect("a location");
    assert_eq!(sources.location(span), "shared.exp:1:11");
}

proptest! {
    #[test]
    fn arbitrary_bytes_get_located_errors(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        assert_bytes_get_located_errors(&bytes);
    }

    #[test]
    fn programs_with_bytes_cut_or_inserted_get_located_errors(
        cut in 0usize..OK.len(),
        len in 0usize..20,
        insert in proptest::collection::vec(any::<u8>(), 0..6),
    ) {
        let mut bytes = OK.as_bytes().to_vec();
        let start = cut.min(bytes.len());
        let end = (start + len).min(bytes.len());
        bytes.splice(start..end, insert);
        assert_bytes_get_located_errors(&bytes);
    }

    #[test]
    fn every_prefix_of_a_program_gets_a_program_or_a_located_error(cut in 0usize..OK.len()) {
        assert_bytes_get_located_errors(&OK.as_bytes()[..cut]);
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        assert_spans_inside(&src);
    }

    #[test]
    fn mutated_programs_never_panic(
        cut in 0usize..OK.len(),
        len in 0usize..20,
        insert in "[a-z{}\\[\\]():,\"%0-9 \n.=-]{0,6}",
    ) {
        let mut src = OK.to_string();
        let start = cut.min(src.len());
        let end = (start + len).min(src.len());
        src.replace_range(start..end, &insert);
        assert_spans_inside(&src);
    }
}

// Schedules: the phase's `schedule:` is the learning rate's schedule; any parameter its
// schema marks may follow one; bounds may exclude their ends; components state their rules.

#[test]
fn the_phase_schedule_becomes_the_learning_rate_schedule() {
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", OK);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.expect("no errors, so a program");
    let train_a = program.defs.iter().find(|def| def.name == "a").expect("a");
    let Body::Train { spec, .. } = &train_a.body else {
        panic!("a is a train");
    };
    let exp_ir::Value::Schedule(schedule) = &spec.optimizer.params["lr"] else {
        panic!("lr should be a schedule: {:?}", spec.optimizer.params["lr"]);
    };
    // `lr: 3e-3` with `schedule: cosine { warmup: 10% }`: cosine's curve scaled by 3e-3.
    assert_eq!(schedule.scale, 3e-3);
    assert_eq!(schedule.curve.name, "cosine");
    assert_eq!(schedule.curve.kind, exp_ir::ComponentKind::Scheduler);
    assert_eq!(
        schedule.curve.params["warmup"],
        exp_ir::Value::Duration(exp_ir::Duration {
            amount: 0.1,
            unit: exp_ir::DurationUnit::Fraction
        })
    );
    // Other parameters stay numbers.
    assert_eq!(
        spec.optimizer.params["weight_decay"],
        exp_ir::Value::Float(0.01)
    );
}

#[test]
fn a_scheduled_parameter_holds_its_schedule_at_scale_one() {
    let source = r#"import std.digits
model net = mlp
train a {
  model: net
  data: digits
  steps: 10 steps
  optimizer: adamw { weight_decay: piecewise { at: [0%, 50%], values: [0.1, 0.0] } }
}
"#;
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", source);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.expect("no errors, so a program");
    let Body::Train { spec, .. } = &program.defs.last().expect("a").body else {
        panic!("a is a train");
    };
    let exp_ir::Value::Schedule(schedule) = &spec.optimizer.params["weight_decay"] else {
        panic!("weight_decay should be a schedule");
    };
    assert_eq!(
        (schedule.scale, schedule.curve.name.as_str()),
        (1.0, "piecewise")
    );
    assert_eq!(spec.optimizer.params["lr"], exp_ir::Value::Float(1e-3));
}

snapshot!(
    schedule_errors,
    r#"import std.digits
model net = mlp
train twice {
  model: net
  data: digits
  steps: 10 steps
  optimizer: adamw { lr: cosine }
  schedule: linear
}
train nothing_to_schedule {
  model: net
  data: digits
  steps: 10 steps
  optimizer: fixed_steps
  schedule: cosine
}
train not_schedulable {
  model: net
  data: digits
  steps: 10 steps
  optimizer: sgd { lr: 0.1, momentum: cosine }
}
"#
);

snapshot!(
    exclusive_bounds_and_component_rules,
    r#"import std.digits
model net = mlp
train a { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 } }
train b { model: net, data: digits, steps: 10 steps, optimizer: sgd { lr: 0.1 } }
merge zero = ties(a, b) { density: 0 }
merge one = ties(a, b) { density: 1 }
train c {
  model: net
  data: digits
  steps: 10 steps
  optimizer: sgd { lr: 0.1 }
  schedule: piecewise { at: [0%, 50%], values: [1, 0.5, 0.1] }
}
"#
);

// Text: tokenizers, models of tokens, exports, and which data each model may read.

snapshot!(
    text_definitions,
    r#"dataset corpus = corpus
tokenizer tok = bpe(corpus) { vocab_size: 300 }
tokenizer raw = bytes
model lm = gpt(tok) { context: 32 }
model small = gpt(raw)
train pre { model: lm, data: corpus, steps: 10 steps, optimizer: adamw }
evaluate held { model: pre, data: corpus, metrics: [loss] }
export hf = huggingface(pre)
"#
);

snapshot!(
    text_inputs_that_do_not_fit,
    r#"import std.digits
dataset corpus = corpus
tokenizer none = bpe
tokenizer empty = bpe()
tokenizer raw = bytes(corpus)
tokenizer two = bpe(corpus, digits)
model lm = gpt
model net = mlp(raw)
model both = gpt(raw, empty)
model wrong = gpt(corpus)
export none_given = huggingface()
export two_given = huggingface(lm, lm)
"#
);

snapshot!(
    text_reaches_only_models_of_tokens,
    r#"import std.digits
dataset corpus = corpus
tokenizer tok = bpe(corpus)
model lm = gpt(tok)
model net = mlp
train a { model: lm, data: [corpus, digits], steps: 10 steps, optimizer: adamw }
train b { model: net, data: corpus, steps: 10 steps, optimizer: adamw }
evaluate c { model: a, data: digits, metrics: [accuracy] }
merge m = average(a, a)
evaluate d { model: m, data: digits, metrics: [accuracy] }
sequence s { tasks: [corpus, digits], model: net, steps: 5 steps, optimizer: adamw }
"#
);

#[test]
fn paths_are_resolved_relative_to_the_file_that_wrote_them() {
    let world = world().module(
        "shared.data",
        "dataset notes = text_files { paths: [\"notes/*.txt\"] }\n",
    );
    let src =
        "import shared.data\ndataset mine = text_files { paths: [\"a.txt\", \"/abs/b.txt\"] }\n";
    let mut sources = SourceMap::new();
    let main = sources.add("sub/test.exp", src);
    let (program, diagnostics) = check(&mut sources, main, &world, &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.unwrap();
    let paths = |name: &str| {
        let def = program.defs.iter().find(|def| def.name == name).unwrap();
        let Body::Dataset { component } = &def.body else {
            panic!("{name} is a dataset")
        };
        component.params["paths"].clone()
    };
    let list = |items: &[&str]| {
        exp_ir::Value::List(
            items
                .iter()
                .map(|item| exp_ir::Value::Str(item.to_string()))
                .collect(),
        )
    };
    // The test world puts every file under /project and keeps what is written after it.
    assert_eq!(
        paths("mine"),
        list(&["/project/sub/a.txt", "/project/sub//abs/b.txt"])
    );
    assert_eq!(paths("notes"), list(&["/project/shared/notes/*.txt"]));
}

snapshot!(
    phase_clip_accumulate_precision,
    r#"import std.digits
model net = mlp
train ok { model: net, data: digits, steps: 10 steps, optimizer: adamw, batch: 32, clip: 1, accumulate: 4, precision: "bf16" }
train bad_clip { model: net, data: digits, steps: 10 steps, optimizer: adamw, clip: 0.0 }
train bad_accumulate { model: net, data: digits, steps: 10 steps, optimizer: adamw, batch: 24, accumulate: 5 }
train bad_precision { model: net, data: digits, steps: 10 steps, optimizer: adamw, precision: "fp8" }
train bare_precision { model: net, data: digits, steps: 10 steps, optimizer: adamw, precision: bf16 }
"#
);

#[test]
fn phase_fields_reach_the_train_spec() {
    let mut sources = SourceMap::new();
    let src = "import std.digits\nmodel net = mlp\ntrain t { model: net, data: digits, steps: 10 steps, optimizer: adamw, batch: 8, clip: 0.5, accumulate: 2, precision: \"fp16\" }\ntrain plain { model: net, data: digits, steps: 10 steps, optimizer: adamw }\n";
    let main = sources.add("test.exp", src);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.unwrap();
    let spec = |name: &str| match &program
        .defs
        .iter()
        .find(|def| def.name == name)
        .unwrap()
        .body
    {
        Body::Train { spec, .. } => spec.clone(),
        _ => panic!("{name} is a train"),
    };
    let t = spec("t");
    assert_eq!(t.clip, Some(0.5));
    assert_eq!(t.accumulate, 2);
    assert_eq!(t.precision, exp_ir::graph::Precision::Fp16);
    let plain = spec("plain");
    assert_eq!(plain.clip, None);
    assert_eq!(plain.accumulate, 1);
    assert_eq!(plain.precision, exp_ir::graph::Precision::Fp32);
    // Defaults leave the serialised spec (and so every cache key) as it was before the fields.
    let json = serde_json::to_value(&plain).unwrap();
    for key in ["clip", "accumulate", "precision"] {
        assert!(json.get(key).is_none(), "{key} in {json}");
    }
}

snapshot!(
    sequence_merge_fields,
    r#"import std.digits
model net = mlp
sequence ok { model: net, tasks: [digits, digits], steps: 5 steps, optimizer: adamw, merge: wise_ft { alpha: 0.3 }, merge_over: "previous" }
sequence lonely { model: net, tasks: [digits], steps: 5 steps, optimizer: adamw, merge_over: "fine_tunes" }
sequence wrong { model: net, tasks: [digits], steps: 5 steps, optimizer: adamw, merge: average, merge_over: "all" }
sequence not_a_merger { model: net, tasks: [digits], steps: 5 steps, optimizer: adamw, merge: adamw }
"#
);

snapshot!(
    licence_policy,
    r#"import std.digits
policy { licenses: ["CC-BY-4.0", "public-domain"] }
model net = mlp
train t { model: net, data: digits, steps: 5 steps, optimizer: adamw }
"#
);

snapshot!(
    licence_policy_errors,
    r#"import std.digits
policy { licences: ["CC0-1.0"] }
policy { licenses: [] }
sweep seeds 2 {
  model net = mlp
  policy { licenses: ["CC0-1.0"] }
}
"#
);

// A sequence evaluated on several splits; a split named twice, one that is not a split, and an
// empty list are errors at the item.
snapshot!(
    sequence_splits,
    r#"import std.digits
model net = mlp
dataset held = digits { test_fraction: 0.3 }
sequence both { model: net, tasks: [held, held], steps: 5 steps, optimizer: adamw, split: ["validation", "test"] }
sequence one { model: net, tasks: [held], steps: 5 steps, optimizer: adamw, split: "validation" }
sequence given { models: [net], tasks: [held], split: ["validation"] }
sequence twice { model: net, tasks: [held], steps: 5 steps, optimizer: adamw, split: ["test", "test"] }
sequence wrong { model: net, tasks: [held], steps: 5 steps, optimizer: adamw, split: ["valid", 3] }
sequence empty { model: net, tasks: [held], steps: 5 steps, optimizer: adamw, split: [] }
"#
);

// `choose` over the sweep axes of the rows; an axis the rows lack (with a suggestion), `seed`,
// a missing `by`, a wrong type and an unknown field are errors at the place written.
snapshot!(
    report_choose,
    r#"import std.digits
model net = mlp
sweep lr in [1e-3, 1e-2], seeds 2 {
  train ft { model: net, data: digits, steps: 5 steps, optimizer: adamw { lr: lr }, eval: [accuracy] }
}
train plain { model: net, data: digits, steps: 5 steps, optimizer: adamw, eval: [accuracy] }
report chosen { rows: [ft, plain], choose: { by: "accuracy", over: ["lr"] } }
report lowest { rows: [ft], choose: { by: "loss", over: ["lr", "lr"], maximize: false } }
report typo { rows: [ft], choose: { by: "accuracy", over: ["lrr", "seed"] } }
report nothing { rows: [plain], choose: { by: "accuracy", over: ["lr"] } }
report no_by { rows: [ft], choose: { over: ["lr"] } }
report wrong { rows: [ft], choose: { by: 3, over: "lr", minimize: true } }
report flat { rows: [ft], choose: "lr" }
"#
);

#[test]
fn the_policy_reaches_the_program() {
    let mut sources = SourceMap::new();
    let main = sources.add(
        "test.exp",
        "policy { licenses: [\" CC0-1.0 \", \"generated\"] }\n",
    );
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let policy = program.unwrap().policy.unwrap();
    assert_eq!(policy.licenses, ["CC0-1.0", "generated"]);
    assert!(policy.allows("cc0-1.0"));
    assert!(policy.allows("generated "));
    assert!(!policy.allows("CC-BY-NC-4.0"));
}

snapshot!(
    licence_policy_values,
    r#"policy { }
"#
);

snapshot!(
    licence_policy_empty_list,
    r#"policy { licenses: [] }
"#
);

snapshot!(
    a_definition_named_where_a_component_is_expected,
    r#"import std.digits
model base = mlp { hidden: [8] }
model lm = base
"#
);

#[test]
fn choose_and_splits_reach_the_program() {
    let src = r#"import std.digits
model net = mlp
sweep lr in [1e-3, 1e-2] {
  sequence seq { model: net, tasks: [digits, digits], steps: 5 steps, optimizer: sgd { lr: lr }, split: ["validation", "test"] }
}
sequence plain { model: net, tasks: [digits], steps: 5 steps, optimizer: adamw }
report best { rows: [seq], choose: { by: "validation_avg_accuracy", over: ["lr", "lr"], maximize: false } }
"#;
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", src);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.unwrap();
    let splits: Vec<Vec<String>> = program
        .defs
        .iter()
        .filter_map(|def| match &def.body {
            Body::Sequence { splits, .. } => Some(splits.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        splits,
        [
            vec!["validation".to_string(), "test".to_string()],
            vec!["validation".to_string(), "test".to_string()],
            vec!["test".to_string()],
        ]
    );
    let choose = program.defs.iter().find_map(|def| match &def.body {
        Body::Report { choose, .. } => choose.clone(),
        _ => None,
    });
    assert_eq!(
        choose,
        Some(exp_ir::graph::Choose {
            by: "validation_avg_accuracy".to_string(),
            over: vec!["lr".to_string()],
            maximize: false,
        })
    );
}

// Datasets made by models: `caption(data, model)` and `sample(model, prompts) { .. }` with their
// inputs in order and the sampling settings filled in.
#[test]
fn datasets_made_by_models_read_their_inputs_and_settings() {
    let mut sources = SourceMap::new();
    let src = "import std.digits\nmodel net = mlp\ntrain t { model: net, data: digits, steps: 5 steps, optimizer: adamw }\ndataset captioned = caption(digits, t)\ndataset drawn = sample(t, captioned) { steps: 20, guidance: 2.5, count: 16, split: \"validation\", grid: 0 }\ndataset both = sample(t, captioned) { split: [\"validation\", \"test\"] }\ndataset plain = sample(t, digits)\ntrain again { model: net, data: captioned, steps: 5 steps, optimizer: adamw }\n";
    let main = sources.add("test.exp", src);
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.unwrap();
    let body = |name: &str| {
        &program
            .defs
            .iter()
            .find(|def| def.name == name)
            .unwrap()
            .body
    };
    let id = |name: &str| {
        program
            .defs
            .iter()
            .position(|def| def.name == name)
            .unwrap()
    };
    match body("captioned") {
        Body::Caption { data, model } => {
            assert_eq!((data.0, model.0), (id("digits"), id("t")));
        }
        other => panic!("captioned is {other:?}"),
    }
    match body("drawn") {
        Body::Sample { model, data, spec } => {
            assert_eq!((model.0, data.0), (id("t"), id("captioned")));
            assert_eq!(
                **spec,
                exp_ir::graph::SampleSpec {
                    splits: vec!["validation".into()],
                    count: Some(16),
                    steps: 20,
                    guidance: 2.5,
                    eta: 0.0,
                    grid: 0,
                }
            );
        }
        other => panic!("drawn is {other:?}"),
    }
    match body("plain") {
        Body::Sample { spec, .. } => {
            assert_eq!(
                (
                    spec.splits.join(","),
                    spec.count,
                    spec.steps,
                    spec.guidance,
                    spec.eta,
                    spec.grid
                ),
                ("test".to_string(), None, 50, 1.0, 0.0, 64)
            );
        }
        other => panic!("plain is {other:?}"),
    }
    match body("both") {
        Body::Sample { spec, .. } => assert_eq!(spec.splits, ["validation", "test"]),
        other => panic!("both is {other:?}"),
    }
}

snapshot!(
    dataset_made_by_model_errors,
    r#"import std.digits
model net = mlp
dataset unknown = relabel(digits, net)
dataset one = caption(digits)
dataset swapped = caption(net, digits)
dataset bad = sample(net, digits) { steps: 0, guidance: -1, eta: 2, split: "dev", count: 1.5, colour: 3 }
"#
);

/// A catalog that counts the check-rule questions it is asked.
struct Counting {
    inner: TestCatalog,
    asked: std::cell::Cell<usize>,
}

impl crate::Catalog for Counting {
    fn component(
        &self,
        kind: exp_ir::ComponentKind,
        name: &str,
    ) -> Option<&exp_ir::ComponentSchema> {
        self.inner.component(kind, name)
    }

    fn names(&self, kind: exp_ir::ComponentKind) -> Vec<&str> {
        self.inner.names(kind)
    }

    fn check_params(
        &self,
        kind: exp_ir::ComponentKind,
        name: &str,
        params: &std::collections::BTreeMap<String, exp_ir::Value>,
    ) -> Result<(), crate::ParamsRejected> {
        self.asked.set(self.asked.get() + 1);
        self.inner.check_params(kind, name, params)
    }
}

#[test]
fn a_components_rule_is_asked_once_per_distinct_parameters_and_its_refusal_kept() {
    let src = r#"import std.digits
model net = mlp
sweep seeds 6, lr in [0.1, 0.2] {
  train ft {
    model: net
    data: digits
    steps: 10 steps
    optimizer: sgd { lr: piecewise { at: [0%, 50%], values: [lr] } }
  }
}
"#;
    let catalog = Counting {
        inner: TestCatalog::new(),
        asked: std::cell::Cell::new(0),
    };
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", src);
    let (program, diagnostics) = check(&mut sources, main, &world(), &catalog);
    // Twelve copies of a schedule with one value for two points, which `piecewise` refuses:
    // reported once (the copies share its span), and asked once per distinct parameters
    // (`values: [0.1]` and `[0.2]`), not once per copy.
    assert!(program.is_none());
    let refusals: Vec<_> = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.code == "E0048")
        .collect();
    assert_eq!(refusals.len(), 1, "{diagnostics:?}");
    assert!(refusals[0].message.contains("piecewise"), "{refusals:?}");
    let piecewise_asked = catalog.asked.get();
    assert!(
        (2..=6).contains(&piecewise_asked),
        "asked {piecewise_asked} times"
    );
}

// Every field, keyed by default, by kind, by a definition and by a swept family.
snapshot!(
    resources_per_node,
    r#"import std.digits
resources {
  default: { cpus: 2, memory: 4 GB, time: 30 min, partition: "cpu", account: "lab" }
  train: { gpus: 1, time: 2 h }
  evaluate: { cpus: 1 }
  net: { memory: 512 MB }
  ft: { memory: 16 GiB, gpu_type: "a100", partition: "gpu" }
}
model net = mlp
sweep lr in [1e-3, 1e-2] {
  train ft { model: net, data: digits, steps: 5 steps, optimizer: adamw { lr: lr } }
}
"#
);

// Keys that are not `default`, a definition keyword or a definition's name; the closest is
// suggested, among families too, but never a name no key can be (`run.ft`, `ft[lr=0.01]`).
snapshot!(
    resources_unknown_keys,
    r#"import std.digits
resources {
  defualt: { cpus: 1 }
  evalute: { cpus: 1 }
  fts: { cpus: 1 }
  nothing_like_it: { cpus: 1 }
  runft: { cpus: 1 }
}
model net = mlp
sweep lr in [1e-3, 1e-2] {
  train ft { model: net, data: digits, steps: 5 steps, optimizer: adamw { lr: lr } }
}
template tune(m) {
  train ft { model: m, data: digits, steps: 5 steps, optimizer: adamw }
}
use run = tune(net)
"#
);

snapshot!(
    resources_unknown_fields,
    r#"resources {
  default: { gpu: 1, nodes: 2, cpus: 1 }
}
model net = mlp
"#
);

// Each field's type, unit and range, and a key whose value is not a request.
snapshot!(
    resources_wrong_values,
    r#"resources {
  default: { cpus: 0, gpus: -1, memory: 4, time: 100 steps, partition: "", account: 3 }
  model: { cpus: 2.5, memory: 2 h, time: 4 GB, gpu_type: h100 }
  train: { memory: -1 GB, time: 0 min }
  evaluate: 2
  report: { gpu_type: 3, partition: queue { x: 1 } }
}
model net = mlp
"#
);

// A key or a field written twice, a second block, and a block inside a sweep.
snapshot!(
    resources_twice,
    r#"resources {
  default: { cpus: 1, cpus: 2 }
  default: { cpus: 3 }
}
resources { model: { cpus: 1 } }
sweep seeds 2 {
  model net = mlp
  resources { model: { cpus: 1 } }
}
"#
);

// Memory sizes and times are for `resources` only.
snapshot!(
    a_quantity_outside_resources,
    r#"model net = mlp { hidden: 4 GB }
"#
);

#[test]
fn resources_belong_in_the_experiment_file() {
    let mut sources = SourceMap::new();
    let main = sources.add("test.exp", "import std.cluster\nmodel net = mlp\n");
    let world = TestWorld::new().module("std.cluster", "resources { default: { cpus: 1 } }\n");
    let (program, diagnostics) = check(&mut sources, main, &world, &TestCatalog::new());
    assert!(program.is_none());
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0005"]);
    assert!(
        diagnostics[0].message.contains("`resources`"),
        "{diagnostics:?}"
    );
}

#[test]
fn the_resources_reach_the_program_in_slurm_units() {
    use exp_ir::graph::{ResourceRequest, ResourceRule, ResourceScope};
    let mut sources = SourceMap::new();
    let main = sources.add(
        "test.exp",
        r#"import std.digits
resources {
  default: { cpus: 2, memory: 1.5 GB, time: 90 s, partition: " cpu ", account: "lab" }
  sequence: { gpus: 0, time: 0.1 h, memory: 1 TiB }
  ft: { gpus: 2, gpu_type: "a100", memory: 100.5 MB, time: 1.5 h }
}
model net = mlp
sweep lr in [1e-3, 1e-2] {
  train ft { model: net, data: digits, steps: 5 steps, optimizer: adamw { lr: lr } }
}
"#,
    );
    let (program, diagnostics) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let rules = program.unwrap().resources.rules;
    assert_eq!(
        rules,
        [
            ResourceRule {
                scope: ResourceScope::Default,
                request: ResourceRequest {
                    cpus: Some(2),
                    memory_mb: Some(1536),
                    time_minutes: Some(2),
                    partition: Some("cpu".to_string()),
                    account: Some("lab".to_string()),
                    ..ResourceRequest::default()
                },
            },
            ResourceRule {
                scope: ResourceScope::Kind("sequence".to_string()),
                request: ResourceRequest {
                    gpus: Some(0),
                    time_minutes: Some(6),
                    memory_mb: Some(1_048_576),
                    ..ResourceRequest::default()
                },
            },
            ResourceRule {
                scope: ResourceScope::Name("ft".to_string()),
                request: ResourceRequest {
                    gpus: Some(2),
                    gpu_type: Some("a100".to_string()),
                    memory_mb: Some(101),
                    time_minutes: Some(90),
                    ..ResourceRequest::default()
                },
            },
        ]
    );
    // Without a block, no rules.
    let main = sources.add("plain.exp", "model net = mlp\n");
    let (program, _) = check(&mut sources, main, &world(), &TestCatalog::new());
    assert!(program.unwrap().resources.is_empty());
}

snapshot!(
    resources_too_large,
    r#"resources { default: { cpus: 5000000000, memory: 1e15 GB, time: 1e20 h, partition: "  " } }
model net = mlp
"#
);
