//! Arithmetic problems with answers to check by exact match, such as `37+85=122`.
//!
//! How a problem is drawn: pick an operator uniformly from `operators`, then a digit count for each
//! operand uniformly from `min_digits..=max_digits`, then each operand uniformly among the numbers with
//! that many digits (so short and long operands are equally common, instead of almost every operand
//! having `max_digits` digits).
//! Subtraction swaps its operands when the result would be negative and `allow_negative` is off.
//! Division draws the divisor first and then a quotient that keeps the dividend within the digit
//! bounds, so every quotient is exact; a divisor with no such quotient is drawn again.
//! A problem already in the set is drawn again, so a generated set has no duplicates.
//!
//! Rendering: the prompt runs up to and including `=`; the answer is the result followed by `\n`
//! (`Format::Spaced` puts one space before the result, and the space belongs to the answer so the
//! prompt never ends in a space, which byte-level BPE tokenizers attach to the next word).
//! The newline ends the answer, so a greedy evaluator stops at `\n` or at an end-of-text token,
//! whichever the model emits, and compares with `answer`.

use std::collections::HashSet;
use std::fmt::Write;

use exp_plugin_api::sdk::Choice;

use crate::data::rng::{Draw, Rng};
use crate::data::Example;

/// The largest operand length: products of two 9-digit operands still fit in an `i64`.
pub const MAX_DIGITS: u32 = 9;
/// The largest number of problems one call may ask for.
pub const MAX_COUNT: usize = 10_000_000;

/// An arithmetic operator; as a parameter it is written as its symbol (`"+"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Choice)]
pub enum Operator {
    #[choice(name = "+")]
    Add,
    #[choice(name = "-")]
    Sub,
    #[choice(name = "*")]
    Mul,
    /// Integer division with exact results only (the dividend is a multiple of the divisor).
    #[choice(name = "/")]
    Div,
}

impl Operator {
    pub const ALL: [Operator; 4] = [Operator::Add, Operator::Sub, Operator::Mul, Operator::Div];

    /// The operator as written in a problem: `+`, `-`, `*` or `/`.
    pub fn symbol(self) -> char {
        match self {
            Operator::Add => '+',
            Operator::Sub => '-',
            Operator::Mul => '*',
            Operator::Div => '/',
        }
    }

    /// The operator written as `symbol`, for configs given as text.
    pub fn from_symbol(symbol: &str) -> Result<Operator, String> {
        Operator::ALL
            .into_iter()
            .find(|operator| operator.symbol().to_string() == symbol)
            .ok_or_else(|| format!("operators: unknown operator `{symbol}`; allowed: + - * /"))
    }
}

/// How a problem is laid out (as a parameter: `"compact"` or `"spaced"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum Format {
    /// `37+85=122`
    Compact,
    /// `37 + 85 = 122`
    Spaced,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of distinct problems, 1..=`MAX_COUNT` and at most `capacity()`. Default 1000.
    pub count: usize,
    /// Fewest digits in an operand, 1..=`MAX_DIGITS`. One-digit operands include 0. Default 1.
    pub min_digits: u32,
    /// Most digits in an operand, `min_digits..=MAX_DIGITS`. Default 3.
    pub max_digits: u32,
    /// Operators to draw from, uniformly; non-empty, no repeats. Default `+` and `-`.
    pub operators: Vec<Operator>,
    /// Whether subtraction may give a negative result. Default false.
    pub allow_negative: bool,
    /// Layout of each problem. Default `Compact`.
    pub format: Format,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            count: 1000,
            min_digits: 1,
            max_digits: 3,
            operators: vec![Operator::Add, Operator::Sub],
            allow_negative: false,
            format: Format::Compact,
        }
    }
}

