//! `exp lsp` driven as an editor drives it: JSON-RPC over the server's standard input and
//! output, from `initialize` to `exit`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{build_plugin, Test};

/// A language client: the server process, its input, and the messages it sent.
pub struct Client {
    child: Child,
    input: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

/// How long any answer may take (a first check may load the plugins into the cache).
const PATIENCE: Duration = Duration::from_secs(60);

impl Client {
    pub fn start(test: &Test, options: Value) -> Client {
        let mut child = test
            .command(&["lsp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start exp lsp");
        let input = child.stdin.take().unwrap();
        let output = child.stdout.take().unwrap();
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(output);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("a Content-Length header")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let message: Value = serde_json::from_slice(&body).expect("JSON from the server");
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        let mut client = Client {
            child,
            input,
            messages,
            next_id: 0,
        };
        let root = crate::lsp::uri(test.dir.path());
        let result = client.request(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": {}, "initializationOptions": options }),
        );
        assert!(
            result["capabilities"]["completionProvider"].is_object(),
            "{result}"
        );
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.input, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.input.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The next message that satisfies `wanted`, skipping others.
    pub fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(_) => {}
                Err(_) => panic!("exp lsp sent no {what} within {PATIENCE:?}"),
            }
        }
    }

    /// Sends a request and returns its result (the whole response when it is an error).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let response = self.wait_for(method, |message| message["id"] == json!(id));
        match response.get("error") {
            Some(_) => response,
            None => response["result"].clone(),
        }
    }

    /// The next diagnostics published for `uri`.
    pub fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        let message = self.wait_for("diagnostics", |message| {
            message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
        });
        message["params"]["diagnostics"].as_array().unwrap().clone()
    }

    /// `shutdown`, `exit`, and the server's exit status.
    pub fn stop(mut self) -> i32 {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "exp lsp did not exit after `exit`"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A file URI for a path (the paths here are plain).
pub fn uri(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

/// The LSP position (line, UTF-16 column) of the `nth` occurrence of `needle`, plus `delta`.
fn position(text: &str, needle: &str, delta: usize) -> Value {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"))
        + delta;
    let line = text[..at].matches('\n').count();
    let column = at - text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    json!({ "line": line, "character": column })
}

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|diagnostic| diagnostic["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

const STUDY: &str = "import std.digits\nseed 0\n\nmodel net = mlp { hidden: [16] }\n\n\
train a {\n  model: net\n  data: digits\n  steps: 2 steps\n  optimizer: adamw { lr: 3e-3 }\n}\n\n\
evaluate a_eval { model: a, data: digits, metrics: [accuracy] }\n\
report results { rows: [a_eval] }\n";

#[test]
fn an_editor_session_over_json_rpc() {
    let test = Test::new().file("study.exp", STUDY);
    let path = test.path("study.exp");
    let uri = uri(&path);
    let document = json!({ "uri": uri });
    let mut client = Client::start(&test, json!({}));

    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "exp", "version": 1, "text": STUDY } }),
    );
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());

    // A typo as it is typed: the same error, code and help as `exp check`.
    let typo = STUDY.replace("lr: 3e-3", "lrr: 3e-3");
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": typo }] }),
    );
    let diagnostics = client.diagnostics(&uri);
    assert_eq!(codes(&diagnostics), ["E0020"], "{diagnostics:?}");
    let message = diagnostics[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("unknown parameter `lrr` for `adamw`"),
        "{message}"
    );
    assert!(message.contains("help: did you mean `lr`?"), "{message}");
    assert_eq!(diagnostics[0]["range"]["start"], position(&typo, "lrr", 0));
    test.run_with(&["check", "study.exp"]); // (the file on disk is still the good one)
    std::fs::write(&path, &typo).unwrap();
    let check = test.run_with(&["check", "study.exp"]);
    assert!(check
        .stderr
        .contains("error[E0020]: unknown parameter `lrr` for `adamw`"));
    assert!(check.stderr.contains("help: did you mean `lr`?"));
    std::fs::write(&path, STUDY).unwrap();

    // Fixed again: no diagnostics.
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [{ "text": STUDY }] }),
    );
    assert_eq!(client.diagnostics(&uri), Vec::<Value>::new());

    // Completion: optimizers after `optimizer:`, the parameters of `adamw` inside its block.
    let completion = |client: &mut Client, text: &str, needle: &str, delta: usize| -> Vec<Value> {
        let result = client.request(
            "textDocument/completion",
            json!({ "textDocument": document, "position": position(text, needle, delta) }),
        );
        result.as_array().cloned().unwrap_or_default()
    };
    let labels = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|item| item["label"].as_str().unwrap().to_string())
            .collect()
    };
    let optimizers = completion(&mut client, STUDY, "adamw {", 0);
    assert_eq!(labels(&optimizers), ["sgd", "adamw"]);
    let params = completion(&mut client, STUDY, "lr: 3e-3", 0);
    let lr = params
        .iter()
        .find(|item| item["label"] == "lr")
        .expect("`lr` is offered");
    let doc = lr["documentation"]["value"].as_str().unwrap();
    assert!(
        doc.contains("default `0.001`") && doc.contains("learning rate"),
        "{doc}"
    );
    assert!(labels(&params).contains(&"weight_decay".to_string()));
    let models = completion(&mut client, STUDY, "mlp {", 0);
    assert!(
        labels(&models).contains(&"convnet".to_string()),
        "{models:?}"
    );

    // Hover on a component and on a parameter.
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": document, "position": position(STUDY, "adamw", 2) }),
    );
    let shown = hover["contents"]["value"].as_str().unwrap();
    assert!(
        shown.contains("**optimizer `adamw`**") && shown.contains("`weight_decay`"),
        "{shown}"
    );
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": document, "position": position(STUDY, "hidden", 1) }),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("parameter of model `mlp`"),
        "{hover}"
    );

    // Go to definition: a name of this file, and a module of the stdlib.
    let found = client.request(
        "textDocument/definition",
        json!({ "textDocument": document, "position": position(STUDY, "model: a,", 7) }),
    );
    assert_eq!(found["uri"], uri);
    assert_eq!(found["range"]["start"], position(STUDY, "a {", 0));
    let found = client.request(
        "textDocument/definition",
        json!({ "textDocument": document, "position": position(STUDY, "data: digits", 7) }),
    );
    let module = found["uri"].as_str().unwrap();
    assert!(module.ends_with("/digits.exp"), "{found}");
    let module_text = std::fs::read_to_string(module.trim_start_matches("file://")).unwrap();
    assert!(module_text.contains("dataset digits"), "{module_text}");

    // Symbols, formatting through the formatter, and a rename.
    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": document }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|symbol| symbol["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["std.digits", "net", "a", "a_eval", "results"]);
    let messy = STUDY.replace(
        "model net = mlp { hidden: [16] }",
        "model   net=mlp{hidden:[16]}",
    );
    client.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 4 }, "contentChanges": [{ "text": messy }] }),
    );
    client.diagnostics(&uri);
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": document, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits.as_array().expect("one edit");
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0]["newText"].as_str().unwrap(),
        exp_syntax::format(&messy).unwrap()
    );
    let renamed = client.request(
        "textDocument/rename",
        json!({ "textDocument": document, "position": position(&messy, "net", 1), "newName": "network" }),
    );
    let edits = renamed["changes"][&uri]
        .as_array()
        .expect("edits for the file");
    assert_eq!(edits.len(), 2, "the definition and `model: net`: {edits:?}");
    let refused = client.request(
        "textDocument/rename",
        json!({ "textDocument": document, "position": position(&messy, "net", 1), "newName": "train" }),
    );
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot name a definition"),
        "{refused}"
    );

    assert_eq!(client.stop(), 0);
}

