//! Byte-level BPE tokenizers: training, the untrained bytes tokenizer, loading, saving, encoding
//! and decoding (moved here from the standalone `tok` crate; the components in this module's
//! parent wrap it).
//!
//! A [`Tokenizer`] wraps a Hugging Face `tokenizers::Tokenizer` set up the way GPT-2 is: no
//! normalizer, the `ByteLevel` pre-tokenizer (GPT-2's split regex, no prefix space), a BPE model
//! and the `ByteLevel` decoder.
//! The pre-tokenizer first maps every byte of the input to one of 256 printable characters, so a
//! vocabulary that holds those 256 characters can encode any input and needs no unknown token.
//! Both constructors put all 256 in the vocabulary, whether or not the training text uses them.
//!
//! Id layout, the same for [`train_bpe`] and [`bytes_tokenizer`]:
//! - `0 .. k`: the `k` special tokens, in the order given (so `<|endoftext|>` listed first is 0);
//! - `k .. k + 256`: the 256 byte tokens, ordered by their byte-level character, which is GPT-2's
//!   byte order (printable ASCII `!`..`~` first, then Latin-1, then the remapped control bytes and
//!   space);
//! - `k + 256 ..`: merged tokens, in the order training found them.
//!
//! Specials come first because that is where the `tokenizers` trainer puts them: keeping its layout
//! means a trained tokenizer and the bytes tokenizer with the same specials agree on every id they
//! share, and a special's id does not move when `vocab_size` changes.
//! Special tokens are added as "special" added tokens: they are matched in the raw text before
//! pre-tokenization, so they are never split, and [`Tokenizer::decode`] writes them back out.
//!
//! Determinism: the `tokenizers` BPE trainer counts words and pairs in parallel with rayon, but
//! only sums counts and unions position sets, which do not depend on the order threads finish in.
//! It then picks merges from a heap ordered by (count, pair ids), a total order, and pair ids come
//! from the sorted alphabet, so the merges are the same for any thread count.
//! Serialization orders the vocabulary, merges and added tokens by id, so equal tokenizers give
//! equal `tokenizer.json` bytes.
//! One case escapes that argument: when two different pairs merge into the same string, the
//! trainer can hold two heap entries for one pair, and if their counts are equal, hash-map order
//! decides which it pops first.
//! We have not seen it change a result, so the guarantee is tested rather than proven: unit tests
//! train with 1, 2 and 4 threads, repeatedly (each run gets fresh hash seeds), and compare the
//! bytes; on a 5 MB corpus, separate processes with 1 and 2 threads gave identical files at 4,096
//! and 8,192 tokens; and Python's `tokenizers` trainer, given the same settings, finds the same
//! vocabulary and merges (`tests/text/python_roundtrip.rs`).

use std::fs;
use std::path::Path;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BpeTrainer, Vocab, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::AddedToken;

/// The number of byte tokens every tokenizer built here starts from.
pub const N_BYTE_TOKENS: usize = 256;

/// A byte-level BPE tokenizer (see the module documentation for its id layout).
#[derive(Clone, Debug)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

/// Trains a byte-level BPE tokenizer on `documents`, GPT-2 style.
///
/// The vocabulary holds the specials, the 256 byte tokens and then up to
/// `vocab_size - 256 - special_tokens.len()` merges.
/// It can come out smaller than `vocab_size` when the text runs out of pairs seen at least
/// `min_frequency` times (0 and 1 both mean "any pair seen once").
/// Special tokens found inside the training text are not treated as specials while training:
/// they are split like any other text.
pub fn train_bpe<S>(
    documents: &[S],
    vocab_size: usize,
    min_frequency: u64,
    special_tokens: &[String],
) -> Result<Tokenizer, String>
where
    S: AsRef<str> + Sync,
{
    validate_special_tokens(special_tokens)?;
    let min_vocab_size = N_BYTE_TOKENS + special_tokens.len();
    if vocab_size < min_vocab_size {
        return Err(format!(
            "`vocab_size` must be at least {min_vocab_size} ({N_BYTE_TOKENS} byte tokens + {} \
             special tokens), got {vocab_size}",
            special_tokens.len()
        ));
    }
    if vocab_size > u32::MAX as usize {
        return Err(format!(
            "`vocab_size` must fit token ids in 32 bits (at most {}), got {vocab_size}",
            u32::MAX
        ));
    }

    let trainer = BpeTrainer::builder()
        .vocab_size(vocab_size)
        .min_frequency(min_frequency)
        .show_progress(false)
        .special_tokens(added_specials(special_tokens))
        // The whole byte alphabet, not only the bytes the corpus happens to contain, so that
        // every input stays encodable.
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut trainer = TrainerWrapper::BpeTrainer(trainer);

    let mut inner = gpt2_pipeline(BPE::default());
    inner
        .train(
            &mut trainer,
            documents.iter().map(|document| document.as_ref()),
        )
        .map_err(|error| format!("BPE training failed: {error}"))?;
    Ok(Tokenizer { inner })
}

