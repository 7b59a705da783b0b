//! `Gpt`: the decoder itself: embeddings, a stack of pre-LN blocks (`block.rs`), the final
//! layer norm `ln_f` and the LM head, with GPT-2 initialisation. Parameter naming, counts and
//! weight-decay groups live in `parameters.rs`, generation in `generate.rs`, export in
//! `export.rs`.

use exp_plugin_api::tch::{Device, Kind, Reduction, TchError, Tensor};

use crate::gpt::attention::{Attention, LayerCache, Plan};
use crate::gpt::block::{Block, Mlp};
use crate::gpt::config::{GptConfig, MlpKind, Positions};
use crate::gpt::dropout::Dropout;
use crate::gpt::error::GptError;
use crate::gpt::init::Init;
use crate::gpt::layers::{leaf, LayerNorm, Linear};
use crate::gpt::positions::{alibi_causal_bias, alibi_slopes, Rope};

/// A GPT-style decoder. See the crate docs for the architecture and conventions.
#[derive(Debug)]
pub struct Gpt {
    pub(crate) config: GptConfig,
    /// `[V, C]`; also the LM head when `tie_embeddings`.
    pub(crate) wte: Tensor,
    /// `[context_length, C]`, with learned positions only.
    pub(crate) wpe: Option<Tensor>,
    pub(crate) blocks: Vec<Block>,
    pub(crate) ln_f: LayerNorm,
    /// `[V, C]`, only when the head is untied.
    pub(crate) lm_head: Option<Tensor>,
    pub(crate) rope: Option<Rope>,
    /// `[H]`, with ALiBi only.
    pub(crate) alibi_slopes: Option<Tensor>,
    pub(crate) dropout: Dropout,
    pub(crate) device: Device,
    pub(crate) kind: Kind,
}

/// Moves a freshly initialised CPU tensor to the device as a trainable leaf.
fn parameter(tensor: Tensor, device: Device) -> Result<Tensor, GptError> {
    let moved = tensor
        .f_to_device(device)
        .map_err(|source| GptError::tensor("to_device", &[&tensor], source))?;
    Ok(moved.set_requires_grad(true))
}

/// Draws `N(0, std²)` of `shape` from `init`, checking what a user-supplied `Init` returned.
fn normal(
    init: &mut dyn Init,
    shape: &[i64],
    std: f64,
    device: Device,
) -> Result<Tensor, GptError> {
    let drawn = init.normal(shape, std);
    if drawn.size() != shape {
        return Err(GptError::input(
            "new",
            format!(
                "`Init::normal` returned a tensor of shape {:?} for shape {shape:?}",
                drawn.size()
            ),
        ));
    }
    let drawn = drawn
        .f_to_kind(Kind::Float)
        .map_err(|source| GptError::tensor("init.normal", &[], source))?;
    parameter(drawn, device)
}

fn constant(shape: &[i64], value: f64, device: Device) -> Result<Tensor, GptError> {
    let tensor = Tensor::f_full(shape, value, (Kind::Float, Device::Cpu))
        .map_err(|source| GptError::tensor("full", &[], source))?;
    parameter(tensor, device)
}

impl Gpt {
    /// A model with GPT-2 initialisation drawn from `init`, with float32 parameters on `device`.
    ///
    /// Weights are N(0, 0.02²), the two residual output projections of each block (`attn.c_proj`
    /// and `mlp.c_proj`) N(0, (0.02/√(2·depth))²) so the residual stream's variance does not grow
    /// with depth, biases 0, layer norms weight 1 and bias 0. Draws happen in the order of
    /// [`Gpt::named_tensors`]; then one `next_u64` keys the dropout masks.
    pub fn new(config: &GptConfig, init: &mut dyn Init, device: Device) -> Result<Gpt, GptError> {
        config.validate()?;
        let width = config.width;
        let hidden = config.mlp_hidden_size();
        let std = 0.02;
        let projection_std = 0.02 / ((2 * config.depth) as f64).sqrt();
        // Embeddings first, then the blocks, then an untied head: the order of `named_tensors`.
        let wte = normal(init, &[config.vocab_size, width], std, device)?;
        let wpe = match config.positions {
            Positions::Learned => Some(normal(init, &[config.context_length, width], std, device)?),
            _ => None,
        };
        let layer_norm = || -> Result<LayerNorm, GptError> {
            Ok(LayerNorm {
                weight: constant(&[width], 1.0, device)?,
                bias: match config.bias {
                    true => Some(constant(&[width], 0.0, device)?),
                    false => None,
                },
                eps: config.layer_norm_eps,
            })
        };
        let mut linear = |rows: i64, columns: i64, std: f64| -> Result<Linear, GptError> {
            Ok(Linear {
                weight: normal(init, &[rows, columns], std, device)?,
                bias: match config.bias {
                    true => Some(constant(&[rows], 0.0, device)?),
                    false => None,
                },
            })
        };
        let fc_rows = match config.mlp {
            MlpKind::Swiglu => 2 * hidden,
            MlpKind::Gelu | MlpKind::GeluTanh => hidden,
        };
        let mut blocks = Vec::with_capacity(config.depth as usize);
        for _ in 0..config.depth {
            let ln_1 = layer_norm()?;
            let c_attn = linear(3 * width, width, std)?;
            let attn_proj = linear(width, width, projection_std)?;
            let ln_2 = layer_norm()?;
            let c_fc = linear(fc_rows, width, std)?;
            let mlp_proj = linear(width, hidden, projection_std)?;
            blocks.push(Block {
                ln_1,
                attn: Attention {
                    c_attn,
                    c_proj: attn_proj,
                    heads: config.heads,
                },
                ln_2,
                mlp: Mlp {
                    c_fc,
                    c_proj: mlp_proj,
                    kind: config.mlp,
                },
            });
        }
        let ln_f = layer_norm()?;
        let lm_head = match config.tie_embeddings {
            true => None,
            false => Some(normal(init, &[config.vocab_size, width], std, device)?),
        };
        let dropout = Dropout::new(config.dropout, init.next_u64());
        let mut model = Gpt {
            config: config.clone(),
            wte,
            wpe,
            blocks,
            ln_f,
            lm_head,
            rope: None,
            alibi_slopes: None,
            dropout,
            device,
            kind: Kind::Float,
        };
        model.build_buffers()?;
        Ok(model)
    }

