//! Times what a text study spends outside training: decoding the corpus, generating domain text,
//! training the `bpe` tokenizer on the corpus, tokenizing it, and greedy generation with `gpt`.
//!
//! `cargo run --release -p exp-text --example timing [vocab_size]` (default 4096). Libtorch's
//! threads follow `OMP_NUM_THREADS`; exp runs at one thread by default.

use std::collections::BTreeMap;
use std::time::Instant;

use exp_plugin_api::sdk::{
    build, Context, DataInfo, Model, Split, TextDataset, TokenInfo, Tokenizer,
};
use exp_plugin_api::serde_json::json;
use exp_text::dataset::arithmetic::Arithmetic;
use exp_text::dataset::code::Code;
use exp_text::dataset::corpus::Corpus;
use exp_text::dataset::facts::Facts;
use exp_text::dataset::legal::Legal;
use exp_text::model::gpt::GptModel;
use exp_text::tokenizer::Bpe;

fn time<T>(label: &str, work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = work();
    println!("{label:<58} {:>9.2} s", start.elapsed().as_secs_f64());
    value
}

fn context(data: Option<DataInfo>) -> Context {
    Context {
        seed: 0,
        device: "cpu".into(),
        data,
    }
}

fn main() {
    let vocab_size: usize = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(4096);
    let corpus = time("corpus: decode and split the six novels", || {
        build::<Corpus>(json!({}), &context(None)).unwrap()
    });
    time("arithmetic: 10,000 problems", || {
        build::<Arithmetic>(json!({"count": 10_000}), &context(None)).unwrap()
    });
    time("code: 10,000 programs", || {
        build::<Code>(json!({"count": 10_000}), &context(None)).unwrap()
    });
    time("facts: 5,000 people (10,000 biographies)", || {
        build::<Facts>(json!({"count": 5_000}), &context(None)).unwrap()
    });
    time("legal: 10,000 contracts", || {
        build::<Legal>(json!({"count": 10_000}), &context(None)).unwrap()
    });

    let train = corpus.documents(Split::Train).unwrap();
    let texts: Vec<&str> = train
        .iter()
        .map(|document| document.text.as_str())
        .collect();
    let bytes: usize = texts.iter().map(|text| text.len()).sum();
    let mut bpe = build::<Bpe>(json!({"vocab_size": vocab_size}), &context(None)).unwrap();
    time(
        &format!(
            "bpe: train {vocab_size} tokens on {} chapters ({:.1} MB)",
            texts.len(),
            bytes as f64 / 1e6
        ),
        || bpe.train(&texts).unwrap(),
    );
    let ids = time("bpe: encode the train chapters", || {
        bpe.encode(&texts).unwrap()
    });
    let tokens: usize = ids.iter().map(Vec::len).sum();
    println!(
        "  {tokens} tokens, {:.2} bytes per token",
        bytes as f64 / tokens as f64
    );

    let vocabulary = bpe.vocabulary();
    let data = DataInfo {
        input_shape: vec![256],
        classes: vocabulary.vocab_size,
        train_len: 1,
        validation_len: 0,
        test_len: 0,
        source: String::new(),
        license: String::new(),
        tokens: Some(TokenInfo {
            vocab_size: vocabulary.vocab_size,
            special: BTreeMap::new(),
        }),
        ..Default::default()
    };
    for (name, params) in [
        (
            "~1M",
            json!({"width": 128, "depth": 3, "heads": 4, "context": 256}),
        ),
        (
            "~10M",
            json!({"width": 320, "depth": 7, "heads": 5, "context": 256}),
        ),
    ] {
        let model = build::<GptModel>(params, &context(Some(data.clone()))).unwrap();
        let parameters = model.gpt().parameter_count();
        let prompts: Vec<Vec<i64>> = ids
            .iter()
            .take(64)
            .map(|document| document.iter().take(32).map(|id| i64::from(*id)).collect())
            .collect();
        let start = Instant::now();
        let generated = model.generate(&prompts, 64, None).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        let new: usize = generated.iter().map(Vec::len).sum();
        println!(
            "gpt {name} ({parameters} parameters): 64 prompts × 64 new tokens in {seconds:.2} s, {:.0} tokens/s",
            new as f64 / seconds
        );
        let start = Instant::now();
        let single = model.generate(&prompts[..1], 64, None).unwrap();
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "gpt {name}: one prompt × 64 new tokens in {seconds:.3} s, {:.0} tokens/s",
            single[0].len() as f64 / seconds
        );
    }
}
