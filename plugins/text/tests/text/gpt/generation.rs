//! Cached batched greedy generation against plain argmax decoding without a cache.

use std::time::Instant;

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::{Kind, Tensor};
use exp_text::gpt::{Gpt, GptConfig, MlpKind, Positions};

use super::{build, randomise, tiny, variants, POSITIONS};

/// Greedy decoding by recomputing the whole sequence at each step (no cache, no batching).
fn uncached(model: &Gpt, prompt: &[i64], max_new: usize, stop: Option<i64>) -> Vec<i64> {
    let context = model.config().context_length as usize;
    let budget = max_new.min(context + 1 - prompt.len());
    let mut sequence = prompt.to_vec();
    let mut new = Vec::new();
    while new.len() < budget {
        let ids = Tensor::from_slice(&sequence).view([1, -1]);
        let logits = model.forward(&ids, false).unwrap();
        let next = logits
            .get(0)
            .get(sequence.len() as i64 - 1)
            .argmax(0, false)
            .int64_value(&[]);
        new.push(next);
        sequence.push(next);
        if Some(next) == stop {
            break;
        }
    }
    new
}

/// A float64 model with random (non-initial) weights, so predictions vary and near-ties between
/// logits are far below float64 rounding.
fn sharp_model(config: &GptConfig, seed: u64) -> Gpt {
    let mut model = build(config, seed);
    model.to_kind(Kind::Double).unwrap();
    randomise(&model, seed + 100);
    model
}

fn prompts(rng: &mut Rng, vocab: i64) -> Vec<Vec<i64>> {
    // Lengths 1 to 16 (the context): mixed in one batch, so rows are left-padded differently.
    [3, 1, 7, 16, 14, 5, 10, 2]
        .iter()
        .map(|length| {
            (0..*length)
                .map(|_| (rng.next_u64() % vocab as u64) as i64)
                .collect()
        })
        .collect()
}

#[test]
fn cached_generation_equals_uncached_decoding() {
    for (positions, mlp) in variants() {
        let model = sharp_model(&tiny(positions, mlp), 50);
        let prompts = prompts(&mut Rng::new(51), 37);
        let generated = model.generate(&prompts, 12, None).unwrap();
        for (prompt, new) in prompts.iter().zip(&generated) {
            let expected = uncached(&model, prompt, 12, None);
            assert_eq!(new, &expected, "{positions:?} {mlp:?}, prompt {prompt:?}");
        }
        // Each prompt alone gives the same tokens as in the batch.
        let alone = model.generate(&prompts[2..3], 12, None).unwrap();
        assert_eq!(alone[0], generated[2]);
    }
}

#[test]
fn generation_respects_the_context_length() {
    for positions in POSITIONS {
        let model = sharp_model(&tiny(positions, MlpKind::Gelu), 52);
        let mut rng = Rng::new(53);
        let prompt = |length: usize, rng: &mut Rng| -> Vec<i64> {
            (0..length).map(|_| (rng.next_u64() % 37) as i64).collect()
        };
        // Context 16: a 14-token prompt can get 3 more tokens (the last one fed sits at
        // position 15), a full 16-token prompt one, a 4-token prompt all 12 asked for.
        let prompts = vec![
            prompt(14, &mut rng),
            prompt(16, &mut rng),
            prompt(4, &mut rng),
        ];
        let generated = model.generate(&prompts, 12, None).unwrap();
        let lengths: Vec<usize> = generated.iter().map(Vec::len).collect();
        assert_eq!(lengths, [3, 1, 12], "{positions:?}");
        for (prompt, new) in prompts.iter().zip(&generated) {
            assert_eq!(new, &uncached(&model, prompt, 12, None), "{positions:?}");
        }
    }
}

#[test]
fn rows_stop_at_the_stop_token() {
    let model = sharp_model(&tiny(Positions::Rope, MlpKind::Swiglu), 54);
    let prompts = prompts(&mut Rng::new(55), 37);
    let free = model.generate(&prompts, 8, None).unwrap();
    // Stop at the third token of row 0: row 0 ends there, the stop token included.
    let stop = free[0][2];
    let stopped = model.generate(&prompts, 8, Some(stop)).unwrap();
    for ((prompt, free), stopped) in prompts.iter().zip(&free).zip(&stopped) {
        assert_eq!(stopped, &uncached(&model, prompt, 8, Some(stop)));
        let end = free
            .iter()
            .position(|token| *token == stop)
            .map_or(free.len(), |at| at + 1);
        assert_eq!(stopped[..], free[..end]);
    }
    assert!(stopped[0].len() <= 3 && stopped[0].last() == Some(&stop));
    assert_eq!(
        model.generate(&prompts, 0, None).unwrap(),
        vec![Vec::<i64>::new(); 8]
    );
    assert!(model.generate(&[], 5, None).unwrap().is_empty());
}

#[test]
fn five_hundred_short_prompts_take_seconds() {
    // About 1M parameters: 5 blocks of width 128 (12·128² each) plus small embeddings.
    let config = GptConfig {
        positions: Positions::Learned,
        ..GptConfig::new(32, 64, 128, 5, 4)
    };
    let model = build(&config, 56);
    assert!((900_000..1_200_000).contains(&model.parameter_count()));
    let mut rng = Rng::new(57);
    let prompts: Vec<Vec<i64>> = (0..500)
        .map(|_| {
            (0..6 + rng.next_u64() % 5)
                .map(|_| (rng.next_u64() % 32) as i64)
                .collect()
        })
        .collect();
    let start = Instant::now();
    let generated = model.generate(&prompts, 6, Some(1)).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "500 prompts × ≤6 new tokens on {} parameters: {seconds:.2} s",
        model.parameter_count()
    );
    assert_eq!(generated.len(), 500);
    assert!(generated
        .iter()
        .all(|new| !new.is_empty() && new.len() <= 6));
    assert!(seconds < 30.0, "generation took {seconds} s");
}
