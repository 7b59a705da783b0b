//! The `huggingface` exporter, checked by loading its folders with `transformers` itself: the
//! same logits for the same ids, the same ids from `AutoTokenizer` for the same text, and the
//! same greedy continuations from `generate`. It runs the workspace's Python (`crate::python`)
//! and fails, saying what to install, when `torch` or `transformers` is missing: the export is
//! only known to be right if `transformers` agrees.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use exp_plugin_api::sdk::{
    build, Component, Config, Context, DataInfo, ExportedModel, Exporter, Model, Params, Tokenizer,
};
use exp_plugin_api::serde_json::{self, json, Value};
use exp_plugin_api::tch::{Kind, Tensor};
use exp_text::exporter::huggingface::HuggingFace;
use exp_text::gpt::GptError;
use exp_text::model::gpt::{GptModel, GptParams};
use exp_text::tokenizer::Bpe;

use crate::gpt::{build as build_gpt, randomise};
use crate::python;

/// Loads each folder with the Auto classes; prints the logits of the ids, the tokenizer's ids
/// and decoding of the text, and greedy continuations of the prompts, one JSON document.
const SCRIPT: &str = r#"
import json, sys
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
ids = torch.tensor(json.loads(sys.argv[1]))
text = sys.argv[2]
prompts = json.loads(sys.argv[3])
out = {"version": transformers.__version__, "folders": []}
for folder in sys.argv[4:]:
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoded = tokenizer(text)["input_ids"]
    generated = []
    with torch.no_grad():
        logits = model(ids).logits.double().tolist()
        for prompt in prompts:
            full = model.generate(torch.tensor([prompt]), max_new_tokens=6, do_sample=False)
            generated.append(full[0, len(prompt):].tolist())
    out["folders"].append({
        "logits": logits, "ids": encoded, "decoded": tokenizer.decode(encoded),
        "eos": tokenizer.eos_token_id, "generated": generated,
    })
print(json.dumps(out))
"#;

