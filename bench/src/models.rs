//! The benchmark models: one row per model, the only place a new row is added.
//!
//! Each row says how exp builds the model (the `.exp` file the harness writes), which PyTorch
//! script in `bench/python/` is its reference, and how it trains: batch, steps and AdamW
//! hyper-parameters, the same on both sides, from the initial weights exp wrote.
//! Three families: the shipped digits (exp's train split and batch order), a GPT trained on
//! one text file the harness writes (`gpt_text.rs`), read through exp's `bytes` tokenizer and
//! packed into windows as exp packs them, and the diffusion plugin's `unet` on its generated
//! `shapes` images, whose PyTorch side draws inputs and noise of its own (`FirstLosses`).

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
    /// The diffusion plugin's `unet` on `shapes` images.
    Diffusion(UNetShape),
}

/// How a row holds the two sides' losses against each other.
pub enum FirstLosses {
    /// Not at the first steps: only the final losses are shown (the digits: the same data in
    /// the same order, so they agree to the digits shown).
    Shown,
    /// The first steps' losses must agree (`runs::check_agreement`): the same weights see the
    /// same tokens.
    Agree,
    /// The first step's losses must be of the ε-prediction loss's magnitude
    /// (`runs::check_magnitude`): exp draws its images from its Rust generator and its
    /// timesteps, noise and caption dropout from its Rust random stream, the PyTorch side
    /// draws its own with torch, so only step time, throughput and memory compare like for
    /// like.
    Magnitude,
}

/// The architecture of a GPT row; the vocabulary is the `bytes` tokenizer's.
pub struct GptShape {
    pub width: u64,
    pub depth: u64,
    pub heads: u64,
    pub context: u64,
}

/// The images of `shapes` at its default size: 3×16×16.
pub const SHAPES_IMAGE: [u64; 3] = [3, 16, 16];
/// The values of each caption attribute of `shapes`: shape, colour and size.
pub const SHAPES_ATTRIBUTES: [u64; 3] = [4, 4, 2];

/// The architecture of a `unet` row and its diffusion settings, every one written into the
/// `.exp` file and passed to `unet.py`, so neither side relies on its defaults.
pub struct UNetShape {
    pub width: u64,
    pub multipliers: &'static [u64],
    pub timesteps: u64,
    /// The β schedule; `unet.py` ports `linear` only.
    pub schedule: &'static str,
    pub condition_dropout: f64,
    pub groups: u64,
    /// `shapes { count }`, all of them the training split (no validation or test fractions).
    pub examples: u64,
}

/// Parameters of a convolution with bias.
const fn conv_parameters(input: u64, output: u64, kernel: u64) -> u64 {
    output * input * kernel * kernel + output
}

impl UNetShape {
    /// The time-and-caption embedding: 4·width (the plugin's `EMBEDDING_FACTOR`).
    const fn embedding(&self) -> u64 {
        4 * self.width
    }

    const fn levels(&self) -> usize {
        self.multipliers.len()
    }

    const fn channels(&self, level: usize) -> u64 {
        self.width * self.multipliers[level]
    }

    /// Input and output channels of the down block of `level`.
    const fn down_block(&self, level: usize) -> (u64, u64) {
        let input = if level == 0 {
            self.width
        } else {
            self.channels(level - 1)
        };
        (input, self.channels(level))
    }

    /// Input and output channels of the up block of `level`: what comes up from below and the
    /// skip of the down block at the same level.
    const fn up_block(&self, level: usize) -> (u64, u64) {
        let below = if level + 1 < self.levels() {
            level + 1
        } else {
            level
        };
        (
            self.channels(below) + self.channels(level),
            self.channels(level),
        )
    }

    /// Parameters of a residual block: two group norms, two 3×3 convolutions, the FiLM map and
    /// a 1×1 skip where the channels change.
    const fn block_parameters(&self, (input, output): (u64, u64)) -> u64 {
        let skip = if input == output {
            0
        } else {
            conv_parameters(input, output, 1)
        };
        2 * input
            + conv_parameters(input, output, 3)
            + (self.embedding() * 2 * output + 2 * output)
            + 2 * output
            + conv_parameters(output, output, 3)
            + skip
    }

