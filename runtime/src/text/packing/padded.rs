//! Padded batches of whole examples: one row per sequence, for classification, multiple-choice
//! scoring and supervised prompt→answer training, where an example must not be cut into windows.
//!
//! A batch is as long as its longest row after truncation (never more than `max_len`), so short
//! batches cost less.
//! Rows are padded with `pad_id` on the side the [`PadConfig`] names; the attention mask is 1 on
//! real tokens and 0 on padding.
//! Right padding is the default choice for models with learned positions (GPT-2, BERT): every row
//! starts at position 0, and the last real token of a row sits at `length - 1`, which
//! [`PaddedBatch::last_positions`] gives for gathering a classification head's input.
//! Left padding lines up the last tokens instead, which generation needs.
//!
//! Sequences longer than allowed are handled by [`Truncation`], chosen per use: `KeepStart` for
//! text whose beginning matters, `KeepEnd` for prompts whose question and options come last (and
//! for prompt→answer pairs, to keep the answer), `Error` where silently losing tokens would be a
//! bug.
//! Every batch reports how many rows it truncated.
//!
//! [`pad_supervised_batch`] builds next-token targets masked with [`IGNORE_INDEX`] on the prompt
//! and on padding, so only answer tokens count toward the loss.
//! Targets are shifted like those of causal packing: an example of `n` tokens gives `n - 1`
//! positions, input `ids[t]` and target `ids[t + 1]`, and `max_len` counts positions, so an
//! example is truncated to `max_len + 1` tokens.

use super::{PackingError, IGNORE_INDEX};

/// Which side of a row the padding goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PadSide {
    /// Real tokens first, padding after them.
    Right,
    /// Padding first, real tokens at the end of the row.
    Left,
}

/// What to do with a sequence longer than the batch allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncation {
    /// Refuse the batch, naming the sequence.
    Error,
    /// Keep the first tokens and drop the end.
    KeepStart,
    /// Keep the last tokens and drop the start.
    KeepEnd,
}

/// How to pad and truncate a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PadConfig {
    /// The id written into padding positions.
    pub pad_id: u32,
    /// The most positions a row may have (`max_len` tokens for [`pad_batch`], `max_len + 1`
    /// tokens for [`pad_supervised_batch`]).
    pub max_len: usize,
    /// Where padding goes.
    pub side: PadSide,
    /// What happens to longer sequences.
    pub truncation: Truncation,
}

/// Padded sequences, row-major `[batch_size, seq_len]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaddedBatch {
    /// Token ids, `pad_id` on padding.
    pub ids: Vec<i64>,
    /// 1 on real tokens, 0 on padding.
    pub attention_mask: Vec<i64>,
    /// Real tokens per row, after truncation.
    pub lengths: Vec<usize>,
    /// The column of each row's last real token.
    pub last_positions: Vec<i64>,
    /// The number of rows.
    pub batch_size: usize,
    /// The number of columns: the longest row, at most `max_len`.
    pub seq_len: usize,
    /// How many rows were truncated.
    pub n_truncated: usize,
}

/// One prompt→answer example: `ids` is the prompt followed by the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupervisedExample<'a> {
    /// The prompt and answer tokens.
    pub ids: &'a [u32],
    /// The index in `ids` of the answer's first token.
    pub answer_start: usize,
}

/// Padded prompt→answer examples with shifted, masked targets, row-major `[batch_size, seq_len]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisedBatch {
    /// Input ids, `pad_id` on padding.
    pub inputs: Vec<i64>,
    /// The next token where it is an answer token, [`IGNORE_INDEX`] on the prompt and padding.
    pub targets: Vec<i64>,
    /// 1 on real inputs, 0 on padding.
    pub attention_mask: Vec<i64>,
    /// Real positions per row (tokens after truncation, minus one).
    pub lengths: Vec<usize>,
    /// The number of rows.
    pub batch_size: usize,
    /// The number of columns: the longest row, at most `max_len`.
    pub seq_len: usize,
    /// How many examples were truncated.
    pub n_truncated: usize,
    /// Targets that are not [`IGNORE_INDEX`]: the answer tokens the loss averages over.
    pub n_answer_tokens: usize,
}

