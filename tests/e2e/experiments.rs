//! Every file in `experiments/` checks clean, and its AST and graph are snapshotted, so a
//! change to the language or the compiler shows up as a reviewed diff.

use crate::support::{workspace_root, Test};

#[test]
fn every_experiment_checks_and_its_ast_and_graph_are_snapshotted() {
    let dir = workspace_root().join("experiments");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "exp"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let (ast, diagnostics) = exp_syntax::parse(exp_diag::FileId(0), &text);
        assert!(diagnostics.is_empty(), "{stem} does not parse");
        insta::assert_snapshot!(format!("{stem}_ast"), exp_syntax::dump(&ast));

        let test = Test::new();
        let path = file.display().to_string();
        let outcome = test.run_with(&["graph", &path, "--format", "json"]);
        assert_eq!(outcome.status, 0, "{stem}: {}", outcome.stderr);
        insta::assert_snapshot!(format!("{stem}_graph"), outcome.stdout);
    }
}
