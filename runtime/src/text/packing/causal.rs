//! Causal-LM packing: documents joined into one token stream and cut into fixed-length windows.
//!
//! The stream is every non-empty document in the order given, each followed by the end-of-text
//! token, as GPT-2 and nanoGPT prepare their data.
//! Empty documents are left out entirely: an end-of-text token alone would only teach the model to
//! follow one end-of-text token with another.
//!
//! Window `w` covers the `context + 1` stream tokens at positions `w·context ..= w·context +
//! context`: its inputs are the first `context` of them and its targets the last `context`.
//! Consecutive windows overlap by one token (the last target of one window is the first input of
//! the next), so every transition in the stream, document boundaries included, is predicted
//! exactly once: the windows' inputs, laid end to end, are the stream, and so are their targets,
//! one token later.
//! Cutting disjoint blocks of `context + 1` tokens instead (as Hugging Face's `group_texts` does
//! with labels shifted in the model) never trains the transition from one block to the next.
//!
//! The tail that does not fill a last window (fewer than `context` targets) is handled by
//! [`Remainder`]: dropped, with the number of tokens lost reported by
//! [`PackedStream::dropped_tokens`], or kept as one padded window whose padding targets are
//! [`IGNORE_INDEX`].
//! Padding sits after the real tokens, and a causal model never attends forward, so a padded
//! window needs no attention mask.
//! A stream too short for a single full window is an error under `Drop` and one padded window
//! under `Pad`.
//!
//! Windows are not materialized: [`PackedStream`] keeps the stream and builds the rows a batch
//! asks for, so memory stays at 4 bytes per stream token.
//! Each document carries a source index, and the stream remembers which source each span came
//! from, so a data ledger can count tokens per source for the whole stream or for the windows of
//! one batch.

use std::collections::BTreeMap;
use std::ops::Range;

use super::{PackingError, IGNORE_INDEX};

/// The ids of one document and the index of the source it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenizedDocument<'a> {
    /// The data source (an index into the caller's list of sources).
    pub source: usize,
    /// The document's token ids, without an end-of-text token.
    pub ids: &'a [u32],
}

/// What to do with the tokens at the end of the stream that do not fill a whole window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remainder {
    /// Leave them out (the usual choice for pretraining, where they are a tiny fraction).
    Drop,
    /// Keep them in one last window, with inputs padded by `pad_id` and targets by
    /// [`IGNORE_INDEX`].
    Pad {
        /// The input id used for padding positions; any valid id works, since no loss reads them.
        pad_id: u32,
    },
}

/// The span of one document (its end-of-text token included) in the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DocumentSpan {
    source: usize,
    range: Range<usize>,
}

/// A packed token stream and its windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedStream {
    ids: Vec<u32>,
    spans: Vec<DocumentSpan>,
    context: usize,
    n_full_windows: usize,
    pad_id: Option<u32>,
}

/// Rows of windows, row-major `[batch_size, context]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CausalBatch {
    /// Input ids.
    pub inputs: Vec<i64>,
    /// Next-token targets, [`IGNORE_INDEX`] on padding.
    pub targets: Vec<i64>,
    /// The number of rows.
    pub batch_size: usize,
    /// The number of positions per row.
    pub context: usize,
}

/// Packs `documents` into a stream (each followed by `eot_id`) and cuts it into windows of
/// `context` positions (see the module documentation).
pub fn pack_causal(
    documents: &[TokenizedDocument],
    eot_id: u32,
    context: usize,
    remainder: Remainder,
) -> Result<PackedStream, PackingError> {
    if context == 0 {
        return Err(PackingError::ZeroLength {
            parameter: "context",
        });
    }
    let n_tokens: usize = documents
        .iter()
        .filter(|document| !document.ids.is_empty())
        .map(|document| document.ids.len() + 1)
        .sum();
    let mut ids = Vec::with_capacity(n_tokens);
    let mut spans = Vec::new();
    for document in documents.iter().filter(|document| !document.ids.is_empty()) {
        let start = ids.len();
        ids.extend_from_slice(document.ids);
        ids.push(eot_id);
        spans.push(DocumentSpan {
            source: document.source,
            range: start..ids.len(),
        });
    }

    // Window `w` needs positions up to `w·context + context`, so full windows are those with
    // `(w + 1)·context <= len - 1`.
    let n_full_windows = ids.len().saturating_sub(1) / context;
    let pad_id = match remainder {
        Remainder::Drop => None,
        Remainder::Pad { pad_id } => Some(pad_id),
    };
    if n_full_windows == 0 {
        let needed = context + 1;
        let found = ids.len();
        match remainder {
            Remainder::Drop => {
                return Err(PackingError::StreamTooShort {
                    found,
                    needed,
                    context,
                })
            }
            Remainder::Pad { .. } if found < 2 => return Err(PackingError::NoTarget { found }),
            Remainder::Pad { .. } => {}
        }
    }
    Ok(PackedStream {
        ids,
        spans,
        context,
        n_full_windows,
        pad_id,
    })
}

