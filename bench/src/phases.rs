//! Where exp's training step goes for a GPT row: the step the trainer takes
//! (runtime/src/nodes/train/step.rs), done here in-process through the same C ABI and timed
//! phase by phase (libtorch runs each operation to completion on the CPU before returning, so a
//! wall clock around a phase times it).
//!
//! The `gpt` comes from the text plugin (`libexp_text.so`) and `adamw` from the std plugin,
//! instantiated as the runtime does (parameters with their defaults, the model's weight-decay
//! exemptions passed to the optimizer), on `--threads` intra-op threads. Each step: gradients
//! zeroed (as the runtime's trainer does), forward and loss (`Model::loss`), backward, the
//! optimizer. Batches are windows of random byte tokens: the time of a step does not depend on
//! which tokens it reads. libtorch's per-operation profiler is not reachable from Rust; the
//! PyTorch side's operators are timed by `bench/python/gpt.py --profile`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Context as _};
use exp_plugin_api::exp_ir::ComponentKind;
use exp_plugin_api::host::{ForeignModel, ForeignOptimizer, Plugin};
use exp_plugin_api::sdk::{Context, DataInfo, Params, Rng, TokenInfo};
use exp_plugin_api::tch::{self, Kind, Tensor};

use crate::gpt_text::SPECIAL_TOKENS;
use crate::models::{BenchModel, Family, GPT_VOCAB};
use crate::stats::median;

/// The median milliseconds of each phase of a step.
pub struct Phases {
    pub model: &'static str,
    pub steps: usize,
    pub clear_grads: f64,
    pub forward_loss: f64,
    pub backward: f64,
    pub optimizer: f64,
    /// The median of whole steps (not the sum of the medians).
    pub step: f64,
}

impl Phases {
    pub fn line(&self) -> String {
        format!(
            "exp step phases, {} ({} steps, median ms): clear grads {:.3}, forward+loss {:.3}, \
             backward {:.3}, optimizer {:.3}, step {:.3}",
            self.model,
            self.steps,
            self.clear_grads,
            self.forward_loss,
            self.backward,
            self.optimizer,
            self.step
        )
    }
}

fn instantiate(
    plugin: &Arc<Plugin>,
    kind: ComponentKind,
    name: &str,
    json: serde_json::Value,
    context: &Context,
) -> anyhow::Result<exp_plugin_api::host::Foreign> {
    let schema = plugin
        .schema(kind, name)
        .with_context(|| format!("the plugin has no `{name}`"))?;
    let params = Params::from_json(&json)
        .map_err(|error| anyhow!("{error}"))?
        .with_defaults(&schema.params);
    plugin
        .instantiate(kind, name, params.values(), context)
        .map_err(|error| anyhow!("{error}"))
}

pub fn measure(
    bin_dir: &Path,
    model: &'static BenchModel,
    threads: usize,
    steps: usize,
) -> anyhow::Result<Phases> {
    let Family::Gpt(shape) = &model.family else {
        anyhow::bail!("{} is not a GPT row", model.name);
    };
    tch::set_num_threads(threads as i32);
    let plain = |error: &dyn std::fmt::Display| anyhow!("{error}");
    let text = Arc::new(Plugin::load(&bin_dir.join("libexp_text.so")).map_err(|e| plain(&e))?);
    let std = Arc::new(Plugin::load(&bin_dir.join("libexp_std.so")).map_err(|e| plain(&e))?);
    let context = Context {
        seed: 1,
        device: "cpu".into(),
        data: Some(DataInfo {
            input_shape: vec![shape.context as i64],
            classes: GPT_VOCAB as i64,
            train_len: 1,
            validation_len: 0,
            test_len: 0,
            source: "exp-bench".into(),
            license: "CC0-1.0".into(),
            tokens: Some(TokenInfo {
                vocab_size: GPT_VOCAB as i64,
                special: SPECIAL_TOKENS
                    .iter()
                    .enumerate()
                    .map(|(id, token)| (token.to_string(), id as i64))
                    .collect::<BTreeMap<_, _>>(),
            }),
            ..Default::default()
        }),
    };
    let gpt = serde_json::json!({
        "width": shape.width, "depth": shape.depth, "heads": shape.heads,
        "context": shape.context,
    });
    let mut gpt = instantiate(&text, ComponentKind::Model, "gpt", gpt, &context)
        .and_then(|foreign| ForeignModel::new(foreign).map_err(|e| plain(&e)))?;
    let adamw = serde_json::json!({ "lr": model.lr, "weight_decay": model.weight_decay });
    let mut adamw = instantiate(&std, ComponentKind::Optimizer, "adamw", adamw, &context)
        .and_then(|foreign| ForeignOptimizer::new(foreign).map_err(|e| plain(&e)))?;
    let named = gpt.named_tensors().map_err(|e| plain(&e))?;
    let exempt = gpt.no_decay().map_err(|e| plain(&e))?;
    let flags: Vec<bool> = named
        .iter()
        .map(|(name, _)| exempt.contains(name))
        .collect();
    adamw.set_no_decay(&flags).map_err(|e| plain(&e))?;
    let params: Vec<Tensor> = named.iter().map(|(_, t)| t.shallow_clone()).collect();

    let mut rng = Rng::new(2);
    let shape2 = [model.batch as i64, shape.context as i64 + 1];
    let mut times: [Vec<f64>; 5] = Default::default();
    for _ in 0..steps {
        let tokens: Vec<i64> = (0..shape2[0] * shape2[1])
            .map(|_| SPECIAL_TOKENS.len() as i64 + (rng.next_u64() % 256) as i64)
            .collect();
        let rows = Tensor::from_slice(&tokens).reshape(shape2);
        let x = rows.narrow(1, 0, shape2[1] - 1).contiguous();
        let y = rows.narrow(1, 1, shape2[1] - 1).contiguous();
        let started = Instant::now();
        for param in &params {
            let mut param = param.shallow_clone();
            param.zero_grad();
        }
        let cleared = Instant::now();
        let loss = gpt.loss(&x, &y).map_err(|e| plain(&e))?;
        let forward = Instant::now();
        loss.f_backward()?;
        let backward = Instant::now();
        adamw.step(&params).map_err(|e| plain(&e))?;
        let stepped = Instant::now();
        let _ = loss.to_kind(Kind::Double).double_value(&[]);
        for (slot, (from, to)) in times.iter_mut().zip([
            (started, cleared),
            (cleared, forward),
            (forward, backward),
            (backward, stepped),
            (started, stepped),
        ]) {
            slot.push((to - from).as_secs_f64() * 1e3);
        }
    }
    // The first step allocates the optimizer's moments and warms the allocator; leave it out
    // when there are others.
    let skip = usize::from(steps > 1);
    let phase = |index: usize| median(&times[index][skip..]);
    Ok(Phases {
        model: model.name,
        steps: steps - skip,
        clear_grads: phase(0),
        forward_loss: phase(1),
        backward: phase(2),
        optimizer: phase(3),
        step: phase(4),
    })
}
