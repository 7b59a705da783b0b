//! Test doubles for `Catalog` and `World`: a small fixed catalog shaped like the std plugin,
//! and an in-memory module table. Used by the tests of this crate and of `exp-compile`.

use std::collections::HashMap;

use exp_ir::{ComponentKind, ComponentSchema, DurationUnit, ParamSchema, ParamType, Value};

use crate::{Catalog, World};

/// A catalog with `digits`, `mlp`, `sgd`, `adamw`, `constant`, `linear`, `cosine`,
/// `accuracy`, `loss`, `average` and `wise_ft`.
pub struct TestCatalog {
    components: Vec<ComponentSchema>,
}

impl Default for TestCatalog {
    fn default() -> TestCatalog {
        TestCatalog::new()
    }
}

fn param(
    name: &str,
    ty: ParamType,
    default: Option<Value>,
    min: Option<f64>,
    max: Option<f64>,
) -> ParamSchema {
    ParamSchema {
        name: name.to_string(),
        ty,
        doc: String::new(),
        default,
        min,
        max,
    }
}

fn schema(kind: ComponentKind, name: &str, params: Vec<ParamSchema>) -> ComponentSchema {
    ComponentSchema {
        kind,
        name: name.to_string(),
        doc: String::new(),
        version: "0.1.0".to_string(),
        params,
    }
}

impl TestCatalog {
    pub fn new() -> TestCatalog {
        use ComponentKind as K;
        let warmup = param(
            "warmup",
            ParamType::Duration { units: Vec::new() },
            Some(Value::Duration(exp_ir::Duration {
                amount: 0.0,
                unit: DurationUnit::Steps,
            })),
            None,
            None,
        );
        let components = vec![
            schema(
                K::Dataset,
                "digits",
                vec![
                    param(
                        "test_fraction",
                        ParamType::Float,
                        Some(Value::Float(0.2)),
                        Some(0.0),
                        Some(1.0),
                    ),
                    param("seed", ParamType::Int, Some(Value::Int(0)), None, None),
                ],
            ),
            schema(
                K::Model,
                "mlp",
                vec![
                    param(
                        "hidden",
                        ParamType::List(Box::new(ParamType::Int)),
                        Some(Value::List(vec![Value::Int(64)])),
                        Some(1.0),
                        None,
                    ),
                    param(
                        "activation",
                        ParamType::Choice(vec!["relu".into(), "tanh".into(), "gelu".into()]),
                        Some(Value::Str("relu".into())),
                        None,
                        None,
                    ),
                    param(
                        "dropout",
                        ParamType::Float,
                        Some(Value::Float(0.0)),
                        Some(0.0),
                        Some(1.0),
                    ),
                ],
            ),
            schema(
                K::Optimizer,
                "sgd",
                vec![
                    param("lr", ParamType::Float, None, Some(0.0), None),
                    param(
                        "momentum",
                        ParamType::Float,
                        Some(Value::Float(0.0)),
                        Some(0.0),
                        Some(1.0),
                    ),
                ],
            ),
            schema(
                K::Optimizer,
                "adamw",
                vec![
                    param(
                        "lr",
                        ParamType::Float,
                        Some(Value::Float(1e-3)),
                        Some(0.0),
                        None,
                    ),
                    param(
                        "weight_decay",
                        ParamType::Float,
                        Some(Value::Float(0.01)),
                        Some(0.0),
                        None,
                    ),
                    param(
                        "beta1",
                        ParamType::Float,
                        Some(Value::Float(0.9)),
                        Some(0.0),
                        Some(1.0),
                    ),
                    param(
                        "beta2",
                        ParamType::Float,
                        Some(Value::Float(0.999)),
                        Some(0.0),
                        Some(1.0),
                    ),
                ],
            ),
            schema(K::Scheduler, "constant", Vec::new()),
            schema(K::Scheduler, "linear", vec![warmup.clone()]),
            schema(K::Scheduler, "cosine", vec![warmup]),
            schema(K::Evaluator, "accuracy", Vec::new()),
            schema(K::Evaluator, "loss", Vec::new()),
            schema(K::Merger, "average", Vec::new()),
            schema(
                K::Merger,
                "wise_ft",
                vec![param(
                    "alpha",
                    ParamType::Float,
                    Some(Value::Float(0.5)),
                    Some(0.0),
                    Some(1.0),
                )],
            ),
            schema(
                K::Merger,
                "sfa",
                vec![
                    param(
                        "every",
                        ParamType::Duration { units: Vec::new() },
                        None,
                        None,
                        None,
                    ),
                    param(
                        "beta",
                        ParamType::Schedule,
                        Some(Value::Float(0.5)),
                        Some(0.0),
                        Some(1.0),
                    ),
                ],
            ),
            schema(
                K::Regularizer,
                "l2",
                vec![param(
                    "lambda",
                    ParamType::Float,
                    Some(Value::Float(1.0)),
                    Some(0.0),
                    None,
                )],
            ),
        ];
        TestCatalog { components }
    }
}

impl Catalog for TestCatalog {
    fn component(&self, kind: ComponentKind, name: &str) -> Option<&ComponentSchema> {
        self.components
            .iter()
            .find(|component| component.kind == kind && component.name == name)
    }

    fn names(&self, kind: ComponentKind) -> Vec<&str> {
        self.components
            .iter()
            .filter(|component| component.kind == kind)
            .map(|component| component.name.as_str())
            .collect()
    }
}

/// Modules held in memory, keyed by dotted path (`std.digits`).
#[derive(Default)]
pub struct TestWorld {
    modules: HashMap<String, (String, String)>,
}

impl TestWorld {
    pub fn new() -> TestWorld {
        TestWorld::default()
    }

    /// Adds a module; `std.x` gets the display name `<stdlib/x.exp>`, others `a/b.exp`.
    pub fn module(mut self, dotted: &str, text: &str) -> TestWorld {
        let display = match dotted.strip_prefix("std.") {
            Some(rest) => format!("<stdlib/{}.exp>", rest.replace('.', "/")),
            None => format!("{}.exp", dotted.replace('.', "/")),
        };
        self.modules
            .insert(dotted.to_string(), (display, text.to_string()));
        self
    }
}

impl World for TestWorld {
    fn load_module(&self, path: &[String]) -> Option<(String, Vec<u8>)> {
        self.modules
            .get(&path.join("."))
            .map(|(name, text)| (name.clone(), text.as_bytes().to_vec()))
    }
}
