//! The size of each model of a graph (its parameter count), as `exp graph` shows it.
//!
//! Only a loaded plugin can say how large a model is (by building it, sized as its model node
//! sizes it: `exp_runtime::sizing`). `exp-host` does so and stores each answer in the schema
//! cache entry of the model's plugin, keyed by a `Question`: the model's component, version and
//! parameters and those of what sizes it (a tokenizer or a dataset). `exp graph` then answers
//! from the cache without loading a plugin, as `exp check` does; a question with no stored
//! answer sends the command to `exp-host`.

use std::collections::{HashMap, HashSet};

use exp_check::Catalog;
use exp_ir::{ComponentRef, ComponentSchema, Graph, NodeId, NodeKind};

use crate::schema_cache::{answer_key, plain_params};

/// A model's parameter count: exact, or the most it can be (`exp_ir::ModelSize`).
pub use exp_ir::ModelSize as Size;

/// The sizes of a graph's model nodes that could be known.
pub type Sizes = HashMap<NodeId, Size>;

/// What the plugins answered for one model: its size, or why it cannot be known (in words
/// that follow "cannot size model `m`: ").
pub type SizeAnswer = Result<Size, String>;

/// The answers for a graph's models: the sizes, and a warning for each distinct reason a
/// model could not be sized.
#[derive(Debug, Default)]
pub struct Sized {
    pub sizes: Sizes,
    pub warnings: Vec<String>,
    /// The reasons already warned of.
    reasons: HashSet<String>,
}

impl Sized {
    /// Takes the answer for model node `node` (named `name`).
    pub fn record(&mut self, node: NodeId, name: &str, answer: &SizeAnswer) {
        match answer {
            Ok(size) => {
                self.sizes.insert(node, *size);
            }
            Err(reason) => {
                // A sweep repeats one model many times: its reason is said once.
                if self.reasons.insert(reason.clone()) {
                    self.warnings
                        .push(format!("warning: cannot size model `{name}`: {reason}"));
                }
            }
        }
    }
}

/// What one model node's size depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Question<'g> {
    pub model: &'g ComponentRef,
    /// Its tokenizer, or else the dataset that sizes it; `None` when nothing does.
    pub by: Option<&'g ComponentRef>,
}

impl Question<'_> {
    /// The key its answer is stored under: each component as a check answer's key names it
    /// (`answer_key`: kind, name and parameters as the plugin receives them), with its version,
    /// which a component bumps when the same parameters would compute something else.
    pub fn key(&self, catalog: &dyn Catalog) -> String {
        let part = |component: &ComponentRef| {
            let version = catalog
                .component(component.kind, &component.name)
                .map_or("", |schema| schema.version.as_str());
            let params = plain_params(&component.params);
            let key = answer_key(component.kind, &component.name, &params);
            format!("{key} version {version}")
        };
        match self.by {
            Some(by) => format!("size {} by {}", part(self.model), part(by)),
            None => format!("size {}", part(self.model)),
        }
    }
}

/// The question of every model node of `graph`, in node order. A model node is sized as the
/// runtime sizes it (`runtime/src/nodes/model.rs`): by its tokenizer input, else by its
/// dataset input.
pub fn questions(graph: &Graph) -> Vec<(NodeId, Question<'_>)> {
    graph
        .nodes
        .iter()
        .filter_map(|node| {
            let NodeKind::Model { component } = &node.kind else {
                return None;
            };
            let input_component = |role: &str| {
                let input = node.inputs.iter().find(|input| input.role == role)?;
                sizing_component(graph, input.node)
            };
            let by = input_component("tokenizer").or_else(|| input_component("data"));
            Some((
                node.id,
                Question {
                    model: component,
                    by,
                },
            ))
        })
        .collect()
}

/// The component whose description sizes a model built on node `id`: a tokenizer, a
/// dataset, or for a dataset a model made (`caption`, `sample`) the dataset it was made from,
/// whose examples have the same shape.
fn sizing_component(graph: &Graph, id: NodeId) -> Option<&ComponentRef> {
    let node = graph.node(id);
    match &node.kind {
        NodeKind::Tokenizer { component } | NodeKind::Dataset { component } => Some(component),
        NodeKind::Caption | NodeKind::Sample(_) => {
            let input = node.inputs.iter().find(|input| input.role == "data")?;
            sizing_component(graph, input.node)
        }
        _ => None,
    }
}

/// Whether an answer may be stored: not when a component's parameters name files (a
/// `tokenizer.json`, a folder of data), which may change without the plugin changing.
pub fn answer_is_stable(question: &Question<'_>, catalog: &dyn Catalog) -> bool {
    let names_files = |component: &ComponentRef| {
        catalog
            .component(component.kind, &component.name)
            .is_some_and(ComponentSchema::reads_files)
    };
    !names_files(question.model) && !question.by.is_some_and(names_files)
}

#[cfg(test)]
mod tests {
    use exp_check::testing::TestCatalog;

    use super::{answer_is_stable, questions, NodeId, Size, Sized};

    fn graph(src: &str) -> exp_ir::Graph {
        crate::test_graph("sized", src)
    }

