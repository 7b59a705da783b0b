//! The Python the parity tests run: the workspace's virtual environment, `.venv/bin/python`
//! beside the root `Cargo.toml` (`./setup.sh` makes it). A parity test that passes without
//! running proves nothing, so a missing interpreter or package fails the test with the command
//! that installs it.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The workspace's interpreter.
pub fn interpreter() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

/// Runs `script` with `args`; panics, saying what to install, when Python or one of
/// `packages` is missing, or when the script fails.
pub fn run(script: &str, args: &[&std::ffi::OsStr], packages: &[&str]) -> Output {
    let python = interpreter();
    let install = format!(
        "`{} -m pip install {}` (the venv comes from ./setup.sh)",
        python.display(),
        packages.join(" ")
    );
    let preamble = format!(
        "import importlib.util, sys\nmissing = [p for p in {packages:?} if importlib.util.find_spec(p) is None]\n\
         if missing:\n    print('MISSING ' + ' '.join(missing))\n    sys.exit(3)\n"
    );
    let output = Command::new(&python)
        .arg("-c")
        .arg(preamble + script)
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run Python at `{}` ({error}); this test needs it with {}: create the venv \
                 with ./setup.sh, then run {install}",
                python.display(),
                packages.join(" and ")
            )
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    if let Some(missing) = stdout.strip_prefix("MISSING ") {
        panic!(
            "this test needs the Python packages {}; install them with {install}",
            missing.trim()
        );
    }
    assert!(
        output.status.success(),
        "the Python side failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