/// A byte-level tokenizer with no merges: one token per byte, plus the special tokens.
///
/// It is exactly what [`train_bpe`] returns for `vocab_size = 256 + special_tokens.len()`,
/// serialized as the same kind of `tokenizer.json`, so tools that read one read the other.
pub fn bytes_tokenizer(special_tokens: &[String]) -> Result<Tokenizer, String> {
    validate_special_tokens(special_tokens)?;
    let mut byte_chars: Vec<char> = ByteLevel::alphabet().into_iter().collect();
    byte_chars.sort_unstable();

    let vocab: Vocab = special_tokens
        .iter()
        .cloned()
        .chain(byte_chars.iter().map(char::to_string))
        .zip(0u32..)
        .collect();
    let model = BPE::builder()
        .vocab_and_merges(vocab, Vec::new())
        .build()
        .map_err(|error| internal(&format!("building the bytes BPE model failed: {error}")))?;

    let mut inner = gpt2_pipeline(model);
    inner.add_special_tokens(&added_specials(special_tokens));
    Ok(Tokenizer { inner })
}

/// Reads a `tokenizer.json` file (ours or any other the `tokenizers` library reads).
pub fn load(path: &Path) -> Result<Tokenizer, String> {
    let json = fs::read_to_string(path)
        .map_err(|error| format!("cannot read tokenizer `{}`: {error}", path.display()))?;
    Tokenizer::from_json(&json)
        .map_err(|error| format!("cannot load tokenizer `{}`: {error}", path.display()))
}

/// Writes `tokenizer` to `path` as `tokenizer.json` (the bytes of [`Tokenizer::to_json`]).
pub fn save(tokenizer: &Tokenizer, path: &Path) -> Result<(), String> {
    let json = tokenizer.to_json()?;
    fs::write(path, json)
        .map_err(|error| format!("cannot write tokenizer `{}`: {error}", path.display()))
}

impl Tokenizer {
    /// Parses the contents of a `tokenizer.json` file.
    pub fn from_json(json: &str) -> Result<Tokenizer, String> {
        let inner: tokenizers::Tokenizer = json
            .parse()
            .map_err(|error| format!("invalid `tokenizer.json`: {error}"))?;
        Ok(Tokenizer { inner })
    }

    /// The `tokenizer.json` text: pretty-printed, ordered by id, the same bytes for equal
    /// tokenizers, so it can be hashed as a cache key.
    pub fn to_json(&self) -> Result<String, String> {
        self.inner
            .to_string(true)
            .map_err(|error| internal(&format!("serializing the tokenizer failed: {error}")))
    }

    /// Token ids for `text`, with special tokens in the text matched as specials.
    /// No tokens are added around the text (no BOS or EOS); packing adds end-of-text tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        let encoding = self
            .inner
            .encode_fast(text, false)
            .map_err(|error| format!("cannot encode text: {error}"))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// [`Tokenizer::encode`] for many texts, in parallel over texts on the global rayon pool.
    /// Each text is encoded on its own, so the result is the same as encoding them one by one,
    /// in the same order, whatever the number of threads.
    pub fn encode_batch<S>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>, String>
    where
        S: AsRef<str> + Sync,
    {
        let inputs: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let encodings = self
            .inner
            .encode_batch_fast(inputs, false)
            .map_err(|error| format!("cannot encode texts: {error}"))?;
        Ok(encodings
            .into_iter()
            .map(|encoding| encoding.get_ids().to_vec())
            .collect())
    }

