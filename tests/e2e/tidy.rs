//! Tidy tests: they keep docs/architecture.md and docs/plugin-abi.md true to the code (STYLE §6).
//!
//! The workspace members are read from the root Cargo.toml by scanning its text (the tests have
//! no TOML parser), and each member's package name from its own Cargo.toml.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use exp_plugin_api::abi::{ABI_MAJOR, ABI_MINOR};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
}

/// The directories in the `members = [..]` array of the `[workspace]` table.
fn workspace_members(manifest: &str) -> Vec<String> {
    let mut in_workspace = false;
    let mut array = String::new();
    let mut collecting = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if !collecting && line.starts_with('[') {
            in_workspace = line == "[workspace]";
            continue;
        }
        if in_workspace && !collecting && line.starts_with("members") {
            let Some((_, value)) = line.split_once('=') else {
                continue;
            };
            collecting = true;
            array.push_str(value);
        } else if collecting {
            array.push_str(line);
        }
        if collecting && array.contains(']') {
            break;
        }
    }
    let inside = array
        .trim()
        .trim_start_matches('[')
        .split(']')
        .next()
        .unwrap_or("");
    inside
        .split(',')
        .map(|item| item.trim().trim_matches('"').to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// The `name` of the `[package]` table of a Cargo.toml.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            if key.trim() == "name" {
                return Some(value.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The text of the `## Code map` section, up to the next `## ` heading.
fn code_map(architecture: &str) -> Option<&str> {
    let start = architecture.find("\n## Code map\n")? + 1;
    let body = &architecture[start + "## Code map\n".len()..];
    let end = body.find("\n## ").map_or(body.len(), |at| at + 1);
    Some(&body[..end])
}

#[test]
fn every_workspace_member_is_in_the_architecture_code_map() {
    let members = workspace_members(&read("Cargo.toml"));
    assert!(
        !members.is_empty(),
        "found no `members = [..]` in the `[workspace]` table of Cargo.toml; \
         if its layout changed, update `workspace_members` in tests/e2e/tidy.rs"
    );
    let architecture = read("docs/architecture.md");
    let map = code_map(&architecture).unwrap_or_else(|| {
        panic!("docs/architecture.md has no `## Code map` section; restore it (STYLE §6)")
    });
    let mut missing = Vec::new();
    for member in &members {
        let manifest = read(&format!("{member}/Cargo.toml"));
        let name = package_name(&manifest).unwrap_or_else(|| {
            panic!("`{member}/Cargo.toml` has no `name` in its `[package]` table")
        });
        if !map.contains(&format!("`{name}`")) {
            missing.push(format!("`{name}` ({member})"));
        }
    }
    assert!(
        missing.is_empty(),
        "the code map of docs/architecture.md does not mention these workspace members: {}\n\
         add a paragraph for each under `## Code map`, with a heading such as \
         \"### `exp-foo` (`path/to/foo`)\", saying what the crate does and what it \
         deliberately does not do (**Architecture invariant:**)",
        missing.join(", ")
    );
}

#[test]
fn plugin_abi_doc_matches_the_abi_types() {
    let abi_path = root().join("plugins/api/src/abi/types.rs");
    let abi = std::fs::read(&abi_path)
        .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", abi_path.display()));
    let actual: String = Sha256::digest(&abi)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let doc = read("docs/plugin-abi.md");
    let line_value = |prefix: &str| {
        doc.lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .map(|value| value.trim().to_string())
    };

    let recorded = line_value("types.rs sha256:").unwrap_or_else(|| {
        panic!(
            "docs/plugin-abi.md has no line `types.rs sha256: <hex>`; add `types.rs sha256: {actual}`"
        )
    });
    assert!(
        recorded == actual,
        "plugins/api/src/abi/types.rs has changed: its sha256 is {actual}, \
         but docs/plugin-abi.md records {recorded}.\n\
         1. check every section of docs/plugin-abi.md against the new types.rs and fix what differs;\n\
         2. if a struct or a function signature changed, bump ABI_MAJOR in types.rs \
         (ABI_MINOR for a field appended to FfiPlugin), then hash types.rs again;\n\
         3. regenerate the header (`EXP_BLESS=1 cargo test -p exp-plugin-api --test header`);\n\
         4. write the new `ABI version:` and `types.rs sha256:` lines in docs/plugin-abi.md \
         (`sha256sum plugins/api/src/abi/types.rs`)"
    );

    let version = format!("{ABI_MAJOR}.{ABI_MINOR}");
    let documented = line_value("ABI version:").unwrap_or_else(|| {
        panic!("docs/plugin-abi.md has no line `ABI version: <major>.<minor>`; add `ABI version: {version}`")
    });
    assert!(
        documented == version,
        "docs/plugin-abi.md says `ABI version: {documented}`, but types.rs has ABI_MAJOR.ABI_MINOR = \
         {version}; update the `ABI version:` line and check the rest of the page against types.rs"
    );
}

/// The dependency lines of a Cargo.toml, as (table, crate name, value): every line `name = ..`
/// or `name.workspace = true` of a `[dependencies]`, `[dev-dependencies]` or
/// `[build-dependencies]` table.
fn dependency_lines(manifest: &str) -> Vec<(String, String, String)> {
    let mut table = String::new();
    let mut lines = Vec::new();
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            table = line.trim_matches(['[', ']']).to_string();
            continue;
        }
        if !table.ends_with("dependencies") || table.starts_with("workspace") {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let name = key.trim().trim_end_matches(".workspace").to_string();
            lines.push((table.clone(), name, value.trim().to_string()));
        }
    }
    lines
}

