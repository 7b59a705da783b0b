//! A plugin that says it was built against another libtorch: the host must refuse it before
//! touching any tensor, saying which releases disagree.

use std::sync::OnceLock;

use exp_plugin_api::abi::{FfiPlugin, PluginExport};

#[no_mangle]
pub extern "C" fn exp_plugin_entry() -> *const FfiPlugin {
    static EXPORT: OnceLock<PluginExport> = OnceLock::new();
    EXPORT
        .get_or_init(|| PluginExport::new("wrong_build", "0.1.0", Vec::new()).with_libtorch_version("1.0.0"))
        .descriptor()
}
