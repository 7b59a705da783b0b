//! The parameters of a [`Gpt`] as a list: names and order ([`Gpt::named_tensors`], and
//! [`tensor_shapes`] from a config alone), counts, and which of them weight decay applies to
//! ([`DecayRule`], [`decays`]).
//!
//! Names and order follow nanoGPT and Hugging Face GPT-2, so checkpoints map one to one:
//! `wte`, `wpe`, then per block `ln_1`, `attn.c_attn`, `attn.c_proj`, `ln_2`, `mlp.c_fc`,
//! `mlp.c_proj`, then `ln_f` and an untied `lm_head`.

use exp_plugin_api::tch::Tensor;

use crate::gpt::config::{GptConfig, MlpKind, Positions};
use crate::gpt::layers::{LayerNorm, Linear};
use crate::gpt::model::Gpt;

/// Which parameters weight decay applies to (see [`Gpt::decays_under`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecayRule {
    /// Projection matrices only: not norms, biases, or embeddings (`wte`, which is also the
    /// head when tied, and `wpe`); an untied `lm_head` is a projection and decays.
    #[default]
    Matrices,
    /// Every parameter with two dimensions, embeddings included: nanoGPT's
    /// `configure_optimizers` (`p.dim() >= 2`).
    MatricesAndEmbeddings,
}

impl Gpt {
    /// Every parameter once, in a fixed order (nanoGPT / Hugging Face GPT-2 names and order),
    /// as handles sharing storage with the model: an in-place update through them updates the
    /// model, and copying a checkpoint into them loads it. A tied head appears only as
    /// `wte.weight`.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut named = vec![("wte.weight".to_string(), self.wte.shallow_clone())];
        if let Some(wpe) = &self.wpe {
            named.push(("wpe.weight".to_string(), wpe.shallow_clone()));
        }
        let push_linear = |named: &mut Vec<(String, Tensor)>, name: String, linear: &Linear| {
            named.push((format!("{name}.weight"), linear.weight.shallow_clone()));
            if let Some(bias) = &linear.bias {
                named.push((format!("{name}.bias"), bias.shallow_clone()));
            }
        };
        let push_norm = |named: &mut Vec<(String, Tensor)>, name: String, norm: &LayerNorm| {
            named.push((format!("{name}.weight"), norm.weight.shallow_clone()));
            if let Some(bias) = &norm.bias {
                named.push((format!("{name}.bias"), bias.shallow_clone()));
            }
        };
        for (index, block) in self.blocks.iter().enumerate() {
            push_norm(&mut named, format!("h.{index}.ln_1"), &block.ln_1);
            push_linear(
                &mut named,
                format!("h.{index}.attn.c_attn"),
                &block.attn.c_attn,
            );
            push_linear(
                &mut named,
                format!("h.{index}.attn.c_proj"),
                &block.attn.c_proj,
            );
            push_norm(&mut named, format!("h.{index}.ln_2"), &block.ln_2);
            push_linear(&mut named, format!("h.{index}.mlp.c_fc"), &block.mlp.c_fc);
            push_linear(
                &mut named,
                format!("h.{index}.mlp.c_proj"),
                &block.mlp.c_proj,
            );
        }
        push_norm(&mut named, "ln_f".to_string(), &self.ln_f);
        if let Some(head) = &self.lm_head {
            named.push(("lm_head.weight".to_string(), head.shallow_clone()));
        }
        named
    }

    /// Whether weight decay applies to parameter `name`, under [`DecayRule::Matrices`].
    pub fn decays(&self, name: &str) -> bool {
        decays(name)
    }

    /// Whether weight decay applies to parameter `name` under `rule` (see [`decays_under`]).
    pub fn decays_under(&self, name: &str, rule: DecayRule) -> bool {
        decays_under(name, rule)
    }

    /// Parameters in unique tensors, embeddings included (a tied head counts once).
    /// nanoGPT's `get_num_params()` defaults to subtracting `wpe`; Chinchilla counts everything.
    pub fn parameter_count(&self) -> i64 {
        self.named_tensors()
            .iter()
            .map(|(_, tensor)| tensor.numel() as i64)
            .sum()
    }

    /// Parameters outside the vocabulary and position tables (`wte`, `wpe`, an untied
    /// `lm_head`): the blocks and `ln_f`, Kaplan et al.'s N for scaling laws.
    pub fn non_embedding_parameter_count(&self) -> i64 {
        self.named_tensors()
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "wte.weight" | "wpe.weight" | "lm_head.weight"
                )
            })
            .map(|(_, tensor)| tensor.numel() as i64)
            .sum()
    }
}

/// Whether weight decay applies to the parameter called `name` under [`DecayRule::Matrices`]; it
/// depends on the name only, so a host can ask before it builds the model.
pub fn decays(name: &str) -> bool {
    decays_under(name, DecayRule::Matrices)
}

/// Whether weight decay applies to parameter `name` under `rule`; false for unknown names.
///
/// The tied `wte.weight` counts as an embedding: decay would shrink the rows of rare tokens,
/// which get almost no gradient, towards zero at every step, and that row is also their
/// output logit weight.
pub fn decays_under(name: &str, rule: DecayRule) -> bool {
    match name {
        "wte.weight" | "wpe.weight" => rule == DecayRule::MatricesAndEmbeddings,
        "lm_head.weight" => true,
        _ => {
            name.starts_with("h.")
                && name.ends_with(".weight")
                && (name.contains(".attn.") || name.contains(".mlp."))
        }
    }
}

/// The name and shape of every tensor a model of `config` has, in the order of
/// [`Gpt::named_tensors`], known without building it (an exporter checks tensors against it).
pub fn tensor_shapes(config: &GptConfig) -> Vec<(String, Vec<i64>)> {
    let (width, hidden) = (config.width, config.mlp_hidden_size());
    let fc_rows = match config.mlp {
        MlpKind::Swiglu => 2 * hidden,
        MlpKind::Gelu | MlpKind::GeluTanh => hidden,
    };
    let mut shapes = vec![("wte.weight".to_string(), vec![config.vocab_size, width])];
    if config.positions == Positions::Learned {
        shapes.push(("wpe.weight".to_string(), vec![config.context_length, width]));
    }
    // A linear layer and a layer norm: a weight, and a bias of its first dimension when biased.
    let mut push = |name: String, weight: Vec<i64>| {
        let rows = weight[0];
        shapes.push((format!("{name}.weight"), weight));
        if config.bias {
            shapes.push((format!("{name}.bias"), vec![rows]));
        }
    };
    for index in 0..config.depth {
        push(format!("h.{index}.ln_1"), vec![width]);
        push(format!("h.{index}.attn.c_attn"), vec![3 * width, width]);
        push(format!("h.{index}.attn.c_proj"), vec![width, width]);
        push(format!("h.{index}.ln_2"), vec![width]);
        push(format!("h.{index}.mlp.c_fc"), vec![fc_rows, width]);
        push(format!("h.{index}.mlp.c_proj"), vec![width, hidden]);
    }
    push("ln_f".to_string(), vec![width]);
    if !config.tie_embeddings {
        shapes.push(("lm_head.weight".to_string(), vec![config.vocab_size, width]));
    }
    shapes
}
