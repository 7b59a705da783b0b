//! Tests of the `gpt` component: built the way the host builds it, over a tokenized dataset.

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{build, Context, DataInfo, Model, Stateful, TokenInfo};
use exp_plugin_api::serde_json::{json, Value};
use exp_plugin_api::tch::{Device, Kind, Tensor};

use super::GptModel;

/// The context of a model over a tokenized dataset with `vocab` tokens, windows of 16.
pub fn token_context(seed: u64, vocab: i64) -> Context {
    Context {
        seed,
        device: "cpu".into(),
        data: Some(DataInfo {
            input_shape: vec![16],
            classes: vocab,
            train_len: 10,
            validation_len: 0,
            test_len: 10,
            source: "tests".into(),
            license: "CC0-1.0".into(),
            tokens: Some(TokenInfo {
                vocab_size: vocab,
                special: BTreeMap::from([("<|endoftext|>".to_string(), 0)]),
            }),
            ..Default::default()
        }),
    }
}

fn tiny() -> Value {
    json!({"width": 32, "depth": 2, "heads": 4, "context": 16})
}

fn ids(values: &[i64], batch: i64) -> Tensor {
    Tensor::from_slice(values).view([batch, -1])
}

#[test]
fn forward_shape_loss_and_seeded_weights() {
    let model = build::<GptModel>(tiny(), &token_context(1, 37)).unwrap();
    let x = ids(&[1, 2, 3, 4, 5, 6, 7, 8], 2);
    let logits = model.forward(&x, false).unwrap();
    assert_eq!(logits.size(), vec![2, 4, 37]);
    let y = ids(&[2, 3, 4, -100, 6, 7, 8, -100], 2);
    let loss = model.loss(&x, &y).unwrap().double_value(&[]);
    assert!((loss - 37f64.ln()).abs() < 0.3, "{loss}");
    let names: Vec<String> = model
        .named_tensors()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names[..2], ["wte.weight", "wpe.weight"]);
    assert_eq!(model.named_tensors()[0].1.size(), vec![37, 32]);
    let again = build::<GptModel>(tiny(), &token_context(1, 37)).unwrap();
    let other = build::<GptModel>(tiny(), &token_context(2, 37)).unwrap();
    let first = |model: &GptModel| model.named_tensors()[0].1.shallow_clone();
    assert!(first(&model).equal(&first(&again)));
    assert!(!first(&model).equal(&first(&other)));
    assert_eq!(
        model.gpt().parameter_count(),
        model.gpt().config().parameter_count().unwrap()
    );
    assert!(model.decays("h.0.mlp.c_fc.weight") && !model.decays("wte.weight"));
}

#[test]
fn every_variant_builds_and_generates() {
    for (positions, mlp) in [("rope", "swiglu"), ("alibi", "gelu_tanh"), ("none", "gelu")] {
        let mut params = tiny();
        params["positions"] = json!(positions);
        params["mlp"] = json!(mlp);
        params["mlp_hidden"] = json!(48);
        params["tie_embeddings"] = json!(false);
        let model = build::<GptModel>(params, &token_context(3, 20)).unwrap();
        let prompts = vec![vec![1, 2, 3], vec![4]];
        let generated = model.generate(&prompts, 5, None).unwrap();
        assert_eq!(generated, model.gpt().generate(&prompts, 5, None).unwrap());
        assert!(generated.iter().all(|tokens| tokens.len() == 5));
        assert_eq!(model.named_tensors().last().unwrap().0, "lm_head.weight");
    }
}

#[test]
fn a_model_of_tokens_needs_a_tokenizer() {
    let mut untokenized = token_context(0, 10);
    if let Some(data) = untokenized.data.as_mut() {
        data.tokens = None;
    }
    let error = build::<GptModel>(tiny(), &untokenized).err().unwrap();
    assert_eq!(
        error.message,
        "gpt reads token ids: give the model a tokenizer"
    );
    let no_data = Context {
        data: None,
        ..token_context(0, 10)
    };
    assert!(build::<GptModel>(tiny(), &no_data).is_err());
}

#[test]
fn architecture_errors_name_the_parameter() {
    let mut params = tiny();
    params["heads"] = json!(3);
    let error = build::<GptModel>(params, &token_context(0, 10))
        .err()
        .unwrap();
    assert_eq!(error.field.as_deref(), Some("heads"));
    let mut params = tiny();
    params["positions"] = json!("rope");
    params["width"] = json!(12);
    params["heads"] = json!(4);
    let error = build::<GptModel>(params, &token_context(0, 10))
        .err()
        .unwrap();
    assert_eq!(error.field.as_deref(), Some("positions"));
    let model = build::<GptModel>(tiny(), &token_context(0, 10)).unwrap();
    let too_long = Tensor::zeros([1, 17], (Kind::Int64, Device::Cpu));
    let error = model.forward(&too_long, false).unwrap_err();
    assert!(
        error.message.contains("`context_length`"),
        "{}",
        error.message
    );
}

#[test]
fn saved_state_resumes_the_dropout_stream() {
    let mut params = tiny();
    params["dropout"] = json!(0.3);
    let model = build::<GptModel>(params.clone(), &token_context(4, 37)).unwrap();
    let x = ids(&[1, 2, 3, 4, 5, 6], 1);
    let _ = model.forward(&x, true).unwrap();
    let state = model.save_state().unwrap();
    let next = model.forward(&x, true).unwrap();
    let mut resumed = build::<GptModel>(params, &token_context(4, 37)).unwrap();
    resumed.load_state(state).unwrap();
    assert!(resumed.forward(&x, true).unwrap().equal(&next));
    let error = resumed
        .load_state(exp_plugin_api::sdk::SavedState::default())
        .unwrap_err();
    assert!(error.message.contains("dropout_calls"));
}

/// `exp graph`'s count, from the formula, is the count of the tensors the model holds when
/// built, for every position scheme, MLP, bias and tying choice; without a vocabulary there is
/// no count.
#[test]
fn the_parameter_count_without_building_is_the_built_count() {
    use exp_plugin_api::sdk::config::{Config, Params};
    use exp_plugin_api::sdk::Component;

    let variants = [
        json!({}),
        json!({"positions": "rope", "mlp": "swiglu"}),
        json!({"positions": "alibi", "bias": false, "tie_embeddings": false}),
        json!({"positions": "none", "mlp": "gelu_tanh", "mlp_hidden": 48}),
    ];
    for variant in variants {
        let mut params = tiny();
        for (key, value) in variant.as_object().unwrap() {
            params[key] = value.clone();
        }
        let context = token_context(0, 53);
        let model = build::<GptModel>(params.clone(), &context).unwrap();
        let built: i64 = model
            .named_tensors()
            .iter()
            .map(|(_, tensor)| tensor.numel() as i64)
            .sum();
        let config = <GptModel as Component>::Config::from_params(
            &Params::from_json(&params)
                .unwrap()
                .with_defaults(&<GptModel as Component>::Config::params()),
        )
        .unwrap();
        let counted = GptModel::parameter_count(&config, context.data.as_ref()).unwrap();
        assert_eq!(counted as i64, built, "{params}");
        assert!(GptModel::parameter_count(&config, None).is_err());
    }
}
