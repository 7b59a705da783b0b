//! The benchmark models: one row per model, the only place a new row is added.
//!
//! Each row says how exp builds the model (the `.exp` file the harness writes), which PyTorch
//! script in `bench/python/` is its reference, and how it trains: batch, steps and AdamW
//! hyper-parameters, the same on both sides, from the initial weights exp wrote.
//! Two families: the shipped digits (exp's train split and batch order), and a GPT trained on
//! one text file the harness writes (`gpt_text.rs`), read through exp's `bytes` tokenizer and
//! packed into windows as exp packs them.

use crate::gpt_text::{SPECIAL_TOKENS, TEXT_FILE};

/// What a row trains and on what.
pub enum Family {
    /// The shipped digits; `model` as written in the `.exp` file.
    Digits {
        model: &'static str,
        /// Floating-point operations of one example's forward and backward pass (3× the
        /// forward pass's multiply-adds ×2, the usual estimate).
        flops_per_example: f64,
    },
    /// `gpt` (learned positions, GELU, tied head, no dropout) on the harness's text file.
    Gpt(GptShape),
}

/// The architecture of a GPT row; the vocabulary is the `bytes` tokenizer's.
pub struct GptShape {
    pub width: u64,
    pub depth: u64,
    pub heads: u64,
    pub context: u64,
}

/// The `bytes` tokenizer's vocabulary: the special tokens, then one token per byte.
pub const GPT_VOCAB: u64 = SPECIAL_TOKENS.len() as u64 + 256;

impl GptShape {
    /// Every parameter, the tied head once: embeddings, per block two layer norms and four
    /// biased linear layers (`c_attn` 3C×C, `attn.c_proj` C×C, `c_fc` 4C×C, `mlp.c_proj`
    /// C×4C), and `ln_f`.
    pub const fn parameters(&self) -> u64 {
        let c = self.width;
        let block =
            2 * 2 * c + (3 * c * c + 3 * c) + (c * c + c) + (4 * c * c + 4 * c) + (4 * c * c + c);
        GPT_VOCAB * c + self.context * c + self.depth * block + 2 * c
    }

    /// Forward and backward FLOPs per token, as nanoGPT's `estimate_mfu` counts them:
    /// 6·N for the parameters that multiply (every one but the position table, the tied
    /// head counted as a matrix) plus 12·depth·context·width for attention's two products
    /// (the whole T×T square, as the kernels compute it).
    pub const fn flops_per_token(&self) -> f64 {
        let multiplying = self.parameters() - self.context * self.width;
        (6 * multiplying + 12 * self.depth * self.context * self.width) as f64
    }
}

/// One benchmark model.
pub struct BenchModel {
    /// A short name, used in the printed lines and in RESULTS.md.
    pub name: &'static str,
    pub family: Family,
    /// The reference script in `bench/python/`.
    pub script: &'static str,
    /// Examples (digits) or windows of `context` tokens (GPT) per step.
    pub batch: u64,
    pub steps: u64,
    /// Steps in `--smoke` mode; 0 leaves the row out of it (the suite runs `--smoke` on every
    /// test run, and a row as large as gpt-10m would add minutes to it while checking nothing
    /// gpt-1m does not).
    pub smoke_steps: u64,
    pub lr: f64,
    pub weight_decay: f64,
    /// The target for exp's step time as a fraction of PyTorch eager's, if any.
    pub target: Option<f64>,
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
        family: Family::Digits {
            model: "mlp { hidden: [128] }",
            flops_per_example: mlp_flops(&[64, 128, 10]),
        },
        script: "mlp.py",
        batch: 512,
        steps: 600,
        smoke_steps: 20,
        lr: 1e-3,
        weight_decay: 0.01,
        target: Some(0.87),
    },
    BenchModel {
        name: "digits-convnet",
        family: Family::Digits {
            model: "convnet { channels: [16, 32] }",
            flops_per_example: convnet_flops(8, &[16, 32], 10),
        },
        script: "convnet.py",
        batch: 128,
        steps: 200,
        smoke_steps: 10,
        lr: 1e-3,
        weight_decay: 0.01,
        target: Some(0.87),
    },
    BenchModel {
        name: "gpt-1m",
        family: Family::Gpt(GptShape {
            width: 128,
            depth: 5,
            heads: 4,
            context: 256,
        }),
        script: "gpt.py",
        batch: 8,
        steps: 60,
        smoke_steps: 4,
        lr: 1e-3,
        weight_decay: 0.1,
        target: None,
    },
    BenchModel {
        name: "gpt-10m",
        family: Family::Gpt(GptShape {
            width: 384,
            depth: 6,
            heads: 6,
            context: 256,
        }),
        script: "gpt.py",
        batch: 8,
        steps: 30,
        smoke_steps: 0,
        lr: 1e-3,
        weight_decay: 0.1,
        target: Some(0.91),
    },
];

