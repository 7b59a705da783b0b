//! Greedy batched generation with a KV cache ([`Gpt::generate`]).
//!
//! Batching: prompts are left-padded to the longest one, so every row's next token is read from
//! the same (last) column and one `[B, 1]` step serves the whole batch. Pads are masked as keys
//! and positions count real tokens only, so a padded row computes what it would alone (up to
//! float summation order).
//!
//! Cache: per layer, keys and values `[B, H, S, D]` preallocated for every column the batch will
//! feed (`S` = longest prompt + new tokens − 1: the last token is returned, never fed), written in
//! place at each step, so a step costs one token per row instead of the whole prefix. RoPE is
//! applied to keys before they are cached; ALiBi biases are rebuilt per step from the cached
//! positions.
//!
//! Context: a row with a prompt of P tokens gets at most `context_length − P + 1` new tokens,
//! so no token it feeds sits at a position ≥ `context_length` (its last prediction reads
//! position `context_length − 1`, like uncached decoding with a full window). No sliding
//! window: positions past the context have no embedding in a learned table.

use exp_plugin_api::tch::{Device, Kind, TchError, Tensor};

use crate::gpt::attention::{LayerCache, Plan};
use crate::gpt::error::GptError;
use crate::gpt::model::Gpt;

/// The cache of a generation batch.
struct KvCache {
    layers: Vec<LayerCache>,
    /// `[B, S]` position of the token in each column.
    positions: Tensor,
    /// `[B, S]` whether each column holds a real token (false for left padding).
    valid: Tensor,
}

impl Gpt {
    /// Greedy decoding of each prompt: up to `max_new` new tokens per row (fewer near the
    /// context length), stopping a row after it emits `stop`, which is included as its last
    /// token. Returns the new tokens only, one list per prompt. Runs without gradients; the
    /// dropout stream is untouched.
    pub fn generate(
        &self,
        prompts: &[Vec<i64>],
        max_new: usize,
        stop: Option<i64>,
    ) -> Result<Vec<Vec<i64>>, GptError> {
        let context = self.config.context_length;
        for (row, prompt) in prompts.iter().enumerate() {
            if prompt.is_empty() || prompt.len() as i64 > context {
                return Err(GptError::input(
                    "generate",
                    format!(
                        "prompt {row} has {} tokens; prompts need 1..={context} (`context_length`)",
                        prompt.len()
                    ),
                ));
            }
            if let Some(bad) = prompt
                .iter()
                .find(|id| !(0..self.config.vocab_size).contains(*id))
            {
                return Err(GptError::input(
                    "generate",
                    format!(
                        "prompt {row} holds id {bad}, outside 0..{} (`vocab_size`)",
                        self.config.vocab_size
                    ),
                ));
            }
        }
        let budgets: Vec<usize> = prompts
            .iter()
            .map(|prompt| max_new.min((context - prompt.len() as i64 + 1) as usize))
            .collect();
        let steps = budgets.iter().copied().max().unwrap_or(0);
        let mut outputs = vec![Vec::new(); prompts.len()];
        if steps == 0 {
            return Ok(outputs);
        }
        let _no_grad = exp_plugin_api::tch::no_grad_guard();
        self.decode(prompts, &budgets, steps, stop, &mut outputs)?;
        Ok(outputs)
    }

