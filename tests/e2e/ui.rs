//! The diagnostics corpus: each `tests/ui/*.exp` is checked by the real binary (with the real
//! std plugin) and its rendered diagnostics are snapshotted, one snapshot per file.

use crate::support::{workspace_root, Test};

#[test]
fn diagnostics_corpus() {
    insta::glob!("../ui", "*.exp", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let test = Test::new().file(&name, &text);
        let outcome = test.run_with(&["check", &name]);
        assert_eq!(
            outcome.status, 2,
            "{name} should have errors:\n{}",
            outcome.stderr
        );
        let _ = workspace_root();
        insta::assert_snapshot!(outcome.filtered(&test));
    });
}
