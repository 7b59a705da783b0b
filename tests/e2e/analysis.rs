//! experiments/analysis/continual.py, the paired comparison over seeds that
//! experiments/README.md's claim tables come from, on a run directory written here with values
//! whose means, standard deviations and Student-t intervals are worked out by hand below.

use crate::support::{workspace_root, Test};

/// Three seeds of three methods in one group (`g.`), as a `methods` report's per-run table
/// (exp's CSV quotes a name that holds a comma).
/// SFA 0.80 0.82 0.84; L2 0.70 0.75 0.71; EWC 0.81 0.80 0.86.
const RUNS: &str = "node,avg_accuracy\n\
\"g.sfa.run[seed=0,p=100%]\",0.80\n\"g.sfa.run[seed=1,p=100%]\",0.82\n\"g.sfa.run[seed=2,p=100%]\",0.84\n\
\"g.l2.run[seed=0,lambda=0.1]\",0.70\n\"g.l2.run[seed=1,lambda=0.1]\",0.75\n\"g.l2.run[seed=2,lambda=0.1]\",0.71\n\
\"g.ewc.run[seed=0,lambda=5]\",0.81\n\"g.ewc.run[seed=1,lambda=5]\",0.80\n\"g.ewc.run[seed=2,lambda=5]\",0.86\n\
\"g.sfa.run[seed=0,p=10%]\",0.78\n\"g.sfa.run[seed=1,p=10%]\",0.81\n\"g.sfa.run[seed=2,p=10%]\",0.80\n";

/// One evaluation of each L2 copy and SFA copy after the last task on the first, as
/// metrics.jsonl holds them (final values have no step).
const METRICS: &str = r#"{"node":"g.sfa.run[seed=0,p=100%].task3.on1","name":"exact_match","split":"test","step":null,"value":0.5}
{"node":"g.sfa.run[seed=1,p=100%].task3.on1","name":"exact_match","split":"test","step":null,"value":0.6}
{"node":"g.sfa.run[seed=2,p=100%].task3.on1","name":"exact_match","split":"test","step":null,"value":0.7}
{"node":"g.l2.run[seed=0,lambda=0.1].task3.on1","name":"exact_match","split":"test","step":null,"value":0.5}
{"node":"g.l2.run[seed=1,lambda=0.1].task3.on1","name":"exact_match","split":"test","step":null,"value":0.5}
{"node":"g.l2.run[seed=2,lambda=0.1].task3.on1","name":"exact_match","split":"test","step":null,"value":0.5}
{"node":"g.l2.run[seed=2,lambda=0.1].task3.on1","name":"exact_match","split":"validation","step":null,"value":0.9}
{"node":"g.l2.run[seed=2,lambda=0.1].task3.on1","name":"exact_match","split":"test","step":40,"value":0.9}
"#;

fn analyse(test: &Test, args: &[&str]) -> String {
    let python = workspace_root().join(".venv/bin/python");
    let output = std::process::Command::new(&python)
        .arg(workspace_root().join("experiments/analysis/continual.py"))
        .arg(test.path("run"))
        .args(args)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run {} ({error}); ./setup.sh makes it",
                python.display()
            )
        });
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn row<'a>(table: &'a str, label: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.starts_with(&format!("| `{label}` |")))
        .unwrap_or_else(|| panic!("no row `{label}` in\n{table}"))
}

/// Row `label` of the table reads `cells` after its label.
fn assert_row(table: &str, label: &str, cells: &str) {
    assert_eq!(row(table, label), format!("| `{label}` | {cells}"));
}

fn run_dir() -> Test {
    Test::new()
        .file("run/methods_runs.csv", RUNS)
        .file("run/metrics.jsonl", METRICS)
}

#[test]
fn each_method_is_compared_with_its_groups_sfa_seed_by_seed() {
    let test = run_dir();
    let table = analyse(&test, &["--digits", "3"]);
    // L2: mean 0.72, std √(0.0014/2) = 0.02646, half-width t(2) = 4.303 × 0.02646 / √3 = 0.06573.
    // SFA − L2 = 0.10, 0.07, 0.13: mean 0.10, std 0.03, half-width 4.303 × 0.03 / √3 = 0.07453.
    assert_row(
        &table,
        "g.l2.run[lambda=0.1]",
        "0.720 ± 0.026 [0.654, 0.786] | \
         +0.100 [+0.025, +0.175] (n = 3) | reference higher |",
    );
    // SFA − EWC = −0.01, 0.02, −0.02: mean −0.00333, std 0.02082, half-width 0.05172.
    assert_row(
        &table,
        "g.ewc.run[lambda=5]",
        "0.823 ± 0.032 [0.743, 0.903] | \
         -0.003 [-0.055, +0.048] (n = 3) | within noise |",
    );
    // The reference itself gets no comparison.
    assert!(row(&table, "g.sfa.run[p=100%]").ends_with("| — |  |"));
}

#[test]
fn against_an_axis_value_compares_each_setting_with_that_one() {
    let test = run_dir();
    let table = analyse(&test, &["--against", "p=100%"]);
    // p = 100 % − p = 10 %: 0.02, 0.01, 0.04: mean 0.02333, std 0.01528, half-width 0.03795.
    assert_row(
        &table,
        "g.sfa.run[p=10%]",
        "0.797 ± 0.015 [0.759, 0.835] | \
         +0.023 [-0.015, +0.061] (n = 3) | within noise |",
    );
    // A row without a p axis has no row to compare with.
    assert!(row(&table, "g.l2.run[lambda=0.1]").ends_with("| — |  |"));
}

#[test]
fn an_evaluation_reads_its_final_test_value_from_the_metrics() {
    let test = run_dir();
    let table = analyse(
        &test,
        &["--metric", "exact_match", "--evaluation", ".task3.on1"],
    );
    // SFA 0.5 0.6 0.7, L2 0.5 0.5 0.5 (the validation split and the step-40 value are not
    // final test values): differences 0, 0.1, 0.2, mean 0.1, std 0.1, half-width 0.24843.
    assert_row(
        &table,
        "g.l2.run[lambda=0.1]",
        "0.500 ± 0.000 [0.500, 0.500] | \
         +0.100 [-0.148, +0.348] (n = 3) | within noise |",
    );
    // EWC has no such evaluation: no seeds, no row.
    assert!(!table.contains("g.ewc.run"));
}
