//! The HTML page of a run, opened in a real browser: headless Chromium (Debian's package,
//! which `test.sh` installs) loads `report.html` from disk, and the test, speaking the Chrome
//! DevTools Protocol over `--remote-debugging-pipe`, checks that the page logged no error,
//! fetched nothing, shows its tables and draws its plots, then takes a screenshot and prints
//! it to PDF.
//!
//! Chromium must be installed: this test fails, and says how to install it, when it is not.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::Test;

/// A study with seed replicates (mean ± std), a sweep, a task sequence (an accuracy matrix)
/// and a report that asks for the page.
const STUDY: &str = "import std.continual\nseed 0\n\
sweep seeds 2 {\n  model net = mlp { hidden: [8] }\n\
  train pre { model: net, data: digits, steps: 4 steps, optimizer: adamw { lr: 3e-3 }, eval: [accuracy], eval_every: 2 steps }\n\
  evaluate score { model: pre, data: digits, metrics: [accuracy, loss] }\n\
  sequence seq { model: pre, tasks: [rotated, inverted], steps: 2 steps, optimizer: sgd { lr: 0.1 } }\n}\n\
report results { rows: [score, seq], chart: true, html: true }\n";

fn browser() -> &'static str {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
        {
            return name;
        }
    }
    panic!(
        "Chromium is not installed, and this test needs a real browser: install Debian's package \
         (`apt-get update && apt-get install -y chromium`, which ./test.sh does) and run it again"
    );
}

/// A DevTools session over the pipe Chromium reads on fd 3 and writes on fd 4.
struct DevTools {
    child: std::process::Child,
    input: std::io::PipeWriter,
    messages: Receiver<Value>,
    events: Vec<Value>,
    next_id: u64,
}

const PATIENCE: Duration = Duration::from_secs(90);

impl DevTools {
    fn start(browser: &str, profile: &std::path::Path) -> DevTools {
        let (chrome_reads, input) = std::io::pipe().expect("a pipe");
        let (output, chrome_writes) = std::io::pipe().expect("a pipe");
        let mut command = Command::new(browser);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                "--window-size=1200,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(profile.with_extension("log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        {
            use std::os::fd::AsRawFd as _;
            use std::os::unix::process::CommandExt as _;
            let (read_fd, write_fd) = (chrome_reads.as_raw_fd(), chrome_writes.as_raw_fd());
            // SAFETY: between fork and exec the closure only calls dup2, which is
            // async-signal-safe; it puts the pipe ends where --remote-debugging-pipe expects them
            // (dup2 leaves the copies open across exec).
            unsafe {
                command.pre_exec(move || {
                    // Copies above 4 first, so that neither end is overwritten by the other's
                    // dup2, and dup2 onto 3 and 4 always makes a new descriptor (one that
                    // already is 3 would keep its close-on-exec flag).
                    let read = libc::fcntl(read_fd, libc::F_DUPFD, 10);
                    let write = libc::fcntl(write_fd, libc::F_DUPFD, 10);
                    if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = command.spawn().expect("start the browser");
        drop(chrome_reads);
        drop(chrome_writes);
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            loop {
                let mut message = Vec::new();
                if reader.read_until(0, &mut message).unwrap_or(0) == 0 {
                    return;
                }
                message.pop();
                let Ok(value) = serde_json::from_slice::<Value>(&message) else {
                    continue;
                };
                if sender.send(value).is_err() {
                    return;
                }
            }
        });
        DevTools {
            child,
            input,
            messages,
            events: Vec::new(),
            next_id: 0,
        }
    }

    /// Sends a command (to the page's session when given) and returns its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.input
            .write_all(message.to_string().as_bytes())
            .unwrap();
        self.input.write_all(&[0]).unwrap();
        self.input.flush().unwrap();
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the browser did not answer `{method}`"));
            if message["id"] == json!(id) {
                assert!(
                    message.get("error").is_none(),
                    "`{method}` failed: {message}"
                );
                return message["result"].clone();
            }
            self.events.push(message);
        }
    }

    /// Waits for an event, keeping the others.
    fn wait_for(&mut self, method: &str) {
        if self.events.iter().any(|event| event["method"] == method) {
            return;
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the browser sent no `{method}`"));
            let found = message["method"] == method;
            self.events.push(message);
            if found {
                return;
            }
        }
    }
}

impl Drop for DevTools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64, for the screenshot and the PDF the browser sends.
fn base64(text: &str) -> Vec<u8> {
    let value = |byte: u8| match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    sextets
        .chunks(4)
        .flat_map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .fold(0u32, |bits, (index, sextet)| {
                    bits | u32::from(*sextet) << (18 - 6 * index)
                });
            let bytes = bits.to_be_bytes();
            bytes[1..chunk.len()].to_vec()
        })
        .collect()
}

