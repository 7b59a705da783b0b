//! End-to-end tests: the real `exp` binary on small `.exp` files, with the real std plugin and
//! out-of-tree plugins built by the tests themselves. One test binary (STYLE T3).

mod analysis;
mod browser;
mod cache;
mod cli;
mod diffusion;
mod editor;
mod experiments;
mod fast_check;
mod fmt;
mod helps;
mod highlight;
mod lsp;
mod malformed;
mod mergers;
mod plugins;
mod policy;
mod records;
mod reference;
mod resume;
mod run;
mod slurm;
mod studies;
mod support;
mod text;
mod tidy;
mod ui;