    /// (Re)computes the non-trainable tables (RoPE angles, ALiBi slopes) in the model's kind.
    fn build_buffers(&mut self) -> Result<(), GptError> {
        let config = &self.config;
        let at = |source| GptError::tensor("buffers", &[], source);
        self.rope = match config.positions {
            Positions::Rope => Some(
                Rope::new(
                    config.context_length,
                    config.head_dim(),
                    config.rope_base,
                    self.kind,
                    self.device,
                )
                .map_err(at)?,
            ),
            _ => None,
        };
        self.alibi_slopes = match config.positions {
            Positions::Alibi => Some(
                Tensor::from_slice(&alibi_slopes(config.heads))
                    .f_to_kind(self.kind)
                    .and_then(|slopes| slopes.f_to_device(self.device))
                    .map_err(at)?,
            ),
            _ => None,
        };
        Ok(())
    }

    pub fn config(&self) -> &GptConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The floating-point kind of the parameters (float32 unless changed by [`Gpt::to_kind`]).
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Converts every parameter to `kind` (e.g. `Kind::Double` for exact comparisons), keeping
    /// the head tied. The parameters become new tensors: handles from an earlier
    /// [`Gpt::named_tensors`] no longer alias the model.
    pub fn to_kind(&mut self, kind: Kind) -> Result<(), GptError> {
        if !matches!(
            kind,
            Kind::Float | Kind::Double | Kind::Half | Kind::BFloat16
        ) {
            return Err(GptError::input(
                "to_kind",
                format!("parameters must be a floating-point kind, got {kind:?}"),
            ));
        }
        let at = |source| GptError::tensor("to_kind", &[], source);
        self.wte = leaf(&self.wte, kind).map_err(at)?;
        self.wpe = self
            .wpe
            .as_ref()
            .map(|wpe| leaf(wpe, kind))
            .transpose()
            .map_err(at)?;
        self.blocks = self
            .blocks
            .iter()
            .map(|block| block.to_kind(kind))
            .collect::<Result<_, TchError>>()
            .map_err(at)?;
        self.ln_f = self.ln_f.to_kind(kind).map_err(at)?;
        self.lm_head = self
            .lm_head
            .as_ref()
            .map(|head| leaf(head, kind))
            .transpose()
            .map_err(at)?;
        self.kind = kind;
        self.build_buffers()
    }

    /// The output projection `[V, C]`: `wte` itself when tied.
    pub fn head_weight(&self) -> &Tensor {
        self.lm_head.as_ref().unwrap_or(&self.wte)
    }

    /// Training forward passes that drew dropout masks so far. Save it with a checkpoint and
    /// restore it with [`Gpt::set_dropout_calls`] to resume the same mask stream.
    pub fn dropout_calls(&self) -> u64 {
        self.dropout.calls()
    }

    pub fn set_dropout_calls(&self, calls: u64) {
        self.dropout.set_calls(calls);
    }

    /// Logits `[B, T, V]` for ids `[B, T]` (int64, T ≤ context_length). No padding mask is
    /// needed for right-padded batches: attention is causal, so pads after a token never reach
    /// it; give pad targets −100 in [`Gpt::loss`].
    pub fn forward(&self, ids: &Tensor, train: bool) -> Result<Tensor, GptError> {
        let hidden = self.hidden(ids, None, train)?;
        self.head(&hidden)
    }