#[test]
fn plugins_named_by_an_untrusted_folder_are_not_loaded_until_it_is_trusted() {
    let good = build_plugin("good");
    // `linear` comes from the plugin; `temperature` is one of its parameters, misspelt.
    let text = "plugin \"libgood.so\"\nimport std.digits\nmodel lin = linear { temperatur: 2.0 }\n\
                evaluate e { model: lin, data: digits, metrics: [accuracy] }\n";
    let test = Test::new().file("mine.exp", text);
    std::fs::copy(&good, test.path("libgood.so")).unwrap();
    let uri = uri(&test.path("mine.exp"));
    let mut client = Client::start(&test, json!({}));
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "exp", "version": 1, "text": text } }),
    );
    let diagnostics = client.diagnostics(&uri);
    assert_eq!(codes(&diagnostics), ["W0100"], "{diagnostics:?}");
    assert!(diagnostics[0]["message"]
        .as_str()
        .unwrap()
        .contains("this folder is not trusted"));
    assert_eq!(
        diagnostics[0]["range"]["start"],
        json!({ "line": 0, "character": 7 })
    );
    let cache = test.home.path().join("cache/exp/plugins");
    let cached = |dir: &std::path::Path| {
        std::fs::read_dir(dir).map(|entries| {
            entries.filter_map(Result::ok).any(|entry| {
                std::fs::read_to_string(entry.path()).is_ok_and(|text| text.contains("libgood.so"))
            })
        })
    };
    assert!(
        !cached(&cache).unwrap_or(false),
        "the untrusted plugin was loaded"
    );

    // The quick fix trusts the folder; the plugin is loaded and its component checked.
    let actions = client.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": diagnostics[0]["range"], "context": { "diagnostics": diagnostics } }),
    );
    let command = &actions[0]["command"];
    assert_eq!(command["command"], "exp.trustFolder", "{actions}");
    let done = client.request(
        "workspace/executeCommand",
        json!({ "command": command["command"], "arguments": command["arguments"] }),
    );
    assert_eq!(done, Value::Null);
    let diagnostics = client.diagnostics(&uri);
    assert_eq!(codes(&diagnostics), ["E0020"], "{diagnostics:?}");
    assert!(diagnostics[0]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `temperature`?"));
    assert!(
        cached(&cache).unwrap(),
        "the trusted plugin's schemas are in the cache"
    );
    let remembered =
        std::fs::read_to_string(test.home.path().join("config/exp/trusted-folders.json")).unwrap();
    assert!(remembered.contains(
        &test
            .dir
            .path()
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    ));
    assert_eq!(client.stop(), 0);
}
