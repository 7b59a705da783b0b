//! Test doubles for `Catalog` and `World`: a small fixed catalog shaped like the std plugin,
//! and an in-memory module table. Used by the tests of this crate and of `exp-compile`.

use std::collections::{BTreeMap, HashMap};

use exp_ir::{ComponentKind, ComponentSchema, DurationUnit, ParamSchema, ParamType, Value};

use crate::{Catalog, ParamsRejected, World};

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
        default,
        min,
        max,
        ..ParamSchema::new(name, ty)
    }
}

/// An optimizer's learning rate: schedulable, and what a phase's `schedule:` schedules.
fn learning_rate(default: Option<Value>) -> ParamSchema {
    ParamSchema {
        schedule: true,
        learning_rate: true,
        ..param("lr", ParamType::Float, default, Some(0.0), None)
    }
}

fn schema(kind: ComponentKind, name: &str, params: Vec<ParamSchema>) -> ComponentSchema {
    ComponentSchema {
        kind,
        name: name.to_string(),
        doc: String::new(),
        version: "0.1.0".to_string(),
        params,
        text: false,
        trained: false,
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
                    learning_rate(None),
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
                    learning_rate(Some(Value::Float(1e-3))),
                    ParamSchema {
                        schedule: true,
                        ..param(
                            "weight_decay",
                            ParamType::Float,
                            Some(Value::Float(0.01)),
                            Some(0.0),
                            None,
                        )
                    },
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
            schema(K::Scheduler, "cosine", vec![warmup.clone()]),
            schema(
                K::Scheduler,
                "piecewise",
                vec![
                    warmup,
                    param(
                        "at",
                        ParamType::List(Box::new(ParamType::Duration { units: Vec::new() })),
                        None,
                        None,
                        None,
                    ),
                    param(
                        "values",
                        ParamType::List(Box::new(ParamType::Float)),
                        None,
                        Some(0.0),
                        None,
                    ),
                ],
            ),
            // An optimizer without a learning rate, for `schedule:` with nothing to schedule.
            schema(K::Optimizer, "fixed_steps", Vec::new()),
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
                    ParamSchema {
                        schedule: true,
                        ..param(
                            "beta",
                            ParamType::Float,
                            Some(Value::Float(0.5)),
                            Some(0.0),
                            Some(1.0),
                        )
                    },
                ],
            ),
            schema(
                K::Merger,
                "ties",
                vec![ParamSchema {
                    min_exclusive: true,
                    ..param(
                        "density",
                        ParamType::Float,
                        Some(Value::Float(0.2)),
                        Some(0.0),
                        Some(1.0),
                    )
                }],
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
            // Text: a corpus, files named by paths, tokenizers with and without training, a
            // model of tokens and an exporter.
            ComponentSchema {
                text: true,
                ..schema(K::Dataset, "corpus", Vec::new())
            },
            ComponentSchema {
                text: true,
                ..schema(
                    K::Dataset,
                    "text_files",
                    vec![ParamSchema {
                        path: true,
                        ..param(
                            "paths",
                            ParamType::List(Box::new(ParamType::Str)),
                            None,
                            None,
                            None,
                        )
                    }],
                )
            },
            ComponentSchema {
                trained: true,
                ..schema(
                    K::Tokenizer,
                    "bpe",
                    vec![param(
                        "vocab_size",
                        ParamType::Int,
                        Some(Value::Int(512)),
                        Some(257.0),
                        None,
                    )],
                )
            },
            schema(K::Tokenizer, "bytes", Vec::new()),
            schema(
                K::Model,
                "gpt",
                vec![ParamSchema {
                    sequence_length: true,
                    ..param(
                        "context",
                        ParamType::Int,
                        Some(Value::Int(64)),
                        Some(1.0),
                        None,
                    )
                }],
            ),
            schema(K::Exporter, "huggingface", Vec::new()),
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

    /// `piecewise` states the rule the real one does: one value per point.
    fn check_params(
        &self,
        kind: ComponentKind,
        name: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<(), ParamsRejected> {
        let length = |key: &str| match params.get(key) {
            Some(Value::List(items)) => items.len(),
            _ => 0,
        };
        if kind == ComponentKind::Scheduler
            && name == "piecewise"
            && length("at") != length("values")
        {
            return Err(ParamsRejected {
                param: Some("values".into()),
                message: format!(
                    "{} values for {} points: give one value per point of `at`",
                    length("values"),
                    length("at")
                ),
            });
        }
        Ok(())
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

    /// As if every file sat under `/project`: `data/a.txt` in `sub/x.exp` is
    /// `/project/sub/data/a.txt`.
    fn resolve_path(&self, written_in: &str, path: &str) -> String {
        let dir = match written_in.rsplit_once('/') {
            Some((dir, _)) => format!("/project/{dir}"),
            None => "/project".to_string(),
        };
        format!("{dir}/{path}")
    }
}
