//! Text through the real binary and the text plugin: a tokenizer trained as a node, a GPT
//! trained on packed windows, perplexity, exact match and samples, an export Python loads, the
//! data ledger in tokens, weight decay that leaves norms, biases and embeddings alone, and the
//! errors a user's own files get.

use std::collections::BTreeMap;

use tch::Tensor;

use crate::support::{workspace_root, Test};

/// A user's own text (written by the test, read through `text_files`), arithmetic problems,
/// a BPE tokenizer learned from both, and a tiny GPT trained on both.
const SMALL: &str = r#"dataset notes = text_files { paths: ["notes/*.txt"], format: "paragraphs", source: "test notes", license: "CC0-1.0", validation_fraction: 0.1, test_fraction: 0.2 }
dataset sums = arithmetic { count: 300, max_digits: 2 }
tokenizer tok = bpe(notes, sums) { vocab_size: 300 }
model lm = gpt(tok) { width: 32, depth: 1, heads: 2, context: 32 }
train pre {
  model: lm
  data: [notes, sums]
  steps: 30 steps
  batch: 8
  optimizer: adamw { lr: 0.01 }
  log_every: 10 steps
  clip: 1.0
}
evaluate held_out { model: pre, data: notes, metrics: [perplexity] }
evaluate problems { model: pre, data: sums, metrics: [exact_match { limit: 20 }] }
evaluate written { model: pre, data: notes, metrics: [samples { documents: 2, max_new_tokens: 8 }] }
export hf = huggingface(pre)
"#;

/// Paragraphs of plain English, different enough that BPE has something to learn.
fn notes() -> String {
    let words = [
        "the", "garden", "river", "morning", "letter", "house", "walked", "quietly", "along",
        "under", "bright", "evening", "sister", "carriage", "dinner", "window",
    ];
    let mut text = String::new();
    for paragraph in 0..60 {
        for sentence in 0..4 {
            for word in 0..9 {
                text.push_str(words[(paragraph * 7 + sentence * 3 + word * 5) % words.len()]);
                text.push(' ');
            }
            text.push_str(". ");
        }
        text.push_str("\n\n");
    }
    text
}

