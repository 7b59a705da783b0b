//! Where plugins are, without loading any: the `plugin "path"` lines of the experiment file,
//! every library in the entries of `EXP_PLUGIN_PATH`, and the `libexp_*` libraries beside the
//! `exp` binaries, in that order (the first plugin that provides a component wins).
//!
//! `exp` reads their schemas from the schema cache (`schema_cache`); `exp-host` loads them
//! (`discover`). Both start from this one list, so they always agree on which files count.

use std::path::{Path, PathBuf};

/// Where a plugin file was named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// The experiment file's `plugin` line with this index.
    Line(usize),
    /// An entry of `EXP_PLUGIN_PATH`.
    PluginPath,
    /// Beside the binaries: a library there without the entry symbol is not a plugin and is
    /// skipped silently.
    Beside,
}

/// A file that may be a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFile {
    pub path: PathBuf,
    pub named: Named,
}

/// Every plugin file, and the entries of `EXP_PLUGIN_PATH` that name nothing (most likely a
/// typo: warned about, since the plugins a user meant to add are then silently missing).
pub struct PluginFiles {
    pub files: Vec<PluginFile>,
    pub missing_entries: Vec<PathBuf>,
}

impl PluginFiles {
    /// One line per entry of `EXP_PLUGIN_PATH` that does not exist.
    pub fn warnings(&self) -> Vec<String> {
        self.missing_entries
            .iter()
            .map(|entry| {
                format!(
                    "warning: `EXP_PLUGIN_PATH` names `{}`, which does not exist; no plugin was loaded from it",
                    entry.display()
                )
            })
            .collect()
    }
}

fn is_library(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|ext| ext.to_str()),
        Some("so" | "dylib" | "dll")
    )
}

fn libraries_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.is_file() && is_library(path))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The directory holding the running binary: workspace-built plugins (and `exp-host`) sit
/// beside it.
pub fn binary_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
}

/// Which sources to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// `plugin` lines, `EXP_PLUGIN_PATH` and the binaries' directory, as every command does.
    All,
    /// Only the binaries' directory: the plugins that came with exp, which a language server
    /// may use before the user trusts a folder.
    Beside,
}

/// Lists the plugin files. `explicit` are the `plugin` lines, already resolved against the
/// experiment's directory.
pub fn find(explicit: &[PathBuf], sources: Sources) -> PluginFiles {
    let mut files = Vec::new();
    let mut missing_entries = Vec::new();
    if sources == Sources::All {
        for (line, path) in explicit.iter().enumerate() {
            files.push(PluginFile {
                path: path.clone(),
                named: Named::Line(line),
            });
        }
        if let Some(paths) = std::env::var_os("EXP_PLUGIN_PATH") {
            for dir in std::env::split_paths(&paths).filter(|dir| !dir.as_os_str().is_empty()) {
                if !dir.exists() {
                    missing_entries.push(dir);
                    continue;
                }
                let candidates = if dir.is_file() {
                    vec![dir.clone()]
                } else {
                    libraries_in(&dir)
                };
                files.extend(candidates.into_iter().map(|path| PluginFile {
                    path,
                    named: Named::PluginPath,
                }));
            }
        }
    }
    if let Some(dir) = binary_dir() {
        // Workspace plugin crates are named `exp-*`, so their libraries are `libexp_*`; other
        // libraries that happen to be built beside the binary are not picked up.
        let beside = libraries_in(&dir).into_iter().filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("libexp_") || name.starts_with("exp_"))
        });
        files.extend(beside.map(|path| PluginFile {
            path,
            named: Named::Beside,
        }));
    }
    PluginFiles {
        files,
        missing_entries,
    }
}

/// The `plugin "path"` lines of a file, resolved against its directory, with their spans.
pub fn plugin_lines(text: &str, base: &Path) -> Vec<(PathBuf, exp_diag::Span)> {
    let (ast, _) = exp_syntax::parse(exp_diag::FileId(0), text);
    exp_syntax::plugin_paths(&ast)
        .into_iter()
        .map(|(path, span)| (base.join(path), span))
        .collect()
}
