//! The test builder: a temporary directory with files, the `exp` binary run in it, and the
//! outcome with paths and timings filtered out for snapshots.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

pub struct Test {
    pub dir: tempfile::TempDir,
    /// The test's own `XDG_CACHE_HOME` and `XDG_CONFIG_HOME` (the schema cache, trusted
    /// folders), so that no test sees another's, nor the user's.
    pub home: tempfile::TempDir,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

pub struct Outcome {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn exp_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_exp"))
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Test {
    pub fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("a temporary directory"),
            home: tempfile::tempdir().expect("a temporary directory"),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    pub fn file(self, name: &str, text: &str) -> Test {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(path, text).expect("write test file");
        self
    }

    /// A file holding exactly these bytes (which need not be text).
    pub fn bytes(self, name: &str, bytes: &[u8]) -> Test {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(path, bytes).expect("write test file");
        self
    }

    /// An empty directory.
    pub fn dir(self, name: &str) -> Test {
        std::fs::create_dir_all(self.dir.path().join(name)).expect("create a directory");
        self
    }

    pub fn args<const N: usize>(mut self, args: [&str; N]) -> Test {
        self.args = args.iter().map(|arg| arg.to_string()).collect();
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn run(&self) -> Outcome {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.run_with(&args)
    }

    /// Runs the binary, killing it (and failing the test) after `seconds`: for a command that
    /// once hung forever, so that a regression fails instead of stalling the suite.
    pub fn run_within(&self, seconds: u64, args: &[&str]) -> Outcome {
        let mut command = self.command(args);
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("run the exp binary");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
        while child.try_wait().expect("poll the exp binary").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`exp {}` did not finish within {seconds} s", args.join(" "));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let output = child
            .wait_with_output()
            .expect("collect the exp binary's output");
        Outcome {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(exp_binary());
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("EXP_PLUGIN_PATH")
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("NO_COLOR", "1");
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        command
    }

    /// Runs the binary with other arguments in the same directory.
    pub fn run_with(&self, args: &[&str]) -> Outcome {
        let output = self.command(args).output().expect("run the exp binary");
        Outcome {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    /// Stdout and stderr with the temporary directory and timings replaced, for snapshots.
    pub fn filtered(&self, test: &Test) -> String {
        let dir = test.dir.path().display().to_string();
        let text = format!(
            "status: {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        );
        let text = text.replace(&dir, "[TMP]");
        let seconds = regex_lite_seconds(&text);
        seconds.replace(&workspace_root().display().to_string(), "[ROOT]")
    }
}

/// Replaces `done in 1.2s` timings with `done in [T]s` (no regex crate needed for one pattern).
fn regex_lite_seconds(text: &str) -> String {
    text.lines()
        .map(|line| match line.find(" done in ") {
            Some(at) => format!("{} done in [T]s", &line[..at]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Builds an out-of-tree plugin from `tests/plugins/<name>` as a third party would (its own
/// crate and lock file, `cargo build`), sharing the workspace's target directory so libtorch's
/// bindings are not compiled again. Returns the library's path.
pub fn build_plugin(name: &str) -> PathBuf {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _guard = LOCK
        .get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = workspace_root();
    let crate_dir = root.join("tests/plugins").join(name);
    // The same lock file as the workspace: same dependency versions, so built artifacts are shared.
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).expect("copy Cargo.lock");
    let target_dir = exp_binary()
        .parent()
        .and_then(Path::parent)
        .expect("the exp binary lives in target/<profile>/")
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&root)
        .status()
        .expect("run cargo to build a test plugin");
    assert!(status.success(), "building test plugin `{name}` failed");
    let library = target_dir
        .join("debug")
        .join(format!("libthird_party_{name}.so"));
    assert!(library.exists(), "no library at {}", library.display());
    library
}

/// Node name → outcome status, from a run directory's manifest.
pub fn statuses(test: &Test, out: &str) -> std::collections::BTreeMap<String, String> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(test.path(&format!("{out}/manifest.json"))).unwrap(),
    )
    .unwrap();
    manifest["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            (
                node["name"].as_str().unwrap().to_string(),
                node["outcome"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
