//! `#[derive(Config)]` and `#[derive(Choice)]` as a plugin author uses them: the schema they
//! describe (what `exp check` validates files against), reading a checked parameter set, and
//! scheduled values with their bounds.

use exp_plugin_api::exp_ir::{DurationUnit, ParamType, Value};
use exp_plugin_api::sdk::{config, steps, Choice, Config, Duration, Params};

/// How to pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
enum Pick {
    First,
    LargestMagnitude,
    #[choice(name = "any")]
    Whatever,
}

#[derive(Debug, Clone, Config)]
struct Shared {
    /// linear warmup from 0
    #[param(default = steps(0.0))]
    warmup: Duration,
}

#[derive(Debug, Clone, Config)]
struct Everything {
    /// the learning rate, which a phase's `schedule:` schedules
    #[param(default = 1e-3, min = 0.0, learning_rate)]
    lr: f64,
    /// a fraction in (0, 1]
    ///
    /// A second paragraph is not part of the one-line doc.
    #[param(default = 0.2, above = 0.0, max = 1.0)]
    density: f64,
    /// strictly below one
    #[param(default = 0.9, min = 0.0, below = 1.0, schedule)]
    beta: f64,
    /// required, an unsigned count
    batches: u64,
    /// a signed integer
    #[param(default = -1)]
    offset: i64,
    /// a flag
    #[param(default = true)]
    keep: bool,
    /// widths
    #[param(default = [64, 32], min = 1.0)]
    hidden: Vec<i64>,
    /// a word from a list
    #[param(default = "relu", choices = ["relu", "tanh"])]
    activation: String,
    /// how to pick
    #[param(default = "largest_magnitude")]
    pick: Pick,
    /// a keyword as a name
    #[param(name = "final", default = 0.0)]
    end: f64,
    /// the raw identifier's name
    #[param(default = 2)]
    r#type: u32,
    #[param(flatten)]
    shared: Shared,
}

fn schema(name: &str) -> exp_plugin_api::exp_ir::ParamSchema {
    Everything::params()
        .into_iter()
        .find(|param| param.name == name)
        .unwrap_or_else(|| panic!("no parameter `{name}`"))
}

#[test]
fn fields_describe_their_parameters_in_order() {
    let names: Vec<String> = Everything::params()
        .into_iter()
        .map(|param| param.name)
        .collect();
    assert_eq!(
        names,
        [
            "lr",
            "density",
            "beta",
            "batches",
            "offset",
            "keep",
            "hidden",
            "activation",
            "pick",
            "final",
            "type",
            "warmup"
        ]
    );
    let lr = schema("lr");
    assert_eq!(lr.ty, ParamType::Float);
    assert_eq!(lr.default, Some(Value::Float(1e-3)));
    assert_eq!((lr.min, lr.min_exclusive, lr.max), (Some(0.0), false, None));
    assert!(
        lr.schedule && lr.learning_rate,
        "learning_rate implies schedule"
    );
    let density = schema("density");
    assert_eq!(density.doc, "a fraction in (0, 1]");
    assert_eq!((density.min, density.min_exclusive), (Some(0.0), true));
    assert_eq!((density.max, density.max_exclusive), (Some(1.0), false));
    assert!(!density.schedule);
    let beta = schema("beta");
    assert_eq!(
        (beta.max, beta.max_exclusive, beta.schedule),
        (Some(1.0), true, true)
    );
    // Required, and unsigned types imply a minimum of 0.
    let batches = schema("batches");
    assert_eq!(
        (batches.ty.clone(), batches.default.clone()),
        (ParamType::Int, None)
    );
    assert_eq!(batches.min, Some(0.0));
    assert_eq!(schema("offset").default, Some(Value::Int(-1)));
    assert_eq!(schema("offset").min, None);
    assert_eq!(schema("keep").default, Some(Value::Bool(true)));
    let hidden = schema("hidden");
    assert_eq!(hidden.ty, ParamType::List(Box::new(ParamType::Int)));
    assert_eq!(
        hidden.default,
        Some(Value::List(vec![Value::Int(64), Value::Int(32)]))
    );
    assert_eq!(
        schema("activation").ty,
        ParamType::Choice(vec!["relu".into(), "tanh".into()])
    );
    assert_eq!(
        schema("pick").ty,
        ParamType::Choice(vec![
            "first".into(),
            "largest_magnitude".into(),
            "any".into()
        ])
    );
    assert_eq!(
        schema("pick").default,
        Some(Value::Str("largest_magnitude".into()))
    );
    assert_eq!(schema("final").doc, "a keyword as a name");
    assert_eq!(schema("type").default, Some(Value::Int(2)));
    let warmup = schema("warmup");
    assert!(matches!(warmup.ty, ParamType::Duration { ref units } if units.len() == 4));
    assert_eq!(warmup.doc, "linear warmup from 0");
}

