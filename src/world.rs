//! `FileWorld`: how the binary resolves `import`s for the checker. `std.*` modules are the
//! files of `stdlib/`, embedded in the binary under pseudo-paths (`<stdlib/digits.exp>`) so
//! diagnostics can point into them; any other dotted path is a file beside the experiment
//! (`import shared.models` reads `shared/models.exp`).

use std::path::PathBuf;

use exp_check::World;

/// The stdlib modules, embedded at build time.
pub const STDLIB: &[(&str, &str)] = &[
    ("digits", include_str!("../stdlib/digits.exp")),
    ("continual", include_str!("../stdlib/continual.exp")),
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
}
