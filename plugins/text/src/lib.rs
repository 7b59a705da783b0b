//! The text components of exp, as the plugin `libexp_text.so`: an ordinary plugin that sees only
//! the SDK, loaded beside `exp` like the std plugin.
//!
//! - `dataset`: text datasets: the shipped Austen corpus (`corpus`), a user's files
//!   (`text_files`), and generated domains (`arithmetic`, `code`, `facts`, `facts_qa`, `legal`).
//! - `tokenizer`: `bpe`, `bytes` and `tokenizer_file`, over Hugging Face's `tokenizers`.
//! - `model`: `gpt`, a GPT-style decoder over token ids.
//! - `evaluator`: `perplexity`, `exact_match` and `samples`.
//! - `exporter`: `huggingface`, a `gpt` model and its tokenizer for `transformers`.
//!
//! Below the components, plain modules hold the work itself, usable without the SDK's traits:
//! `data` (the generators, the corpus and the split by document), `tokenizer::byte_level`
//! (training and running byte-level BPE) and `gpt` (the decoder, its generation and its export).

pub mod data;
pub mod dataset;
pub mod evaluator;
pub mod exporter;
pub mod gpt;
pub mod model;
pub mod tokenizer;

exp_plugin_api::export_plugin! {
    name: "text",
    version: env!("CARGO_PKG_VERSION"),
    text_datasets: [
        dataset::corpus::Corpus,
        dataset::text_files::TextFiles,
        dataset::arithmetic::Arithmetic,
        dataset::code::Code,
        dataset::facts::Facts,
        dataset::facts::FactsQa,
        dataset::legal::Legal,
    ],
    models: [model::gpt::GptModel],
    evaluators: [
        evaluator::perplexity::Perplexity,
        evaluator::likelihood::Likelihood,
        evaluator::exact_match::ExactMatch,
        evaluator::samples::Samples,
    ],
    tokenizers: [tokenizer::Bpe, tokenizer::Bytes, tokenizer::TokenizerFile],
    exporters: [exporter::huggingface::HuggingFace],
}
