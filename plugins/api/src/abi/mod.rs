//! The C ABI between the exp host and a plugin library.
//!
//! - `types`: the `#[repr(C)]` types and constants, the only file the C header
//!   (`include/exp_plugin.h`) is generated from; its module doc states the rules.
//! - `export`: the plugin side, generic `extern "C"` glue that turns safe SDK implementations
//!   into those tables, catching every panic.
//! - `values`: building the `FfiValue` trees the host hands a plugin.
//!
//! `types` and `export` (with the host's `host` module) are the only places with `unsafe`.

mod export;
mod types;
pub mod values;

pub use export::{
    export_dataset, export_evaluator, export_exporter, export_merger, export_model,
    export_optimizer, export_regularizer, export_scheduler, export_text_dataset, export_tokenizer,
    last_error, last_error_field, read_json, read_value, ComponentExport, PluginExport, VTable,
};
pub use types::*;
