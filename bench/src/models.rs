//! The benchmark models: one row per model family, the only place a new family is added.
//!
//! Each row says how exp builds the model (an expression for the `.exp` file the harness
//! writes), which PyTorch eager script in `bench/python/` is its reference, and how it trains:
//! batch, steps and AdamW hyper-parameters, the same on both sides. Both sides train on the
//! shipped digits with exp's train split and batch order, from the initial weights exp wrote.

/// One benchmark model.
pub struct BenchModel {
    /// A short name, used in the printed lines and in RESULTS.md.
    pub name: &'static str,
    /// The model as written in a `.exp` file, e.g. `mlp { hidden: [128] }`.
    pub model: &'static str,
    /// The reference script in `bench/python/`.
    pub script: &'static str,
    pub batch: u64,
    pub steps: u64,
    /// Steps in `--smoke` mode.
    pub smoke_steps: u64,
    pub lr: f64,
    pub weight_decay: f64,
    /// Floating-point operations of one example's forward and backward pass (3× the forward
    /// pass's multiply-adds ×2, the usual estimate), for the fraction of the matmul ceiling.
    pub flops_per_example: f64,
    /// Whether the "tiny model" target (exp ≤ 0.87× PyTorch) applies.
    pub tiny: bool,
}

/// Forward+backward FLOPs per example of an MLP with these layer widths.
const fn mlp_flops(widths: &[u64]) -> f64 {
    let mut macs = 0;
    let mut idx = 1;
    while idx < widths.len() {
        macs += widths[idx - 1] * widths[idx];
        idx += 1;
    }
    (3 * 2 * macs) as f64
}

/// Forward+backward FLOPs per example of `convnet` on `side`×`side` single-channel images.
const fn convnet_flops(side: u64, channels: &[u64], classes: u64) -> f64 {
    let mut macs = 0;
    let mut in_channels = 1;
    let mut idx = 0;
    while idx < channels.len() {
        macs += side * side * channels[idx] * in_channels * 9;
        in_channels = channels[idx];
        idx += 1;
    }
    macs += in_channels * (side / 2) * (side / 2) * classes;
    (3 * 2 * macs) as f64
}

pub const MODELS: &[BenchModel] = &[
    BenchModel {
        name: "digits-mlp",
        model: "mlp { hidden: [128] }",
        script: "mlp.py",
        batch: 512,
        steps: 600,
        smoke_steps: 20,
        lr: 1e-3,
        weight_decay: 0.01,
        flops_per_example: mlp_flops(&[64, 128, 10]),
        tiny: true,
    },
    BenchModel {
        name: "digits-convnet",
        model: "convnet { channels: [16, 32] }",
        script: "convnet.py",
        batch: 128,
        steps: 200,
        smoke_steps: 10,
        lr: 1e-3,
        weight_decay: 0.01,
        flops_per_example: convnet_flops(8, &[16, 32], 10),
        tiny: true,
    },
];

impl BenchModel {
    /// The experiment exp runs for this model.
    pub fn exp_source(&self, steps: u64) -> String {
        format!(
            "dataset d = digits\n\
             model m = {model}\n\
             train t {{\n  \
               model: m\n  \
               data: d\n  \
               steps: {steps} steps\n  \
               batch: {batch}\n  \
               seed: 1\n  \
               optimizer: adamw {{ lr: {lr:?}, weight_decay: {weight_decay:?} }}\n  \
               log_every: {steps} steps\n\
             }}\n",
            model = self.model,
            batch = self.batch,
            lr = self.lr,
            weight_decay = self.weight_decay,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{convnet_flops, mlp_flops, MODELS};

    #[test]
    fn flop_counts_match_hand_computed_values() {
        // 64·128 + 128·10 = 9,472 multiply-adds forward.
        assert_eq!(mlp_flops(&[64, 128, 10]), 6.0 * 9_472.0);
        // 64·16·9 + 64·32·16·9 + 512·10 = 9,216 + 294,912 + 5,120 multiply-adds forward.
        assert_eq!(convnet_flops(8, &[16, 32], 10), 6.0 * 309_248.0);
    }

    #[test]
    fn every_model_has_a_reference_script_and_a_valid_experiment() {
        let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
        for model in MODELS {
            assert!(python.join(model.script).is_file(), "{}", model.script);
            let source = model.exp_source(7);
            assert!(source.contains("steps: 7 steps"), "{source}");
            assert!(source.contains("lr: 0.001"), "{source}");
        }
    }
}