fn context(seed: u64, tokenizer: &Bpe) -> Context {
    Context {
        seed,
        device: "cpu".into(),
        data: Some(DataInfo {
            input_shape: vec![24],
            classes: tokenizer.vocabulary().vocab_size,
            train_len: 1,
            validation_len: 0,
            test_len: 0,
            source: "tests".into(),
            license: "CC0-1.0".into(),
            tokens: Some(tokenizer.vocabulary()),
            ..Default::default()
        }),
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small BPE tokenizer trained on arithmetic and prose.
fn tokenizer() -> Bpe {
    let documents: Vec<String> = (0..200)
        .map(|index| {
            format!(
                "{index}+{}={}\nThe cat sat on mat number {index}.\n",
                index * 7,
                index * 8
            )
        })
        .collect();
    let documents: Vec<&str> = documents.iter().map(String::as_str).collect();
    let params = json!({"vocab_size": 300, "min_frequency": 2});
    let mut tokenizer = build::<Bpe>(
        params,
        &Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        },
    )
    .unwrap();
    tokenizer.train(&documents).unwrap();
    tokenizer
}

fn exported(params: &Value, model: &GptModel, tokenizer: &Bpe, seed: u64) -> ExportedModel {
    ExportedModel {
        architecture: GptModel::NAME.to_string(),
        params: Params::from_json(params)
            .unwrap()
            .with_defaults(&GptParams::params()),
        data: context(seed, tokenizer).data.unwrap(),
        tensors: model.named_tensors(),
        tokenizer_json: Some(tokenizer.to_json().unwrap()),
    }
}

fn tensor_of(rows: Value) -> Tensor {
    let rows: Vec<Vec<Vec<f64>>> = serde_json::from_value(rows).unwrap();
    let (b, t, v) = (rows.len(), rows[0].len(), rows[0][0].len());
    let flat: Vec<f64> = rows.into_iter().flatten().flatten().collect();
    Tensor::from_slice(&flat).view([b as i64, t as i64, v as i64])
}

#[test]
fn transformers_loads_the_export_and_agrees() {
    let tokenizer = tokenizer();
    let vocab = tokenizer.vocabulary().vocab_size;
    let tied = json!({"width": 48, "depth": 2, "heads": 4, "context": 24});
    let untied = json!({
        "width": 48, "depth": 3, "heads": 6, "context": 24, "mlp": "gelu_tanh",
        "tie_embeddings": false, "mlp_hidden": 80, "layer_norm_eps": 1e-6,
    });
    let text = "12+84=96\nThe cat sat.";
    let text_ids: Vec<i64> = tokenizer.encode(&[text]).unwrap()[0]
        .iter()
        .map(|id| i64::from(*id))
        .collect();
    let rows: Vec<Vec<i64>> = (0..2)
        .map(|row| {
            (0..24)
                .map(|column| (row * 31 + column * 17) % vocab)
                .collect()
        })
        .collect();
    let ids = Tensor::from_slice(&rows.concat()).view([2, 24]);
    let prompts = vec![text_ids[..5].to_vec(), vec![3, 4]];
    let exporter = build::<HuggingFace>(
        json!({}),
        &Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        },
    )
    .unwrap();
    let mut folders = Vec::new();
    let mut ours = Vec::new();
    for (index, params) in [tied, untied].iter().enumerate() {
        let seed = 61 + index as u64;
        let model = build::<GptModel>(params.clone(), &context(seed, &tokenizer)).unwrap();
        // Random biases and norms, so every tensor's layout matters.
        randomise(model.gpt(), 70 + index as u64);
        let folder = scratch(&format!("hf_export_{index}"));
        exporter
            .export(&exported(params, &model, &tokenizer, seed), &folder)
            .unwrap();
        let logits = model.forward(&ids, false).unwrap().to_kind(Kind::Double);
        let generated = model.generate(&prompts, 6, Some(0)).unwrap();
        ours.push((logits, generated));
        folders.push(folder);
    }
    let mut args: Vec<&OsStr> = Vec::new();
    let (ids_json, prompts_json) = (
        serde_json::to_string(&rows).unwrap(),
        serde_json::to_string(&prompts).unwrap(),
    );
    args.extend([
        OsStr::new(&ids_json),
        OsStr::new(text),
        OsStr::new(&prompts_json),
    ]);
    args.extend(folders.iter().map(|folder| folder.as_os_str()));
    let output = python::run(SCRIPT, &args, &["torch", "transformers"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reply: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|error| panic!("unexpected output ({error}):\n{stdout}"));
    eprintln!("compared with transformers {}", reply["version"]);
    for (index, ((logits, generated), theirs)) in ours
        .iter()
        .zip(reply["folders"].as_array().unwrap())
        .enumerate()
    {
        let their_logits = tensor_of(theirs["logits"].clone());
        assert_eq!(logits.size(), their_logits.size());
        let diff = (logits - &their_logits).abs().max().double_value(&[]);
        let scale = logits.abs().max().double_value(&[]);
        eprintln!("model {index}: max |Δlogit| = {diff:.2e} (max |logit| {scale:.2})");
        assert!(diff < 1e-4, "model {index}: logits differ by {diff}");
        assert!(scale > 0.5, "logits too small for a meaningful comparison");
        assert_eq!(
            theirs["ids"],
            json!(text_ids),
            "AutoTokenizer encodes differently"
        );
        assert_eq!(theirs["decoded"], json!(text));
        assert_eq!(theirs["eos"], json!(0));
        assert_eq!(
            theirs["generated"],
            json!(generated),
            "model {index}: greedy continuations differ"
        );
    }
}

#[test]
fn other_architectures_are_refused_with_every_reason() {
    let config = exp_text::gpt::GptConfig {
        positions: exp_text::gpt::Positions::Rope,
        mlp: exp_text::gpt::MlpKind::Swiglu,
        bias: false,
        ..exp_text::gpt::GptConfig::new(11, 8, 16, 1, 2)
    };
    let folder = scratch("hf_export_refused");
    std::fs::remove_dir(&folder).unwrap();
    let error = exp_text::gpt::export_hf_gpt2(&build_gpt(&config, 0), &folder).unwrap_err();
    match &error {
        GptError::Unsupported { reasons, .. } => assert_eq!(reasons.len(), 3, "{error}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "cannot export this model as a Hugging Face GPT-2 model: GPT-2 has learned positions, but \
         `positions` is `rope`; GPT-2 has a GELU MLP, but `mlp` is `swiglu`; GPT-2 has biases in \
         every linear layer and layer norm, but `bias` is false"
    );
    assert!(!folder.exists(), "nothing is written for a refused export");
}
