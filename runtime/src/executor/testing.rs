//! A small graph for the executor's unit tests.

use std::borrow::Cow;

use exp_ir::graph::{ArtifactKind, Input, NodeId, Origin};
use exp_ir::{ComponentKind, ComponentRef, Graph, Node, NodeKind};

pub(super) fn component(kind: ComponentKind, name: &str) -> ComponentRef {
    ComponentRef {
        kind,
        name: name.to_string(),
        params: Default::default(),
        span: None,
    }
}

fn node(id: usize, kind: NodeKind, inputs: &[(&'static str, usize, ArtifactKind)]) -> Node {
    let output = match kind {
        NodeKind::Evaluate { .. } => ArtifactKind::Metrics,
        NodeKind::Report { .. } => ArtifactKind::Table,
        _ => ArtifactKind::Model,
    };
    Node {
        id: NodeId(id),
        name: format!("n{id}"),
        kind,
        inputs: inputs
            .iter()
            .map(|(role, node, artifact)| Input {
                role: Cow::Borrowed(*role),
                node: NodeId(*node),
                artifact: *artifact,
            })
            .collect(),
        output,
        seed: 0,
        origin: Origin::None,
        family: None,
        point: Vec::new(),
    }
}

/// A model, a merge of it with itself, two evaluations of the merge and a report.
pub(super) fn graph() -> Graph {
    use ArtifactKind::{Metrics, Model};
    let evaluate = || NodeKind::Evaluate {
        metrics: Vec::new().into(),
        splits: vec!["test".into()],
    };
    let merge = NodeKind::Merge {
        component: component(ComponentKind::Merger, "average").into(),
    };
    let report = NodeKind::Report {
        chart: false,
        against: None,
        choose: None,
        html: false,
    };
    Graph {
        experiment: "release".into(),
        seed: 0,
        plugins: Vec::new(),
        nodes: vec![
            node(
                0,
                NodeKind::Model {
                    component: component(ComponentKind::Model, "mlp").into(),
                },
                &[],
            ),
            node(1, merge, &[("inputs", 0, Model), ("inputs", 0, Model)]),
            node(2, evaluate(), &[("model", 1, Model)]),
            node(3, evaluate(), &[("model", 1, Model)]),
            node(4, report, &[("rows", 2, Metrics), ("rows", 3, Metrics)]),
        ],
        policy: None,
        resources: Default::default(),
    }
}
