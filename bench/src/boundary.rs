//! The cost of the plugin boundary: `mlp` + `adamw` trained through the C ABI (the std plugin's
//! cdylib loaded with `host::Plugin`, driven through `ForeignModel` and `ForeignOptimizer`, as
//! the runtime does) against the same code linked statically (exp-std as an rlib, driven
//! through the SDK traits).
//!
//! Both copies start from the same seed and see the same batches. Steps alternate between the
//! two (static first on even steps, foreign first on odd ones), so drift in the machine's speed
//! hits both alike; a step here is zero-grad, loss, backward and the optimizer update, the part
//! of the runtime's step that crosses the boundary. The overhead is the difference of the
//! median step times as a percentage of the static median, overall and per block of steps.

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

/// Blocks the steps are split into to show the spread of the overhead.
const BLOCKS: usize = 5;

pub struct BoundaryResult {
    pub steps: usize,
    pub static_median: f64,
    pub foreign_median: f64,
    /// Overhead in % of a static step: overall, and the smallest and largest over blocks.
    pub overhead_pct: f64,
    pub overhead_range: (f64, f64),
    /// Whether both copies ended with bit-identical weights.
    pub identical: bool,
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

fn overhead(static_times: &[f64], foreign_times: &[f64]) -> f64 {
    let base = median(static_times);
    (median(foreign_times) - base) / base * 100.0
}

pub fn measure(library: &Path, steps: usize, batch: usize) -> anyhow::Result<BoundaryResult> {
    let plain = |error: &dyn std::fmt::Display| anyhow!("{error}");
    let data_context = Context {
        seed: 0,
        device: "cpu".into(),
        data: None,
    };
    let digits = build::<Digits>(serde_json::json!({}), &data_context).map_err(|e| plain(&e))?;
    let info = digits.info();
    let context = Context {
        seed: 1,
        device: "cpu".into(),
        data: Some(info.clone()),
    };
    let model_json = serde_json::json!({"hidden": [128], "activation": "relu", "dropout": 0.0});
    let optimizer_json = serde_json::json!({
        "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01
    });

    let static_model = build::<Mlp>(model_json.clone(), &context).map_err(|e| plain(&e))?;
    let mut static_optimizer =
        build::<AdamW>(optimizer_json.clone(), &context).map_err(|e| plain(&e))?;
    let static_params = trainable(&static_model.named_tensors());

    let plugin = Arc::new(Plugin::load(library).map_err(|e| plain(&e))?);
    let mut foreign_model = plugin
        .instantiate(
            ComponentKind::Model,
            "mlp",
            full_params::<MlpConfig>(&model_json)?.values(),
            &context,
        )
        .and_then(ForeignModel::new)
        .map_err(|e| plain(&e))?;
    let mut foreign_optimizer = plugin
        .instantiate(
            ComponentKind::Optimizer,
            "adamw",
            full_params::<AdamWConfig>(&optimizer_json)?.values(),
            &context,
        )
        .and_then(ForeignOptimizer::new)
        .map_err(|e| plain(&e))?;
    let foreign_params = trainable(&foreign_model.named_tensors().map_err(|e| plain(&e))?);

    let mut rng = Rng::new(1);
    let mut order: Vec<i64> = Vec::new();
    let (mut static_times, mut foreign_times) = (Vec::new(), Vec::new());
    for step in 0..steps {
        if order.len() < batch {
            order.extend(rng.permutation(info.train_len as usize));
        }
        let indices: Vec<i64> = order.drain(..batch).collect();
        let (x, y) = digits
            .batch(Split::Train, &indices)
            .map_err(|e| plain(&e))?;
        for foreign_turn in [step % 2 == 1, step % 2 == 0] {
            let started = Instant::now();
            if foreign_turn {
                zero_grads(&foreign_params);
                let loss = foreign_model.loss(&x, &y).map_err(|e| plain(&e))?;
                loss.f_backward()?;
                foreign_optimizer
                    .step(&foreign_params)
                    .map_err(|e| plain(&e))?;
                foreign_times.push(started.elapsed().as_secs_f64());
            } else {
                zero_grads(&static_params);
                let loss = static_model.loss(&x, &y).map_err(|e| plain(&e))?;
                loss.f_backward()?;
                static_optimizer
                    .step(&static_params)
                    .map_err(|e| plain(&e))?;
                static_times.push(started.elapsed().as_secs_f64());
            }
        }
    }
    let identical = static_params
        .iter()
        .zip(&foreign_params)
        .all(|(a, b)| a.equal(b));
    let block = (steps / BLOCKS).max(1);
    let blocks: Vec<f64> = static_times
        .chunks(block)
        .zip(foreign_times.chunks(block))
        .map(|(a, b)| overhead(a, b))
        .collect();
    Ok(BoundaryResult {
        steps,
        static_median: median(&static_times),
        foreign_median: median(&foreign_times),
        overhead_pct: overhead(&static_times, &foreign_times),
        overhead_range: (
            blocks.iter().copied().fold(f64::INFINITY, f64::min),
            blocks.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ),
        identical,
    })
}