impl Config {
    /// Checks every parameter; the error names the parameter and its allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_DIGITS).contains(&self.min_digits) {
            return Err(format!(
                "min_digits = {} is out of range; allowed: 1..={MAX_DIGITS}",
                self.min_digits
            ));
        }
        if !(self.min_digits..=MAX_DIGITS).contains(&self.max_digits) {
            return Err(format!(
                "max_digits = {} is out of range; allowed: min_digits ({})..={MAX_DIGITS}",
                self.max_digits, self.min_digits
            ));
        }
        if self.operators.is_empty() {
            return Err("operators is empty; allowed: a non-empty subset of + - * /".to_string());
        }
        for (position, operator) in self.operators.iter().enumerate() {
            if self.operators[..position].contains(operator) {
                return Err(format!(
                    "operators lists `{}` twice; allowed: a subset of + - * / without repeats",
                    operator.symbol()
                ));
            }
        }
        if !(1..=MAX_COUNT).contains(&self.count) {
            return Err(format!(
                "count = {} is out of range; allowed: 1..={MAX_COUNT}",
                self.count
            ));
        }
        let capacity = self.capacity();
        if self.count as u128 > capacity {
            return Err(format!(
                "count = {} exceeds the {capacity} distinct problems these digits and operators allow; \
                 allowed: 1..={capacity} (or raise max_digits, or add operators)",
                self.count
            ));
        }
        Ok(())
    }

    /// The exact number of distinct problems these settings can produce.
    pub fn capacity(&self) -> u128 {
        let (low, high) = (lowest(self.min_digits), highest(self.max_digits));
        let operands = (high - low + 1) as u128;
        self.operators
            .iter()
            .map(|operator| match operator {
                Operator::Add | Operator::Mul => operands * operands,
                Operator::Sub if self.allow_negative => operands * operands,
                // Ordered pairs with left >= right.
                Operator::Sub => operands * (operands + 1) / 2,
                Operator::Div => division_capacity(low, high),
            })
            .sum()
    }
}

/// The smallest operand with `digits` digits (0 for one digit).
fn lowest(digits: u32) -> u64 {
    if digits == 1 {
        0
    } else {
        10u64.pow(digits - 1)
    }
}

/// The largest operand with `digits` digits.
fn highest(digits: u32) -> u64 {
    10u64.pow(digits) - 1
}

/// The number of pairs (dividend, divisor), both in `low..=high`, divisor non-zero, that divide exactly.
fn division_capacity(low: u64, high: u64) -> u128 {
    let first_divisor = low.max(1);
    // Multiples of b in low..=high: floor(high / b) - floor((low - 1) / b), where 0 counts when low = 0.
    let below_low = if low == 0 {
        // Every divisor has 0 as a multiple: count it as one extra per divisor.
        -((high - first_divisor + 1) as i128)
    } else {
        sum_of_quotients(low - 1, first_divisor, high) as i128
    };
    (sum_of_quotients(high, first_divisor, high) as i128 - below_low) as u128
}

/// Sum of floor(x / b) for b in `low..=high` (low >= 1), in O(sqrt(x)) steps: floor(x / b) is constant
/// on runs of b, and each run ends at x / (x / b).
fn sum_of_quotients(x: u64, low: u64, high: u64) -> u128 {
    let high = high.min(x);
    let mut total = 0u128;
    let mut divisor = low;
    while divisor <= high {
        let quotient = x / divisor;
        let run_end = (x / quotient).min(high);
        total += quotient as u128 * (run_end - divisor + 1) as u128;
        divisor = run_end + 1;
    }
    total
}

/// One problem before rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Problem {
    pub left: u64,
    pub operator: Operator,
    pub right: u64,
}

impl Problem {
    /// The exact result (division is exact by construction).
    pub fn result(&self) -> i64 {
        let (left, right) = (self.left as i64, self.right as i64);
        match self.operator {
            Operator::Add => left + right,
            Operator::Sub => left - right,
            Operator::Mul => left * right,
            Operator::Div => left / right,
        }
    }

    /// The problem as an exact-match example in `format`.
    pub fn render(&self, format: Format) -> Example {
        let mut text = String::new();
        let symbol = self.operator.symbol();
        match format {
            Format::Compact => write!(text, "{}{symbol}{}=", self.left, self.right),
            Format::Spaced => write!(text, "{} {symbol} {} =", self.left, self.right),
        }
        .expect("writing to a String cannot fail");
        let answer_at = text.len();
        if format == Format::Spaced {
            text.push(' ');
        }
        writeln!(text, "{}", self.result()).expect("writing to a String cannot fail");
        Example {
            text,
            answer_at: Some(answer_at),
        }
    }
}

/// Draws one problem, or `None` when the draw has to be repeated (a divisor with no exact quotient
/// whose dividend has the chosen number of digits).
fn draw_problem(config: &Config, rng: &mut Rng) -> Option<Problem> {
    let operator = *rng.choose(&config.operators);
    let mut digits =
        || rng.range_inclusive(config.min_digits as u64, config.max_digits as u64) as u32;
    let (left_digits, right_digits) = (digits(), digits());
    if operator == Operator::Div {
        let right = rng.range_inclusive(lowest(right_digits).max(1), highest(right_digits));
        let smallest_quotient = lowest(left_digits).div_ceil(right);
        let largest_quotient = highest(left_digits) / right;
        if smallest_quotient > largest_quotient {
            return None;
        }
        let quotient = rng.range_inclusive(smallest_quotient, largest_quotient);
        return Some(Problem {
            left: quotient * right,
            operator,
            right,
        });
    }
    let left = rng.range_inclusive(lowest(left_digits), highest(left_digits));
    let right = rng.range_inclusive(lowest(right_digits), highest(right_digits));
    let (left, right) = if operator == Operator::Sub && !config.allow_negative && left < right {
        (right, left)
    } else {
        (left, right)
    };
    Some(Problem {
        left,
        operator,
        right,
    })
}

