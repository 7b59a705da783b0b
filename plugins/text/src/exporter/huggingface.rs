//! `huggingface`: writes a trained `gpt` model of the GPT-2 architecture (learned positions, a
//! GELU MLP, biases; tied or untied head) as a folder that `transformers` loads with
//! `AutoModelForCausalLM.from_pretrained` and, with its tokenizer, `AutoTokenizer`.
//!
//! Files: `config.json` (a `GPT2Config` from the model's parameters and its vocabulary, with
//! the end-of-text and padding ids), `model.safetensors` (`crate::gpt::export` renames the
//! tensors and transposes GPT-2's `Conv1D` weights), and, when the model has a tokenizer,
//! `tokenizer.json` as the tokenizer wrote it, `tokenizer_config.json` and
//! `special_tokens_map.json`. The tokenizer config names `PreTrainedTokenizerFast`, which
//! loads `tokenizer.json` as it is: left to itself, `AutoTokenizer` would pick GPT-2's own
//! tokenizer class for a `gpt2` model and assume GPT-2's special tokens. `generation_config.json`
//! gives `generate` the end-of-text id to stop at.
//!
//! Any other architecture is refused with every reason at once, and nothing is written.

use std::path::Path;

use exp_plugin_api::sdk::{
    Component, Config, Context, ExportedModel, Exporter, NoParams, PluginError, Result, TokenInfo,
};
use exp_plugin_api::serde_json::{self, json, Map, Value};

use crate::gpt::export::{gpt2_config, gpt2_refusals, write_hf_gpt2};
use crate::model::gpt::{plugin_error, GptParams};

/// The special tokens the files name, when the vocabulary has them.
const END_OF_TEXT: &str = "<|endoftext|>";
const PAD: &str = "<|pad|>";

pub struct HuggingFace;

impl Component for HuggingFace {
    type Config = NoParams;
    const NAME: &'static str = "huggingface";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "a GPT-2-shaped `gpt` model and its tokenizer, as a folder Hugging Face transformers loads";

    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(HuggingFace)
    }
}

impl Exporter for HuggingFace {
    fn export(&self, model: &ExportedModel, dir: &Path) -> Result<Vec<String>> {
        if model.architecture != "gpt" {
            return Err(PluginError::new(format!(
                "huggingface exports `gpt` models, not `{}`",
                model.architecture
            )));
        }
        let params = model.params.clone().with_defaults(&GptParams::params());
        let params = GptParams::from_params(&params)?;
        let tokens = model.data.tokens.as_ref().ok_or_else(|| {
            PluginError::new("the model's dataset has no vocabulary: a `gpt` model reads tokens")
        })?;
        let architecture = params.architecture(tokens.vocab_size);
        let reasons = gpt2_refusals(&architecture);
        if !reasons.is_empty() {
            return Err(PluginError::new(format!(
                "huggingface writes GPT-2 models, and this one differs: {}",
                reasons.join("; ")
            )));
        }
        let mut config = gpt2_config(&architecture).map_err(plugin_error)?;
        let specials = Specials::of(tokens);
        specials.fill(&mut config);
        write_hf_gpt2(&architecture, &config, &model.tensors, dir).map_err(plugin_error)?;
        let mut files = vec!["config.json".to_string(), "model.safetensors".to_string()];
        let generation = specials.generation_config();
        write_json(dir, "generation_config.json", &generation)?;
        files.push("generation_config.json".to_string());
        if let Some(tokenizer) = &model.tokenizer_json {
            write_file(dir, "tokenizer.json", tokenizer)?;
            write_json(
                dir,
                "tokenizer_config.json",
                &specials.tokenizer_config(params.context),
            )?;
            write_json(dir, "special_tokens_map.json", &specials.token_map())?;
            files.extend(
                [
                    "tokenizer.json",
                    "tokenizer_config.json",
                    "special_tokens_map.json",
                ]
                .map(String::from),
            );
        }
        Ok(files)
    }
}

/// The special tokens of the vocabulary that the files mention, with their ids.
struct Specials {
    end_of_text: Option<i64>,
    pad: Option<i64>,
}

impl Specials {
    fn of(tokens: &TokenInfo) -> Specials {
        Specials {
            end_of_text: tokens.special.get(END_OF_TEXT).copied(),
            pad: tokens.special.get(PAD).copied(),
        }
    }

    /// GPT-2 begins and ends text with the same token.
    fn fill(&self, config: &mut Value) {
        config["bos_token_id"] = json!(self.end_of_text);
        config["eos_token_id"] = json!(self.end_of_text);
        if let Some(pad) = self.pad {
            config["pad_token_id"] = json!(pad);
        }
    }

    fn generation_config(&self) -> Value {
        let mut config = json!({
            "bos_token_id": self.end_of_text,
            "eos_token_id": self.end_of_text,
        });
        if let Some(pad) = self.pad {
            config["pad_token_id"] = json!(pad);
        }
        config
    }

    /// Token names by role, for `special_tokens_map.json` and `tokenizer_config.json`.
    fn token_map(&self) -> Value {
        let mut map = Map::new();
        if self.end_of_text.is_some() {
            map.insert("bos_token".into(), json!(END_OF_TEXT));
            map.insert("eos_token".into(), json!(END_OF_TEXT));
            map.insert("unk_token".into(), json!(END_OF_TEXT));
        }
        if self.pad.is_some() {
            map.insert("pad_token".into(), json!(PAD));
        }
        Value::Object(map)
    }

    fn tokenizer_config(&self, context: i64) -> Value {
        let mut config = self.token_map();
        config["tokenizer_class"] = json!("PreTrainedTokenizerFast");
        config["model_max_length"] = json!(context);
        // The model reads text as the tokenizer encodes it: nothing added around it, no spaces
        // removed when decoding.
        config["add_bos_token"] = json!(false);
        config["add_eos_token"] = json!(false);
        config["clean_up_tokenization_spaces"] = json!(false);
        config
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text)
        .map_err(|error| PluginError::new(format!("cannot write `{}`: {error}", path.display())))
}

fn write_json(dir: &Path, name: &str, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|error| {
        PluginError::new(format!(
            "cannot write `{name}`: {error}; this is a bug in exp's text plugin"
        ))
    })?;
    write_file(dir, name, &(text + "\n"))
}

#[cfg(test)]
mod tests;
