//! Config parsing, defaults and validation.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::Device;
use exp_text::gpt::{alibi_slopes, Gpt, GptConfig, GptError, MlpKind, Positions};

fn field_of(config: &GptConfig) -> &'static str {
    match config.validate() {
        Err(GptError::Config { field, .. }) => field,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn minimal_json_takes_the_documented_defaults() {
    let config: GptConfig = exp_plugin_api::serde_json::from_str(
        r#"{"vocab_size": 4096, "context_length": 256, "width": 384, "depth": 6, "heads": 6}"#,
    )
    .unwrap();
    assert_eq!(config, GptConfig::new(4096, 256, 384, 6, 6));
    assert_eq!(config.positions, Positions::Learned);
    assert_eq!(config.mlp, MlpKind::Gelu);
    assert!(config.tie_embeddings && config.bias);
    assert_eq!(
        (config.dropout, config.layer_norm_eps, config.rope_base),
        (0.0, 1e-5, 10_000.0)
    );
    let full: GptConfig = exp_plugin_api::serde_json::from_str(
        r#"{"vocab_size": 10, "context_length": 8, "width": 16, "depth": 1, "heads": 2,
            "positions": "alibi", "mlp": "swiglu", "mlp_hidden": 40, "tie_embeddings": false,
            "dropout": 0.1, "bias": false, "layer_norm_eps": 1e-6, "rope_base": 500.0}"#,
    )
    .unwrap();
    assert_eq!(full.positions, Positions::Alibi);
    assert_eq!(full.mlp_hidden_size(), 40);
    let round_trip: GptConfig = exp_plugin_api::serde_json::from_str(
        &exp_plugin_api::serde_json::to_string(&full).unwrap(),
    )
    .unwrap();
    assert_eq!(round_trip, full);
    for (name, mlp) in [
        ("gelu", MlpKind::Gelu),
        ("gelu_tanh", MlpKind::GeluTanh),
        ("swiglu", MlpKind::Swiglu),
    ] {
        let text = format!(
            r#"{{"vocab_size": 1, "context_length": 1, "width": 2, "depth": 1, "heads": 1, "mlp": "{name}"}}"#
        );
        assert_eq!(
            exp_plugin_api::serde_json::from_str::<GptConfig>(&text)
                .unwrap()
                .mlp,
            mlp
        );
    }
    for name in ["learned", "rope", "alibi", "none"] {
        let text = format!(
            r#"{{"vocab_size": 1, "context_length": 1, "width": 2, "depth": 1, "heads": 1, "positions": "{name}"}}"#
        );
        assert!(
            exp_plugin_api::serde_json::from_str::<GptConfig>(&text).is_ok(),
            "{name}"
        );
    }
}

#[test]
fn unknown_fields_are_refused() {
    let error = exp_plugin_api::serde_json::from_str::<GptConfig>(
        r#"{"vocab_size": 1, "context_length": 1, "width": 2, "depth": 1, "heads": 1, "n_embd": 3}"#,
    )
    .unwrap_err();
    assert!(error.to_string().contains("n_embd"), "{error}");
}

#[test]
fn mlp_hidden_defaults() {
    let base = GptConfig::new(10, 8, 384, 1, 6);
    assert_eq!(base.mlp_hidden_size(), 1536);
    let swiglu = |width| GptConfig {
        mlp: MlpKind::Swiglu,
        ..GptConfig::new(10, 8, width, 1, 1)
    };
    // 8/3·384 = 1024 exactly; 8/3·32 = 85.3 rounds up to 128; 8/3·768 = 2048.
    assert_eq!(swiglu(384).mlp_hidden_size(), 1024);
    assert_eq!(swiglu(32).mlp_hidden_size(), 128);
    assert_eq!(swiglu(768).mlp_hidden_size(), 2048);
}

#[test]
fn validation_names_the_field() {
    let base = GptConfig::new(10, 8, 32, 2, 4);
    assert!(base.validate().is_ok());
    assert_eq!(
        field_of(&GptConfig {
            heads: 3,
            ..base.clone()
        }),
        "heads"
    );
    assert_eq!(
        field_of(&GptConfig {
            depth: 0,
            ..base.clone()
        }),
        "depth"
    );
    assert_eq!(
        field_of(&GptConfig {
            vocab_size: -1,
            ..base.clone()
        }),
        "vocab_size"
    );
    assert_eq!(
        field_of(&GptConfig {
            dropout: 1.0,
            ..base.clone()
        }),
        "dropout"
    );
    assert_eq!(
        field_of(&GptConfig {
            layer_norm_eps: 0.0,
            ..base.clone()
        }),
        "layer_norm_eps"
    );
    assert_eq!(
        field_of(&GptConfig {
            mlp_hidden: Some(0),
            ..base.clone()
        }),
        "mlp_hidden"
    );
    let huge = GptConfig {
        vocab_size: i64::MAX / 2,
        width: 1 << 20,
        heads: 1,
        ..base.clone()
    };
    assert_eq!(field_of(&huge), "width");
    // Width 30 with 10 heads gives head dimension 3: fine for learned positions, odd for RoPE.
    let odd = GptConfig {
        width: 30,
        heads: 10,
        ..base.clone()
    };
    assert!(odd.validate().is_ok());
    let odd_rope = GptConfig {
        positions: Positions::Rope,
        ..odd
    };
    assert_eq!(field_of(&odd_rope), "positions");
    let message = odd_rope.validate().unwrap_err().to_string();
    assert_eq!(
        message,
        "invalid gpt config field `positions`: rope needs an even head dimension, but `width` / `heads` = 30 / 10 = 3"
    );
    // `Gpt::new` validates before building anything.
    let error = Gpt::new(
        &GptConfig { heads: 3, ..base },
        &mut Rng::new(0),
        Device::Cpu,
    )
    .unwrap_err();
    assert!(matches!(error, GptError::Config { field: "heads", .. }));
}

#[test]
fn alibi_slopes_follow_press_et_al() {
    let eight: Vec<f64> = (1..=8).map(|k| 0.5f64.powi(k)).collect();
    assert_eq!(alibi_slopes(8), eight);
    // Not a power of two: the 4-head slopes, then every other 8-head slope.
    assert_eq!(
        alibi_slopes(6),
        vec![
            1.0 / 4.0,
            1.0 / 16.0,
            1.0 / 64.0,
            1.0 / 256.0,
            1.0 / 2.0,
            1.0 / 8.0
        ]
    );
    // 12 heads: the 8-head slopes, then 16-head slopes 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
    let twelve = alibi_slopes(12);
    assert_eq!(&twelve[..8], &eight[..]);
    for (slope, exponent) in twelve[8..].iter().zip([0.5, 1.5, 2.5, 3.5]) {
        assert!((slope - 2f64.powf(-exponent)).abs() < 1e-15);
    }
    assert_eq!(alibi_slopes(1), vec![1.0 / 256.0]);
}
