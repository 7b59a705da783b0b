//! The checker: loads a file's imports through `World`, resolves every name, validates every
//! component against the schemas a `Catalog` reports, and reports all errors in one pass.
//!
//! Input is source text in a `SourceMap`; output is a `Program` (when there are no errors)
//! and diagnostics. This crate does no IO (STYLE L2): the binary implements both traits.

use std::collections::BTreeMap;

mod check_error;
mod checker;
mod hash;
mod program;
pub mod testing;

pub use check_error::{AgainstProblem, CheckError, ChooseProblem, Expect};
pub use checker::{block_fields, check, check_file, check_file_keeping_syntax};
pub use program::{Body, CheckedDef, DefId, MergeOver, Program, SequenceMerge, Stages};

use exp_ir::{ComponentKind, ComponentSchema, Value};

/// The components the loaded plugins provide.
pub trait Catalog {
    fn component(&self, kind: ComponentKind, name: &str) -> Option<&ComponentSchema>;
    /// Every component name of one kind, for suggestions and help lists.
    fn names(&self, kind: ComponentKind) -> Vec<&str>;
    /// The component's own check of a full parameter set (defaults filled in, each value
    /// already valid for its schema): the rules between parameters that a schema cannot
    /// state, such as one value per point. A catalog that cannot ask the plugin (one built
    /// from cached schemas) accepts everything; the plugin checks again when it builds the
    /// component.
    fn check_params(
        &self,
        _kind: ComponentKind,
        _name: &str,
        _params: &BTreeMap<String, Value>,
    ) -> Result<(), ParamsRejected> {
        Ok(())
    }
}

/// Why a component refused its parameters: the parameter it blames, if one, and its words.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamsRejected {
    pub param: Option<String>,
    pub message: String,
}

/// Where imported modules come from.
pub trait World {
    /// The module at a dotted path (`import std.digits` asks for `["std", "digits"]`):
    /// its display name (such as `<stdlib/digits.exp>`) and its bytes, or `None` if there is
    /// none. The checker decodes the bytes, so a module that is not UTF-8 gets a located error.
    fn load_module(&self, path: &[String]) -> Option<(String, Vec<u8>)>;

    /// A path written in a component's parameter (one its schema marks `path`) in the file
    /// named `written_in` (a name `load_module` or the caller gave): where it names, relative
    /// to that file. Globs stay globs. By default the path as written.
    fn resolve_path(&self, _written_in: &str, path: &str) -> String {
        path.to_string()
    }
}

#[cfg(test)]
mod tests;
