//! Every file in `experiments/` checks clean, and its AST and graph are snapshotted, so a
//! change to the language or the compiler shows up as a reviewed diff.

use crate::support::{workspace_root, Test};

/// The graph as JSON; a study's graph of thousands of nodes as a summary instead: the count of
/// nodes per kind and per family (the sweeps' and sequences' expansion), and one node in full.
fn graph_snapshot(json: &str) -> String {
    let graph: serde_json::Value = serde_json::from_str(json).unwrap();
    let nodes = graph["nodes"].as_array().unwrap();
    if nodes.len() <= 100 {
        return json.to_string();
    }
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    let mut families: std::collections::BTreeMap<String, usize> = Default::default();
    for node in nodes {
        *kinds
            .entry(node["kind"]["kind"].as_str().unwrap().to_string())
            .or_default() += 1;
        let family = node["family"]
            .as_str()
            .unwrap_or(node["name"].as_str().unwrap());
        *families.entry(family.to_string()).or_default() += 1;
    }
    let mut out = format!("{} nodes\n\nby kind:\n", nodes.len());
    for (kind, count) in kinds {
        out.push_str(&format!("  {kind}: {count}\n"));
    }
    out.push_str("\nby family:\n");
    for (family, count) in families {
        out.push_str(&format!("  {family}: {count}\n"));
    }
    let train = nodes
        .iter()
        .find(|node| {
            node["kind"]["kind"] == "train"
                && node["family"]
                    .as_str()
                    .is_some_and(|family| family.ends_with("sfa.run.task"))
        })
        .unwrap_or(&nodes[0]);
    out.push_str(&format!(
        "\none node:\n{}\n",
        serde_json::to_string_pretty(train).unwrap()
    ));
    out
}

#[test]
fn every_experiment_checks_and_its_ast_and_graph_are_snapshotted() {
    let dir = workspace_root().join("experiments");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "exp"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let (ast, diagnostics) = exp_syntax::parse(exp_diag::FileId(0), &text);
        assert!(diagnostics.is_empty(), "{stem} does not parse");
        insta::assert_snapshot!(format!("{stem}_ast"), exp_syntax::dump(&ast));

        let test = Test::new();
        let path = file.display().to_string();
        let outcome = test.run_with(&["graph", &path, "--format", "json"]);
        assert_eq!(outcome.status, 0, "{stem}: {}", outcome.stderr);
        insta::assert_snapshot!(format!("{stem}_graph"), graph_snapshot(&outcome.stdout));
    }
}