    fn decode(
        &self,
        prompts: &[Vec<i64>],
        budgets: &[usize],
        steps: usize,
        stop: Option<i64>,
        outputs: &mut [Vec<i64>],
    ) -> Result<(), GptError> {
        let batch = prompts.len() as i64;
        let prompt_columns = prompts.iter().map(Vec::len).max().unwrap_or(0) as i64;
        let columns = prompt_columns + steps as i64 - 1;
        let tensor_error = |op: &str| {
            let op = op.to_string();
            move |source| GptError::tensor(format!("generate: {op}"), &[], source)
        };
        let mut ids = Vec::with_capacity((batch * prompt_columns) as usize);
        let mut valid = Vec::with_capacity(ids.capacity());
        for prompt in prompts {
            let pad = prompt_columns as usize - prompt.len();
            ids.extend(std::iter::repeat_n(0, pad).chain(prompt.iter().copied()));
            valid.extend(
                std::iter::repeat_n(false, pad).chain(std::iter::repeat_n(true, prompt.len())),
            );
        }
        let mut cache = self
            .new_cache(batch, columns)
            .map_err(tensor_error("allocate cache"))?;
        let prefill = || -> Result<(Tensor, Plan, Tensor), TchError> {
            let ids = Tensor::from_slice(&ids)
                .f_view([batch, prompt_columns])?
                .f_to_device(self.device)?;
            let valid = Tensor::from_slice(&valid)
                .f_view([batch, prompt_columns])?
                .f_to_device(self.device)?;
            let positions = valid
                .f_cumsum(1, Kind::Int64)?
                .f_sub_scalar(1)?
                .f_clamp_min(0)?;
            cache
                .valid
                .f_narrow(1, 0, prompt_columns)?
                .f_copy_(&valid)?;
            cache
                .positions
                .f_narrow(1, 0, prompt_columns)?
                .f_copy_(&positions)?;
            let last_positions = positions.f_select(1, prompt_columns - 1)?;
            let plan = self.cached_plan(&cache, positions, 0)?;
            Ok((ids, plan, last_positions))
        };
        let (ids, plan, mut positions) = prefill().map_err(tensor_error("prefill"))?;
        let hidden = self.trunk(&ids, &plan, false, Some(&mut cache.layers), 0)?;
        let last = hidden
            .f_select(1, prompt_columns - 1)
            .map_err(tensor_error("select last column"))?;
        let mut next = self.greedy(&last)?;
        let mut active: Vec<bool> = budgets.iter().map(|budget| *budget > 0).collect();
        for step in 0..steps as i64 {
            let tokens = next
                .f_to_device(Device::Cpu)
                .and_then(|tokens| Vec::<i64>::try_from(&tokens))
                .map_err(tensor_error("read tokens"))?;
            for (row, token) in tokens.iter().enumerate() {
                if !active[row] {
                    continue;
                }
                outputs[row].push(*token);
                if Some(*token) == stop || outputs[row].len() >= budgets[row] {
                    active[row] = false;
                }
            }
            if !active.iter().any(|row| *row) {
                break;
            }
            // Every active row has fed fewer than its budget, so `column < columns`.
            let column = prompt_columns + step;
            let advance = |previous: &Tensor| -> Result<(Tensor, Plan, Tensor), TchError> {
                // Rows that are done keep running (they are ignored); clamping keeps their
                // positions inside the tables.
                let current = previous
                    .f_add_scalar(1)?
                    .f_clamp_max(self.config.context_length - 1)?;
                cache
                    .positions
                    .f_narrow(1, column, 1)?
                    .f_copy_(&current.f_unsqueeze(1)?)?;
                let plan = self.cached_plan(&cache, current.f_unsqueeze(1)?, column)?;
                Ok((next.f_unsqueeze(1)?, plan, current))
            };
            let (input, plan, current) = advance(&positions).map_err(tensor_error("step"))?;
            positions = current;
            let hidden = self.trunk(&input, &plan, false, Some(&mut cache.layers), column)?;
            let last = hidden.f_select(1, 0).map_err(tensor_error("select"))?;
            next = self.greedy(&last)?;
        }
        Ok(())
    }

    /// The argmax token `[B]` of hidden states `[B, C]`.
    fn greedy(&self, hidden: &Tensor) -> Result<Tensor, GptError> {
        let logits = self.head(hidden)?;
        logits
            .f_argmax(-1, false)
            .map_err(|source| GptError::tensor("generate: argmax", &[&logits], source))
    }

    fn new_cache(&self, batch: i64, columns: i64) -> Result<KvCache, TchError> {
        let heads = self.config.heads;
        let head_dim = self.config.head_dim();
        let options = (self.kind, self.device);
        let layers = (0..self.config.depth)
            .map(|_| {
                Ok(LayerCache {
                    keys: Tensor::f_zeros([batch, heads, columns, head_dim], options)?,
                    values: Tensor::f_zeros([batch, heads, columns, head_dim], options)?,
                })
            })
            .collect::<Result<_, TchError>>()?;
        Ok(KvCache {
            layers,
            positions: Tensor::f_zeros([batch, columns], (Kind::Int64, self.device))?,
            valid: Tensor::f_ones([batch, columns], (Kind::Bool, self.device))?,
        })
    }

    /// The plan for queries at `positions` (`[B, Tq]`) in columns `column..column + Tq`,
    /// over cache columns `0..column + Tq`.
    fn cached_plan(
        &self,
        cache: &KvCache,
        positions: Tensor,
        column: i64,
    ) -> Result<Plan, TchError> {
        let keys = column + positions.size()[1];
        let mask = Plan::mask(
            &positions,
            &cache.positions.f_narrow(1, 0, keys)?,
            &cache.valid.f_narrow(1, 0, keys)?,
            column,
            self.alibi_slopes.as_ref(),
        )?;
        let queries = positions.size()[1];
        Ok(Plan {
            rope: self
                .rope
                .as_ref()
                .map(|rope| rope.tables(Some(&positions), queries))
                .transpose()?,
            positions: Some(positions),
            mask: Some(mask),
        })
    }
}
