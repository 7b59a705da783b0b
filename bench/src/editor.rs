//! What a researcher waits for while writing a file: `exp check` on each file of
//! `experiments/` (the whole process, answering from the schema cache), and the language
//! server's diagnostics after an edit, over JSON-RPC as an editor gets them.
//!
//! Both are measured with a warm schema cache, the state an editor session is in: a first
//! `exp check` of each file fills it and is not counted.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::child;
use crate::stats::median;

/// The targets of issue 17: a check of any experiment file, and the server's diagnostics after
/// a change, each at most this (median).
pub const CHECK_TARGET_MS: f64 = 50.0;
pub const LSP_TARGET_MS: f64 = 20.0;

/// One experiment file's medians (seconds), or why it could not be measured.
pub struct EditorTime {
    pub file: String,
    pub check: Result<f64, String>,
    pub diagnostics: Result<f64, String>,
}

impl EditorTime {
    pub fn line(&self) -> String {
        format!(
            "{}: check {}, language server {}",
            self.file,
            milliseconds(&self.check),
            milliseconds(&self.diagnostics)
        )
    }
}

pub fn milliseconds(time: &Result<f64, String>) -> String {
    match time {
        Ok(seconds) => format!("{:.1} ms", seconds * 1e3),
        Err(error) => error.clone(),
    }
}

/// The worst file's median against `target_ms`: `None` when a file could not be measured.
pub fn worst(times: &[EditorTime], pick: Pick) -> Option<f64> {
    times
        .iter()
        .map(|time| pick(time).as_ref().ok().copied())
        .try_fold(0.0f64, |worst, time| time.map(|time| worst.max(time)))
}

/// Which of a file's two times a target judges.
type Pick = fn(&EditorTime) -> &Result<f64, String>;

/// The targets' rows: what, the slowest file's median, and whether the target is met.
pub fn verdicts(times: &[EditorTime]) -> Vec<String> {
    let rows: [(&str, f64, Pick); 2] = [
        (
            "`exp check` of every file of `experiments/`",
            CHECK_TARGET_MS,
            |time| &time.check,
        ),
        (
            "language-server diagnostics after a change, every file",
            LSP_TARGET_MS,
            |time| &time.diagnostics,
        ),
    ];
    rows.iter()
        .map(|(what, target, pick)| {
            let worst = worst(times, *pick);
            format!(
                "| {what}: ≤ {target:.0} ms median | {} | {} |",
                worst.map_or("a file failed".to_string(), |worst| format!(
                    "{:.1} ms (slowest file)",
                    worst * 1e3
                )),
                if worst.is_some_and(|worst| worst * 1e3 <= *target) {
                    "met"
                } else {
                    "**missed**"
                }
            )
        })
        .collect()
}

fn experiment_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("experiments"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "exp"))
        .collect();
    files.sort();
    Ok(files)
}

/// Check and language-server times of every file of `experiments/`, `repeats` of each.
pub fn measure(exp: &Path, root: &Path, repeats: usize) -> anyhow::Result<Vec<EditorTime>> {
    let files = experiment_files(root)?;
    let mut times = Vec::new();
    for file in &files {
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        // Fills the schema cache (a first check of a plugin loads it); not counted.
        let check = check_once(exp, root, file).and_then(|_| {
            let walls = (0..repeats)
                .map(|_| check_once(exp, root, file))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(median(&walls))
        });
        let diagnostics = diagnostics_after_edits(exp, root, file, repeats)
            .map_err(|error| format!("failed: {error:#}"));
        let time = EditorTime {
            file: name,
            check,
            diagnostics,
        };
        println!("{}", time.line());
        times.push(time);
    }
    Ok(times)
}

fn check_once(exp: &Path, root: &Path, file: &Path) -> Result<f64, String> {
    let finished = child::run(Command::new(exp).arg("check").arg(file).current_dir(root))
        .map_err(|error| format!("failed: {error:#}"))?;
    if !finished.success() {
        return Err(format!("failed (exit {:?})", finished.code));
    }
    Ok(finished.wall.as_secs_f64())
}

