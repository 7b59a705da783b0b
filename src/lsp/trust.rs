//! Workspace trust: which folders' files may make the language server load plugins.
//!
//! A plugin is a shared library, and loading one runs its code. `exp check` and `exp run` load
//! the plugins a file names because the user asked for that file; an editor opens files from
//! anywhere. So the server loads a plugin that a file names (a `plugin "…"` line, or an entry
//! of `EXP_PLUGIN_PATH`) only for files inside a trusted folder. Elsewhere it uses what the
//! schema cache already holds and the plugins that came with exp (beside the binaries), and
//! says so in a diagnostic.
//!
//! A folder is trusted when the user trusted it through the server (the `exp.trustFolder`
//! command, offered as a quick fix on that diagnostic), which is remembered in
//! `$XDG_CONFIG_HOME/exp/trusted-folders.json` (else `~/.config/exp/…`), or when the editor
//! says so for this session (`initializationOptions.trustedFolders`, which the VS Code
//! extension fills from VS Code's own workspace trust).

use std::path::{Path, PathBuf};

pub struct Trust {
    /// Trusted for this session by the editor.
    session: Vec<PathBuf>,
    /// Trusted by the user, remembered in `file`.
    remembered: Vec<PathBuf>,
    file: Option<PathBuf>,
}

fn config_file() -> Option<PathBuf> {
    Some(crate::config::user_dir()?.join("trusted-folders.json"))
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

impl Trust {
    pub fn load(session: Vec<PathBuf>) -> Trust {
        let file = config_file();
        let remembered: Vec<PathBuf> = file
            .as_ref()
            .and_then(|file| std::fs::read(file).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Trust {
            session: session.iter().map(|path| canonical(path)).collect(),
            remembered,
            file,
        }
    }

    /// Whether a file in `dir` may make the server load the plugins it names.
    pub fn is_trusted(&self, dir: &Path) -> bool {
        let dir = canonical(dir);
        self.session
            .iter()
            .chain(&self.remembered)
            .any(|folder| dir.starts_with(folder))
    }

    /// Trusts a folder from now on, remembering it for later sessions.
    pub fn trust(&mut self, folder: &Path) -> std::io::Result<()> {
        let folder = canonical(folder);
        if !self.remembered.contains(&folder) {
            self.remembered.push(folder);
        }
        let Some(file) = &self.file else {
            return Ok(());
        };
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(&self.remembered).map_err(std::io::Error::other)?;
        let temporary = file.with_extension("json.tmp");
        std::fs::write(&temporary, json)?;
        std::fs::rename(&temporary, file)
    }
}
