//! A text dataset as a model of token sequences reads it: each split's documents packed into
//! windows of the model's length (`packing::causal`), served by window index as `[batch,
//! length]` int64 inputs and targets (the inputs shifted by one token). The training split
//! drops the tail that does not fill a window, as pretraining does; the validation and test
//! splits pad it (targets −100), so that an evaluation sees every token.

use exp_plugin_api::host::PluginError;
use exp_plugin_api::sdk::Split;
use tch::Tensor;

use super::packing::{pack_causal, PackedStream, Remainder, TokenizedDocument};
use super::tokens::TokenizedSplit;
use crate::error::RunError;

pub struct TokenView {
    /// Train, validation, test; `None` for a split with no text.
    splits: [Option<PackedStream>; 3],
    context: usize,
    /// Names the dataset in errors.
    name: String,
}

impl TokenView {
    /// Packs each split's documents (train, validation, test) into windows of `context`
    /// tokens, joined by `eot`; `pad` fills the last window of the validation and test splits.
    /// `node` is the node that reads the dataset `name` this way, for errors.
    pub fn new(
        node: &str,
        name: &str,
        splits: [&TokenizedSplit; 3],
        context: usize,
        eot: u32,
        pad: u32,
    ) -> Result<TokenView, RunError> {
        let pack = |split: Split, tokenized: &TokenizedSplit, remainder| {
            if tokenized.n_tokens() == 0 {
                return Ok(None);
            }
            let documents: Vec<TokenizedDocument> = tokenized
                .docs
                .iter()
                .map(|ids| TokenizedDocument { source: 0, ids })
                .collect();
            pack_causal(&documents, eot, context, remainder)
                .map(Some)
                .map_err(|error| RunError::Packing {
                    node: node.to_string(),
                    dataset: name.to_string(),
                    split,
                    error,
                })
        };
        let [train, validation, test] = splits;
        let padded = Remainder::Pad { pad_id: pad };
        Ok(TokenView {
            splits: [
                pack(Split::Train, train, Remainder::Drop)?,
                pack(Split::Validation, validation, padded)?,
                pack(Split::Test, test, padded)?,
            ],
            context,
            name: name.to_string(),
        })
    }

    /// The number of windows of a split.
    pub fn windows(&self, split: Split) -> i64 {
        self.splits[split.index()]
            .as_ref()
            .map_or(0, |stream| stream.n_windows() as i64)
    }

    /// Target tokens (not padding) in `windows` of the training split: what a step on them
    /// trained on, for the data ledger.
    pub fn target_tokens(&self, windows: &[i64]) -> u64 {
        let Some(stream) = &self.splits[0] else {
            return 0;
        };
        let windows: Vec<usize> = windows.iter().map(|window| *window as usize).collect();
        stream
            .target_tokens_per_source(&windows)
            .map_or(0, |counts| counts.values().sum())
    }

    pub fn context(&self) -> usize {
        self.context
    }

    /// The windows at `indices` of a split, as inputs and targets `[batch, context]`.
    pub fn batch(&self, split: Split, indices: &[i64]) -> Result<(Tensor, Tensor), PluginError> {
        let refuse = |message: String| PluginError::Call {
            plugin: "exp".to_string(),
            component: self.name.clone(),
            operation: "batch",
            message,
            field: None,
        };
        let stream = self.splits[split.index()]
            .as_ref()
            .ok_or_else(|| refuse(format!("the {} split has no text", split.word())))?;
        let windows: Vec<usize> = indices
            .iter()
            .map(|index| usize::try_from(*index).unwrap_or(usize::MAX))
            .collect();
        let batch = stream
            .batch(&windows)
            .map_err(|error| refuse(error.to_string()))?;
        let shape = [batch.batch_size as i64, batch.context as i64];
        Ok((
            Tensor::from_slice(&batch.inputs).reshape(shape),
            Tensor::from_slice(&batch.targets).reshape(shape),
        ))
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Split;

    use super::TokenView;
    use crate::text::TokenizedSplit;

    fn split(docs: &[&[u32]]) -> TokenizedSplit {
        TokenizedSplit {
            docs: docs.iter().map(|doc| doc.to_vec()).collect(),
            answer_at: vec![None; docs.len()],
        }
    }

    #[test]
    fn splits_pack_into_windows_of_shifted_ids() {
        // Train: 1 2 3 | 4 5 6 7 → stream 1 2 3 0 4 5 6 7 0 (9 tokens): two windows of 4.
        let train = split(&[&[1, 2, 3], &[4, 5, 6, 7]]);
        let test = split(&[&[8, 9]]);
        let view = TokenView::new("n", "d", [&train, &split(&[]), &test], 4, 0, 99).unwrap();
        assert_eq!(view.windows(Split::Train), 2);
        assert_eq!(view.windows(Split::Validation), 0);
        let (x, y) = view.batch(Split::Train, &[1, 0]).unwrap();
        assert_eq!(x.size(), [2, 4]);
        assert_eq!(
            Vec::<i64>::try_from(x.reshape([-1])).unwrap(),
            [4, 5, 6, 7, 1, 2, 3, 0]
        );
        assert_eq!(
            Vec::<i64>::try_from(y.reshape([-1])).unwrap(),
            [5, 6, 7, 0, 2, 3, 0, 4]
        );
        assert_eq!(view.target_tokens(&[0, 1]), 8);
        // The test split is padded, not dropped: 8 9 0 → one window, targets −100 past it.
        let (x, y) = view.batch(Split::Test, &[0]).unwrap();
        assert_eq!(
            Vec::<i64>::try_from(x.reshape([-1])).unwrap(),
            [8, 9, 99, 99]
        );
        assert_eq!(
            Vec::<i64>::try_from(y.reshape([-1])).unwrap(),
            [9, 0, -100, -100]
        );
        let error = view.batch(Split::Validation, &[0]).unwrap_err();
        assert!(
            error.to_string().contains("validation split has no text"),
            "{error}"
        );
        assert!(view.batch(Split::Train, &[2]).is_err());
    }

    #[test]
    fn a_training_split_shorter_than_a_window_is_an_error_naming_the_dataset() {
        let error = TokenView::new(
            "n",
            "tiny",
            [&split(&[&[1]]), &split(&[]), &split(&[])],
            8,
            0,
            0,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            error.starts_with("node `n`: the training split of `tiny`: "),
            "{error}"
        );
    }
}
