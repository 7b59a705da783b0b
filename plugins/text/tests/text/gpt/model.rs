//! Shapes, causality, padding, parameters, initialisation and decay groups.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::{Device, Kind, Tensor};
use exp_text::gpt::{DecayRule, Gpt, GptConfig, GptError, MlpKind, Positions};

use super::{build, max_abs_diff, random_ids, randomise, tiny, variants};

#[test]
fn output_shapes_for_every_variant() {
    for (positions, mlp) in variants() {
        let model = build(&tiny(positions, mlp), 1);
        let ids = random_ids(&mut Rng::new(2), 3, 16, 37);
        let logits = model.forward(&ids, false).unwrap();
        assert_eq!(logits.size(), vec![3, 16, 37], "{positions:?} {mlp:?}");
        assert_eq!(
            model.forward(&ids.narrow(1, 0, 1), false).unwrap().size(),
            vec![3, 1, 37]
        );
        assert_eq!(
            model.hidden(&ids, None, false).unwrap().size(),
            vec![3, 16, 32]
        );
        assert_eq!(
            model.last_hidden(&ids, None, false).unwrap().size(),
            vec![3, 32]
        );
        let targets = random_ids(&mut Rng::new(3), 3, 16, 37);
        let loss = model.loss(&ids, &targets, false).unwrap();
        assert_eq!(loss.size(), Vec::<i64>::new());
        // At initialisation the loss is close to ln(vocab).
        let value = loss.double_value(&[]);
        assert!(
            (value - 37f64.ln()).abs() < 0.3,
            "{positions:?} {mlp:?}: {value}"
        );
    }
}

#[test]
fn changing_a_token_never_changes_earlier_logits() {
    for (positions, mlp) in variants() {
        let model = build(&tiny(positions, mlp), 3);
        randomise(&model, 4);
        let ids = random_ids(&mut Rng::new(5), 2, 16, 37);
        let before = model.forward(&ids, false).unwrap();
        for t in [0, 5, 15] {
            let changed = ids.copy();
            let _ = changed
                .narrow(1, t, 1)
                .fill_((ids.int64_value(&[0, t]) + 1) % 37);
            let after = model.forward(&changed, false).unwrap();
            if t > 0 {
                let earlier = max_abs_diff(&before.narrow(1, 0, t), &after.narrow(1, 0, t));
                assert!(
                    earlier < 1e-6,
                    "{positions:?} {mlp:?}: t={t} leaked {earlier}"
                );
            }
            let at_t = max_abs_diff(&before.narrow(1, t, 1), &after.narrow(1, t, 1));
            assert!(
                at_t > 1e-3,
                "{positions:?} {mlp:?}: token {t} had no effect"
            );
        }
    }
}

#[test]
fn padding_masks_make_rows_behave_as_if_alone() {
    for (positions, mlp) in variants() {
        let model = build(&tiny(positions, mlp), 6);
        randomise(&model, 7);
        let mut rng = Rng::new(8);
        let short = random_ids(&mut rng, 1, 5, 37);
        let long = random_ids(&mut rng, 1, 9, 37);
        let alone_short = model.hidden(&short, None, false).unwrap();
        let alone_long = model.hidden(&long, None, false).unwrap();
        let pad = Tensor::zeros([1, 4], (Kind::Int64, Device::Cpu));
        let ones = |n| Tensor::ones([1, n], (Kind::Int64, Device::Cpu));
        let zeros = |n| Tensor::zeros([1, n], (Kind::Int64, Device::Cpu));
        // Right padding.
        let ids = Tensor::cat(&[Tensor::cat(&[&short, &pad], 1), long.shallow_clone()], 0);
        let mask = Tensor::cat(&[Tensor::cat(&[ones(5), zeros(4)], 1), ones(9)], 0);
        let hidden = model.hidden(&ids, Some(&mask), false).unwrap();
        assert!(max_abs_diff(&hidden.narrow(0, 0, 1).narrow(1, 0, 5), &alone_short) < 1e-5);
        assert!(max_abs_diff(&hidden.narrow(0, 1, 1), &alone_long) < 1e-5);
        // Right padding without a mask gives the same real positions (causal attention).
        let unmasked = model.hidden(&ids, None, false).unwrap();
        assert!(max_abs_diff(&unmasked.narrow(0, 0, 1).narrow(1, 0, 5), &alone_short) < 1e-5);
        let last = model.last_hidden(&ids, Some(&mask), false).unwrap();
        assert!(max_abs_diff(&last.get(0), &alone_short.get(0).get(4)) < 1e-5);
        // Left padding needs the mask.
        let ids = Tensor::cat(&[Tensor::cat(&[&pad, &short], 1), long.shallow_clone()], 0);
        let mask = Tensor::cat(&[Tensor::cat(&[zeros(4), ones(5)], 1), ones(9)], 0);
        let hidden = model.hidden(&ids, Some(&mask), false).unwrap();
        let diff = max_abs_diff(&hidden.narrow(0, 0, 1).narrow(1, 4, 5), &alone_short);
        assert!(
            diff < 1e-5,
            "{positions:?} {mlp:?}: left padding changed a row by {diff}"
        );
        assert!(max_abs_diff(&hidden.narrow(0, 1, 1), &alone_long) < 1e-5);
        assert!(
            hidden.isfinite().all().int64_value(&[]) == 1,
            "pad rows must stay finite"
        );
        let last = model.last_hidden(&ids, Some(&mask), false).unwrap();
        assert!(max_abs_diff(&last.get(0), &alone_short.get(0).get(4)) < 1e-5);
    }
}

