//! Exporters: `huggingface`, a `gpt` model and its tokenizer as a folder `transformers` loads.

pub mod huggingface;
