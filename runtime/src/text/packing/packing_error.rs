//! `PackingError`: why token ids could not be packed into windows or padded into a batch.
//! Each variant holds the numbers it is about; `Display` says what to change.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackingError {
    /// A length parameter (`context`, `max_len`) is 0.
    ZeroLength { parameter: &'static str },
    /// Under `Remainder::Drop`, the stream cannot fill one window.
    StreamTooShort {
        found: usize,
        needed: usize,
        context: usize,
    },
    /// Under `Remainder::Pad`, the stream has no target at all.
    NoTarget { found: usize },
    /// A window past the last one.
    NoSuchWindow { window: usize, n_windows: usize },
    /// A batch with no rows; `argument` names the slice that was empty.
    EmptyBatch { argument: &'static str },
    /// Row `index` of `sequences` has no token.
    EmptyRow { index: usize },
    /// Example `index` has fewer than the 2 tokens one input and one target need.
    ExampleTooShort { index: usize, n_tokens: usize },
    /// Example `index` has no answer token.
    NoAnswer {
        index: usize,
        answer_start: usize,
        n_tokens: usize,
    },
    /// Truncating example `index` to `kept` tokens left no answer token to predict.
    AnswerTruncated {
        index: usize,
        kept: usize,
        max_len: usize,
    },
    /// Row `index` of `argument` is longer than `limit` under `Truncation::Error`.
    TooLong {
        argument: &'static str,
        index: usize,
        n_tokens: usize,
        limit: usize,
        max_len: usize,
    },
}

impl fmt::Display for PackingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackingError::ZeroLength { parameter } => {
                write!(f, "`{parameter}` must be at least 1, got 0")
            }
            PackingError::StreamTooShort {
                found,
                needed,
                context,
            } => write!(
                f,
                "the documents make a stream of {found} tokens (end-of-text tokens included), \
                 fewer than the {needed} that one window of `context` {context} needs; use a \
                 smaller `context`, more text, or pad the last window"
            ),
            PackingError::NoTarget { found } => write!(
                f,
                "the documents make a stream of {found} tokens (end-of-text tokens included), \
                 too few for even one target; a padded window needs at least 2"
            ),
            PackingError::NoSuchWindow { window, n_windows } => write!(
                f,
                "window {window} does not exist: the stream has {n_windows} windows"
            ),
            PackingError::EmptyBatch { argument } => {
                write!(f, "`{argument}` is empty: a batch needs at least one row")
            }
            PackingError::EmptyRow { index } => write!(
                f,
                "`sequences[{index}]` is empty; every row needs at least one token"
            ),
            PackingError::ExampleTooShort { index, n_tokens } => write!(
                f,
                "`examples[{index}]` has {n_tokens} tokens; an example needs at least 2 (one \
                 input and one target)"
            ),
            PackingError::NoAnswer {
                index,
                answer_start,
                n_tokens,
            } => write!(
                f,
                "`examples[{index}]` has no answer tokens: `answer_start` is {answer_start} and \
                 the example has {n_tokens} tokens"
            ),
            PackingError::AnswerTruncated {
                index,
                kept,
                max_len,
            } => write!(
                f,
                "truncating `examples[{index}]` to {kept} tokens (`max_len` {max_len} + 1) \
                 leaves no answer token to predict; raise `max_len` or keep the end"
            ),
            PackingError::TooLong {
                argument,
                index,
                n_tokens,
                limit,
                max_len,
            } => write!(
                f,
                "`{argument}[{index}]` has {n_tokens} tokens, more than the {limit} allowed by \
                 `max_len` {max_len}; raise `max_len` or truncate (keep the start or the end)"
            ),
        }
    }
}

impl std::error::Error for PackingError {}