const LOOK: &str = r#"(() => {
  const shown = (element) => {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    return box.width > 0 && box.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  };
  const tables = [...document.querySelectorAll('table')];
  const plots = [...document.querySelectorAll('figure svg')];
  return JSON.stringify({
    title: document.title,
    sections: [...document.querySelectorAll('h2')].map((heading) => heading.textContent),
    tables: tables.length,
    shownTables: tables.filter(shown).length,
    plots: plots.length,
    shownPlots: plots.filter(shown).length,
    drawnPlots: plots.filter((svg) => svg.querySelectorAll('path, polyline, rect, line').length > 3).length,
    fetched: performance.getEntriesByType('resource').map((entry) => entry.name),
    text: document.body.innerText,
  });
})()"#;

#[test]
fn the_html_page_of_a_run_shows_its_tables_and_plots_in_chromium() {
    let browser = browser();
    let test = Test::new().file("study.exp", STUDY);
    let outcome = test.run_with(&["run", "study.exp", "--out", "out", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let page = test.path("out/report.html");
    assert!(
        outcome.stdout.contains("report page: "),
        "{}",
        outcome.stdout
    );
    let html = std::fs::read_to_string(&page).expect("the run wrote report.html");
    for fetching in [
        "src=", "http://", "https://", "url(", "<link", "<script", "@import",
    ] {
        assert!(
            !html.contains(fetching),
            "the page may fetch something: `{fetching}`"
        );
    }
    // `exp report --html` writes the same page again.
    std::fs::remove_file(&page).unwrap();
    let again = test.run_with(&["report", "out", "--html"]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&page).unwrap(), html);

    let mut tools = DevTools::start(browser, &test.home.path().join("chromium"));
    let target = tools.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let attached = tools.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    );
    let session = attached["sessionId"].as_str().unwrap().to_string();
    let session = Some(session.as_str());
    for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
        tools.call(session, domain, json!({}));
    }
    tools.call(
        session,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1200, "height": 1600, "deviceScaleFactor": 1, "mobile": false }),
    );
    tools.call(
        session,
        "Page.navigate",
        json!({ "url": format!("file://{}", page.display()) }),
    );
    tools.wait_for("Page.loadEventFired");
    let looked = tools.call(
        session,
        "Runtime.evaluate",
        json!({ "expression": LOOK, "returnByValue": true }),
    );
    let look: Value = serde_json::from_str(looked["result"]["value"].as_str().unwrap()).unwrap();
    let shot = tools.call(
        session,
        "Page.captureScreenshot",
        json!({ "format": "png" }),
    );
    let png = base64(shot["data"].as_str().unwrap());
    let printed = tools.call(
        session,
        "Page.printToPDF",
        json!({ "printBackground": true }),
    );
    let pdf = base64(printed["data"].as_str().unwrap());
    let errors: Vec<&Value> = tools
        .events
        .iter()
        .filter(|event| match event["method"].as_str() {
            Some("Runtime.consoleAPICalled") => event["params"]["type"] == "error",
            Some("Runtime.exceptionThrown") => true,
            Some("Log.entryAdded") => event["params"]["entry"]["level"] == "error",
            _ => false,
        })
        .collect();
    // Kept beside the test's files for a person to look at when it fails.
    std::fs::write(test.home.path().join("report.png"), &png).unwrap();

    assert!(errors.is_empty(), "the page logged errors: {errors:?}");
    assert_eq!(look["fetched"], json!([]), "the page fetched resources");
    assert_eq!(look["title"], "study — run out");
    assert_eq!(
        look["sections"],
        json!([
            "Tables",
            "Plots",
            "Accuracy matrices",
            "Failures",
            "Data ledger",
            "Sweep points",
            "Nodes and parameters"
        ])
    );
    let tables = look["tables"].as_u64().unwrap();
    assert!(tables >= 6, "{look}");
    assert_eq!(
        look["shownTables"], look["tables"],
        "a table is hidden: {look}"
    );
    let plots = look["plots"].as_u64().unwrap();
    assert!(
        plots >= 4,
        "the bar chart, the curves and the heatmaps: {look}"
    );
    assert_eq!(
        look["shownPlots"], look["plots"],
        "a plot is hidden: {look}"
    );
    assert_eq!(look["drawnPlots"], look["plots"], "a plot is empty: {look}");
    let text = look["text"].as_str().unwrap();
    assert!(text.contains(" ± "), "replicates as mean ± std: {text}");
    assert!(
        text.contains("score[seed=0]") && text.contains("all points of score"),
        "{text}"
    );
    assert!(
        text.contains("UCI Optical Recognition of Handwritten Digits"),
        "the ledger: {text}"
    );
    assert!(text.contains("adamw {"), "resolved parameters: {text}");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a screenshot"
    );
    assert!(pdf.starts_with(b"%PDF") && pdf.len() > 10_000, "a printout");
}