    /// Mean cross-entropy of the logits for `ids` against `targets` (`[B, T]`, int64), over the
    /// targets that are not −100. A batch whose targets are all −100 gives NaN (0/0).
    pub fn loss(&self, ids: &Tensor, targets: &Tensor, train: bool) -> Result<Tensor, GptError> {
        if targets.size() != ids.size() || targets.kind() != Kind::Int64 {
            return Err(GptError::input(
                "loss",
                format!(
                    "targets must be int64 of the ids' shape {:?}, got {:?} of shape {:?}",
                    ids.size(),
                    targets.kind(),
                    targets.size()
                ),
            ));
        }
        let vocab = self.config.vocab_size;
        if targets.numel() > 0 {
            // Ignored targets (−100) read as 0 here, so one reduction checks the rest.
            let range = || -> Result<(i64, i64), TchError> {
                let real = targets.f_masked_fill(&targets.f_eq(-100)?, 0)?;
                let (low, high) = real.f_aminmax(None::<i64>, false)?;
                Ok((low.f_int64_value(&[])?, high.f_int64_value(&[])?))
            };
            let (low, high) =
                range().map_err(|source| GptError::tensor("check targets", &[targets], source))?;
            if low < 0 || high >= vocab {
                return Err(GptError::input(
                    "loss",
                    format!(
                        "targets must lie in 0..{vocab} (`vocab_size`) or be -100 (ignored), \
                         found values in {low}..={high}"
                    ),
                ));
            }
        }
        let logits = self.forward(ids, train)?;
        let flat_logits = logits.f_view([-1, vocab]);
        let flat_targets = targets.f_reshape([-1]);
        flat_logits
            .and_then(|flat_logits| {
                flat_logits.f_cross_entropy_loss::<Tensor>(
                    &flat_targets?,
                    None,
                    Reduction::Mean,
                    -100,
                    0.0,
                )
            })
            .map_err(|source| GptError::tensor("cross_entropy", &[&logits, targets], source))
    }