impl PackedStream {
    /// The stream: every non-empty document followed by the end-of-text token.
    pub fn stream(&self) -> &[u32] {
        &self.ids
    }

    /// The number of positions per window.
    pub fn context(&self) -> usize {
        self.context
    }

    /// The number of windows, the padded last one included.
    pub fn n_windows(&self) -> usize {
        self.n_full_windows + usize::from(self.has_padded_window())
    }

    /// The stream tokens that no window predicts: the tail that `Remainder::Drop` left out.
    pub fn dropped_tokens(&self) -> usize {
        if self.pad_id.is_some() {
            0
        } else {
            self.tail_len()
        }
    }

    /// The stream positions window `window` reads: `context + 1` of them for a full window, fewer
    /// for the padded last one.
    pub fn window_range(&self, window: usize) -> Result<Range<usize>, PackingError> {
        if window >= self.n_windows() {
            return Err(PackingError::NoSuchWindow {
                window,
                n_windows: self.n_windows(),
            });
        }
        let start = window * self.context;
        Ok(start..(start + self.context + 1).min(self.ids.len()))
    }

    /// The rows for `windows`, in the order given (repeats allowed).
    pub fn batch(&self, windows: &[usize]) -> Result<CausalBatch, PackingError> {
        let context = self.context;
        let mut inputs = Vec::with_capacity(windows.len() * context);
        let mut targets = Vec::with_capacity(windows.len() * context);
        for &window in windows {
            let tokens = &self.ids[self.window_range(window)?];
            let n_real = tokens.len() - 1;
            inputs.extend(tokens[..n_real].iter().map(|id| i64::from(*id)));
            targets.extend(tokens[1..].iter().map(|id| i64::from(*id)));
            // Only the padded last window is short, and it exists only when `pad_id` is set.
            if let (true, Some(pad_id)) = (n_real < context, self.pad_id) {
                inputs.resize(inputs.len() + context - n_real, i64::from(pad_id));
                targets.resize(targets.len() + context - n_real, IGNORE_INDEX);
            }
        }
        Ok(CausalBatch {
            inputs,
            targets,
            batch_size: windows.len(),
            context,
        })
    }

    /// Tokens in the stream per source, end-of-text tokens counted with their document.
    pub fn stream_tokens_per_source(&self) -> BTreeMap<usize, u64> {
        let mut counts = BTreeMap::new();
        for span in &self.spans {
            *counts.entry(span.source).or_insert(0) += span.range.len() as u64;
        }
        counts
    }

    /// Non-empty documents in the stream per source.
    pub fn documents_per_source(&self) -> BTreeMap<usize, u64> {
        let mut counts = BTreeMap::new();
        for span in &self.spans {
            *counts.entry(span.source).or_insert(0) += 1;
        }
        counts
    }

    /// The targets (not padding) of `windows` per source of the token predicted: what a step
    /// on this batch trained on, for the data ledger.
    /// Pass every window to count one epoch.
    pub fn target_tokens_per_source(
        &self,
        windows: &[usize],
    ) -> Result<BTreeMap<usize, u64>, PackingError> {
        let mut counts = BTreeMap::new();
        for &window in windows {
            let range = self.window_range(window)?;
            // Targets are the window's positions after the first.
            self.count_sources(range.start + 1..range.end, &mut counts);
        }
        Ok(counts)
    }