#[test]
fn parameter_names_follow_nanogpt() {
    let model = build(&GptConfig::new(11, 8, 16, 1, 2), 0);
    let names: Vec<String> = model
        .named_tensors()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let expected = [
        "wte.weight",
        "wpe.weight",
        "h.0.ln_1.weight",
        "h.0.ln_1.bias",
        "h.0.attn.c_attn.weight",
        "h.0.attn.c_attn.bias",
        "h.0.attn.c_proj.weight",
        "h.0.attn.c_proj.bias",
        "h.0.ln_2.weight",
        "h.0.ln_2.bias",
        "h.0.mlp.c_fc.weight",
        "h.0.mlp.c_fc.bias",
        "h.0.mlp.c_proj.weight",
        "h.0.mlp.c_proj.bias",
        "ln_f.weight",
        "ln_f.bias",
    ];
    assert_eq!(names, expected);
    let shapes: Vec<Vec<i64>> = model
        .named_tensors()
        .iter()
        .map(|(_, t)| t.size())
        .collect();
    assert_eq!(shapes[0], vec![11, 16]);
    assert_eq!(shapes[4], vec![48, 16], "c_attn is [3C, C], [out, in]");
    assert_eq!(shapes[10], vec![64, 16]);
    assert_eq!(shapes[12], vec![16, 64]);
    assert!(model.named_tensors().iter().all(|(_, t)| t.requires_grad()));

    let bare = GptConfig {
        positions: Positions::Rope,
        mlp: MlpKind::Swiglu,
        tie_embeddings: false,
        bias: false,
        ..GptConfig::new(11, 8, 16, 1, 2)
    };
    let model = build(&bare, 0);
    let names: Vec<String> = model
        .named_tensors()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        [
            "wte.weight",
            "h.0.ln_1.weight",
            "h.0.attn.c_attn.weight",
            "h.0.attn.c_proj.weight",
            "h.0.ln_2.weight",
            "h.0.mlp.c_fc.weight",
            "h.0.mlp.c_proj.weight",
            "ln_f.weight",
            "lm_head.weight",
        ]
    );
    // SwiGLU hidden 8/3·16 → 64: c_fc stacks gate and up.
    assert_eq!(model.named_tensors()[5].1.size(), vec![128, 16]);
}

#[test]
fn tied_head_is_the_embedding_tensor() {
    let model = build(&tiny(Positions::Learned, MlpKind::Gelu), 9);
    let named = model.named_tensors();
    assert!(named.iter().all(|(name, _)| name != "lm_head.weight"));
    let wte = &named[0].1;
    assert_eq!(wte.data_ptr(), model.head_weight().data_ptr());
    let ids = random_ids(&mut Rng::new(10), 1, 4, 37);
    let before = model.forward(&ids, false).unwrap();
    // An in-place update of `wte` row 3 changes the logit of token 3 everywhere.
    exp_plugin_api::tch::no_grad(|| {
        let _ = wte.get(3).f_mul_scalar_(5.0).unwrap();
    });
    let after = model.forward(&ids, false).unwrap();
    let changed = max_abs_diff(&before.select(2, 3), &after.select(2, 3));
    assert!(changed > 1e-2, "head did not see the update ({changed})");
    // Gradients from input and output uses meet in the one tensor.
    model.loss(&ids, &ids, true).unwrap().backward();
    assert!(wte.grad().defined());

    let untied = build(
        &GptConfig {
            tie_embeddings: false,
            ..tiny(Positions::Learned, MlpKind::Gelu)
        },
        9,
    );
    let named = untied.named_tensors();
    assert_eq!(named.last().unwrap().0, "lm_head.weight");
    assert_ne!(named[0].1.data_ptr(), untied.head_weight().data_ptr());
}