/// Pads `sequences` into one batch (see the module documentation).
pub fn pad_batch<S>(sequences: &[S], config: &PadConfig) -> Result<PaddedBatch, PackingError>
where
    S: AsRef<[u32]>,
{
    validate_batch(sequences.len(), "sequences", config)?;
    let mut rows = Vec::with_capacity(sequences.len());
    let mut n_truncated = 0;
    for (index, sequence) in sequences.iter().enumerate() {
        let sequence = sequence.as_ref();
        if sequence.is_empty() {
            return Err(PackingError::EmptyRow { index });
        }
        let kept = truncate(sequence, config.max_len, config, ("sequences", index))?;
        n_truncated += usize::from(kept.len() < sequence.len());
        rows.push(kept);
    }

    let seq_len = rows.iter().map(|row| row.len()).max().unwrap_or(0);
    let mut ids = vec![i64::from(config.pad_id); rows.len() * seq_len];
    let mut attention_mask = vec![0; rows.len() * seq_len];
    let mut last_positions = Vec::with_capacity(rows.len());
    for (row_index, row) in rows.iter().enumerate() {
        let start = row_index * seq_len + row_offset(row.len(), seq_len, config.side);
        for (column, id) in row.iter().enumerate() {
            ids[start + column] = i64::from(*id);
            attention_mask[start + column] = 1;
        }
        let last = row_offset(row.len(), seq_len, config.side) + row.len() - 1;
        last_positions.push(last as i64);
    }
    Ok(PaddedBatch {
        ids,
        attention_mask,
        lengths: rows.iter().map(|row| row.len()).collect(),
        last_positions,
        batch_size: rows.len(),
        seq_len,
        n_truncated,
    })
}

/// Pads prompt→answer `examples` into one batch with targets masked on the prompt and padding
/// (see the module documentation).
///
/// An example whose answer is empty, or whose answer truncation removed entirely, is an error:
/// it would add nothing to the loss, and a batch made only of such rows has a loss of 0/0.
pub fn pad_supervised_batch(
    examples: &[SupervisedExample],
    config: &PadConfig,
) -> Result<SupervisedBatch, PackingError> {
    validate_batch(examples.len(), "examples", config)?;
    // Per example: the kept tokens and where the answer starts in them.
    let mut rows = Vec::with_capacity(examples.len());
    let mut n_truncated = 0;
    for (index, example) in examples.iter().enumerate() {
        let n_tokens = example.ids.len();
        if n_tokens < 2 {
            return Err(PackingError::ExampleTooShort { index, n_tokens });
        }
        if example.answer_start >= n_tokens {
            return Err(PackingError::NoAnswer {
                index,
                answer_start: example.answer_start,
                n_tokens,
            });
        }
        let kept = truncate(example.ids, config.max_len + 1, config, ("examples", index))?;
        // `KeepEnd` drops tokens from the front, which moves the answer toward the start.
        let removed_front = match config.truncation {
            Truncation::KeepEnd => n_tokens - kept.len(),
            Truncation::Error | Truncation::KeepStart => 0,
        };
        let answer_start = example.answer_start.saturating_sub(removed_front);
        // Position `t` predicts token `t + 1`, so answer tokens from index 1 on are targets.
        if answer_start.max(1) >= kept.len() {
            return Err(PackingError::AnswerTruncated {
                index,
                kept: kept.len(),
                max_len: config.max_len,
            });
        }
        n_truncated += usize::from(kept.len() < n_tokens);
        rows.push((kept, answer_start));
    }

    let seq_len = rows
        .iter()
        .map(|(kept, _)| kept.len() - 1)
        .max()
        .unwrap_or(0);
    let mut inputs = vec![i64::from(config.pad_id); rows.len() * seq_len];
    let mut targets = vec![IGNORE_INDEX; rows.len() * seq_len];
    let mut attention_mask = vec![0; rows.len() * seq_len];
    let mut n_answer_tokens = 0;
    for (row_index, (kept, answer_start)) in rows.iter().enumerate() {
        let n_positions = kept.len() - 1;
        let start = row_index * seq_len + row_offset(n_positions, seq_len, config.side);
        for position in 0..n_positions {
            inputs[start + position] = i64::from(kept[position]);
            attention_mask[start + position] = 1;
            if position + 1 >= *answer_start {
                targets[start + position] = i64::from(kept[position + 1]);
                n_answer_tokens += 1;
            }
        }
    }
    Ok(SupervisedBatch {
        inputs,
        targets,
        attention_mask,
        lengths: rows.iter().map(|(kept, _)| kept.len() - 1).collect(),
        batch_size: rows.len(),
        seq_len,
        n_truncated,
        n_answer_tokens,
    })
}

