//! The syntax of `.exp` files: the pest grammar (`grammar.pest`, described in `GRAMMAR.md`),
//! the AST with spans (`ast`), `decode`, which turns a file's bytes into text, `parse`, which
//! turns text into an AST plus diagnostics, and `format`, which prints a file in its canonical
//! layout with its comments.
//!
//! This crate does no IO and knows nothing of plugins or components: names are resolved by
//! `exp-check`. pest is private to the `parser` module; nothing public mentions it (STYLE L4).

pub mod ast;
mod decode;
mod dump;
mod format;
mod parse_error;
mod parser;

pub use decode::{add_source, decode, Decoded};
pub use dump::dump;
pub use format::format;
pub use parse_error::ParseError;
pub use parser::parse;

use exp_diag::Span;

/// The `plugin "path"` lines of a file, as written, with the span of each path literal.
/// The binary loads these plugins to build its `Catalog` before the file is checked.
pub fn plugin_paths(file: &ast::File) -> Vec<(String, Span)> {
    file.items
        .iter()
        .filter_map(|item| match item {
            ast::Item::Plugin(plugin) => Some((plugin.path.clone(), plugin.path_span)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod format_tests;
#[cfg(test)]
mod tests;