fn checked(json: serde_json::Value) -> Params {
    Params::from_json(&json)
        .unwrap()
        .with_defaults(&Everything::params())
}

#[test]
fn a_checked_parameter_set_reads_into_the_struct() {
    let config = Everything::from_params(&checked(serde_json::json!({
        "batches": 4,
        "pick": "any",
        "warmup": {"amount": 0.1, "unit": "fraction"},
        "hidden": [8],
    })))
    .unwrap();
    assert_eq!(config.batches, 4);
    assert_eq!(config.pick, Pick::Whatever);
    assert_eq!(config.pick.word(), "any");
    assert_eq!(config.hidden, vec![8]);
    assert_eq!(config.activation, "relu");
    assert_eq!(config.end, 0.0);
    assert_eq!(config.r#type, 2);
    assert!(config.keep);
    assert_eq!(config.offset, -1);
    assert_eq!(config.shared.warmup.unit, DurationUnit::Fraction);
    assert_eq!(config.lr, 1e-3);
    assert_eq!(config.density, 0.2);
}

#[test]
fn reading_names_the_parameter_at_fault() {
    let field = |json| {
        Everything::from_params(&checked(json))
            .err()
            .and_then(|error| error.field)
    };
    // Required and missing.
    assert_eq!(field(serde_json::json!({})).as_deref(), Some("batches"));
    // An unsigned count cannot be negative.
    assert_eq!(
        field(serde_json::json!({"batches": -1})).as_deref(),
        Some("batches")
    );
    assert_eq!(
        field(serde_json::json!({"batches": 1, "pick": "best"})).as_deref(),
        Some("pick")
    );
    assert_eq!(
        field(serde_json::json!({"batches": 1, "activation": "gelu"})).as_deref(),
        Some("activation")
    );
    assert_eq!(
        field(serde_json::json!({"batches": 1, "hidden": [1, "x"]})).as_deref(),
        Some("hidden")
    );
}

#[test]
fn scheduled_values_are_checked_against_their_bounds() {
    let mut config = Everything::from_params(&checked(serde_json::json!({"batches": 1}))).unwrap();
    config.set_scheduled("beta", 0.5).unwrap();
    assert_eq!(config.beta, 0.5);
    config.set_scheduled("lr", 0.25).unwrap();
    assert_eq!(config.lr, 0.25);
    let error = config.set_scheduled("beta", 1.0).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("beta"));
    assert!(
        error
            .message
            .contains("reached 1, but it takes a value at least 0 and below 1"),
        "{}",
        error.message
    );
    assert_eq!(config.beta, 0.5, "a refused value changes nothing");
    let error = config.set_scheduled("density", 0.5).unwrap_err();
    assert!(
        error.message.contains("cannot change during a phase"),
        "{}",
        error.message
    );
    assert!(config.set_scheduled("nonexistent", 0.5).is_err());
    assert_eq!(
        config::check_scheduled("x", f64::NAN, None, None)
            .unwrap_err()
            .field
            .as_deref(),
        Some("x")
    );
}

#[test]
fn choices_know_their_words() {
    assert_eq!(Pick::WORDS, ["first", "largest_magnitude", "any"]);
    assert_eq!(Pick::from_word("first"), Some(Pick::First));
    assert_eq!(Pick::from_word("First"), None);
}
