//! Pins a fingerprint of every generator's default output and of the corpus, so any change to what
//! they produce (a reordered draw, an edited template, a swapped random generator) fails here.
//! The fingerprints are those the standalone `textdata` crate pinned with its own copy of
//! SplitMix64: they held when the generators moved to the SDK's `Rng`.
//! When a change is intended, update the fingerprint in the same commit and say why.

use exp_text::data::{arithmetic, code, corpus, facts, legal, Example};

/// FNV-1a, 64-bit: a fixed, dependency-free fingerprint of bytes.
fn fingerprint<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for text in texts {
        for byte in text.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn of_examples(examples: &[Example]) -> u64 {
    let answers: Vec<String> = examples
        .iter()
        .map(|example| format!("{:?}", example.answer_at))
        .collect();
    fingerprint(
        examples
            .iter()
            .map(|example| example.text.as_str())
            .chain(answers.iter().map(String::as_str)),
    )
}

#[test]
fn generator_outputs_are_pinned() {
    let arithmetic = arithmetic::generate(&arithmetic::Config::default(), 0).unwrap();
    let code = code::generate(&code::Config::default(), 0).unwrap();
    let facts = facts::build(&facts::Config::default(), 0).unwrap();
    let legal = legal::generate(&legal::Config::default(), 0).unwrap();
    let questions: Vec<String> = facts
        .questions
        .iter()
        .map(|question| format!("{question:?}"))
        .collect();
    let actual = [
        of_examples(&arithmetic),
        of_examples(&code),
        of_examples(&facts.documents),
        of_examples(&facts.qa),
        fingerprint(questions.iter().map(String::as_str)),
        of_examples(&legal),
    ];
    let expected = [
        0xad4b_ad07_bfa1_a8bb,
        0xa0b3_3aac_2fe6_faa5,
        0x5335_8b2d_b93e_cb29,
        0xa585_f286_89f3_1904,
        0x47a6_6b2a_28b7_1afa,
        0x4fa2_edd5_25a1_9677,
    ];
    assert_eq!(actual, expected, "{actual:#018x?}");
}

#[test]
fn corpus_documents_are_pinned() {
    let documents = corpus::documents().unwrap();
    assert_eq!(documents.len(), 269);
    assert_eq!(
        fingerprint(documents.iter().map(String::as_str)),
        0x97c5_f74d_8023_bf7d
    );
}
