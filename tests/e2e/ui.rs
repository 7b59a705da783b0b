//! The diagnostics corpus: each `tests/ui/*.exp` is checked by the real binary (with the real
//! std plugin) and its rendered diagnostics are snapshotted, one snapshot per file.
//!
//! The files are copied byte for byte, since some are malformed on purpose (not UTF-8, a
//! byte-order mark, CRLF line ends), and an entry that is a directory is copied as an empty
//! directory of the same name: `exp check` must say, at a location, what is wrong with each.
//!
//! Each file is checked twice: first with an empty schema cache (so `exp` hands the check to
//! `exp-host`, which loads the plugins), then from the cache `exp-host` filled (so `exp`
//! answers alone); both must print exactly the same.

use crate::support::{workspace_root, Test};

#[test]
fn diagnostics_corpus() {
    insta::glob!("../ui", "*.exp", |path| {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let test = if path.is_dir() {
            Test::new().dir(&name)
        } else {
            Test::new().bytes(&name, &std::fs::read(path).unwrap())
        };
        let outcome = test.run_with(&["check", &name]);
        assert_eq!(
            outcome.status, 2,
            "{name} should have errors:\n{}",
            outcome.stderr
        );
        let again = test.run_with(&["check", &name]);
        assert_eq!(
            (again.status, &again.stderr, &again.stdout),
            (outcome.status, &outcome.stderr, &outcome.stdout),
            "{name}: the check from cached schemas differs from the one with loaded plugins"
        );
        let _ = workspace_root();
        insta::assert_snapshot!(outcome.filtered(&test));
    });
}
