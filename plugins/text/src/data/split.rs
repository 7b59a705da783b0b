//! Seeded train/validation/test splits by document, with duplicates removed first.
//!
//! How it works: items whose split key was already seen are dropped (the first occurrence stays), so
//! an identical problem or question cannot land in two splits; the remaining items are shuffled with
//! the seed, the first `round(train * n)` of the shuffle go to train, up to `round((train + validation) * n)`
//! to validation, and the rest to test.
//! Each split keeps the input order of its items.
//!
//! The key ([`SplitKey`]) of an exact-match [`Example`] is its prompt (two examples asking the same
//! thing are duplicates whatever their answers), of a plain document its whole text, and of a
//! [`Question`] its question text.
//! The assignment depends only on the number of distinct items and the seed, so two parallel lists
//! without duplicates (`facts::Facts::questions` and `facts::Facts::qa`) split the same way under one seed.

use std::collections::HashSet;

use crate::data::rng::{Draw, Rng};
use crate::data::{Example, Question};

/// The share of items for each split; each in [0, 1], summing to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fractions {
    pub train: f64,
    pub validation: f64,
    pub test: f64,
}

impl Default for Fractions {
    /// 80% train, 10% validation, 10% test.
    fn default() -> Fractions {
        Fractions {
            train: 0.8,
            validation: 0.1,
            test: 0.1,
        }
    }
}

impl Fractions {
    /// Checks each fraction and their sum; the error names the fraction and the allowed range.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("train", self.train),
            ("validation", self.validation),
            ("test", self.test),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!(
                    "fractions.{name} = {value} is out of range; allowed: 0..=1"
                ));
            }
        }
        let sum = self.train + self.validation + self.test;
        if (sum - 1.0).abs() > 1e-9 {
            return Err(format!(
                "fractions sum to {sum}; allowed: train + validation + test = 1"
            ));
        }
        Ok(())
    }
}

/// What makes two items the same for splitting.
pub trait SplitKey {
    fn split_key(&self) -> &str;
}

impl SplitKey for Example {
    fn split_key(&self) -> &str {
        self.prompt().unwrap_or(&self.text)
    }
}

impl SplitKey for Question {
    fn split_key(&self) -> &str {
        &self.question
    }
}

impl SplitKey for String {
    fn split_key(&self) -> &str {
        self
    }
}

/// The three parts of a split: (train, validation, test).
pub type Splits<T> = (Vec<T>, Vec<T>, Vec<T>);

/// `round(value)` for a non-negative value, as an item count.
fn round_count(value: f64) -> usize {
    (value + 0.5).floor() as usize
}

