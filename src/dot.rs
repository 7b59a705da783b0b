//! `exp graph --format dot`: the dataflow graph for Graphviz. Nodes are labelled with their
//! kind, name and component (and a model with its size, where known, and what a node asks a
//! scheduler for, where the file says); edges with the role and the artifact that flows.

use std::fmt::Write as _;

use exp_ir::{Graph, NodeKind};

use crate::sizes::Sizes;

fn quote(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}

pub fn to_dot(graph: &Graph, sizes: &Sizes) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
        quote(&graph.experiment)
    );
    for node in &graph.nodes {
        let mut detail = match &node.kind {
            NodeKind::Dataset { component }
            | NodeKind::Model { component }
            | NodeKind::Merge { component }
            | NodeKind::Tokenizer { component }
            | NodeKind::Export { component } => component.name.clone(),
            NodeKind::Train(spec) => {
                let mut detail = format!(
                    "{} steps={} batch={}",
                    spec.optimizer.name, spec.steps, spec.batch
                );
                for hook in &spec.hooks {
                    let _ = write!(detail, " +{}", hook.name);
                }
                if spec.replay.is_some() {
                    detail.push_str(" +replay");
                }
                detail
            }
            NodeKind::Evaluate { metrics, splits } => {
                let names: Vec<&str> = metrics.iter().map(|metric| metric.name.as_str()).collect();
                format!("{} on {}", names.join(", "), splits.join(", "))
            }
            NodeKind::Report { .. } => "table".to_string(),
            NodeKind::Caption => "caption".to_string(),
            NodeKind::Sample(spec) => format!("sample {}", spec.summary()),
            NodeKind::Continual {
                tasks,
                metric,
                splits,
                ..
            } => match splits.as_slice() {
                [test] if test == "test" => format!("{metric} matrix {tasks}×{tasks}"),
                _ => format!("{metric} matrix {tasks}×{tasks} on {}", splits.join(", ")),
            },
        };
        if let Some(size) = sizes.get(&node.id) {
            let _ = write!(detail, "\n{size}");
        }
        if !graph.resources.is_empty() {
            let request = crate::resources_text(&graph.resources_for(node));
            if !request.is_empty() {
                let _ = write!(detail, "\n[{request}]");
            }
        }
        let shape = match node.kind {
            NodeKind::Dataset { .. } | NodeKind::Caption | NodeKind::Sample(_) => "cylinder",
            NodeKind::Report { .. } | NodeKind::Continual { .. } => "note",
            _ => "box",
        };
        let _ = writeln!(
            out,
            "  {} [label={}, shape={shape}];",
            quote(&node.name),
            quote(&format!("{} {}\n{detail}", node.kind.word(), node.name))
        );
    }
    for node in &graph.nodes {
        for input in &node.inputs {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                quote(&graph.node(input.node).name),
                quote(&node.name),
                quote(&format!("{} ({})", input.role, input.artifact.as_str()))
            );
        }
    }
    out.push_str("}\n");
    out
}
