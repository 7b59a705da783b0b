//! Records the libtorch version and the target triple at build time: they go into every
//! plugin's build fingerprint, which the host compares with its own before using a plugin.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let target = env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=EXP_BUILD_TARGET={target}");
    let version = env::var("LIBTORCH")
        .ok()
        .map(PathBuf::from)
        .and_then(|root| {
            // The PyPI wheel has torch/version.py; a plain libtorch zip has build-version.
            let from_wheel = fs::read_to_string(root.join("version.py"))
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|line| line.strip_prefix("__version__ = "))
                        .map(|quoted| {
                            quoted
                                .trim()
                                .trim_matches('\'')
                                .trim_matches('"')
                                .to_string()
                        })
                });
            from_wheel.or_else(|| {
                fs::read_to_string(root.join("build-version"))
                    .ok()
                    .map(|text| text.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=EXP_LIBTORCH_VERSION={version}");
}