fn metrics(test: &Test) -> Vec<serde_json::Value> {
    std::fs::read_to_string(test.path("out/metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn value(lines: &[serde_json::Value], node: &str, name: &str) -> Vec<f64> {
    lines
        .iter()
        .filter(|line| line["node"] == node && line["name"] == name)
        .map(|line| line["value"].as_f64().unwrap())
        .collect()
}

#[test]
fn a_small_language_model_trains_evaluates_generates_and_exports() {
    let test = Test::new()
        .file("notes/a.txt", &notes())
        .file("notes/b.txt", &notes().replace("garden", "meadow"))
        .file("small.exp", SMALL)
        .args(["run", "small.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);

    // The tokenizer is a file of the run, in Hugging Face's format.
    let tokenizer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(test.path("out/tokenizers/tok.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(tokenizer["model"]["type"], "BPE");

    let lines = metrics(&test);
    let losses = value(&lines, "pre", "loss");
    assert_eq!(losses.len(), 3);
    assert!(losses[2] < losses[0], "the loss does not fall: {losses:?}");
    // Tokens are counted at every logged step: up to 8 windows of 32 per step (the last batch
    // of an epoch may be smaller).
    let tokens = value(&lines, "pre", "tokens");
    assert_eq!(tokens[0], 10.0 * 8.0 * 32.0, "{tokens:?}");
    assert!(
        tokens.windows(2).all(|pair| pair[1] > pair[0]),
        "{tokens:?}"
    );
    assert!(tokens.iter().all(|count| count % 32.0 == 0.0), "{tokens:?}");
    let perplexity = value(&lines, "held_out", "perplexity")[0];
    assert!(
        perplexity.is_finite() && perplexity > 1.0 && perplexity < 300.0,
        "{perplexity}"
    );
    assert_eq!(value(&lines, "problems", "n"), [20.0]);
    assert_eq!(value(&lines, "written", "n"), [2.0]);

    // Every generation is kept: prompts, continuations, references.
    let generations =
        std::fs::read_to_string(test.path("out/generations/problems.exact_match.jsonl")).unwrap();
    let first: serde_json::Value =
        serde_json::from_str(generations.lines().next().unwrap()).unwrap();
    assert!(first["prompt"].as_str().unwrap().ends_with('='), "{first}");
    assert!(first["reference"].as_str().is_some());
    assert_eq!(generations.lines().count(), 20);

    // The ledger counts what each source gave, in examples and tokens.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.path("out/manifest.json")).unwrap())
            .unwrap();
    let pre = manifest["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["node"] == "pre")
        .unwrap();
    // The model's size, as the checkpoint holds it (the tied head is the embedding).
    let checkpoint =
        Tensor::read_safetensors(test.path("out/checkpoints/pre.safetensors")).unwrap();
    let elements: i64 = checkpoint
        .iter()
        .map(|(_, tensor)| tensor.numel() as i64)
        .sum();
    assert_eq!(pre["parameters"].as_i64(), Some(elements), "{pre}");
    assert!(
        !checkpoint.iter().any(|(name, _)| name.contains("lm_head")),
        "{checkpoint:?}"
    );
    let sources: BTreeMap<String, (u64, u64)> = pre["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|source| {
            (
                source["license"].as_str().unwrap().to_string(),
                (
                    source["examples"].as_u64().unwrap(),
                    source["tokens"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    let (notes_examples, notes_tokens) = sources["CC0-1.0"];
    let (sums_examples, sums_tokens) = sources["generated"];
    assert!(notes_examples > 0 && sums_examples > 0, "{sources:?}");
    assert_eq!(notes_tokens, notes_examples * 32);
    assert_eq!((sums_tokens + notes_tokens) as f64, tokens[2]);

    // The export is a Hugging Face folder whose model gives exp's logits.
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        assert!(
            test.path(&format!("out/exports/hf/{file}")).is_file(),
            "{file}"
        );
    }
    let python = workspace_root().join(".venv/bin/python");
    let script = r#"
import sys, torch, transformers
from safetensors.torch import load_file
folder, checkpoint = sys.argv[1], sys.argv[2]
model = transformers.GPT2LMHeadModel.from_pretrained(folder).eval()
tokens = transformers.AutoTokenizer.from_pretrained(folder)
ids = tokens("the garden walked quietly", return_tensors="pt")["input_ids"]
with torch.no_grad():
    logits = model(ids).logits
print(ids.shape[1], float(logits.abs().sum()))
"#;
    let output = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(test.path("out/exports/hf"))
        .arg(test.path("out/checkpoints/pre.safetensors"))
        .output()
        .expect("the project's venv runs python (./setup.sh makes it)");
    assert!(
        output.status.success(),
        "transformers does not load the export:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    let mut fields = printed.split_whitespace();
    let length: usize = fields.next().unwrap().parse().unwrap();
    let total: f64 = fields.next().unwrap().parse().unwrap();
    assert!(length > 0 && total.is_finite() && total > 0.0, "{printed}");
}

/// One step of AdamW with a huge weight decay: the matrices shrink by lr·wd, while the
/// embeddings, norms and biases move only by the Adam step itself (at most about lr).
#[test]
fn weight_decay_leaves_norms_biases_and_embeddings_alone() {
    let file = r#"dataset sums = arithmetic { count: 200, max_digits: 2 }
tokenizer raw = bytes
model lm = gpt(raw) { width: 16, depth: 1, heads: 2, context: 16 }
train one { model: lm, data: sums, steps: 1 steps, batch: 4, optimizer: adamw { lr: 0.001, weight_decay: 100.0 } }
"#;
    let test = Test::new()
        .file("decay.exp", file)
        .args(["run", "decay.exp", "--out", "out"]);
    let outcome = test.run();
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let read = |node: &str| -> BTreeMap<String, Tensor> {
        Tensor::read_safetensors(test.path(&format!("out/checkpoints/{node}.safetensors")))
            .unwrap()
            .into_iter()
            .collect()
    };
    let (before, after) = (read("lm"), read("one"));
    let mut decayed = 0;
    let mut exempt = 0;
    for (name, start) in &before {
        let end = &after[name];
        // What decay alone would leave: (1 − lr·wd) = 0.9 of the start.
        let shrunk = f64::try_from((end - start * 0.9).abs().max()).unwrap();
        let moved = f64::try_from((end - start).abs().max()).unwrap();
        let is_matrix = start.dim() == 2 && !name.contains("wte") && !name.contains("wpe");
        if is_matrix {
            decayed += 1;
            assert!(shrunk < 2e-3, "{name} was not decayed: {shrunk}");
        } else {
            exempt += 1;
            assert!(moved < 2e-3, "{name} was decayed: moved by {moved}");
        }
    }
    assert!(
        decayed >= 4 && exempt >= 4,
        "{decayed} decayed, {exempt} exempt"
    );
}

/// The elements of every tensor of a checkpoint of the run in `out/`.
fn checkpoint_elements(test: &Test, node: &str) -> u64 {
    Tensor::read_safetensors(test.path(&format!("out/checkpoints/{node}.safetensors")))
        .unwrap()
        .iter()
        .map(|(_, tensor)| tensor.numel() as u64)
        .sum()
}

/// `exp graph` shows each model's size before anything runs: exactly what its checkpoint will
/// hold for a model sized by a dataset or by a tokenizer that needs no training, and for one
/// whose BPE tokenizer is not trained yet the most it can be (a vocabulary of `vocab_size` ids).
#[test]
fn the_graph_shows_each_models_size_before_anything_runs() {
    let file = r#"dataset notes = text_files { paths: ["notes/*.txt"], format: "paragraphs", source: "test notes", license: "CC0-1.0" }
tokenizer tok = bpe(notes) { vocab_size: 400 }
tokenizer raw = bytes
model lm = gpt(tok) { width: 32, depth: 1, heads: 2, context: 32 }
model byte_lm = gpt(raw) { width: 32, depth: 2, heads: 2, context: 16, positions: "rope" }
dataset d = digits
model m = mlp { hidden: [8] }
evaluate lm_start { model: lm, data: notes, metrics: [perplexity] }
evaluate byte_start { model: byte_lm, data: notes, metrics: [perplexity] }
evaluate m_start { model: m, data: d, metrics: [accuracy] }
"#;
    let test = Test::new()
        .file("notes/a.txt", &notes())
        .file("sized.exp", file);
    let outcome = test.run_with(&["graph", "sized.exp", "--format", "json"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let graph: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    let size = |name: &str| {
        let node = graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|node| node["name"] == name)
            .unwrap();
        let parameters = &node["parameters"];
        (
            parameters["count"].as_u64().unwrap(),
            parameters["exact"].as_bool().unwrap(),
        )
    };
    // 64 inputs → 8 → 10 classes, weights and biases.
    assert_eq!(size("m"), (64 * 8 + 8 + 8 * 10 + 10, true));
    let dot = test.run_with(&["graph", "sized.exp"]);
    assert!(
        dot.stdout.contains(r"mlp\n610 parameters"),
        "{}",
        dot.stdout
    );
    assert!(dot.stdout.contains(r"gpt\n≤ "), "{}", dot.stdout);

    let outcome = test.run_with(&["run", "sized.exp", "--out", "out"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert_eq!(size("m").0, checkpoint_elements(&test, "m"));
    assert_eq!(
        size("byte_lm"),
        (checkpoint_elements(&test, "byte_lm"), true)
    );
    // The trained vocabulary is at most 400 ids; each id short of it is one row of the tied
    // embedding (width 32) fewer than the graph's bound.
    let tokenizer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(test.path("out/tokenizers/tok.json")).unwrap(),
    )
    .unwrap();
    let ids = tokenizer["model"]["vocab"]
        .as_object()
        .unwrap()
        .values()
        .chain(
            tokenizer["added_tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|token| &token["id"]),
        )
        .map(|id| id.as_u64().unwrap() + 1)
        .max()
        .unwrap();
    assert!(ids <= 400, "{ids}");
    let (bound, exact) = size("lm");
    assert!(!exact);
    assert_eq!(bound, checkpoint_elements(&test, "lm") + (400 - ids) * 32);
}

#[test]
fn text_files_errors_name_the_file_and_point_at_the_parameter() {
    let test = Test::new()
        .file("bad.txt", "")
        .bytes("latin1.txt", b"caf\xe9 au lait\n")
        .file(
            "missing.exp",
            "dataset d = text_files { paths: [\"nowhere.txt\"], source: \"me\", license: \"CC0-1.0\" }\n",
        );
    let outcome = test.run_with(&["check", "missing.exp"]);
    assert_eq!(outcome.status, 2, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("E0048"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("nowhere.txt"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("missing.exp:1:33"),
        "{}",
        outcome.stderr
    );

    // Not UTF-8: found when the files are read, before any training, with the byte offset.
    let test = test.file(
        "latin.exp",
        "dataset d = text_files { paths: [\"latin1.txt\"], source: \"me\", license: \"CC0-1.0\" }\ntokenizer t = bpe(d)\n",
    );
    let outcome = test.run_with(&["run", "latin.exp", "--out", "out"]);
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(outcome.stderr.contains("latin1.txt"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("offset 3"), "{}", outcome.stderr);
}