/// Whether a dependency line takes its version (or path) from `[workspace.dependencies]`.
fn from_workspace(key_and_value: &(String, String, String), manifest: &str) -> bool {
    let (_, name, value) = key_and_value;
    manifest.lines().any(|line| {
        let line = line.trim();
        line.starts_with(&format!("{name}.workspace")) && line.ends_with("true")
    }) || value.contains("workspace = true")
}

#[test]
fn every_dependency_version_is_in_the_workspace_table() {
    let known_exceptions: [&str; 0] = [];
    let mut pinned = Vec::new();
    for member in workspace_members(&read("Cargo.toml")) {
        let manifest = read(&format!("{member}/Cargo.toml"));
        for line in dependency_lines(&manifest) {
            if !from_workspace(&line, &manifest) {
                pinned.push(format!("{member}: {}", line.1));
            }
        }
    }
    assert_eq!(
        pinned, known_exceptions,
        "these dependencies pin a version (or path) in a member's Cargo.toml; \
         put it in `[workspace.dependencies]` of the root Cargo.toml and write \
         `name.workspace = true` (STYLE L6)"
    );
}

#[test]
fn every_exp_dependency_is_used() {
    let mut unused = Vec::new();
    for member in workspace_members(&read("Cargo.toml")) {
        let manifest = read(&format!("{member}/Cargo.toml"));
        let mut sources = String::new();
        for dir in ["src", "tests", "benches"] {
            collect_rust(&root().join(&member).join(dir), &mut sources);
        }
        for (table, name, _) in dependency_lines(&manifest) {
            let crate_name = name.replace('-', "_");
            if name.starts_with("exp-") && !sources.contains(&format!("{crate_name}::")) {
                unused.push(format!("{member} [{table}]: {name}"));
            }
        }
    }
    assert!(
        unused.is_empty(),
        "these exp crates are listed as dependencies but never used; remove the lines \
         (a dependency between exp crates is an architecture edge, STYLE L1): {unused:?}"
    );
}

/// The text of every `.rs` file under `dir`, recursively (the root package's `src` holds only
/// its own files: the other members are directories of their own).
fn collect_rust(dir: &std::path::Path, out: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rust(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

#[test]
fn the_cargo_toml_scanner_reads_members_and_names() {
    let manifest = "[workspace]\nmembers = [\n    \".\", # the binary\n    \"lang/diag\",\n]\n\
                    default-members = [\".\"]\n\n[workspace.package]\nname = \"not-this\"\n\n\
                    [package]\nname = \"exp\"\n";
    assert_eq!(workspace_members(manifest), [".", "lang/diag"]);
    assert_eq!(package_name(manifest).as_deref(), Some("exp"));
    assert_eq!(
        workspace_members("[workspace]\nmembers = [\"a\", \"b\"]\n"),
        ["a", "b"]
    );
    let member = "[dependencies]\nexp-ir.workspace = true\nlibc = \"0.2\"\n\
                  [dev-dependencies]\ntempfile = { workspace = true }\n";
    let lines = dependency_lines(member);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1].1, "libc");
    assert!(from_workspace(&lines[0], member));
    assert!(!from_workspace(&lines[1], member));
    assert!(from_workspace(&lines[2], member));
}

/// The code blocks of docs/plugin-abi.md that a `<!-- file: PATH -->` line names, with their
/// paths: the walkthroughs show files the test suite compiles and runs, so they cannot rot.
fn named_code_blocks(doc: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .trim()
            .strip_prefix("<!-- file: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let opening = lines.next().unwrap_or_default();
        assert!(
            opening.starts_with("```"),
            "docs/plugin-abi.md: `<!-- file: {path} -->` must be followed by a code block"
        );
        let body: Vec<&str> = lines.by_ref().take_while(|line| *line != "```").collect();
        blocks.push((path.to_string(), body.join("\n")));
    }
    blocks
}

#[test]
fn the_plugin_walkthroughs_and_the_header_in_the_docs_are_the_files_they_name() {
    let doc = read("docs/plugin-abi.md");
    let blocks = named_code_blocks(&doc);
    let paths: Vec<&str> = blocks.iter().map(|(path, _)| path.as_str()).collect();
    for expected in [
        "tests/plugins/good/src/lib.rs",
        "tests/plugins/cpp/plugin.cpp",
        "plugins/api/include/exp_plugin.h",
    ] {
        assert!(
            paths.contains(&expected),
            "docs/plugin-abi.md no longer shows `{expected}` (found {paths:?})"
        );
    }
    for (path, body) in blocks {
        let file = read(&path);
        assert!(
            body == file.trim_end(),
            "docs/plugin-abi.md shows `{path}`, but the block differs from the file: \
             paste the file into the block again"
        );
    }
}
