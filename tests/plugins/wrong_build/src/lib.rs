//! A plugin whose build fingerprint names another libtorch: the host must refuse it before
//! touching any tensor, saying which builds disagree.

use std::sync::OnceLock;

use exp_plugin_api::abi::{FfiPlugin, PluginExport};

#[no_mangle]
pub extern "C" fn exp_plugin_entry() -> *const FfiPlugin {
    static EXPORT: OnceLock<PluginExport> = OnceLock::new();
    EXPORT
        .get_or_init(|| {
            let fingerprint = exp_plugin_api::build_fingerprint().replace("libtorch ", "libtorch 1.0.0-was-");
            PluginExport::new("wrong_build", "0.1.0", Vec::new()).with_fingerprint(&fingerprint)
        })
        .descriptor()
}
