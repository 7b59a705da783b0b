//! The plugin boundary of exp.
//!
//! - `abi`: the only place with `#[repr(C)]`, `extern "C"` and raw pointers: the descriptor a
//!   plugin exports, the per-kind function tables, and the generic glue that turns safe SDK
//!   implementations into those tables (catching every panic). `include/exp_plugin.h` is the
//!   same ABI for C and C++ authors, generated from `abi/types.rs`.
//! - `sdk`: what a plugin author writes against: one safe trait per component kind, parameters
//!   declared once on a config struct (`#[derive(Config)]`), and the `export_plugin!` macro.
//! - `host` (feature `host`): what the exp runtime uses: loading a library, checking its ABI
//!   version and build fingerprint, and safe `Foreign*` wrappers over the tables.
//!
//! See docs/plugin-abi.md for the layout and the versioning rules.

// The derives generate paths through `::exp_plugin_api`, which must also resolve here.
extern crate self as exp_plugin_api;

pub mod abi;
pub mod sdk;

#[cfg(feature = "host")]
pub mod host;

pub use exp_ir;
pub use serde_json;
pub use tch;

/// The tch release the ABI is built against; tensors cross as its `C_tensor` handles.
pub const TCH_VERSION: &str = "0.26";

/// A description of this build for records: ABI, tch, libtorch and target.
pub fn build_fingerprint() -> String {
    format!(
        "exp-plugin-abi {}.{}; tch {}; libtorch {}; target {}",
        abi::ABI_MAJOR,
        abi::ABI_MINOR,
        TCH_VERSION,
        env!("EXP_LIBTORCH_VERSION"),
        env!("EXP_BUILD_TARGET"),
    )
}

/// The libtorch release this build of exp links, as the wheel names it (`2.13.0+cu130`).
pub fn libtorch_version() -> &'static str {
    env!("EXP_LIBTORCH_VERSION")
}

/// The libtorch release a plugin must have been built against: `MAJOR.MINOR.PATCH`, without
/// the wheel's local part (`+cu130`), which names the CUDA build but not a different
/// `at::Tensor`. It is what a C++ plugin reads from `TORCH_VERSION`.
pub fn libtorch_release() -> &'static str {
    let version = libtorch_version();
    version.split('+').next().unwrap_or(version)
}
