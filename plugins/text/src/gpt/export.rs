//! Export to Hugging Face `transformers` as a `GPT2LMHeadModel` folder: [`gpt2_config`] says
//! whether a config is GPT-2 and writes its `config.json`, [`write_hf_gpt2`] writes the folder
//! from a model's named tensors (what an exporter component receives), and [`export_hf_gpt2`]
//! does both for a built [`Gpt`].
//!
//! GPT-2 is one point of this module's design space: learned positions, a GELU MLP, biases
//! everywhere. Other configurations are refused with every reason at once rather than written
//! as something `transformers` would load into a different model.
//!
//! Layout differences handled here:
//! - names gain the `transformer.` prefix (except an untied `lm_head.weight`);
//! - GPT-2's linear layers are `Conv1D` modules storing weights as `[in, out]`, so `c_attn`,
//!   `c_proj` and `c_fc` weights are written transposed (our `[out, in]` is `nn.Linear`'s);
//! - the GELU variant becomes `activation_function`: `gelu` (exact erf, our `gelu`) or
//!   `gelu_new` (tanh approximation, our `gelu_tanh`).
//!
//! Tensors are written as contiguous float32 on the CPU, whatever the model's kind and device.
//! A tied head is stored once, as `transformer.wte.weight`, with `tie_word_embeddings: true`.
//! The tensors must be exactly those of the config ([`tensor_shapes`]): a missing, extra or
//! mis-shaped tensor is an error, so a folder is never written that `transformers` would load
//! with silently re-initialised weights.

use std::path::Path;

use exp_plugin_api::serde_json::{json, Value};
use exp_plugin_api::tch::{Device, Kind, TchError, Tensor};

use crate::gpt::config::{GptConfig, MlpKind, Positions};
use crate::gpt::error::GptError;
use crate::gpt::model::Gpt;
use crate::gpt::parameters::tensor_shapes;

const FORMAT: &str = "a Hugging Face GPT-2 model";

/// Why `config` is not a GPT-2 architecture: one sentence per reason, none when it is.
pub fn gpt2_refusals(config: &GptConfig) -> Vec<String> {
    let mut reasons = Vec::new();
    if config.positions != Positions::Learned {
        reasons.push(format!(
            "GPT-2 has learned positions, but `positions` is `{}`",
            config.positions.word()
        ));
    }
    if config.mlp == MlpKind::Swiglu {
        reasons.push("GPT-2 has a GELU MLP, but `mlp` is `swiglu`".to_string());
    }
    if !config.bias {
        reasons.push(
            "GPT-2 has biases in every linear layer and layer norm, but `bias` is false"
                .to_string(),
        );
    }
    reasons
}

/// The `config.json` of a `GPT2LMHeadModel` with `config`'s architecture, or every reason it has
/// none. Special token ids are `null`; an exporter that knows the tokenizer fills them in.
pub fn gpt2_config(config: &GptConfig) -> Result<Value, GptError> {
    let reasons = gpt2_refusals(config);
    if !reasons.is_empty() {
        return Err(GptError::Unsupported {
            format: FORMAT,
            reasons,
        });
    }
    let activation = match config.mlp {
        MlpKind::GeluTanh => "gelu_new",
        MlpKind::Gelu | MlpKind::Swiglu => "gelu",
    };
    Ok(json!({
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config.vocab_size,
        "n_positions": config.context_length,
        "n_embd": config.width,
        "n_layer": config.depth,
        "n_head": config.heads,
        "n_inner": config.mlp_hidden_size(),
        "activation_function": activation,
        "resid_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        // The model never drops attention probabilities (see the module docs of `gpt`).
        "attn_pdrop": 0.0,
        "layer_norm_epsilon": config.layer_norm_eps,
        "initializer_range": 0.02,
        "scale_attn_weights": true,
        "scale_attn_by_inverse_layer_idx": false,
        "reorder_and_upcast_attn": false,
        "tie_word_embeddings": config.tie_embeddings,
        "use_cache": true,
        "bos_token_id": null,
        "eos_token_id": null,
        "dtype": "float32",
    }))
}

/// Writes `config.json` and `model.safetensors` for `GPT2LMHeadModel.from_pretrained(dir)`.
pub fn export_hf_gpt2(model: &Gpt, dir: &Path) -> Result<(), GptError> {
    let hf_config = gpt2_config(model.config())?;
    write_hf_gpt2(model.config(), &hf_config, &model.named_tensors(), dir)
}

/// Writes `hf_config` as `config.json` and `tensors` (a model of `config`'s named tensors, as
/// [`Gpt::named_tensors`] gives them) as `model.safetensors` into `dir`, creating it.
pub fn write_hf_gpt2(
    config: &GptConfig,
    hf_config: &Value,
    tensors: &[(String, Tensor)],
    dir: &Path,
) -> Result<(), GptError> {
    check_tensors(config, tensors)?;
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GptError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let config_path = dir.join("config.json");
    let text = exp_plugin_api::serde_json::to_string_pretty(hf_config)
        .map_err(|error| io_error(&config_path)(error.into()))?;
    std::fs::write(&config_path, text + "\n").map_err(io_error(&config_path))?;

    let mut converted = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let hf_name = match name.as_str() {
            "lm_head.weight" => name.clone(),
            _ => format!("transformer.{name}"),
        };
        let value = to_conv1d_layout(name, tensor)
            .map_err(|source| GptError::tensor(format!("export {name}"), &[tensor], source))?;
        converted.push((hf_name, value));
    }
    let weights_path = dir.join("model.safetensors");
    Tensor::write_safetensors(&converted, &weights_path).map_err(|source| GptError::Tensor {
        op: format!("write {}", weights_path.display()),
        shapes: String::new(),
        source,
    })
}

/// A CPU float32 copy of `tensor`, transposed for the weights GPT-2 keeps in `Conv1D` modules.
fn to_conv1d_layout(name: &str, tensor: &Tensor) -> Result<Tensor, TchError> {
    let cpu = tensor
        .f_detach()?
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?;
    let conv1d = [
        ".attn.c_attn.weight",
        ".attn.c_proj.weight",
        ".mlp.c_fc.weight",
        ".mlp.c_proj.weight",
    ]
    .iter()
    .any(|suffix| name.ends_with(suffix));
    match conv1d {
        true => cpu.f_tr()?.f_contiguous(),
        false => cpu.f_contiguous(),
    }
}

/// Checks that `tensors` are exactly the tensors of a model of `config`, naming every
/// difference.
fn check_tensors(config: &GptConfig, tensors: &[(String, Tensor)]) -> Result<(), GptError> {
    let expected = tensor_shapes(config);
    let mut problems = Vec::new();
    for (name, shape) in &expected {
        match tensors.iter().find(|(given, _)| given == name) {
            None => problems.push(format!("`{name}` is missing")),
            Some((_, tensor)) if &tensor.size() != shape => problems.push(format!(
                "`{name}` has shape {:?}, but the architecture needs {shape:?}",
                tensor.size()
            )),
            Some(_) => {}
        }
    }
    for (name, _) in tensors {
        if !expected.iter().any(|(known, _)| known == name) {
            problems.push(format!("`{name}` is not a tensor of this architecture"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(GptError::input(
            "export",
            format!(
                "the tensors do not match the model's parameters: {}",
                problems.join("; ")
            ),
        ))
    }
}
