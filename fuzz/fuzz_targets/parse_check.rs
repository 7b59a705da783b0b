//! Feeds arbitrary text through parse, check and compile (`check_and_compile`) and asserts
//! the invariants every input must keep:
//! - nothing panics, and every error has a location;
//! - every label of every diagnostic, and every node's source origin, is a span inside its
//!   file in the returned `SourceMap` (start <= end <= len, both on char boundaries);
//! - rendering the diagnostics does not panic;
//! - with no errors there is a graph, its node ids are their positions, and it is in
//!   topological order (every input id < node id).

#![no_main]

use exp_check::testing::{TestCatalog, TestWorld};
use exp_diag::{Severity, SourceMap, Span};
use exp_ir::{Graph, Origin};
use libfuzzer_sys::fuzz_target;

/// `std.digits` as the checker's own tests define it: the shipped stdlib/digits.exp sets
/// `split_seed`, which `TestCatalog` lacks, so seeds importing it would never reach compile.
const STD_DIGITS: &str =
    "// The digits dataset with the standard split.\ndataset digits = digits { test_fraction: 0.2 }\n";

fuzz_target!(|data: &[u8]| {
    // Raw bytes, as the binary reads them: text that is not UTF-8 must get a located error too.
    let world = TestWorld::new().module("std.digits", STD_DIGITS);
    let catalog = TestCatalog::new();
    let (graph, sources, diagnostics) =
        exp_compile::check_and_compile("fuzz.exp", data, "fuzz", &world, &catalog);
    assert!(
        diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.severity == Severity::Error)
            .all(|diagnostic| diagnostic.primary_span().is_some()),
        "an error without a location: {diagnostics:?}"
    );

    for diagnostic in &diagnostics {
        for label in &diagnostic.labels {
            assert_span_inside(&sources, label.span, &format!("{diagnostic:?}"));
        }
    }
    let _ = exp_diag::render(&diagnostics, &sources, false);

    let has_errors = diagnostics
        .iter()
        .any(|diagnostic| diagnostic.severity == Severity::Error);
    match graph {
        Some(graph) => {
            assert!(!has_errors, "a graph despite errors: {diagnostics:?}");
            assert_graph_ordered(&graph, &sources);
        }
        None => assert!(has_errors, "no graph and no error: {diagnostics:?}"),
    }
});

fn assert_span_inside(sources: &SourceMap, span: Span, context: &str) {
    // `SourceMap::text` indexes its file table: an unknown `FileId` panics here.
    let text = sources.text(span.file);
    let (start, end) = (span.start as usize, span.end as usize);
    assert!(
        start <= end,
        "span {span:?} ends before it starts: {context}"
    );
    assert!(
        end <= text.len(),
        "span {span:?} past the end of its file ({} bytes): {context}",
        text.len()
    );
    assert!(
        text.is_char_boundary(start) && text.is_char_boundary(end),
        "span {span:?} not on char boundaries: {context}"
    );
}

fn assert_graph_ordered(graph: &Graph, sources: &SourceMap) {
    for (position, node) in graph.nodes.iter().enumerate() {
        assert_eq!(node.id.0, position, "node id is not its position: {node:?}");
        for input in &node.inputs {
            assert!(
                input.node < node.id,
                "input {:?} of node {:?} does not come before it",
                input.node,
                node.id
            );
        }
        if let Origin::Source(span) = node.origin {
            assert_span_inside(sources, span, &format!("origin of {node:?}"));
        }
    }
}