fn validate_batch(
    n_rows: usize,
    argument: &'static str,
    config: &PadConfig,
) -> Result<(), PackingError> {
    if n_rows == 0 {
        return Err(PackingError::EmptyBatch { argument });
    }
    if config.max_len == 0 {
        return Err(PackingError::ZeroLength {
            parameter: "max_len",
        });
    }
    Ok(())
}

/// The part of `ids` that fits in `limit` tokens under `config.truncation`; `row` names it
/// (the argument and the index in it) in an error.
fn truncate<'a>(
    ids: &'a [u32],
    limit: usize,
    config: &PadConfig,
    row: (&'static str, usize),
) -> Result<&'a [u32], PackingError> {
    if ids.len() <= limit {
        return Ok(ids);
    }
    match config.truncation {
        Truncation::KeepStart => Ok(&ids[..limit]),
        Truncation::KeepEnd => Ok(&ids[ids.len() - limit..]),
        Truncation::Error => Err(PackingError::TooLong {
            argument: row.0,
            index: row.1,
            n_tokens: ids.len(),
            limit,
            max_len: config.max_len,
        }),
    }
}

/// The column where a row of `len` real tokens starts.
fn row_offset(len: usize, seq_len: usize, side: PadSide) -> usize {
    match side {
        PadSide::Right => 0,
        PadSide::Left => seq_len - len,
    }
}

#[cfg(test)]
mod tests {
    use super::{
        pad_batch, pad_supervised_batch, PadConfig, PadSide, SupervisedExample, Truncation,
    };
    use crate::text::packing::IGNORE_INDEX;

    const PAD: u32 = 0;
    const I: i64 = IGNORE_INDEX;

    fn config(max_len: usize, side: PadSide, truncation: Truncation) -> PadConfig {
        PadConfig {
            pad_id: PAD,
            max_len,
            side,
            truncation,
        }
    }