    /// A model of tokens is sized by its tokenizer, one of images by the dataset it trains on;
    /// each question's key names both, with their versions and parameters, and tells apart
    /// what sizes differently.
    #[test]
    fn each_model_is_asked_about_with_what_sizes_it() {
        let graph = graph(
            r#"dataset corpus = corpus
dataset d = digits
tokenizer tok = bpe(corpus) { vocab_size: 300 }
tokenizer raw = bytes
model lm = gpt(tok) { context: 32 }
model wide = gpt(tok) { context: 64 }
model byte_lm = gpt(raw) { context: 32 }
model m = mlp
train pre { model: lm, data: corpus, steps: 1 steps, optimizer: adamw }
train pre2 { model: wide, data: corpus, steps: 1 steps, optimizer: adamw }
train pre3 { model: byte_lm, data: corpus, steps: 1 steps, optimizer: adamw }
train t { model: m, data: d, steps: 1 steps, optimizer: adamw }
"#,
        );
        let catalog = TestCatalog::new();
        let asked = questions(&graph);
        let named: Vec<(&str, &str, Option<&str>)> = asked
            .iter()
            .map(|(node, question)| {
                (
                    graph.node(*node).name.as_str(),
                    question.model.name.as_str(),
                    question.by.map(|by| by.name.as_str()),
                )
            })
            .collect();
        assert_eq!(
            named,
            [
                ("lm", "gpt", Some("bpe")),
                ("wide", "gpt", Some("bpe")),
                ("byte_lm", "gpt", Some("bytes")),
                ("m", "mlp", Some("digits")),
            ]
        );
        let keys: Vec<String> = asked
            .iter()
            .map(|(_, question)| question.key(&catalog))
            .collect();
        assert!(keys[0].starts_with("size model gpt "), "{}", keys[0]);
        assert!(keys[0].contains(r#""context":{"#) && keys[0].contains(" by tokenizer bpe "));
        assert!(keys[0].contains("300"), "{}", keys[0]);
        assert!(keys[3].contains(" by dataset digits "), "{}", keys[3]);
        for (index, key) in keys.iter().enumerate() {
            assert!(!keys[..index].contains(key), "{key} asked twice");
        }
        assert!(asked
            .iter()
            .all(|(_, question)| answer_is_stable(question, &catalog)));
    }

    /// An answer is not kept when what sizes the model reads files, which change without
    /// the plugin changing.
    #[test]
    fn a_size_read_from_files_is_not_kept() {
        let graph = graph(
            r#"dataset notes = text_files { paths: ["notes/*.txt"] }
tokenizer tok = bpe(notes)
model lm = gpt(tok)
train pre { model: lm, data: notes, steps: 1 steps, optimizer: adamw }
"#,
        );
        let catalog = TestCatalog::new();
        let asked = questions(&graph);
        assert_eq!(asked.len(), 1);
        // The tokenizer names no file itself: the question is about `bpe`, and kept.
        assert!(answer_is_stable(&asked[0].1, &catalog));
        let mut question = asked[0].1;
        let notes = graph
            .nodes
            .iter()
            .find_map(|node| match &node.kind {
                exp_ir::NodeKind::Dataset { component } => Some(component),
                _ => None,
            })
            .unwrap();
        question.by = Some(notes);
        assert!(!answer_is_stable(&question, &catalog));
        question.by = None;
        question.model = notes;
        assert!(!answer_is_stable(&question, &catalog));
    }

    #[test]
    fn a_reason_a_model_cannot_be_sized_is_said_once_for_all_its_copies() {
        let size = Size {
            parameters: 10,
            exact: true,
        };
        let mut sized = Sized::default();
        sized.record(NodeId(0), "m[seed=0]", &Err("no vocabulary".to_string()));
        sized.record(NodeId(1), "m[seed=1]", &Err("no vocabulary".to_string()));
        sized.record(NodeId(2), "n", &Err("too large".to_string()));
        sized.record(NodeId(3), "o", &Ok(size));
        assert_eq!(
            sized.warnings,
            [
                "warning: cannot size model `m[seed=0]`: no vocabulary",
                "warning: cannot size model `n`: too large"
            ]
        );
        assert_eq!(sized.sizes.len(), 1);
        assert_eq!(sized.sizes[&NodeId(3)], size);
    }

    #[test]
    fn sizes_read_in_thousands_millions_and_billions_with_bounds_marked() {
        let shown = |parameters, exact| Size { parameters, exact }.to_string();
        assert_eq!(shown(650, true), "650 parameters");
        assert_eq!(shown(9_999, true), "9999 parameters");
        assert_eq!(shown(10_000, true), "10.0K parameters");
        assert_eq!(shown(999_949, true), "999.9K parameters");
        assert_eq!(shown(999_950, true), "1.00M parameters");
        assert_eq!(shown(999_994_999, true), "999.99M parameters");
        assert_eq!(shown(999_995_000, true), "1.00B parameters");
        assert_eq!(shown(1_056_128, true), "1.06M parameters");
        assert_eq!(shown(12_318_720, false), "≤ 12.32M parameters");
        assert_eq!(shown(7_000_000_000, true), "7.00B parameters");
    }
}
