//! `gpt`: the GPT-style decoder of `crate::gpt` as a model component over token ids.
//!
//! Its parameters are the architecture's (`crate::gpt::GptConfig`) less the vocabulary size,
//! which comes from the tokenizer through the dataset info (`data.tokens`), and with the window
//! length written `context`: the runtime packs text into windows of that many tokens.
//! Weights are drawn from the node's seed (GPT-2 initialisation, see `crate::gpt::Gpt::new`);
//! dropout masks are keyed by the same seed and a count of training calls, which is the model's
//! only state beyond its weights (saved in checkpoints, so a resumed phase draws the same masks).
//!
//! Weight decay: [`GptModel::decays`] says which tensors it should apply to (projection
//! matrices, not embeddings, norms or biases). The SDK has no way yet to tell the host, so an
//! optimizer with weight decay currently decays every tensor.

use exp_plugin_api::sdk::{
    Component, Config, Context, DataInfo, Model, PluginError, Result, Rng, SavedState, Stateful,
};
use exp_plugin_api::serde_json::json;
use exp_plugin_api::tch::Tensor;

use crate::gpt::{self, Gpt, GptConfig, GptError, MlpKind, Positions};

#[derive(Debug, Clone, Config)]
pub struct GptParams {
    /// width of the residual stream (d_model)
    #[param(default = 128, min = 1)]
    pub width: i64,
    /// number of transformer blocks
    #[param(default = 4, min = 1)]
    pub depth: i64,
    /// attention heads per block; `width` must be a multiple of it
    #[param(default = 4, min = 1)]
    pub heads: i64,
    /// window length in tokens: the runtime packs text into windows this long, and generation stops at it
    #[param(default = 256, min = 1, sequence_length)]
    pub context: i64,
    /// how positions are encoded: "learned" (GPT-2), "rope", "alibi" or "none"
    #[param(default = "learned")]
    pub positions: Positions,
    /// feed-forward block: "gelu" (exact), "gelu_tanh" (GPT-2's approximation) or "swiglu"
    #[param(default = "gelu")]
    pub mlp: MlpKind,
    /// hidden size of the feed-forward block; 0 for the default, 4·width (GELU) or 8/3·width rounded up to a multiple of 64 (SwiGLU)
    #[param(default = 0, min = 0)]
    pub mlp_hidden: i64,
    /// whether the output layer reuses the token embedding
    #[param(default = true)]
    pub tie_embeddings: bool,
    /// probability of dropping an element of the embeddings and of each residual branch, in training only
    #[param(default = 0.0, min = 0.0, below = 1.0)]
    pub dropout: f64,
    /// whether linear layers and layer norms have biases
    #[param(default = true)]
    pub bias: bool,
    /// the ε added to the variance in every layer norm
    #[param(default = 1e-5, above = 0.0)]
    pub layer_norm_eps: f64,
    /// base of the rotary frequencies, with `positions: "rope"`
    #[param(default = 10000.0, above = 1.0)]
    pub rope_base: f64,
}

impl GptParams {
    /// The architecture for a vocabulary of `vocab_size` tokens.
    pub fn architecture(&self, vocab_size: i64) -> GptConfig {
        GptConfig {
            vocab_size,
            context_length: self.context,
            width: self.width,
            depth: self.depth,
            heads: self.heads,
            positions: self.positions,
            mlp: self.mlp,
            mlp_hidden: (self.mlp_hidden > 0).then_some(self.mlp_hidden),
            tie_embeddings: self.tie_embeddings,
            dropout: self.dropout,
            bias: self.bias,
            layer_norm_eps: self.layer_norm_eps,
            rope_base: self.rope_base,
        }
    }
}

/// A `GptError` as a component error, naming the parameter a config error is about.
pub fn plugin_error(error: GptError) -> PluginError {
    match &error {
        GptError::Config { field, .. } => {
            let parameter = match *field {
                "context_length" => "context",
                other => other,
            };
            if parameter == "vocab_size" {
                PluginError::new(error.to_string())
            } else {
                PluginError::in_field(parameter, error.to_string())
            }
        }
        _ => PluginError::new(error.to_string()),
    }
}