#[test]
fn named_tensors_share_storage_with_the_model() {
    let model = build(&tiny(Positions::Rope, MlpKind::Swiglu), 11);
    let ids = random_ids(&mut Rng::new(12), 2, 6, 37);
    let before = model.forward(&ids, false).unwrap();
    let (_, mut tensor) = model
        .named_tensors()
        .into_iter()
        .find(|(name, _)| name == "h.0.attn.c_proj.weight")
        .unwrap();
    exp_plugin_api::tch::no_grad(|| tensor.copy_(&Tensor::zeros_like(&tensor)));
    let after = model.forward(&ids, false).unwrap();
    assert!(max_abs_diff(&before, &after) > 1e-4);
}

#[test]
fn initialisation_follows_gpt2() {
    let config = GptConfig {
        positions: Positions::Learned,
        ..GptConfig::new(512, 64, 256, 4, 4)
    };
    let model = build(&config, 13);
    let std_of = |tensor: &Tensor| tensor.std(true).double_value(&[]);
    let projection_std = 0.02 / 8f64.sqrt();
    for (name, tensor) in model.named_tensors() {
        if name.ends_with("c_proj.weight") {
            let std = std_of(&tensor);
            assert!((std / projection_std - 1.0).abs() < 0.03, "{name}: {std}");
        } else if name.ends_with(".bias") {
            assert_eq!(tensor.abs().max().double_value(&[]), 0.0, "{name}");
        } else if name.contains("ln_") {
            assert_eq!(tensor.min().double_value(&[]), 1.0, "{name}");
            assert_eq!(tensor.max().double_value(&[]), 1.0, "{name}");
        } else {
            let std = std_of(&tensor);
            assert!((std / 0.02 - 1.0).abs() < 0.03, "{name}: {std}");
            let mean = tensor.mean(Kind::Double).double_value(&[]);
            assert!(mean.abs() < 1e-3, "{name}: mean {mean}");
        }
    }
    // Bit-identical per seed, different across seeds.
    let again = build(&config, 13);
    let other = build(&config, 14);
    for ((_, a), ((_, b), (_, c))) in model.named_tensors().iter().zip(
        again
            .named_tensors()
            .iter()
            .zip(other.named_tensors().iter()),
    ) {
        assert!(a.equal(b));
        if a.std(true).double_value(&[]) > 0.0 {
            assert!(!a.equal(c));
        }
    }
}

/// Parameters of one block, from the architecture.
fn block_parameters(config: &GptConfig) -> i64 {
    let (c, h) = (config.width, config.mlp_hidden_size());
    let fc_rows = if config.mlp == MlpKind::Swiglu {
        2 * h
    } else {
        h
    };
    let bias = |n: i64| if config.bias { n } else { 0 };
    let norms = 2 * (c + bias(c));
    let attention = 3 * c * c + bias(3 * c) + c * c + bias(c);
    let mlp = fc_rows * c + bias(fc_rows) + h * c + bias(c);
    norms + attention + mlp
}

#[test]
fn parameter_count_matches_the_formula() {
    for (positions, mlp) in variants() {
        for (tie_embeddings, bias) in [(true, true), (false, false)] {
            let config = GptConfig {
                tie_embeddings,
                bias,
                ..tiny(positions, mlp)
            };
            let model = build(&config, 0);
            let (v, c, t) = (config.vocab_size, config.width, config.context_length);
            let non_embedding =
                config.depth * block_parameters(&config) + c + if bias { c } else { 0 };
            let wpe = if positions == Positions::Learned {
                t * c
            } else {
                0
            };
            let head = if tie_embeddings { 0 } else { v * c };
            assert_eq!(model.non_embedding_parameter_count(), non_embedding);
            assert_eq!(model.parameter_count(), non_embedding + v * c + wpe + head);
            assert_eq!(config.parameter_count(), Some(model.parameter_count()));
            assert_eq!(
                config.non_embedding_parameter_count(),
                Some(model.non_embedding_parameter_count())
            );
        }
    }
    // The bench model, by the textbook formula: 12·C² + 13·C per GPT-2 block, 2·C for `ln_f`,
    // V·C + T·C for the embeddings: 10,647,552 + 1,671,168 = 12,318,720.
    let bench = build(&GptConfig::new(4096, 256, 384, 6, 6), 0);
    let non_embedding = 6 * (12 * 384 * 384 + 13 * 384) + 2 * 384;
    assert_eq!(bench.non_embedding_parameter_count(), non_embedding);
    assert_eq!(bench.parameter_count(), non_embedding + (4096 + 256) * 384);
    assert_eq!(bench.parameter_count(), 12_318_720);
}

