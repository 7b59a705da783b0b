//! The cost of the plugin boundary: `mlp` + `adamw` trained through the C ABI (the std plugin's
//! cdylib loaded with `host::Plugin`, driven through `ForeignModel` and `ForeignOptimizer`, as
//! the runtime does) against the same code linked statically (exp-std as an rlib, driven
//! through the SDK traits).
//!
//! Both copies start from the same seed and see the same batches. Steps alternate between the
//! two (static first on even steps, foreign first on odd ones), so drift in the machine's speed
//! hits both alike; a step here is zero-grad, loss, backward and the optimizer update, the part
//! of the runtime's step that crosses the boundary.
//!
//! Where a copy's tensors land in memory moves its step time by about 1% on its own (two
//! statically linked copies measured this way differ by up to ±1.3% on a 2-core AMD EPYC), as
//! much as the target allows the boundary. So the comparison runs in rounds, each with both
//! copies built afresh and half of them with the foreign copy built first; the overhead is the
//! median over rounds of the difference of the median step times, as a percentage of the
//! static median. The same rounds with two static copies (the control) show what placement and order
//! alone give, which should be about zero.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use exp_plugin_api::exp_ir::ComponentKind;
use exp_plugin_api::host::{ForeignModel, ForeignOptimizer, Plugin};
use exp_plugin_api::sdk::{build, Config, Context, Dataset, Model, Optimizer, Params, Rng, Split};
use exp_plugin_api::tch::Tensor;
use exp_std::dataset::digits::Digits;
use exp_std::model::mlp::{Mlp, MlpConfig};
use exp_std::optimizer::adamw::{AdamW, AdamWConfig};

use crate::stats::median;

/// Rounds of the comparison (see the module docs); even, so each copy is built first equally
/// often.
pub const ROUNDS: usize = 4;

/// One copy measured against another.
pub struct Comparison {
    /// Step times of each copy over every round.
    pub base_median: f64,
    pub other_median: f64,
    /// The other copy's overhead over the base in % of a base step: the median over rounds
    /// (a round the machine disturbed moves a mean by several percent), and the smallest and
    /// largest round.
    pub overhead_pct: f64,
    pub overhead_range: (f64, f64),
    /// Whether both copies ended every round with bit-identical weights.
    pub identical: bool,
}

pub struct BoundaryResult {
    /// Steps each copy took, over all rounds.
    pub steps: usize,
    /// Static (base) against foreign.
    pub foreign: Comparison,
    /// Static against static: what placement and order alone give.
    pub control: Comparison,
}

/// A component's full parameter set (defaults filled in), as the host passes it.
fn full_params<C: Config>(value: &serde_json::Value) -> anyhow::Result<Params> {
    Ok(Params::from_json(value)
        .map_err(|error| anyhow!("{error}"))?
        .with_defaults(&C::params()))
}

fn zero_grads(tensors: &[Tensor]) {
    for tensor in tensors {
        let mut tensor = tensor.shallow_clone();
        tensor.zero_grad();
    }
}

fn trainable(tensors: &[(String, Tensor)]) -> Vec<Tensor> {
    tensors
        .iter()
        .filter(|(_, tensor)| tensor.requires_grad())
        .map(|(_, tensor)| tensor.shallow_clone())
        .collect()
}

fn overhead(base_times: &[f64], other_times: &[f64]) -> f64 {
    let base = median(base_times);
    (median(other_times) - base) / base * 100.0
}

fn plain(error: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow!("{error}")
}

/// How a copy is linked.
#[derive(Clone, Copy)]
enum Linked {
    Statically,
    ThroughTheAbi,
}

/// A model and its optimizer, with the model's trainable tensors.
enum Copy {
    Static(Mlp, AdamW, Vec<Tensor>),
    Foreign(ForeignModel, ForeignOptimizer, Vec<Tensor>),
}

/// What every copy is built from.
struct Setup {
    context: Context,
    model: serde_json::Value,
    optimizer: serde_json::Value,
    plugin: Arc<Plugin>,
}

impl Setup {
    fn build(&self, linked: Linked) -> anyhow::Result<Copy> {
        Ok(match linked {
            Linked::Statically => {
                let model =
                    build::<Mlp>(self.model.clone(), &self.context).map_err(|e| plain(&e))?;
                let optimizer =
                    build::<AdamW>(self.optimizer.clone(), &self.context).map_err(|e| plain(&e))?;
                let params = trainable(&model.named_tensors());
                Copy::Static(model, optimizer, params)
            }
            Linked::ThroughTheAbi => {
                let mut model = self
                    .plugin
                    .instantiate(
                        ComponentKind::Model,
                        "mlp",
                        full_params::<MlpConfig>(&self.model)?.values(),
                        &self.context,
                    )
                    .and_then(ForeignModel::new)
                    .map_err(|e| plain(&e))?;
                let optimizer = self
                    .plugin
                    .instantiate(
                        ComponentKind::Optimizer,
                        "adamw",
                        full_params::<AdamWConfig>(&self.optimizer)?.values(),
                        &self.context,
                    )
                    .and_then(ForeignOptimizer::new)
                    .map_err(|e| plain(&e))?;
                let params = trainable(&model.named_tensors().map_err(|e| plain(&e))?);
                Copy::Foreign(model, optimizer, params)
            }
        })
    }
}

