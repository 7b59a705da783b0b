//! The text plugin's integration tests, one binary: the decoder through its public API (`gpt`),
//! the generators' pinned outputs (`pinned`), and parity with Python's `tokenizers` and
//! `transformers` through the components (`python_roundtrip`, `hf_export`), which run the
//! project's virtual environment (`python`).

mod gpt;
mod hf_export;
mod pinned;
mod python;
mod python_roundtrip;
