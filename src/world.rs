//! `FileWorld`: how the binary resolves `import`s for the checker. `std.*` modules are the
//! files of `stdlib/`, embedded in the binary under pseudo-paths (`<stdlib/digits.exp>`) so
//! diagnostics can point into them; any other dotted path is a file beside the experiment
//! (`import shared.models` reads `shared/models.exp`). Paths in components' parameters are
//! relative to the file that wrote them.

use std::path::{Path, PathBuf};

use exp_check::World;

/// The stdlib modules, embedded at build time.
pub const STDLIB: &[(&str, &str)] = &[
    ("digits", include_str!("../stdlib/digits.exp")),
    ("continual", include_str!("../stdlib/continual.exp")),
    ("text", include_str!("../stdlib/text.exp")),
    ("shapes", include_str!("../stdlib/shapes.exp")),
];

pub struct FileWorld {
    /// The directory of the main experiment file.
    pub base: PathBuf,
}

impl World for FileWorld {
    fn load_module(&self, path: &[String]) -> Option<(String, Vec<u8>)> {
        match path {
            [root, rest @ ..] if root == "std" && !rest.is_empty() => {
                let name = rest.join("/");
                STDLIB
                    .iter()
                    .find(|(module, _)| *module == name)
                    .map(|(module, text)| {
                        (format!("<stdlib/{module}.exp>"), text.as_bytes().to_vec())
                    })
            }
            [] => None,
            parts => {
                let mut file = self.base.clone();
                for part in parts {
                    file.push(part);
                }
                file.set_extension("exp");
                let bytes = std::fs::read(&file).ok()?;
                Some((file.display().to_string(), bytes))
            }
        }
    }

    /// Relative to the directory of the file that wrote it (a module beside the experiment,
    /// or the experiment itself; the stdlib's paths are the experiment's), made absolute so
    /// that a plugin reads the same file whatever its working directory.
    fn resolve_path(&self, written_in: &str, path: &str) -> String {
        let path = Path::new(path);
        if path.is_absolute() {
            return path.display().to_string();
        }
        let written_in = Path::new(written_in);
        let dir = match written_in.parent() {
            Some(parent) if written_in.is_file() => parent.to_path_buf(),
            _ => self.base.clone(),
        };
        let joined = dir.join(path);
        let absolute = match std::env::current_dir() {
            Ok(cwd) if joined.is_relative() => cwd.join(joined),
            _ => joined,
        };
        absolute.display().to_string()
    }
}