impl Copy {
    fn step(&mut self, x: &Tensor, y: &Tensor) -> anyhow::Result<()> {
        match self {
            Copy::Static(model, optimizer, params) => {
                zero_grads(params);
                model.loss(x, y).map_err(|e| plain(&e))?.f_backward()?;
                optimizer.step(params).map_err(|e| plain(&e))?;
            }
            Copy::Foreign(model, optimizer, params) => {
                zero_grads(params);
                model.loss(x, y).map_err(|e| plain(&e))?.f_backward()?;
                optimizer.step(params).map_err(|e| plain(&e))?;
            }
        }
        Ok(())
    }

    fn params(&self) -> &[Tensor] {
        match self {
            Copy::Static(_, _, params) | Copy::Foreign(_, _, params) => params,
        }
    }
}

/// `other` against `base`: `ROUNDS` rounds of `steps` steps each, on the same batches.
fn compare(
    setup: &Setup,
    digits: &Digits,
    (base, other): (Linked, Linked),
    steps: usize,
    batch: usize,
) -> anyhow::Result<Comparison> {
    let train_len = digits.info().train_len as usize;
    let (mut base_times, mut other_times, mut rounds) = (Vec::new(), Vec::new(), Vec::new());
    let mut identical = true;
    for round in 0..ROUNDS {
        let (mut a, mut b) = if round % 2 == 0 {
            let a = setup.build(base)?;
            (a, setup.build(other)?)
        } else {
            let b = setup.build(other)?;
            (setup.build(base)?, b)
        };
        let (mut a_times, mut b_times) = (Vec::new(), Vec::new());
        let mut rng = Rng::new(1);
        let mut order: Vec<i64> = Vec::new();
        for step in 0..steps {
            if order.len() < batch {
                order.extend(rng.permutation(train_len));
            }
            let indices: Vec<i64> = order.drain(..batch).collect();
            let (x, y) = digits
                .batch(Split::Train, &indices)
                .map_err(|e| plain(&e))?;
            for other_turn in [step % 2 == 1, step % 2 == 0] {
                let started = Instant::now();
                if other_turn {
                    b.step(&x, &y)?;
                    b_times.push(started.elapsed().as_secs_f64());
                } else {
                    a.step(&x, &y)?;
                    a_times.push(started.elapsed().as_secs_f64());
                }
            }
        }
        identical &= a.params().iter().zip(b.params()).all(|(a, b)| a.equal(b));
        rounds.push(overhead(&a_times, &b_times));
        base_times.extend(a_times);
        other_times.extend(b_times);
    }
    Ok(Comparison {
        base_median: median(&base_times),
        other_median: median(&other_times),
        overhead_pct: median(&rounds),
        overhead_range: (
            rounds.iter().copied().fold(f64::INFINITY, f64::min),
            rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        identical,
    })
}

/// `steps` steps of each copy in all, against the std plugin at `library`.
pub fn measure(library: &Path, steps: usize, batch: usize) -> anyhow::Result<BoundaryResult> {
    let data_context = Context {
        seed: 0,
        device: "cpu".into(),
        data: None,
    };
    let digits = build::<Digits>(serde_json::json!({}), &data_context).map_err(|e| plain(&e))?;
    let setup = Setup {
        context: Context {
            seed: 1,
            device: "cpu".into(),
            data: Some(digits.info()),
        },
        model: serde_json::json!({"hidden": [128], "activation": "relu", "dropout": 0.0}),
        optimizer: serde_json::json!({
            "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01
        }),
        plugin: Arc::new(Plugin::load(library).map_err(|e| plain(&e))?),
    };
    let per_round = (steps / ROUNDS).max(1);
    let pair = (Linked::Statically, Linked::ThroughTheAbi);
    let foreign = compare(&setup, &digits, pair, per_round, batch)?;
    let pair = (Linked::Statically, Linked::Statically);
    let control = compare(&setup, &digits, pair, per_round, batch)?;
    Ok(BoundaryResult {
        steps: per_round * ROUNDS,
        foreign,
        control,
    })
}