    /// The text for `ids`, special tokens included.
    /// Ids that end or start inside a multi-byte UTF-8 character decode to U+FFFD, as in every
    /// byte-level tokenizer, so decoding a slice of a sequence may not give a slice of its text.
    pub fn decode(&self, ids: &[u32]) -> Result<String, String> {
        if let Some((position, id)) = ids
            .iter()
            .enumerate()
            .find(|(_, id)| self.inner.id_to_token(**id).is_none())
        {
            return Err(format!(
                "`ids[{position}]` is {id}, which is not a token id (the vocabulary has \
                 {} tokens)",
                self.vocab_size()
            ));
        }
        self.inner
            .decode(ids, false)
            .map_err(|error| format!("cannot decode ids: {error}"))
    }

    /// The id of the special token `special`.
    pub fn token_id(&self, special: &str) -> Result<u32, String> {
        let specials = self.special_tokens();
        if let Some((_, id)) = specials.iter().find(|(content, _)| content == special) {
            return Ok(*id);
        }
        let known: Vec<String> = specials
            .iter()
            .map(|(content, _)| format!("`{content}`"))
            .collect();
        Err(if known.is_empty() {
            format!("unknown special token `{special}`: this tokenizer has no special tokens")
        } else {
            format!(
                "unknown special token `{special}`: this tokenizer has {}",
                known.join(", ")
            )
        })
    }

    /// The special tokens and their ids, by id.
    pub fn special_tokens(&self) -> Vec<(String, u32)> {
        let mut specials: Vec<(String, u32)> = self
            .inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, token)| token.special)
            .map(|(id, token)| (token.content, id))
            .collect();
        specials.sort_unstable_by_key(|(_, id)| *id);
        specials
    }

    /// The number of token ids, special tokens included: every id is below it.
    /// For a tokenizer of this module it is the number of tokens; a `tokenizer.json` from elsewhere
    /// may leave ids unused, and then it is the largest id plus one.
    pub fn vocab_size(&self) -> usize {
        let largest = self.inner.get_vocab(true).into_values().max();
        let bound = largest.map_or(0, |id| id as usize + 1);
        bound.max(self.inner.get_vocab_size(true))
    }
}

/// A tokenizer with GPT-2's pipeline around `model`.
fn gpt2_pipeline(model: BPE) -> tokenizers::Tokenizer {
    // GPT-2 adds no space before the first word (`add_prefix_space = false`) and splits with its
    // regex (`use_regex = true`); `trim_offsets` only affects offsets, which we do not use.
    let byte_level = ByteLevel::new(false, true, true);
    let mut tokenizer = tokenizers::Tokenizer::new(model);
    tokenizer
        .with_pre_tokenizer(Some(byte_level))
        .with_decoder(Some(ByteLevelDecoder::new(false, true, true)));
    tokenizer
}

fn added_specials(special_tokens: &[String]) -> Vec<AddedToken> {
    special_tokens
        .iter()
        .map(|content| AddedToken::from(content.clone(), true))
        .collect()
}

/// Checks the rules special tokens follow here.
///
/// They must be printable ASCII without spaces and at least two characters long.
/// Printable ASCII characters are their own byte-level symbols, so the byte-level decoder writes a
/// special back out unchanged; a special holding, say, `é` would decode to the byte 0xE9 alone,
/// which is not UTF-8.
/// A one-character special would take over a byte token and make that byte unencodable.
pub(crate) fn validate_special_tokens(special_tokens: &[String]) -> Result<(), String> {
    for (index, special) in special_tokens.iter().enumerate() {
        if special.chars().count() < 2 {
            return Err(format!(
                "`special_tokens[{index}]` is `{special}`: a special token needs at least two \
                 characters (one character is a byte token)"
            ));
        }
        if let Some(bad) = special.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(format!(
                "`special_tokens[{index}]` is `{special}`: special tokens must be printable \
                 ASCII without spaces (like `<|endoftext|>`), found {bad:?}"
            ));
        }
        if let Some(first) = special_tokens[..index].iter().position(|s| s == special) {
            return Err(format!(
                "`special_tokens[{index}]` repeats `special_tokens[{first}]` (`{special}`)"
            ));
        }
    }
    Ok(())
}