/// `config.count` distinct problems, unrendered, in the order drawn (what `generate` renders).
pub fn problems(config: &Config, seed: u64) -> Result<Vec<Problem>, String> {
    config.validate()?;
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::with_capacity(config.count);
    let mut problems = Vec::with_capacity(config.count);
    // Generous for any count well below capacity; it only runs out when `count` is so close to
    // `capacity()` that the rarest remaining problems take too long to hit by chance.
    let max_draws = 100 * config.count as u64 + 10_000;
    let mut draws = 0u64;
    while problems.len() < config.count {
        draws += 1;
        if draws > max_draws {
            return Err(format!(
                "count = {} is too close to the {} distinct problems these settings allow: found only {} \
                 in {max_draws} draws; lower count or raise max_digits",
                config.count,
                config.capacity(),
                problems.len()
            ));
        }
        if let Some(problem) = draw_problem(config, &mut rng) {
            if seen.insert(problem) {
                problems.push(problem);
            }
        }
    }
    Ok(problems)
}

/// `config.count` distinct problems rendered as exact-match examples (see the module docs for the format).
pub fn generate(config: &Config, seed: u64) -> Result<Vec<Example>, String> {
    Ok(problems(config, seed)?
        .iter()
        .map(|problem| problem.render(config.format))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{generate, lowest, Config, Format, Operator, MAX_DIGITS};

    /// Parses `left op right` and evaluates it with i128 arithmetic, apart from the generator's code.
    fn evaluate(prompt: &str) -> (i128, i128, char, i128) {
        let body = prompt
            .strip_suffix('=')
            .expect("prompt ends with =")
            .replace(' ', "");
        let position = body[1..].find(['+', '-', '*', '/']).expect("an operator") + 1;
        let left: i128 = body[..position].parse().expect("left operand");
        let symbol = body[position..].chars().next().expect("operator");
        let right: i128 = body[position + 1..].parse().expect("right operand");
        let value = match symbol {
            '+' => left + right,
            '-' => left - right,
            '*' => left * right,
            '/' => {
                assert_eq!(left % right, 0, "{prompt} is not exact");
                left / right
            }
            other => panic!("unexpected operator {other}"),
        };
        (left, right, symbol, value)
    }

    fn all_operators(count: usize) -> Config {
        Config {
            count,
            min_digits: 1,
            max_digits: 4,
            operators: Operator::ALL.to_vec(),
            allow_negative: false,
            format: Format::Compact,
        }
    }

    #[test]
    fn every_answer_is_correct() {
        for format in [Format::Compact, Format::Spaced] {
            for allow_negative in [false, true] {
                let config = Config {
                    format,
                    allow_negative,
                    ..all_operators(3000)
                };
                for example in generate(&config, 1).unwrap() {
                    let (prompt, answer) = (example.prompt().unwrap(), example.answer().unwrap());
                    let (_, _, _, value) = evaluate(prompt);
                    let expected = match format {
                        Format::Compact => format!("{value}\n"),
                        Format::Spaced => format!(" {value}\n"),
                    };
                    assert_eq!(answer, expected, "{}", example.text);
                }
            }
        }
    }

    #[test]
    fn the_first_default_problems_are_pinned() {
        // Pins the exact output, so a change to the drawing order shows up as a failed test.
        let texts: Vec<String> = generate(&Config::default(), 0)
            .unwrap()
            .into_iter()
            .take(3)
            .map(|example| example.text)
            .collect();
        assert_eq!(texts, ["77-4=73\n", "999+390=1389\n", "61-7=54\n"]);
    }

    #[test]
    fn operands_respect_the_digit_bounds() {
        let config = Config {
            min_digits: 2,
            max_digits: 3,
            ..all_operators(2000)
        };
        for example in generate(&config, 2).unwrap() {
            let (left, right, _, _) = evaluate(example.prompt().unwrap());
            for operand in [left, right] {
                assert!((10..=999).contains(&operand), "{}", example.text);
            }
        }
    }

    #[test]
    fn negative_results_appear_only_when_allowed() {
        let subtraction = Config {
            operators: vec![Operator::Sub],
            ..Config::default()
        };
        let negatives = |config: &Config| {
            generate(config, 3)
                .unwrap()
                .iter()
                .filter(|example| example.answer().unwrap().starts_with('-'))
                .count()
        };
        assert_eq!(negatives(&subtraction), 0);
        let allowed = Config {
            allow_negative: true,
            ..subtraction
        };
        assert!(negatives(&allowed) > 300);
    }

    #[test]
    fn all_operators_appear_and_division_is_exact() {
        let examples = generate(&all_operators(4000), 4).unwrap();
        for symbol in ['+', '-', '*', '/'] {
            let count = examples
                .iter()
                .filter(|example| evaluate(example.prompt().unwrap()).2 == symbol)
                .count();
            assert!(count > 800, "{symbol}: {count}");
        }
    }

    #[test]
    fn same_seed_same_problems_other_seed_other_problems() {
        let config = all_operators(500);
        assert_eq!(generate(&config, 7).unwrap(), generate(&config, 7).unwrap());
        assert_ne!(generate(&config, 7).unwrap(), generate(&config, 8).unwrap());
    }

    #[test]
    fn no_problem_repeats() {
        let examples = generate(&all_operators(20_000), 5).unwrap();
        let distinct: HashSet<&str> = examples
            .iter()
            .map(|example| example.text.as_str())
            .collect();
        assert_eq!(distinct.len(), examples.len());
    }

    /// Counts distinct problems by enumerating every operand pair (each pair is one distinct problem).
    fn enumerate(config: &Config) -> u128 {
        let (low, high) = (lowest(config.min_digits), 10u64.pow(config.max_digits) - 1);
        let mut problems = 0u128;
        for &operator in &config.operators {
            for left in low..=high {
                for right in low..=high {
                    let valid = match operator {
                        Operator::Sub => config.allow_negative || left >= right,
                        Operator::Div => right != 0 && left % right == 0,
                        _ => true,
                    };
                    problems += u128::from(valid);
                }
            }
        }
        problems
    }

    #[test]
    fn capacity_matches_enumeration() {
        for (min_digits, max_digits) in [(1, 1), (1, 2), (2, 2), (2, 3)] {
            for allow_negative in [false, true] {
                let config = Config {
                    min_digits,
                    max_digits,
                    allow_negative,
                    ..all_operators(1)
                };
                assert_eq!(config.capacity(), enumerate(&config), "{config:?}");
            }
        }
    }

    #[test]
    fn a_set_can_use_every_possible_problem() {
        let config = Config {
            count: 100,
            max_digits: 1,
            operators: vec![Operator::Add],
            ..Config::default()
        };
        assert_eq!(config.capacity(), 100);
        assert_eq!(generate(&config, 6).unwrap().len(), 100);
    }

    #[test]
    fn bad_configs_are_refused_with_the_parameter_named() {
        let cases = [
            (
                Config {
                    count: 0,
                    ..Config::default()
                },
                "count = 0",
            ),
            (
                Config {
                    min_digits: 0,
                    ..Config::default()
                },
                "min_digits = 0",
            ),
            (
                Config {
                    max_digits: MAX_DIGITS + 1,
                    ..Config::default()
                },
                "max_digits = 10",
            ),
            (
                Config {
                    min_digits: 3,
                    max_digits: 2,
                    ..Config::default()
                },
                "max_digits = 2",
            ),
            (
                Config {
                    operators: vec![],
                    ..Config::default()
                },
                "operators is empty",
            ),
            (
                Config {
                    operators: vec![Operator::Add, Operator::Add],
                    ..Config::default()
                },
                "operators lists `+` twice",
            ),
            (
                Config {
                    count: 101,
                    max_digits: 1,
                    operators: vec![Operator::Add],
                    ..Config::default()
                },
                "count = 101 exceeds the 100",
            ),
        ];
        for (config, expected) in cases {
            let error = generate(&config, 0).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
        assert_eq!(Operator::from_symbol("*"), Ok(Operator::Mul));
        assert!(Operator::from_symbol("^")
            .unwrap_err()
            .contains("operators"));
    }

    #[test]
    fn nine_digit_products_do_not_overflow() {
        let config = Config {
            count: 200,
            min_digits: MAX_DIGITS,
            max_digits: MAX_DIGITS,
            operators: vec![Operator::Mul],
            ..Config::default()
        };
        for example in generate(&config, 9).unwrap() {
            let (_, _, _, value) = evaluate(example.prompt().unwrap());
            assert_eq!(example.answer().unwrap(), format!("{value}\n"));
        }
    }
}