#[test]
fn decay_groups_hold_matrices_only() {
    let untied = build(
        &GptConfig {
            tie_embeddings: false,
            ..tiny(Positions::Learned, MlpKind::Gelu)
        },
        0,
    );
    let decayed: Vec<String> = untied
        .named_tensors()
        .into_iter()
        .filter(|(name, _)| untied.decays(name))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        decayed,
        [
            "h.0.attn.c_attn.weight",
            "h.0.attn.c_proj.weight",
            "h.0.mlp.c_fc.weight",
            "h.0.mlp.c_proj.weight",
            "h.1.attn.c_attn.weight",
            "h.1.attn.c_proj.weight",
            "h.1.mlp.c_fc.weight",
            "h.1.mlp.c_proj.weight",
            "lm_head.weight",
        ]
    );
    // Under the default rule, every decayed tensor is a matrix and every matrix but the
    // embeddings decays; nanoGPT's rule is exactly "two dimensions".
    let tied = build(&tiny(Positions::Learned, MlpKind::Swiglu), 0);
    for (name, tensor) in tied.named_tensors() {
        let matrix = tensor.dim() == 2;
        assert_eq!(
            tied.decays_under(&name, DecayRule::MatricesAndEmbeddings),
            matrix,
            "{name}"
        );
        let embedding = name == "wte.weight" || name == "wpe.weight";
        assert_eq!(tied.decays(&name), matrix && !embedding, "{name}");
    }
    assert!(!tied.decays("no.such.weight"));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let model = build(&tiny(Positions::Learned, MlpKind::Gelu), 0);
    let expect_input = |result: Result<Tensor, GptError>, needle: &str| match result {
        Err(GptError::Input { message, .. }) => assert!(message.contains(needle), "{message}"),
        other => panic!("expected an input error about {needle}, got {other:?}"),
    };
    let too_big = Tensor::from_slice(&[1i64, 37]).view([1, 2]);
    expect_input(model.forward(&too_big, false), "vocab_size");
    let negative = Tensor::from_slice(&[-1i64, 3]).view([1, 2]);
    expect_input(model.forward(&negative, false), "vocab_size");
    let float = Tensor::zeros([1, 2], (Kind::Float, Device::Cpu));
    expect_input(model.forward(&float, false), "int64");
    let flat = Tensor::zeros([4], (Kind::Int64, Device::Cpu));
    expect_input(model.forward(&flat, false), "[batch, time]");
    let long = Tensor::zeros([1, 17], (Kind::Int64, Device::Cpu));
    expect_input(model.forward(&long, false), "context_length");
    let ids = Tensor::zeros([2, 3], (Kind::Int64, Device::Cpu));
    expect_input(model.loss(&ids, &ids.narrow(1, 0, 2), false), "targets");
    let bad_targets = Tensor::from_slice(&[1i64, -100, 37, 2, 3, 4]).view([2, 3]);
    expect_input(model.loss(&ids, &bad_targets, false), "-100");
    let ignored = Tensor::from_slice(&[1i64, -100, 36, 2, -100, 0]).view([2, 3]);
    assert!(model.loss(&ids, &ignored, false).is_ok());
    let mut copy = build(&tiny(Positions::Learned, MlpKind::Gelu), 0);
    assert!(matches!(
        copy.to_kind(Kind::Int64),
        Err(GptError::Input { .. })
    ));
    let error = model
        .hidden(&ids, Some(&ids.narrow(1, 0, 2)), false)
        .unwrap_err();
    assert!(error.to_string().contains("attention_mask"), "{error}");
    assert!(model.generate(&[vec![]], 3, None).is_err());
    assert!(model.generate(&[vec![40]], 3, None).is_err());
    assert!(model.generate(&[vec![1; 17]], 3, None).is_err());
}

#[test]
fn to_kind_keeps_the_head_tied_and_the_function() {
    let mut model = build(&tiny(Positions::Alibi, MlpKind::Gelu), 21);
    let ids = random_ids(&mut Rng::new(22), 2, 10, 37);
    let single = model.forward(&ids, false).unwrap();
    model.to_kind(Kind::Double).unwrap();
    assert_eq!(model.kind(), Kind::Double);
    let double = model.forward(&ids, false).unwrap();
    assert_eq!(double.kind(), Kind::Double);
    assert!(max_abs_diff(&single.to_kind(Kind::Double), &double) < 1e-5);
    assert_eq!(
        model.named_tensors()[0].1.data_ptr(),
        model.head_weight().data_ptr()
    );
    assert!(model
        .named_tensors()
        .iter()
        .all(|(_, t)| t.requires_grad() && t.kind() == Kind::Double));
}

#[test]
fn gpt_is_send() {
    fn send<T: Send>(_: &T) {}
    send(&build(&tiny(Positions::Learned, MlpKind::Gelu), 0));
    let _: fn(&Gpt) = |_| {};
}
