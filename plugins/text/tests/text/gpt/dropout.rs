//! Deterministic dropout: free when off, seeded and resumable when on.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::{Device, Kind};
use exp_text::gpt::dropout::{keep_mask, mask_key};
use exp_text::gpt::{GptConfig, MlpKind, Positions};

use super::{build, max_abs_diff, random_ids, tiny};

#[test]
fn dropout_zero_changes_nothing_and_draws_nothing() {
    let model = build(&tiny(Positions::Learned, MlpKind::Gelu), 40);
    let ids = random_ids(&mut Rng::new(41), 2, 10, 37);
    let train = model.forward(&ids, true).unwrap();
    let eval = model.forward(&ids, false).unwrap();
    assert!(train.equal(&eval));
    assert_eq!(model.dropout_calls(), 0);
}

#[test]
fn dropout_is_seeded_and_resumable() {
    let config = GptConfig {
        dropout: 0.3,
        ..tiny(Positions::Alibi, MlpKind::Gelu)
    };
    let model = build(&config, 42);
    let twin = build(&config, 42);
    let ids = random_ids(&mut Rng::new(43), 2, 10, 37);
    let eval = model.forward(&ids, false).unwrap();
    assert!(
        eval.equal(&model.forward(&ids, false).unwrap()),
        "eval uses no dropout"
    );
    assert_eq!(model.dropout_calls(), 0);
    let first = model.forward(&ids, true).unwrap();
    let second = model.forward(&ids, true).unwrap();
    assert!(max_abs_diff(&first, &eval) > 1e-3);
    assert!(
        max_abs_diff(&first, &second) > 1e-3,
        "each call draws new masks"
    );
    assert!(
        first.equal(&twin.forward(&ids, true).unwrap()),
        "same seed, same masks"
    );
    assert_eq!(model.dropout_calls(), 2);
    // Restoring the counter replays the stream.
    model.set_dropout_calls(1);
    assert!(second.equal(&model.forward(&ids, true).unwrap()));
    // Another seed, other masks.
    let other = build(&config, 44);
    assert!(!first.equal(&other.forward(&ids, true).unwrap()));
}

#[test]
fn keep_masks_have_the_right_rate_and_no_visible_structure() {
    let shape = [64, 1000];
    for p in [0.1, 0.5, 0.9] {
        let mask = keep_mask(&shape, mask_key(1, 0, 0), p, Device::Cpu).unwrap();
        assert_eq!(mask.kind(), Kind::Bool);
        assert_eq!(mask.size(), shape);
        let kept = mask
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[]);
        // 64 000 Bernoulli draws: the standard error is below 0.002.
        assert!((kept - (1.0 - p)).abs() < 0.01, "p={p}: kept {kept}");
    }
    let as_float = |key| {
        keep_mask(&shape, key, 0.5, Device::Cpu)
            .unwrap()
            .to_kind(Kind::Double)
            .flatten(0, -1)
    };
    let correlation = |a: &exp_plugin_api::tch::Tensor, b: &exp_plugin_api::tch::Tensor| {
        let (a, b) = (a - a.mean(Kind::Double), b - b.mean(Kind::Double));
        ((&a * &b).sum(Kind::Double)
            / ((&a * &a).sum(Kind::Double) * (&b * &b).sum(Kind::Double)).sqrt())
        .double_value(&[])
    };
    let mask = as_float(mask_key(1, 0, 0));
    // Neighbouring elements, consecutive calls and neighbouring sites are uncorrelated.
    let n = mask.size()[0];
    let neighbour = correlation(&mask.narrow(0, 0, n - 1), &mask.narrow(0, 1, n - 1));
    let next_call = correlation(&mask, &as_float(mask_key(1, 1, 0)));
    let next_site = correlation(&mask, &as_float(mask_key(1, 0, 1)));
    for value in [neighbour, next_call, next_site] {
        assert!(value.abs() < 0.02, "correlation {value}");
    }
}
