//! `include/exp_plugin.h` is the ABI for C and C++ authors. It is generated from
//! `src/abi/types.rs` by cbindgen; these tests keep it generated (not hand-edited), compilable
//! as C and C++ with every warning an error, and laid out exactly as Rust lays out the types.

use std::path::{Path, PathBuf};
use std::process::Command;

use exp_plugin_api::abi::*;

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn header_path() -> PathBuf {
    crate_dir().join("include/exp_plugin.h")
}

fn generated() -> String {
    let config = cbindgen::Config::from_file(crate_dir().join("cbindgen.toml"))
        .expect("plugins/api/cbindgen.toml is readable");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir().join("src/abi/types.rs"))
        .generate()
        .expect("cbindgen reads src/abi/types.rs");
    let mut bytes = Vec::new();
    bindings.write(&mut bytes);
    String::from_utf8(bytes).expect("the header is UTF-8")
}

#[test]
fn the_c_header_is_generated_from_the_abi_types() {
    let generated = generated();
    // The generated text, written back when asked (as insta does for snapshots).
    if std::env::var_os("EXP_BLESS").is_some() {
        std::fs::write(header_path(), &generated).expect("include/ is writable");
    }
    let checked_in = std::fs::read_to_string(header_path()).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/exp_plugin.h is not what src/abi/types.rs generates: run \
         `EXP_BLESS=1 cargo test -p exp-plugin-api --test header` and commit the header"
    );
}

/// Compiles `source` with `compiler` and `flags`; panics with the compiler's output on failure.
fn compile(compiler: &str, flags: &[&str], source: &str, output: Option<&Path>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let extension = if compiler == "cc" { "c" } else { "cpp" };
    let file = dir.path().join(format!("check.{extension}"));
    std::fs::write(&file, source).expect("a temporary source file");
    let mut command = Command::new(compiler);
    command
        .args(flags)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(&file);
    match output {
        Some(path) => command.arg("-o").arg(path),
        None => command.arg("-fsyntax-only"),
    };
    let result = command.output().unwrap_or_else(|error| {
        panic!(
            "cannot run `{compiler}` ({error}): install a C/C++ compiler (Debian: build-essential)"
        )
    });
    assert!(
        result.status.success(),
        "{compiler} rejected the header:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
}

#[test]
fn the_header_compiles_as_c_and_as_cpp_without_warnings() {
    let source = "#include \"exp_plugin.h\"\nint main(void) { return EXP_STATUS_OK; }\n";
    compile(
        "cc",
        &["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
        source,
        None,
    );
    compile(
        "c++",
        &["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"],
        source,
        None,
    );
}

/// Every struct's size and every field's offset, as Rust lays them out, against what a C
/// compiler makes of the header.
#[test]
fn the_header_lays_out_every_type_as_rust_does() {
    macro_rules! layouts {
        ($($rust:ident as $c:literal { $($field:ident),* $(,)? })*) => {{
            let mut rust = String::new();
            let mut c = String::new();
            $(
                rust.push_str(&format!("{} {}\n", $c, std::mem::size_of::<$rust>()));
                c.push_str(&format!(
                    "  printf(\"{} %zu\\n\", sizeof({}));\n",
                    $c, $c
                ));
                $(
                    rust.push_str(&format!(
                        "{}.{} {}\n",
                        $c,
                        stringify!($field),
                        std::mem::offset_of!($rust, $field)
                    ));
                    c.push_str(&format!(
                        "  printf(\"{}.{} %zu\\n\", offsetof({}, {}));\n",
                        $c,
                        stringify!($field),
                        $c,
                        stringify!($field)
                    ));
                )*
            )*
            (rust, c)
        }};
    }
    let (expected, printers) = layouts! {
        FfiValue as "ExpValue" { kind, unit, int_value, float_value, text, keys, items, n_items }
        FfiContext as "ExpContext" { seed, device, data }
        FfiComponent as "ExpComponent" { kind, name, schema_json, create, check }
        FfiPlugin as "ExpPlugin" {
            magic, abi_major, abi_minor, struct_size, name, version, libtorch_version, components,
            n_components, last_error, last_error_field,
        }
        FfiObject as "ExpObject" { state, vtable, release, set_param }
        FfiStateFns as "ExpStateFns" { save, saved_tensor, load }
        FfiDatasetVTable as "ExpDatasetVTable" { info, batch, documents }
        FfiModelVTable as "ExpModelVTable" {
            n_tensors, tensor_name, tensor, forward, loss, training_state, generate,
        }
        FfiOptimizerVTable as "ExpOptimizerVTable" { step, training_state }
        FfiSchedulerVTable as "ExpSchedulerVTable" { value }
        FfiEvaluatorVTable as "ExpEvaluatorVTable" {
            reset, update, compute, generation, update_text,
        }
        FfiMergerVTable as "ExpMergerVTable" { merge, merge_model, as_hook }
        FfiRegularizerVTable as "ExpRegularizerVTable" {
            anchor, penalty, fisher_request, end_task, training_state,
        }
        FfiTokenizerVTable as "ExpTokenizerVTable" {
            train, to_json, load_json, describe, encode, decode,
        }
        FfiExporterVTable as "ExpExporterVTable" { write }
    };
    let source = format!(
        "#include <stdio.h>\n#include \"exp_plugin.h\"\nint main(void) {{\n{printers}  return 0;\n}}\n"
    );
    let dir = tempfile::tempdir().expect("a temporary directory");
    let program = dir.path().join("layouts");
    compile(
        "cc",
        &["-std=c11", "-Wall", "-Werror"],
        &source,
        Some(&program),
    );
    let output = Command::new(&program)
        .output()
        .expect("the layout program runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
    // The constants too.
    let constants = "#include <stdio.h>\n#include \"exp_plugin.h\"\nint main(void) {\n  \
         printf(\"%llu %u %u %s %d %d %d\\n\", (unsigned long long)EXP_MAGIC, EXP_ABI_MAJOR, \
         EXP_ABI_MINOR, EXP_ENTRY_SYMBOL, EXP_STATUS_OK, EXP_STATUS_ERROR, EXP_STATUS_PANIC);\n  \
         return 0;\n}\n";
    compile(
        "cc",
        &["-std=c11", "-Wall", "-Werror"],
        constants,
        Some(&program),
    );
    let output = Command::new(&program)
        .output()
        .expect("the constants program runs");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "{MAGIC} {ABI_MAJOR} {ABI_MINOR} {ENTRY_SYMBOL} {STATUS_OK} {STATUS_ERROR} {STATUS_PANIC}\n"
        )
    );
}