fn internal(what: &str) -> String {
    format!("{what}; this is a bug in exp, please report it with the tokenizer and inputs used")
}

#[cfg(test)]
mod tests {
    use super::{bytes_tokenizer, load, save, train_bpe, Tokenizer, N_BYTE_TOKENS};

    fn specials() -> Vec<String> {
        ["<|endoftext|>", "<|pad|>", "<|mask|>"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// A small synthetic corpus: words built from syllables by a fixed pseudo-random sequence,
    /// enough distinct pairs for hundreds of merges and many ties in pair counts.
    fn corpus() -> Vec<String> {
        let syllables = [
            "ta", "ke", "ri", "mo", "su", "na", "lo", "pe", "di", "vu", "ga", "shi", "ön", "ça",
            "th", "er", "an", "ing", "qu", "x", "zz", "é", "日", "本",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as usize) % bound
        };
        (0..400)
            .map(|_| {
                let mut document = String::new();
                for word_index in 0..5 + next(40) {
                    // Squaring skews choices toward the first syllables, like word frequencies.
                    for _ in 0..1 + next(3) {
                        let pick = next(syllables.len() * syllables.len());
                        document.push_str(syllables[(pick as f64).sqrt() as usize]);
                    }
                    document.push(if word_index % 11 == 10 { '\n' } else { ' ' });
                }
                document.push_str(&format!("{} items.", next(1000)));
                document
            })
            .collect()
    }

    fn trained(threads: usize) -> String {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| train_bpe(&corpus(), 600, 2, &specials()))
            .unwrap()
            .to_json()
            .unwrap()
    }

    #[test]
    fn training_is_deterministic_across_thread_counts_and_runs() {
        let reference = trained(1);
        for threads in [4, 2, 4] {
            assert!(
                trained(threads) == reference,
                "{threads} threads changed the tokenizer"
            );
        }
    }

    #[test]
    fn trained_vocabulary_has_the_documented_layout() {
        let tokenizer = train_bpe(&corpus(), 600, 2, &specials()).unwrap();
        assert_eq!(tokenizer.vocab_size(), 600);
        assert_eq!(
            tokenizer.special_tokens(),
            vec![
                ("<|endoftext|>".to_string(), 0),
                ("<|pad|>".to_string(), 1),
                ("<|mask|>".to_string(), 2)
            ]
        );
        assert_eq!(tokenizer.token_id("<|pad|>"), Ok(1));
        // GPT-2's byte order: `!` is the first byte token, and byte 0 (remapped to `Ā`) comes
        // after the 188 bytes that are printable as themselves.
        assert_eq!(tokenizer.encode("!").unwrap(), vec![3]);
        assert_eq!(tokenizer.encode("\0").unwrap(), vec![3 + 188]);
        // Merges made common syllables single tokens.
        assert_eq!(tokenizer.encode(" ta").unwrap().len(), 1);
        // A corpus that runs out of pairs seen `min_frequency` times gives a smaller vocabulary.
        let small = train_bpe(&corpus(), 600, 1_000_000, &specials()).unwrap();
        assert_eq!(small.vocab_size(), N_BYTE_TOKENS + 3);
    }