    /// Multiply-adds of a residual block at `side`×`side`, FiLM included.
    const fn block_macs(&self, (input, output): (u64, u64), side: u64) -> u64 {
        let skip = if input == output { 0 } else { input * output };
        side * side * (input * output * 9 + output * output * 9 + skip)
            + self.embedding() * 2 * output
    }

    /// Every parameter: `conv_in`, the time embedding's two linear maps, one caption table per
    /// attribute with a "none" row, the blocks, the resampling convolutions, `norm_out` and
    /// `conv_out`.
    pub const fn parameters(&self) -> u64 {
        let [channels, ..] = SHAPES_IMAGE;
        let embedding = self.embedding();
        let last = self.channels(self.levels() - 1);
        let mut count = conv_parameters(channels, self.width, 3)
            + (self.width * embedding + embedding)
            + (embedding * embedding + embedding)
            + self.block_parameters((last, last))
            + 2 * self.width
            + conv_parameters(self.width, channels, 3);
        let mut attribute = 0;
        while attribute < SHAPES_ATTRIBUTES.len() {
            count += (SHAPES_ATTRIBUTES[attribute] + 1) * embedding;
            attribute += 1;
        }
        let mut level = 0;
        while level < self.levels() {
            count += self.block_parameters(self.down_block(level))
                + self.block_parameters(self.up_block(level));
            // A stride-2 convolution below every level but the deepest, an upsampling one
            // above every level but the shallowest.
            if level + 1 < self.levels() {
                count += conv_parameters(self.channels(level), self.channels(level), 3);
            }
            if level > 0 {
                count += conv_parameters(self.channels(level), self.channels(level), 3);
            }
            level += 1;
        }
        count
    }

    /// Forward and backward FLOPs per example (3× the forward multiply-adds ×2): the
    /// convolutions at their levels' sizes, the time embedding and the FiLM maps; group norms,
    /// activations and the loss left out, as for the conv net.
    pub const fn flops_per_example(&self) -> f64 {
        let [channels, side, _] = SHAPES_IMAGE;
        let embedding = self.embedding();
        let last = self.channels(self.levels() - 1);
        let deepest = side >> (self.levels() - 1);
        let mut macs = 2 * side * side * channels * self.width * 9
            + self.width * embedding
            + embedding * embedding
            + self.block_macs((last, last), deepest);
        let mut level = 0;
        while level < self.levels() {
            let at = side >> level;
            let c = self.channels(level);
            macs += self.block_macs(self.down_block(level), at)
                + self.block_macs(self.up_block(level), at);
            if level + 1 < self.levels() {
                macs += (at / 2) * (at / 2) * c * c * 9;
            }
            if level > 0 {
                macs += (2 * at) * (2 * at) * c * c * 9;
            }
            level += 1;
        }
        (3 * 2 * macs) as f64
    }
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
    BenchModel {
        name: "unet-16px",
        family: Family::Diffusion(UNetShape {
            width: 32,
            multipliers: &[1, 2],
            timesteps: 1000,
            schedule: "linear",
            condition_dropout: 0.1,
            groups: 8,
            examples: 2000,
        }),
        script: "unet.py",
        batch: 64,
        steps: 30,
        smoke_steps: 3,
        lr: 1e-3,
        weight_decay: 0.01,
        target: None,
    },
];

impl BenchModel {
    /// What one step trains on, and its unit: examples, or tokens for a GPT.
    pub fn units_per_step(&self) -> (f64, &'static str) {
        match &self.family {
            Family::Digits { .. } => (self.batch as f64, "examples"),
            Family::Gpt(shape) => ((self.batch * shape.context) as f64, "tokens"),
            Family::Diffusion(_) => (self.batch as f64, "examples"),
        }
    }

    /// Floating-point operations of one training step (forward and backward).
    pub fn flops_per_step(&self) -> f64 {
        match &self.family {
            Family::Digits {
                flops_per_example, ..
            } => flops_per_example * self.batch as f64,
            Family::Gpt(shape) => shape.flops_per_token() * (self.batch * shape.context) as f64,
            Family::Diffusion(shape) => shape.flops_per_example() * self.batch as f64,
        }
    }