    #[test]
    fn right_padding_to_the_longest_row() {
        let sequences = [vec![5, 6, 7], vec![8], vec![9, 10]];
        let batch = pad_batch(&sequences, &config(8, PadSide::Right, Truncation::Error)).unwrap();
        assert_eq!((batch.batch_size, batch.seq_len), (3, 3));
        assert_eq!(batch.ids, vec![5, 6, 7, 8, 0, 0, 9, 10, 0]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 0, 0, 1, 1, 0]);
        assert_eq!(batch.lengths, vec![3, 1, 2]);
        assert_eq!(batch.last_positions, vec![2, 0, 1]);
        assert_eq!(batch.n_truncated, 0);
    }

    #[test]
    fn left_padding_lines_up_the_ends() {
        let sequences = [vec![5, 6, 7], vec![8]];
        let batch = pad_batch(&sequences, &config(8, PadSide::Left, Truncation::Error)).unwrap();
        assert_eq!(batch.ids, vec![5, 6, 7, 0, 0, 8]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 0, 0, 1]);
        assert_eq!(batch.last_positions, vec![2, 2]);
    }

    #[test]
    fn truncation_keeps_the_side_asked_for() {
        let sequences = [vec![1, 2, 3, 4, 5], vec![6, 7]];
        let start = pad_batch(
            &sequences,
            &config(3, PadSide::Right, Truncation::KeepStart),
        );
        assert_eq!(start.as_ref().unwrap().ids, vec![1, 2, 3, 6, 7, 0]);
        assert_eq!(start.unwrap().n_truncated, 1);
        let end = pad_batch(&sequences, &config(3, PadSide::Right, Truncation::KeepEnd)).unwrap();
        assert_eq!(end.ids, vec![3, 4, 5, 6, 7, 0]);
        assert_eq!(
            pad_batch(&sequences, &config(3, PadSide::Right, Truncation::Error))
                .unwrap_err()
                .to_string(),
            "`sequences[0]` has 5 tokens, more than the 3 allowed by `max_len` 3; raise \
             `max_len` or truncate (keep the start or the end)"
        );
    }

    #[test]
    fn rejects_empty_batches_and_rows() {
        let right = config(4, PadSide::Right, Truncation::Error);
        assert_eq!(
            pad_batch::<Vec<u32>>(&[], &right).unwrap_err().to_string(),
            "`sequences` is empty: a batch needs at least one row"
        );
        assert_eq!(
            pad_batch(&[vec![1], vec![]], &right)
                .unwrap_err()
                .to_string(),
            "`sequences[1]` is empty; every row needs at least one token"
        );
        assert_eq!(
            pad_batch(&[vec![1]], &config(0, PadSide::Right, Truncation::Error))
                .unwrap_err()
                .to_string(),
            "`max_len` must be at least 1, got 0"
        );
    }

    #[test]
    fn supervised_targets_mask_the_prompt_and_padding() {
        // Prompt [11 12 13], answer [21 22]; prompt [14], answer [23].
        let first = [11, 12, 13, 21, 22];
        let second = [14, 23];
        let examples = [
            SupervisedExample {
                ids: &first,
                answer_start: 3,
            },
            SupervisedExample {
                ids: &second,
                answer_start: 1,
            },
        ];
        let right = config(8, PadSide::Right, Truncation::Error);
        let batch = pad_supervised_batch(&examples, &right).unwrap();
        assert_eq!((batch.batch_size, batch.seq_len), (2, 4));
        assert_eq!(batch.inputs, vec![11, 12, 13, 21, 14, 0, 0, 0]);
        assert_eq!(batch.targets, vec![I, I, 21, 22, 23, I, I, I]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 1, 0, 0, 0]);
        assert_eq!(batch.lengths, vec![4, 1]);
        assert_eq!(batch.n_answer_tokens, 3);

        let left = config(8, PadSide::Left, Truncation::Error);
        let batch = pad_supervised_batch(&examples, &left).unwrap();
        assert_eq!(batch.inputs, vec![11, 12, 13, 21, 0, 0, 0, 14]);
        assert_eq!(batch.targets, vec![I, I, 21, 22, I, I, I, 23]);
        assert_eq!(batch.attention_mask, vec![1, 1, 1, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn supervised_truncation() {
        let ids = [11, 12, 13, 14, 21, 22];
        let example = [SupervisedExample {
            ids: &ids,
            answer_start: 4,
        }];
        // Keeping the end drops prompt tokens and keeps the whole answer.
        let end = pad_supervised_batch(&example, &config(3, PadSide::Right, Truncation::KeepEnd))
            .unwrap();
        assert_eq!(end.inputs, vec![13, 14, 21]);
        assert_eq!(end.targets, vec![I, 21, 22]);
        assert_eq!(end.n_truncated, 1);
        // Keeping the start cuts the answer short.
        let start =
            pad_supervised_batch(&example, &config(4, PadSide::Right, Truncation::KeepStart))
                .unwrap();
        assert_eq!(start.inputs, vec![11, 12, 13, 14]);
        assert_eq!(start.targets, vec![I, I, I, 21]);
        // ... or removes it entirely, which is refused.
        assert_eq!(
            pad_supervised_batch(&example, &config(3, PadSide::Right, Truncation::KeepStart))
                .unwrap_err()
                .to_string(),
            "truncating `examples[0]` to 4 tokens (`max_len` 3 + 1) leaves no answer token to \
             predict; raise `max_len` or keep the end"
        );
        // An answer that starts before the kept part is all answer.
        let end = pad_supervised_batch(&example, &config(1, PadSide::Right, Truncation::KeepEnd))
            .unwrap();
        assert_eq!(
            (end.inputs.clone(), end.targets.clone()),
            (vec![21], vec![22])
        );
    }

    #[test]
    fn supervised_rejects_examples_without_answers() {
        let right = config(8, PadSide::Right, Truncation::Error);
        let ids = [1, 2, 3];
        let no_answer = [SupervisedExample {
            ids: &ids,
            answer_start: 3,
        }];
        assert_eq!(
            pad_supervised_batch(&no_answer, &right)
                .unwrap_err()
                .to_string(),
            "`examples[0]` has no answer tokens: `answer_start` is 3 and the example has 3 tokens"
        );
        let short = [SupervisedExample {
            ids: &ids[..1],
            answer_start: 0,
        }];
        assert_eq!(
            pad_supervised_batch(&short, &right)
                .unwrap_err()
                .to_string(),
            "`examples[0]` has 1 tokens; an example needs at least 2 (one input and one target)"
        );
    }
}