    #[test]
    fn bytes_tokenizer_is_training_without_merges() {
        let bytes = bytes_tokenizer(&specials()).unwrap();
        assert_eq!(bytes.vocab_size(), N_BYTE_TOKENS + 3);
        let untrained = train_bpe(&corpus(), N_BYTE_TOKENS + 3, 0, &specials()).unwrap();
        let empty = train_bpe::<String>(&[], N_BYTE_TOKENS + 3, 0, &specials()).unwrap();
        assert_eq!(bytes.to_json().unwrap(), untrained.to_json().unwrap());
        assert_eq!(bytes.to_json().unwrap(), empty.to_json().unwrap());
        // A trained tokenizer agrees with the bytes tokenizer on every id they share.
        let trained = train_bpe(&corpus(), 600, 2, &specials()).unwrap();
        for text in ["héllo wörld\n", "日本 😀"] {
            let byte_ids = bytes.encode(text).unwrap();
            assert_eq!(byte_ids.len(), text.len(), "one token per byte");
            for id in &byte_ids {
                assert_eq!(
                    bytes.decode(&[*id]).unwrap(),
                    trained.decode(&[*id]).unwrap()
                );
            }
        }
    }

    #[test]
    fn encodes_and_decodes_any_text() {
        let tokenizer = train_bpe(&corpus(), 600, 2, &specials()).unwrap();
        let texts = [
            "",
            "the cat sat",
            "  two  spaces\n\n\ttab\r\n",
            "emoji 😀👍🏽 and 日本語, never seen in training",
            "\0\u{1}\u{7f}\u{feff}",
            "a<|endoftext|>b<|pad|><|mask|>",
        ];
        for text in texts {
            let ids = tokenizer.encode(text).unwrap();
            assert_eq!(tokenizer.decode(&ids).unwrap(), text);
        }
        assert_eq!(tokenizer.encode("").unwrap(), Vec::<u32>::new());
        let eot = tokenizer.token_id("<|endoftext|>").unwrap();
        let ids = tokenizer.encode("cat<|endoftext|>cat").unwrap();
        assert_eq!(ids.iter().filter(|id| **id == eot).count(), 1);
        assert_eq!(ids[0..ids.len() / 2], ids[ids.len() / 2 + 1..]);
    }

    #[test]
    fn encode_batch_matches_encode() {
        let tokenizer = train_bpe(&corpus(), 600, 2, &specials()).unwrap();
        let texts = corpus();
        let batch = tokenizer.encode_batch(&texts).unwrap();
        assert_eq!(batch.len(), texts.len());
        for (text, ids) in texts.iter().zip(&batch) {
            assert_eq!(&tokenizer.encode(text).unwrap(), ids);
        }
    }

    #[test]
    fn save_and_load_round_trip() {
        let tokenizer = train_bpe(&corpus(), 600, 2, &specials()).unwrap();
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("tokenizer.json");
        save(&tokenizer, &path).unwrap();
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.to_json().unwrap(), tokenizer.to_json().unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            tokenizer.to_json().unwrap()
        );
        let error = load(&directory.path().join("missing.json")).unwrap_err();
        assert!(error.starts_with("cannot read tokenizer `"), "{error}");
        assert!(Tokenizer::from_json("{")
            .unwrap_err()
            .starts_with("invalid `tokenizer.json`"));
    }

    #[test]
    fn rejects_bad_arguments() {
        let error = train_bpe(&corpus(), 258, 0, &specials()).unwrap_err();
        assert_eq!(
            error,
            "`vocab_size` must be at least 259 (256 byte tokens + 3 special tokens), got 258"
        );
        let bad = |special: &str| bytes_tokenizer(&[special.to_string()]).unwrap_err();
        assert!(bad("x").contains("at least two"), "{}", bad("x"));
        assert!(bad("<pad token>").contains("printable ASCII"));
        assert!(bad("<|café|>").contains("printable ASCII"));
        let repeated = ["<a>".to_string(), "<b>".to_string(), "<a>".to_string()];
        assert_eq!(
            bytes_tokenizer(&repeated).unwrap_err(),
            "`special_tokens[2]` repeats `special_tokens[0]` (`<a>`)"
        );
        let tokenizer = bytes_tokenizer(&specials()).unwrap();
        assert_eq!(
            tokenizer.token_id("<|unk|>").unwrap_err(),
            "unknown special token `<|unk|>`: this tokenizer has `<|endoftext|>`, `<|pad|>`, \
             `<|mask|>`"
        );
        assert_eq!(
            tokenizer.decode(&[5, 259]).unwrap_err(),
            "`ids[1]` is 259, which is not a token id (the vocabulary has 259 tokens)"
        );
    }
}