    pub fn is_gpt(&self) -> bool {
        matches!(self.family, Family::Gpt(_))
    }

    /// How the two sides' losses are compared (see [`FirstLosses`]).
    pub fn first_losses(&self) -> FirstLosses {
        match self.family {
            Family::Digits { .. } => FirstLosses::Shown,
            Family::Gpt(_) => FirstLosses::Agree,
            Family::Diffusion(_) => FirstLosses::Magnitude,
        }
    }

    /// The model as written in the `.exp` file, e.g. `mlp { hidden: [128] }`.
    pub fn model_source(&self) -> String {
        match &self.family {
            Family::Digits { model, .. } => model.to_string(),
            Family::Gpt(shape) => format!(
                "gpt(tok) {{ width: {}, depth: {}, heads: {}, context: {} }}",
                shape.width, shape.depth, shape.heads, shape.context
            ),
            Family::Diffusion(shape) => format!(
                "unet {{ width: {}, multipliers: [{}], timesteps: {}, schedule: \"{}\", \
                 condition_dropout: {:?}, groups: {} }}",
                shape.width,
                shape
                    .multipliers
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                shape.timesteps,
                shape.schedule,
                shape.condition_dropout,
                shape.groups
            ),
        }
    }

    /// The experiment exp runs for this model. A GPT reads the harness's text file (beside
    /// the experiment) as one document, all of it for training; a U-Net trains on every
    /// `shapes` image generated. Both log their loss at every step, so the first steps can be
    /// compared with PyTorch's.
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
            Family::Diffusion(shape) => (
                format!(
                    "dataset d = shapes {{ count: {}, validation_fraction: 0.0, \
                     test_fraction: 0.0 }}\n",
                    shape.examples
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
    use super::{convnet_flops, mlp_flops, Family, GptShape, UNetShape, MODELS};

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
    fn unet_parameters_and_flops_match_hand_computed_values() {
        let shape = UNetShape {
            width: 32,
            multipliers: &[1, 2],
            timesteps: 1000,
            schedule: "linear",
            condition_dropout: 0.1,
            groups: 8,
            examples: 10,
        };
        // What exp's checkpoint of this model holds, and unet.py counted, on 3×16×16 shapes.
        assert_eq!(shape.parameters(), 446_563);
        // Forward multiply-adds at 16×16 (level 0, 32 channels) and 8×8 (level 1, 64):
        // conv_in and conv_out, the time embedding, down 0 (convs and FiLM), its downsample,
        // down 1 (with a 1×1 skip), mid, up 1 (128 → 64, skip), its upsample at 16×16, up 0
        // (96 → 32, skip).
        let macs = 2 * 256 * 3 * 32 * 9
            + (32 * 128 + 128 * 128)
            + (256 * 2 * 32 * 32 * 9 + 128 * 64)
            + 64 * 32 * 32 * 9
            + (64 * (32 * 64 * 9 + 64 * 64 * 9 + 32 * 64) + 128 * 128)
            + (64 * 2 * 64 * 64 * 9 + 128 * 128)
            + (64 * (128 * 64 * 9 + 64 * 64 * 9 + 128 * 64) + 128 * 128)
            + 256 * 64 * 64 * 9
            + (256 * (96 * 32 * 9 + 32 * 32 * 9 + 96 * 32) + 128 * 64);
        assert_eq!(macs, 41_488_384);
        assert_eq!(shape.flops_per_example(), 6.0 * macs as f64);
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
            if let Family::Diffusion(shape) = &model.family {
                assert!(source.contains("log_every: 1 steps"), "{source}");
                assert!(source.contains("dataset d = shapes { count: "), "{source}");
                assert!(source.contains("model m = unet { width: "), "{source}");
                assert!(source.contains("schedule: \"linear\""), "{source}");
                assert_eq!(shape.width % shape.groups, 0, "{}", model.name);
            }
        }
    }
}