impl BenchModel {
    /// What one step trains on, and its unit: examples, or tokens for a GPT.
    pub fn units_per_step(&self) -> (f64, &'static str) {
        match &self.family {
            Family::Digits { .. } => (self.batch as f64, "examples"),
            Family::Gpt(shape) => ((self.batch * shape.context) as f64, "tokens"),
        }
    }

    /// Floating-point operations of one training step (forward and backward).
    pub fn flops_per_step(&self) -> f64 {
        match &self.family {
            Family::Digits {
                flops_per_example, ..
            } => flops_per_example * self.batch as f64,
            Family::Gpt(shape) => shape.flops_per_token() * (self.batch * shape.context) as f64,
        }
    }

    pub fn is_gpt(&self) -> bool {
        matches!(self.family, Family::Gpt(_))
    }

    /// The model as written in the `.exp` file, e.g. `mlp { hidden: [128] }`.
    pub fn model_source(&self) -> String {
        match &self.family {
            Family::Digits { model, .. } => model.to_string(),
            Family::Gpt(shape) => format!(
                "gpt(tok) {{ width: {}, depth: {}, heads: {}, context: {} }}",
                shape.width, shape.depth, shape.heads, shape.context
            ),
        }
    }

    /// The experiment exp runs for this model. A GPT reads the harness's text file (beside
    /// the experiment) as one document, all of it for training, and logs its loss at every
    /// step, so the first steps can be compared with PyTorch's.
    pub fn exp_source(&self, steps: u64) -> String {
        let (data, log_every) = match &self.family {
            Family::Digits { .. } => ("dataset d = digits\n".to_string(), steps),
            Family::Gpt(_) => (
                format!(
                    "tokenizer tok = bytes {{ special_tokens: [{}] }}\n\
                     dataset d = text_files {{ paths: [\"{TEXT_FILE}\"], format: \"text\", \
                     source: \"exp-bench generated text\", license: \"CC0-1.0\", \
                     validation_fraction: 0.0, test_fraction: 0.0 }}\n",
                    SPECIAL_TOKENS
                        .iter()
                        .map(|token| format!("\"{token}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                1,
            ),
        };
        format!(
            "{data}\
             model m = {model}\n\
             train t {{\n  \
               model: m\n  \
               data: d\n  \
               steps: {steps} steps\n  \
               batch: {batch}\n  \
               seed: 1\n  \
               optimizer: adamw {{ lr: {lr:?}, weight_decay: {weight_decay:?} }}\n  \
               log_every: {log_every} steps\n\
             }}\n",
            model = self.model_source(),
            batch = self.batch,
            lr = self.lr,
            weight_decay = self.weight_decay,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{convnet_flops, mlp_flops, Family, GptShape, MODELS};

    #[test]
    fn flop_counts_match_hand_computed_values() {
        // 64·128 + 128·10 = 9,472 multiply-adds forward.
        assert_eq!(mlp_flops(&[64, 128, 10]), 6.0 * 9_472.0);
        // 64·16·9 + 64·32·16·9 + 512·10 = 9,216 + 294,912 + 5,120 multiply-adds forward.
        assert_eq!(convnet_flops(8, &[16, 32], 10), 6.0 * 309_248.0);
    }

    #[test]
    fn gpt_parameters_match_what_exp_and_pytorch_counted() {
        // Both sides reported 10,844,928 parameters for this shape with the bytes tokenizer's
        // 258 tokens (`parameters` in gpt.py's report).
        let shape = GptShape {
            width: 384,
            depth: 6,
            heads: 6,
            context: 256,
        };
        assert_eq!(shape.parameters(), 10_844_928);
        let multiplying = 10_844_928 - 256 * 384;
        assert_eq!(
            shape.flops_per_token(),
            (6 * multiplying + 12 * 6 * 256 * 384) as f64
        );
    }

    #[test]
    fn every_model_has_a_reference_script_and_a_valid_experiment() {
        let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
        for model in MODELS {
            assert!(python.join(model.script).is_file(), "{}", model.script);
            let source = model.exp_source(7);
            assert!(source.contains("steps: 7 steps"), "{source}");
            assert!(source.contains("lr: 0.001"), "{source}");
            if let Family::Gpt(shape) = &model.family {
                assert!(source.contains("log_every: 1 steps"), "{source}");
                assert!(source.contains("tokenizer tok = bytes"), "{source}");
                assert_eq!(shape.width % shape.heads, 0, "{}", model.name);
            }
        }
    }
}
