//! The plugin boundary of exp.
//!
//! - `abi`: the only place with `#[repr(C)]`, `extern "C"` and raw pointers: the descriptor a
//!   plugin exports, the per-kind function tables, and the generic glue that turns safe SDK
//!   implementations into those tables (catching every panic).
//! - `sdk`: what a plugin author writes against: one safe trait per component kind, parameter
//!   access with errors that name the field, and the `export_plugin!` macro.
//! - `host` (feature `host`): what the exp runtime uses: loading a library, checking its ABI
//!   version and build fingerprint, and safe `Foreign*` wrappers over the tables.
//!
//! See docs/plugin-abi.md for the layout and the versioning rules.

pub mod abi;
pub mod sdk;

#[cfg(feature = "host")]
pub mod host;

pub use exp_ir;
pub use serde_json;
pub use tch;

/// The build fingerprint: a plugin is used only when its fingerprint equals the host's. Two
/// builds against different libtorch versions or targets would disagree on tensor layout.
pub fn build_fingerprint() -> String {
    format!(
        "exp-plugin-abi {}.{}; tch {}; libtorch {}; target {}",
        abi::ABI_MAJOR,
        abi::ABI_MINOR,
        abi::TCH_VERSION,
        env!("EXP_LIBTORCH_VERSION"),
        env!("EXP_BUILD_TARGET"),
    )
}

/// The libtorch version this build of exp (and every compatible plugin) links.
pub fn libtorch_version() -> &'static str {
    env!("EXP_LIBTORCH_VERSION")
}
