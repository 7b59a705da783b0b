//! Pronounceable invented names (people, places, companies) built from syllables.
//!
//! Invented names keep generated facts and contracts unknowable in advance: a model can only answer a
//! question about "Tovar Elin" from what it read in training.
//! A word is one to three open syllables (onset + vowel) followed by a closing syllable
//! (onset + vowel + coda); only the first syllable may lack an onset, so consonant clusters never pile
//! up between syllables.
//! [`Namer`] hands out names and remembers every one it gave, so names never repeat across kinds.

use std::collections::BTreeSet;

use crate::data::rng::Draw;

const ONSETS: [&str; 22] = [
    "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr",
    "kr", "st", "tr", "th",
];
const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "a", "e", "ai"];
const CODAS: [&str; 12] = ["", "", "", "n", "r", "l", "s", "m", "nd", "rk", "x", "th"];
const PLACE_ENDINGS: [&str; 10] = [
    "holm", "ford", "vik", "dale", "mere", "stad", "bury", "wick", "haven", "moor",
];
const COMPANY_KINDS: [&str; 10] = [
    "Industries",
    "Systems",
    "Holdings",
    "Works",
    "Partners",
    "Group",
    "Labs",
    "Logistics",
    "Trading",
    "Foods",
];

/// One capitalised word of `syllables` syllables (at least 1).
pub fn word(rng: &mut impl Draw, syllables: usize) -> String {
    let mut text = String::new();
    for position in 0..syllables {
        let onset_optional = position == 0 && rng.chance(1, 4);
        if !onset_optional {
            text.push_str(rng.choose::<&str>(&ONSETS));
        }
        text.push_str(rng.choose::<&str>(&VOWELS));
    }
    text.push_str(rng.choose::<&str>(&CODAS));
    capitalise(&text)
}

/// `text` with its first letter upper-cased.
pub fn capitalise(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Hands out invented names that never repeat, whatever their kind.
#[derive(Debug, Default)]
pub struct Namer {
    taken: BTreeSet<String>,
}

/// How many draws a single new name may take before the name space counts as exhausted.
const MAX_DRAWS_PER_NAME: usize = 1000;

impl Namer {
    pub fn new() -> Namer {
        Namer::default()
    }

    /// A new name made by `make`, redrawn until it is one not handed out before.
    pub fn fresh(
        &mut self,
        rng: &mut impl Draw,
        mut make: impl FnMut(&mut dyn FnMut(usize) -> String) -> String,
    ) -> Result<String, String> {
        for _ in 0..MAX_DRAWS_PER_NAME {
            let name = make(&mut |syllables| word(rng, syllables));
            if self.taken.insert(name.clone()) {
                return Ok(name);
            }
        }
        Err(format!(
            "ran out of distinct invented names after {} names",
            self.taken.len()
        ))
    }

    /// A person's name: given name and family name, such as `Tovar Elin`.
    pub fn person(&mut self, rng: &mut impl Draw) -> Result<String, String> {
        let given_syllables = 1 + rng.index(2);
        let family_syllables = 1 + rng.index(2);
        self.fresh(rng, |word| {
            format!("{} {}", word(given_syllables), word(family_syllables))
        })
    }

    /// A place name such as `Grenholm`.
    pub fn place(&mut self, rng: &mut impl Draw) -> Result<String, String> {
        let ending = *rng.choose(&PLACE_ENDINGS);
        self.fresh(rng, |word| format!("{}{ending}", word(1)))
    }

    /// A company name such as `Varnex Systems`.
    pub fn company(&mut self, rng: &mut impl Draw) -> Result<String, String> {
        let kind = *rng.choose(&COMPANY_KINDS);
        let syllables = 1 + rng.index(2);
        self.fresh(rng, |word| format!("{} {kind}", word(syllables)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{capitalise, word, Namer};
    use crate::data::rng::Rng;

    #[test]
    fn words_are_capitalised_ascii_letters() {
        let mut rng = Rng::new(1);
        for syllables in 1..=3 {
            for _ in 0..200 {
                let text = word(&mut rng, syllables);
                assert!(text.chars().all(|c| c.is_ascii_alphabetic()), "{text}");
                assert!(text.chars().next().unwrap().is_ascii_uppercase(), "{text}");
                assert!(text.len() >= syllables);
            }
        }
        assert_eq!(capitalise("elin"), "Elin");
        assert_eq!(capitalise(""), "");
    }

    #[test]
    fn a_namer_never_repeats_a_name_across_kinds() {
        let mut rng = Rng::new(2);
        let mut namer = Namer::new();
        let mut names = BTreeSet::new();
        for _ in 0..2000 {
            assert!(names.insert(namer.person(&mut rng).unwrap()));
            assert!(names.insert(namer.place(&mut rng).unwrap()));
            assert!(names.insert(namer.company(&mut rng).unwrap()));
        }
    }

    #[test]
    fn names_are_seeded() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            let mut namer = Namer::new();
            (0..20)
                .map(|_| namer.person(&mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
    }

    #[test]
    fn an_exhausted_name_space_is_an_error() {
        let mut rng = Rng::new(5);
        let mut namer = Namer::new();
        assert!(namer.fresh(&mut rng, |_| "Same".to_string()).is_ok());
        let error = namer.fresh(&mut rng, |_| "Same".to_string()).unwrap_err();
        assert!(error.contains("ran out"), "{error}");
    }
}