    fn count_sources(&self, positions: Range<usize>, counts: &mut BTreeMap<usize, u64>) {
        // Spans are sorted and tile the stream, so the first span that ends after
        // `positions.start` is where the range begins.
        let first = self
            .spans
            .partition_point(|span| span.range.end <= positions.start);
        for span in &self.spans[first..] {
            if span.range.start >= positions.end {
                break;
            }
            let overlap = span.range.end.min(positions.end) - span.range.start.max(positions.start);
            *counts.entry(span.source).or_insert(0) += overlap as u64;
        }
    }

    /// Stream tokens after the last full window's last target.
    fn tail_len(&self) -> usize {
        self.ids.len().saturating_sub(1) - self.n_full_windows * self.context
    }

    fn has_padded_window(&self) -> bool {
        self.pad_id.is_some() && self.tail_len() > 0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{pack_causal, PackedStream, Remainder, TokenizedDocument};
    use crate::text::packing::IGNORE_INDEX;

    const EOT: u32 = 0;
    const PAD: u32 = 99;

    /// Documents whose ids say where they came from: document `d` holds `100·(d+1) + i`.
    fn documents(lengths: &[usize]) -> Vec<Vec<u32>> {
        lengths
            .iter()
            .enumerate()
            .map(|(d, &len)| (0..len).map(|i| 100 * (d as u32 + 1) + i as u32).collect())
            .collect()
    }

    fn pack(lengths: &[usize], context: usize, remainder: Remainder) -> PackedStream {
        let documents = documents(lengths);
        let tokenized: Vec<TokenizedDocument> = documents
            .iter()
            .enumerate()
            .map(|(d, ids)| TokenizedDocument { source: d % 2, ids })
            .collect();
        pack_causal(&tokenized, EOT, context, remainder).unwrap()
    }

    fn all_windows(packed: &PackedStream) -> Vec<usize> {
        (0..packed.n_windows()).collect()
    }

    #[test]
    fn stream_puts_end_of_text_after_each_document() {
        let packed = pack(&[3, 0, 2], 2, Remainder::Drop);
        assert_eq!(packed.stream(), &[100, 101, 102, EOT, 300, 301, EOT]);
        assert_eq!(packed.documents_per_source(), BTreeMap::from([(0, 2)]));
    }

    #[test]
    fn windows_overlap_by_one_and_targets_are_inputs_shifted() {
        // Stream of 10 tokens, context 3: windows read 0..=3, 3..=6, 6..=9, nothing dropped.
        let packed = pack(&[4, 4], 3, Remainder::Drop);
        assert_eq!(packed.stream().len(), 10);
        assert_eq!(packed.n_windows(), 3);
        assert_eq!(packed.dropped_tokens(), 0);
        assert_eq!(packed.window_range(1), Ok(3..7));
        let batch = packed.batch(&[0, 1, 2]).unwrap();
        assert_eq!(
            batch.inputs,
            vec![100, 101, 102, 103, 0, 200, 201, 202, 203]
        );
        assert_eq!(batch.targets, vec![101, 102, 103, 0, 200, 201, 202, 203, 0]);
        for row in 0..3 {
            let inputs = &batch.inputs[row * 3..row * 3 + 3];
            let targets = &batch.targets[row * 3..row * 3 + 3];
            assert_eq!(inputs[1..], targets[..2]);
        }
        assert_eq!(
            packed.window_range(3).unwrap_err().to_string(),
            "window 3 does not exist: the stream has 3 windows"
        );
    }

    #[test]
    fn windows_reassemble_into_the_stream() {
        for context in 1..12 {
            let packed = pack(&[5, 1, 7, 0, 3, 11], context, Remainder::Drop);
            let batch = packed.batch(&all_windows(&packed)).unwrap();
            let stream: Vec<i64> = packed.stream().iter().map(|id| i64::from(*id)).collect();
            let covered = packed.n_windows() * context;
            // Inputs tile the stream from the start; targets tile it one token later.
            assert_eq!(batch.inputs, stream[..covered]);
            assert_eq!(batch.targets, stream[1..covered + 1]);
            // What is not covered is exactly what is reported dropped.
            assert_eq!(covered + 1 + packed.dropped_tokens(), stream.len());
            assert!(packed.dropped_tokens() < context);
        }
    }

    #[test]
    fn padded_last_window_keeps_the_tail() {
        // Stream of 9 tokens, context 3: two full windows (0..=3, 3..=6) and a tail of 2 targets.
        let packed = pack(&[4, 3], 3, Remainder::Pad { pad_id: PAD });
        assert_eq!(packed.n_windows(), 3);
        assert_eq!(packed.dropped_tokens(), 0);
        let batch = packed.batch(&[2]).unwrap();
        assert_eq!(batch.inputs, vec![201, 202, i64::from(PAD)]);
        assert_eq!(batch.targets, vec![202, 0, IGNORE_INDEX]);
        // Without padding the same tail is dropped and counted.
        let dropped = pack(&[4, 3], 3, Remainder::Drop);
        assert_eq!(dropped.n_windows(), 2);
        assert_eq!(dropped.dropped_tokens(), 2);
        // A stream that fills its windows exactly gets no padded window.
        assert_eq!(
            pack(&[4, 4], 3, Remainder::Pad { pad_id: PAD }).n_windows(),
            3
        );
    }

    #[test]
    fn streams_shorter_than_one_window() {
        let documents = documents(&[2]);
        let tokenized = [TokenizedDocument {
            source: 0,
            ids: &documents[0],
        }];
        assert_eq!(
            pack_causal(&tokenized, EOT, 8, Remainder::Drop)
                .unwrap_err()
                .to_string(),
            "the documents make a stream of 3 tokens (end-of-text tokens included), fewer than \
             the 9 that one window of `context` 8 needs; use a smaller `context`, more text, or \
             pad the last window"
        );
        let padded = pack_causal(&tokenized, EOT, 8, Remainder::Pad { pad_id: PAD }).unwrap();
        assert_eq!(padded.n_windows(), 1);
        let batch = padded.batch(&[0]).unwrap();
        assert_eq!(batch.inputs[..3], [100, 101, i64::from(PAD)]);
        assert_eq!(batch.targets[..3], [101, 0, IGNORE_INDEX]);
        assert!(pack_causal(&[], EOT, 8, Remainder::Pad { pad_id: PAD })
            .unwrap_err()
            .to_string()
            .contains("stream of 0 tokens"));
        assert_eq!(
            pack_causal(&tokenized, EOT, 0, Remainder::Drop)
                .unwrap_err()
                .to_string(),
            "`context` must be at least 1, got 0"
        );
    }

    #[test]
    fn counts_tokens_per_source() {
        // Sources alternate 0, 1, 0: stream [100 101 102 EOT | 200 EOT | 300 301 EOT].
        let packed = pack(&[3, 1, 2], 2, Remainder::Pad { pad_id: PAD });
        assert_eq!(
            packed.stream_tokens_per_source(),
            BTreeMap::from([(0, 7), (1, 2)])
        );
        // Windows read positions 0..=2, 2..=4, 4..=6, 6..=8: targets are positions 1..=8.
        assert_eq!(
            packed.target_tokens_per_source(&all_windows(&packed)),
            Ok(BTreeMap::from([(0, 6), (1, 2)]))
        );
        // Window 1 predicts positions 3 (source 0's EOT) and 4 (source 1's token).
        assert_eq!(
            packed.target_tokens_per_source(&[1, 1]),
            Ok(BTreeMap::from([(0, 2), (1, 2)]))
        );
        // A padded window counts only its real targets.
        let padded = pack(&[3, 1, 1], 3, Remainder::Pad { pad_id: PAD });
        let last = padded.n_windows() - 1;
        let batch = padded.batch(&[last]).unwrap();
        let real = batch.targets.iter().filter(|t| **t != IGNORE_INDEX).count() as u64;
        let counted: u64 = padded
            .target_tokens_per_source(&[last])
            .unwrap()
            .values()
            .sum();
        assert_eq!(counted, real);
    }

    #[test]
    fn packing_is_deterministic() {
        let a = pack(&[5, 9, 2, 7], 4, Remainder::Drop);
        let b = pack(&[5, 9, 2, 7], 4, Remainder::Drop);
        assert_eq!(a, b);
        assert_eq!(a.batch(&[2, 0]), b.batch(&[2, 0]));
    }
}
