//! A plugin that claims a future ABI major version: the host must refuse it with an error that
//! says which versions disagree, and never call into it.

use std::sync::OnceLock;

use exp_plugin_api::abi::{FfiPlugin, PluginExport, ABI_MAJOR};

#[no_mangle]
pub extern "C" fn exp_plugin_entry() -> *const FfiPlugin {
    static EXPORT: OnceLock<PluginExport> = OnceLock::new();
    EXPORT
        .get_or_init(|| PluginExport::new("wrong_abi", "0.1.0", Vec::new()).with_abi_version(ABI_MAJOR + 1, 0))
        .descriptor()
}
