//! `exp graph --format outline`: the graph summarised for reading, one line per family of
//! nodes. A sweep or a template makes many nodes from one definition; here they share a line
//! with their count and the values of each sweep axis, so a study of thousands of nodes reads
//! as the few dozen definitions it was written as.

use std::fmt::Write as _;
use std::sync::Arc;

use exp_ir::{Graph, ResourceRequest};

use crate::sizes::{Size, Sizes};

/// A node kind and family, with the sweep points of its nodes, the sizes of those that are
/// models of a known size, and the distinct requests its nodes make of a scheduler.
type Group<'g> = (
    (&'g str, &'g str),
    Vec<&'g [(Arc<str>, Arc<str>)]>,
    Vec<Size>,
    Vec<ResourceRequest>,
);

pub fn to_outline(graph: &Graph, sizes: &Sizes) -> String {
    // In order of first appearance.
    let mut groups: Vec<Group<'_>> = Vec::new();
    for node in &graph.nodes {
        let family = node.family.as_deref().unwrap_or(&node.name);
        let key = (node.kind.word(), family);
        let index = match groups.iter().position(|(known, ..)| *known == key) {
            Some(index) => index,
            None => {
                groups.push((key, Vec::new(), Vec::new(), Vec::new()));
                groups.len() - 1
            }
        };
        let (_, points, group_sizes, requests) = &mut groups[index];
        points.push(&node.point);
        group_sizes.extend(sizes.get(&node.id));
        if !graph.resources.is_empty() {
            let request = graph.resources_for(node);
            if !requests.contains(&request) {
                requests.push(request);
            }
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
        .map(|((kind, family), ..)| kind.len() + family.len() + 1)
        .max()
        .unwrap_or(0);
    for ((kind, family), points, group_sizes, requests) in &groups {
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
        if let Some(size) = size_range(group_sizes) {
            let _ = write!(line, "  {size}");
        }
        // One request per family unless a copy is named on its own.
        let requests: Vec<String> = requests
            .iter()
            .filter(|request| !request.is_empty())
            .map(|request| format!("[{}]", crate::resources_text(request)))
            .collect();
        if !requests.is_empty() {
            let _ = write!(line, "  {}", requests.join(" or "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The size a family of models shares, or the smallest and largest where its copies differ
/// (a sweep over widths): `1.06M parameters`, `0.52M–1.06M parameters`.
fn size_range(sizes: &[Size]) -> Option<String> {
    let smallest = sizes.iter().min_by_key(|size| size.parameters)?;
    let largest = sizes.iter().max_by_key(|size| size.parameters)?;
    let exact = sizes.iter().all(|size| size.exact);
    if smallest.parameters == largest.parameters {
        return Some(
            Size {
                parameters: smallest.parameters,
                exact,
            }
            .to_string(),
        );
    }
    let low = Size {
        parameters: smallest.parameters,
        exact: true,
    }
    .to_string();
    let high = Size {
        parameters: largest.parameters,
        exact: true,
    }
    .to_string();
    let low = low.trim_end_matches(" parameters");
    let bound = if exact { "" } else { "≤ " };
    Some(format!("{bound}{low}–{high}"))
}

#[cfg(test)]
mod tests {
    use exp_ir::NodeId;

    use super::{size_range, to_outline};
    use crate::sizes::{Size, Sizes};

    /// One line per definition: its count, each axis with its values once in order of first
    /// appearance (every seed comes back for each `lr`), and a model's size; names padded to
    /// the longest.
    #[test]
    fn a_sweep_reads_as_its_definitions() {
        let src = r#"dataset d = digits
model net = mlp
sweep lr in [0.001, 0.003], seeds 2 {
  train ft { model: net, data: d, steps: 10 steps, optimizer: sgd { lr: lr } }
}
report results { rows: [ft] }
"#;
        let graph = crate::test_graph("sweep", src);
        let net = graph
            .nodes
            .iter()
            .find(|node| node.name == "net")
            .unwrap()
            .id;
        let sizes = Sizes::from([(net, size(610, true)), (NodeId(99), size(1, true))]);
        assert_eq!(
            to_outline(&graph, &sizes),
            "sweep: 7 nodes from 4 definitions\n\
             \x20 dataset d\n\
             \x20 model net       610 parameters\n\
             \x20 train ft        ×4  lr ∈ {0.001, 0.003}; seed ∈ {0, 1}\n\
             \x20 report results\n"
        );
    }

    fn size(parameters: u64, exact: bool) -> Size {
        Size { parameters, exact }
    }

    #[test]
    fn a_family_shows_its_one_size_or_its_smallest_and_largest() {
        assert_eq!(size_range(&[]), None);
        assert_eq!(
            size_range(&[size(610, true), size(610, true)]).as_deref(),
            Some("610 parameters")
        );
        // A sweep over widths: the smallest and largest copy, in any order.
        assert_eq!(
            size_range(&[
                size(1_135_744, true),
                size(520_000, true),
                size(800_000, true)
            ])
            .as_deref(),
            Some("520.0K–1.14M parameters")
        );
        // One bound among them makes the whole family a bound.
        assert_eq!(
            size_range(&[size(610, true), size(610, false)]).as_deref(),
            Some("≤ 610 parameters")
        );
        assert_eq!(
            size_range(&[size(10_000, false), size(2_000_000, true)]).as_deref(),
            Some("≤ 10.0K–2.00M parameters")
        );
    }
}