/// Splits `items` into (train, validation, test) after dropping duplicates (see the module docs).
pub fn split<T: SplitKey>(
    items: Vec<T>,
    fractions: Fractions,
    seed: u64,
) -> Result<Splits<T>, String> {
    fractions.validate()?;
    let keep: Vec<bool> = {
        let mut seen = HashSet::with_capacity(items.len());
        items
            .iter()
            .map(|item| seen.insert(item.split_key()))
            .collect()
    };
    let distinct: Vec<T> = items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item))
        .collect();

    let total = distinct.len();
    let train_end = round_count(fractions.train * total as f64).min(total);
    let validation_end = round_count((fractions.train + fractions.validation) * total as f64)
        .clamp(train_end, total);
    let mut order: Vec<usize> = (0..total).collect();
    Rng::new(seed).shuffle(&mut order);
    // part[i] is the split of item i: 0 train, 1 validation, 2 test.
    let mut part = vec![2u8; total];
    for (position, &item_idx) in order.iter().enumerate() {
        if position < train_end {
            part[item_idx] = 0;
        } else if position < validation_end {
            part[item_idx] = 1;
        }
    }
    let (mut train, mut validation, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (item, part) in distinct.into_iter().zip(part) {
        match part {
            0 => train.push(item),
            1 => validation.push(item),
            _ => test.push(item),
        }
    }
    Ok((train, validation, test))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::{split, Fractions, SplitKey};
    use crate::data::{arithmetic, facts, Example};

    fn documents(count: usize) -> Vec<String> {
        (0..count).map(|idx| format!("document {idx}")).collect()
    }

    #[test]
    fn sizes_follow_the_fractions_and_nothing_is_lost() {
        let (train, validation, test) = split(documents(1000), Fractions::default(), 1).unwrap();
        assert_eq!((train.len(), validation.len(), test.len()), (800, 100, 100));
        let all: BTreeSet<String> = train.into_iter().chain(validation).chain(test).collect();
        assert_eq!(all, documents(1000).into_iter().collect());
        let uneven = Fractions {
            train: 0.5,
            validation: 0.25,
            test: 0.25,
        };
        let (train, validation, test) = split(documents(7), uneven, 1).unwrap();
        assert_eq!(train.len() + validation.len() + test.len(), 7);
        assert_eq!(train.len(), 4);
    }

    #[test]
    fn splits_are_seeded_and_keep_input_order() {
        let first = split(documents(200), Fractions::default(), 2).unwrap();
        assert_eq!(
            first,
            split(documents(200), Fractions::default(), 2).unwrap()
        );
        assert_ne!(
            first,
            split(documents(200), Fractions::default(), 3).unwrap()
        );
        let position = |text: &String| text.split(' ').nth(1).unwrap().parse::<usize>().unwrap();
        for part in [&first.0, &first.1, &first.2] {
            assert!(part
                .windows(2)
                .all(|pair| position(&pair[0]) < position(&pair[1])));
        }
    }

    #[test]
    fn identical_problems_never_land_in_two_splits() {
        // Two generations with different seeds overlap on many one-digit problems.
        let config = arithmetic::Config {
            count: 150,
            max_digits: 1,
            ..arithmetic::Config::default()
        };
        let mut examples = arithmetic::generate(&config, 1).unwrap();
        examples.extend(arithmetic::generate(&config, 2).unwrap());
        let distinct: BTreeSet<String> = examples
            .iter()
            .map(|example| example.text.clone())
            .collect();
        assert!(distinct.len() < examples.len());
        let (train, validation, test) = split(examples, Fractions::default(), 4).unwrap();
        assert_eq!(train.len() + validation.len() + test.len(), distinct.len());
        let keys = |part: &[Example]| -> BTreeSet<String> {
            part.iter()
                .map(|example| example.split_key().to_string())
                .collect()
        };
        let (train, validation, test) = (keys(&train), keys(&validation), keys(&test));
        assert!(
            train.is_disjoint(&validation)
                && train.is_disjoint(&test)
                && validation.is_disjoint(&test)
        );
    }

    #[test]
    fn questions_and_their_exact_match_twins_split_together() {
        let built = facts::build(&facts::Config::default(), 5).unwrap();
        let (questions, _, question_test) =
            split(built.questions, Fractions::default(), 6).unwrap();
        let (qa, _, qa_test) = split(built.qa, Fractions::default(), 6).unwrap();
        for (question, example) in questions
            .iter()
            .zip(&qa)
            .chain(question_test.iter().zip(&qa_test))
        {
            assert_eq!(
                example.prompt().unwrap(),
                format!("Q: {} A:", question.question)
            );
        }
    }

    #[test]
    fn the_key_of_an_exact_match_example_is_its_prompt() {
        let first = Example {
            text: "1+1=2\n".to_string(),
            answer_at: Some(4),
        };
        let second = Example {
            text: "1+1=3\n".to_string(),
            answer_at: Some(4),
        };
        let (train, validation, test) =
            split(vec![first, second], Fractions::default(), 0).unwrap();
        assert_eq!(train.len() + validation.len() + test.len(), 1);
        assert_eq!(Example::document("plain".to_string()).split_key(), "plain");
    }

    #[test]
    fn bad_fractions_are_refused_with_the_fraction_named() {
        let cases = [
            (
                Fractions {
                    train: -0.1,
                    validation: 0.6,
                    test: 0.5,
                },
                "fractions.train = -0.1",
            ),
            (
                Fractions {
                    train: 0.5,
                    validation: 1.5,
                    test: -1.0,
                },
                "fractions.validation = 1.5",
            ),
            (
                Fractions {
                    train: 0.5,
                    validation: 0.2,
                    test: 0.2,
                },
                "fractions sum to 0.89",
            ),
            (
                Fractions {
                    train: f64::NAN,
                    validation: 0.0,
                    test: 0.0,
                },
                "fractions.train = NaN",
            ),
        ];
        for (fractions, expected) in cases {
            let error = split(documents(10), fractions, 0).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