/// The vocabulary size of the tokens a model reads, from the dataset info.
pub fn vocab_size(context: &Context) -> Result<i64> {
    vocab_size_of(context.data()?)
}

fn vocab_size_of(data: &DataInfo) -> Result<i64> {
    let tokens = data
        .tokens
        .as_ref()
        .ok_or_else(|| PluginError::new("gpt reads token ids: give the model a tokenizer"))?;
    Ok(tokens.vocab_size)
}

pub struct GptModel {
    model: Gpt,
}

impl GptModel {
    /// The decoder itself, for what the component traits do not cover (hidden states,
    /// parameter counts).
    pub fn gpt(&self) -> &Gpt {
        &self.model
    }

    /// Whether weight decay should apply to the tensor called `name` (see the module docs).
    pub fn decays(&self, name: &str) -> bool {
        gpt::decays(name)
    }
}

impl Component for GptModel {
    type Config = GptParams;
    const NAME: &'static str = "gpt";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "GPT-style decoder over token ids (pre-LN blocks; learned, rotary or ALiBi positions)";

    /// What the architecture needs of the parameters alone (any vocabulary will do).
    fn check(config: &GptParams) -> Result<()> {
        config.architecture(1).validate().map_err(plugin_error)
    }

    fn create(config: GptParams, context: &Context) -> Result<Self> {
        let architecture = config.architecture(vocab_size(context)?);
        let model = Gpt::new(&architecture, &mut Rng::new(context.seed), context.device())
            .map_err(plugin_error)?;
        Ok(GptModel { model })
    }
}

/// The dropout call counter is the only state beyond the weights.
impl Stateful for GptModel {
    fn save_state(&self) -> Result<SavedState> {
        Ok(SavedState {
            tensors: Vec::new(),
            data: json!({ "dropout_calls": self.model.dropout_calls().to_string() }),
        })
    }

    fn load_state(&mut self, state: SavedState) -> Result<()> {
        let calls = state.data["dropout_calls"]
            .as_str()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| PluginError::new("saved gpt state lacks `dropout_calls`"))?;
        self.model.set_dropout_calls(calls);
        Ok(())
    }
}

impl Model for GptModel {
    fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.model.named_tensors()
    }

    const COUNTS_PARAMETERS: bool = true;

    /// From the architecture's formula: a GPT of billions of parameters is sized without
    /// allocating it.
    fn parameter_count(config: &GptParams, data: Option<&DataInfo>) -> Result<u64> {
        let data = data.ok_or_else(|| {
            PluginError::new("gpt is sized by its tokenizer's vocabulary, and none was given")
        })?;
        let architecture = config.architecture(vocab_size_of(data)?);
        architecture.validate().map_err(plugin_error)?;
        architecture
            .parameter_count()
            .and_then(|count| u64::try_from(count).ok())
            .ok_or_else(|| PluginError::new("the parameter count overflows a 64-bit integer"))
    }

    fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.model.forward(x, train).map_err(plugin_error)
    }

    /// Mean cross-entropy over the targets that are not −100, from the flattened logits.
    fn loss(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        self.model.loss(x, y, true).map_err(plugin_error)
    }

    /// Weight decay applies to matrices only: not to norms, biases or the embeddings (as
    /// nanoGPT's and LLM Foundry's users expect).
    fn no_decay(&self) -> Vec<String> {
        self.model
            .named_tensors()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !self.model.decays(name))
            .collect()
    }

    const GENERATES: bool = true;

    fn generate(
        &self,
        prompts: &[Vec<i64>],
        max_new: usize,
        stop: Option<i64>,
    ) -> Result<Vec<Vec<i64>>> {
        self.model
            .generate(prompts, max_new, stop)
            .map_err(plugin_error)
    }
}

#[cfg(test)]
pub(crate) mod tests;
