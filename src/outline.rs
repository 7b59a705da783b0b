//! `exp graph --format outline`: the graph summarised for reading, one line per family of
//! nodes. A sweep or a template makes many nodes from one definition; here they share a line
//! with their count and the values of each sweep axis, so a study of thousands of nodes reads
//! as the few dozen definitions it was written as.

use std::fmt::Write as _;
use std::sync::Arc;

use exp_ir::Graph;

/// A node kind and family, with the sweep points of its nodes.
type Group<'g> = ((&'g str, &'g str), Vec<&'g [(Arc<str>, Arc<str>)]>);

pub fn to_outline(graph: &Graph) -> String {
    // In order of first appearance.
    let mut groups: Vec<Group<'_>> = Vec::new();
    for node in &graph.nodes {
        let family = node.family.as_deref().unwrap_or(&node.name);
        let key = (node.kind.word(), family);
        match groups.iter_mut().find(|(known, _)| *known == key) {
            Some((_, points)) => points.push(&node.point),
            None => groups.push((key, vec![&node.point])),
        }
    }
    let mut out = format!(
        "{}: {} nodes from {} definitions\n",
        graph.experiment,
        graph.nodes.len(),
        groups.len()
    );
    let width = groups
        .iter()
        .map(|((kind, family), _)| kind.len() + family.len() + 1)
        .max()
        .unwrap_or(0);
    for ((kind, family), points) in &groups {
        let head = format!("{kind} {family}");
        let mut line = format!("  {head:<width$}");
        if points.len() > 1 {
            let _ = write!(line, "  ×{}", points.len());
        }
        // Each axis with its values, in the order they first appear.
        let mut axes: Vec<(&str, Vec<&str>)> = Vec::new();
        for point in points {
            for (axis, value) in point.iter() {
                let (axis, value): (&str, &str) = (axis, value);
                match axes.iter_mut().find(|(known, _)| *known == axis) {
                    Some((_, values)) if !values.contains(&value) => values.push(value),
                    Some(_) => {}
                    None => axes.push((axis, vec![value])),
                }
            }
        }
        if !axes.is_empty() {
            let words: Vec<String> = axes
                .iter()
                .map(|(axis, values)| format!("{axis} ∈ {{{}}}", values.join(", ")))
                .collect();
            let _ = write!(line, "  {}", words.join("; "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