/// Opens `file` in `exp lsp`, then changes it `repeats` times (a comment line appended and
/// taken away, alternately), timing each change from the moment it is sent to the diagnostics
/// of its version.
fn diagnostics_after_edits(
    exp: &Path,
    root: &Path,
    file: &Path,
    repeats: usize,
) -> anyhow::Result<f64> {
    let text = std::fs::read_to_string(file)?;
    let uri = format!("file://{}", file.canonicalize()?.display());
    let mut server = Server::start(exp, root)?;
    server.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "exp", "version": 1, "text": text } }),
    )?;
    server.diagnostics(&uri, 1)?;
    let mut walls = Vec::new();
    for repeat in 0..repeats {
        let version = repeat as i64 + 2;
        let changed = if repeat % 2 == 0 {
            format!("{text}\n// an edit\n")
        } else {
            text.clone()
        };
        let sent = Instant::now();
        server.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": changed }] }),
        )?;
        let diagnostics = server.diagnostics(&uri, version)?;
        walls.push(sent.elapsed().as_secs_f64());
        if !diagnostics.is_empty() {
            bail!("the file has diagnostics: {diagnostics:?}");
        }
    }
    server.stop()?;
    Ok(median(&walls))
}

/// `exp lsp` with its input, and the messages it sends (read on a thread).
struct Server {
    child: Child,
    input: ChildStdin,
    messages: Receiver<Value>,
}

/// How long any answer may take before the measurement gives up.
const PATIENCE: Duration = Duration::from_secs(60);

impl Server {
    fn start(exp: &Path, root: &Path) -> anyhow::Result<Server> {
        let mut child = Command::new(exp)
            .arg("lsp")
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("start exp lsp")?;
        let input = child.stdin.take().context("exp lsp's input")?;
        let output = child.stdout.take().context("exp lsp's output")?;
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        let mut server = Server {
            child,
            input,
            messages,
        };
        let root_uri = format!("file://{}", root.canonicalize()?.display());
        server.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "processId": null, "rootUri": root_uri, "capabilities": {} } }))?;
        server.wait_for("the answer to initialize", |message| message["id"] == 1)?;
        server.notify("initialized", json!({}))?;
        Ok(server)
    }

    fn send(&mut self, message: Value) -> anyhow::Result<()> {
        let body = message.to_string();
        write!(self.input, "Content-Length: {}\r\n\r\n{body}", body.len())?;
        self.input.flush()?;
        Ok(())
    }

    fn notify(&mut self, method: &str, params: Value) -> anyhow::Result<()> {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }))
    }

    fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => return Ok(message),
                Ok(_) => {}
                Err(_) => bail!("exp lsp sent no {what} within {PATIENCE:?}"),
            }
        }
    }

    /// The diagnostics published for `version` of `uri`.
    fn diagnostics(&mut self, uri: &str, version: i64) -> anyhow::Result<Vec<Value>> {
        let message = self.wait_for("diagnostics", |message| {
            message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
                && message["params"]["version"] == version
        })?;
        Ok(message["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    fn stop(mut self) -> anyhow::Result<()> {
        self.send(json!({ "jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null }))?;
        self.wait_for("the answer to shutdown", |message| message["id"] == 2)?;
        self.notify("exit", Value::Null)?;
        self.child.wait()?;
        Ok(())
    }
}

/// One JSON-RPC message (a `Content-Length` header, a blank line, the body); `None` at the end
/// of the stream or on a malformed message.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length: ") {
            length = value.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

#[cfg(test)]
mod tests {
    use super::{read_message, worst, EditorTime};

    #[test]
    fn a_message_is_its_header_and_body() {
        let body = r#"{"id":1}"#;
        let stream = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let message = read_message(&mut stream.as_bytes()).unwrap();
        assert_eq!(message["id"], 1);
        assert!(read_message(&mut "".as_bytes()).is_none());
    }

    #[test]
    fn the_worst_file_decides_and_a_failure_leaves_no_verdict() {
        let time = |check: Result<f64, String>| EditorTime {
            file: "f".into(),
            check,
            diagnostics: Ok(0.001),
        };
        let times = [time(Ok(0.01)), time(Ok(0.03))];
        assert_eq!(worst(&times, |time| &time.check), Some(0.03));
        let failed = [time(Ok(0.01)), time(Err("failed".into()))];
        assert_eq!(worst(&failed, |time| &time.check), None);
    }
}