    /// Final hidden states `[B, T, C]` (after `ln_f`).
    ///
    /// `attention_mask` (`[B, T]`, any integer or bool kind, nonzero = real token) makes padded
    /// rows behave as if their pads were absent: positions count real tokens only, and no real
    /// token attends to a pad. It is needed for left padding (or pads in the middle); for right
    /// padding it changes nothing at real positions, because attention is causal. Pad positions
    /// hold garbage.
    pub fn hidden(
        &self,
        ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor, GptError> {
        let (_, time) = self.check_ids("hidden", ids)?;
        if let Some(mask) = attention_mask {
            if mask.size() != ids.size() || mask.device() != self.device {
                return Err(GptError::input(
                    "hidden",
                    format!(
                        "attention_mask must have the ids' shape {:?} and device {:?}, got {:?} on {:?}",
                        ids.size(),
                        self.device,
                        mask.size(),
                        mask.device()
                    ),
                ));
            }
        }
        let plan = match attention_mask {
            None => self.causal_plan(time),
            Some(mask) => self.padded_plan(ids, mask),
        }
        .map_err(|source| GptError::tensor("attention plan", &[ids], source))?;
        self.trunk(ids, &plan, train, None, 0)
    }

    /// The hidden state `[B, C]` of each row's last real token (the last nonzero of
    /// `attention_mask`; the last column without a mask), e.g. for a multiple-choice head.
    /// A row with no real token reads column 0.
    pub fn last_hidden(
        &self,
        ids: &Tensor,
        attention_mask: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor, GptError> {
        let hidden = self.hidden(ids, attention_mask, train)?;
        let (batch, time, width) = hidden
            .size3()
            .map_err(|source| GptError::tensor("last_hidden", &[&hidden], source))?;
        let gather = || -> Result<Tensor, TchError> {
            let last = match attention_mask {
                None => return hidden.f_select(1, time - 1),
                Some(mask) => {
                    let columns = Tensor::f_arange(time, (Kind::Int64, self.device))?;
                    mask.f_ne(0)?.f_mul(&columns)?.f_argmax(1, false)?
                }
            };
            hidden
                .f_gather(
                    1,
                    &last
                        .f_view([batch, 1, 1])?
                        .f_expand([batch, 1, width], false)?,
                    false,
                )?
                .f_squeeze_dim(1)
        };
        gather().map_err(|source| GptError::tensor("last_hidden", &[&hidden], source))
    }

    /// Logits `[…, V]` from hidden states `[…, C]`.
    pub fn head(&self, hidden: &Tensor) -> Result<Tensor, GptError> {
        hidden
            .f_linear::<Tensor>(self.head_weight(), None)
            .map_err(|source| GptError::tensor("lm_head", &[hidden, self.head_weight()], source))
    }

    /// Checks ids and returns `(B, T)`.
    pub(crate) fn check_ids(
        &self,
        method: &'static str,
        ids: &Tensor,
    ) -> Result<(i64, i64), GptError> {
        let size = ids.size();
        if ids.kind() != Kind::Int64 || size.len() != 2 {
            return Err(GptError::input(
                method,
                format!(
                    "ids must be int64 of shape [batch, time], got {:?} of shape {size:?}",
                    ids.kind()
                ),
            ));
        }
        let (batch, time) = (size[0], size[1]);
        if time < 1 || time > self.config.context_length {
            return Err(GptError::input(
                method,
                format!(
                    "sequence length {time} is outside 1..={} (`context_length`)",
                    self.config.context_length
                ),
            ));
        }
        if ids.device() != self.device {
            return Err(GptError::input(
                method,
                format!(
                    "ids are on {:?} but the model is on {:?}",
                    ids.device(),
                    self.device
                ),
            ));
        }
        if batch > 0 {
            // One reduction and one small transfer: out-of-range ids would otherwise surface as
            // an opaque indexing error (or a device-side assert on CUDA).
            let (low, high) = ids
                .f_aminmax(None::<i64>, false)
                .and_then(|(low, high)| Ok((low.f_int64_value(&[])?, high.f_int64_value(&[])?)))
                .map_err(|source| GptError::tensor("check ids", &[ids], source))?;
            if low < 0 || high >= self.config.vocab_size {
                return Err(GptError::input(
                    method,
                    format!(
                        "ids must lie in 0..{} (`vocab_size`), found values in {low}..={high}",
                        self.config.vocab_size
                    ),
                ));
            }
        }
        Ok((batch, time))
    }

    /// The plan of an unpadded batch of length `time`.
    fn causal_plan(&self, time: i64) -> Result<Plan, TchError> {
        Ok(Plan {
            positions: None,
            mask: self
                .alibi_slopes
                .as_ref()
                .map(|slopes| alibi_causal_bias(slopes, time))
                .transpose()?,
            rope: self
                .rope
                .as_ref()
                .map(|rope| rope.tables(None, time))
                .transpose()?,
        })
    }

    /// The plan of a padded batch: positions count real tokens, pads are masked as keys.
    fn padded_plan(&self, ids: &Tensor, attention_mask: &Tensor) -> Result<Plan, TchError> {
        let valid = attention_mask.f_ne(0)?;
        let positions = valid
            .f_cumsum(1, Kind::Int64)?
            .f_sub_scalar(1)?
            .f_clamp_min(0)?;
        let mask = Plan::mask(
            &positions,
            &positions,
            &valid,
            0,
            self.alibi_slopes.as_ref(),
        )?;
        let time = ids.size()[1];
        Ok(Plan {
            rope: self
                .rope
                .as_ref()
                .map(|rope| rope.tables(Some(&positions), time))
                .transpose()?,
            positions: Some(positions),
            mask: Some(mask),
        })
    }

    /// Embeddings, blocks and `ln_f` for a checked `ids` under `plan`. With `cache`, keys and
    /// values go to cache columns `column..column + T`.
    pub(crate) fn trunk(
        &self,
        ids: &Tensor,
        plan: &Plan,
        train: bool,
        mut cache: Option<&mut [LayerCache]>,
        column: i64,
    ) -> Result<Tensor, GptError> {
        let call = self.dropout.start_call(train);
        let embed = || -> Result<Tensor, TchError> {
            let tokens = Tensor::f_embedding(&self.wte, ids, -1, false, false)?;
            let summed = match (&self.wpe, &plan.positions) {
                (None, _) => tokens,
                (Some(wpe), None) => tokens.f_add(&wpe.f_narrow(0, 0, ids.size()[1])?)?,
                (Some(wpe), Some(positions)) => {
                    tokens.f_add(&Tensor::f_embedding(wpe, positions, -1, false, false)?)?
                }
            };
            self.dropout.apply(summed, call, 0)
        };
        let mut x = embed().map_err(|source| GptError::tensor("wte", &[ids], source))?;
        for (index, block) in self.blocks.iter().enumerate() {
            let layer_cache = cache
                .as_deref_mut()
                .map(|layers| (&mut layers[index], column));
            let next = block.forward(&x, plan, layer_cache, &self.dropout, call, index as u64);
            x = next.map_err(|source| GptError::tensor(format!("h.{index}"), &[&x], source))?;
        }
        self.ln_f
            .forward(&x)
            .map_err(|source| GptError::tensor("ln_f", &[&x], source))
    }
}
