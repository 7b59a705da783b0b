//! Builds the autocast shim (src/precision/autocast.cpp) against the libtorch that torch-sys
//! found, with the same C++ library ABI.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=src/precision/autocast.cpp");
    // torch-sys (`links = "tch"`) passes its libtorch's lib directory to dependents.
    let lib = std::env::var("DEP_TCH_LIBTORCH_LIB").unwrap_or_else(|_| {
        panic!("torch-sys did not say where libtorch is (DEP_TCH_LIBTORCH_LIB); run ./setup.sh")
    });
    let root = Path::new(&lib)
        .parent()
        .expect("libtorch's lib directory has a parent");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(root.join("include"))
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", abi.as_str())
        .file("src/precision/autocast.cpp")
        .compile("exp_autocast");
}
