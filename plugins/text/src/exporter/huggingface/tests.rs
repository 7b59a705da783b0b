//! Tests of the `huggingface` exporter that need no Python: what it refuses and what it writes.
//! `tests/text/hf_export.rs` loads the folder with `transformers` itself.

use exp_plugin_api::sdk::{build, Component, Config, ExportedModel, Exporter, Model, Params};
use exp_plugin_api::serde_json::{json, Value};
use exp_plugin_api::tch::Tensor;

use super::HuggingFace;
use crate::dataset::test_support::context;
use crate::model::gpt::tests::token_context;
use crate::model::gpt::{GptModel, GptParams};

/// A `gpt` with `params` over 40 tokens, as the host hands it to an exporter.
fn exported(params: Value) -> ExportedModel {
    let data = token_context(0, 40).data.unwrap();
    let model = build::<GptModel>(params.clone(), &token_context(0, 40)).unwrap();
    ExportedModel {
        architecture: GptModel::NAME.to_string(),
        params: Params::from_json(&params)
            .unwrap()
            .with_defaults(&GptParams::params()),
        data,
        tensors: model.named_tensors(),
        tokenizer_json: Some("{\"version\": \"1.0\"}".to_string()),
    }
}

fn tiny() -> Value {
    json!({"width": 16, "depth": 1, "heads": 2, "context": 8})
}

#[test]
fn writes_a_gpt2_folder() {
    let exporter = build::<HuggingFace>(json!({}), &context()).unwrap();
    let model = exported(tiny());
    let directory = tempfile::tempdir().unwrap();
    let files = exporter.export(&model, directory.path()).unwrap();
    assert_eq!(
        files,
        [
            "config.json",
            "model.safetensors",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json"
        ]
    );
    let read = |name: &str| -> Value {
        exp_plugin_api::serde_json::from_str(
            &std::fs::read_to_string(directory.path().join(name)).unwrap(),
        )
        .unwrap()
    };
    let config = read("config.json");
    assert_eq!(
        (
            config["vocab_size"].as_i64(),
            config["n_positions"].as_i64()
        ),
        (Some(40), Some(8))
    );
    assert_eq!(
        (config["n_embd"].as_i64(), config["n_inner"].as_i64()),
        (Some(16), Some(64))
    );
    assert_eq!(config["eos_token_id"], json!(0));
    assert_eq!(config["activation_function"], json!("gelu"));
    assert_eq!(
        read("tokenizer_config.json")["eos_token"],
        json!("<|endoftext|>")
    );
    assert!(
        read("tokenizer_config.json").get("pad_token").is_none(),
        "the vocabulary has no pad"
    );
    assert_eq!(
        std::fs::read_to_string(directory.path().join("tokenizer.json")).unwrap(),
        "{\"version\": \"1.0\"}"
    );
    let weights = Tensor::read_safetensors(directory.path().join("model.safetensors")).unwrap();
    let weight = |name: &str| {
        weights
            .iter()
            .find(|(key, _)| key == name)
            .unwrap()
            .1
            .shallow_clone()
    };
    // Conv1D weights are [in, out]: c_attn is [C, 3C] in the file.
    assert_eq!(
        weight("transformer.h.0.attn.c_attn.weight").size(),
        vec![16, 48]
    );
    let ours = &model
        .tensors
        .iter()
        .find(|(name, _)| name == "h.0.attn.c_attn.weight")
        .unwrap()
        .1;
    assert!(weight("transformer.h.0.attn.c_attn.weight").equal(&ours.detach().tr()));
    assert!(weight("transformer.wte.weight").equal(&model.tensors[0].1.detach()));
    assert_eq!(weights.len(), model.tensors.len());
}

#[test]
fn other_architectures_are_refused_with_every_reason() {
    let exporter = build::<HuggingFace>(json!({}), &context()).unwrap();
    let mut params = tiny();
    params["positions"] = json!("alibi");
    params["mlp"] = json!("swiglu");
    params["bias"] = json!(false);
    let directory = tempfile::tempdir().unwrap();
    let error = exporter
        .export(&exported(params), directory.path())
        .unwrap_err();
    assert_eq!(
        error.message,
        "huggingface writes GPT-2 models, and this one differs: GPT-2 has learned positions, but \
         `positions` is `alibi`; GPT-2 has a GELU MLP, but `mlp` is `swiglu`; GPT-2 has biases in \
         every linear layer and layer norm, but `bias` is false"
    );
    assert_eq!(
        std::fs::read_dir(directory.path()).unwrap().count(),
        0,
        "nothing is written"
    );
    let mut mlp = exported(tiny());
    mlp.architecture = "mlp".to_string();
    let error = exporter.export(&mlp, directory.path()).unwrap_err();
    assert_eq!(error.message, "huggingface exports `gpt` models, not `mlp`");
}

#[test]
fn tensors_that_do_not_fit_the_parameters_are_refused() {
    let exporter = build::<HuggingFace>(json!({}), &context()).unwrap();
    let mut model = exported(tiny());
    model.tensors.retain(|(name, _)| name != "ln_f.bias");
    model.tensors[0].1 = Tensor::zeros([39, 16], exp_plugin_api::tch::kind::FLOAT_CPU);
    let directory = tempfile::tempdir().unwrap();
    let error = exporter.export(&model, directory.path()).unwrap_err();
    assert!(
        error
            .message
            .contains("`wte.weight` has shape [39, 16], but the architecture needs [40, 16]")
            && error.message.contains("`ln_f.bias` is missing"),
        "{}",
        error.message
    );
    let mut untokenized = exported(tiny());
    untokenized.data.tokens = None;
    assert!(exporter.export(&untokenized, directory.path()).is_err());
    let mut no_tokenizer = exported(tiny());
    no_tokenizer.tokenizer_json = None;
    let files = exporter.export(&no_tokenizer, directory.path()).unwrap();
    assert_eq!(files.len(), 3);
}
