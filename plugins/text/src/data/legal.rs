//! Contracts between invented parties: a third text domain for SPEC §1, distinct from arithmetic and code.
//!
//! How a contract is drawn: pick an agreement kind (services, non-disclosure, licence, lease, supply,
//! loan, consultancy), two invented companies, and the deal's terms (date, notice periods, amounts,
//! jurisdiction).
//! Sections: always Definitions first, the kind's main section second and Governing Law last; in
//! between, a random subset of the general sections (payment, confidentiality, warranties, liability,
//! termination, force majeure, notices, assignment) in that fixed order.
//! Clauses: each section always keeps its first template (the one that makes the section make sense,
//! such as which law governs) plus a random subset of its other templates, in template order.
//! A template that cites another section (`{ref_payment}`) is used only when that section is present,
//! and the citation is rendered as the section's number, so every cross-reference resolves.
//!
//! Layout: a title line, a preamble naming the parties, then numbered headings (`3. FEES AND PAYMENT`)
//! with numbered clauses (`3.1 ...`), and a closing signature line.

mod templates;

use exp_plugin_api::sdk::Choice;

use crate::data::names::Namer;
use crate::data::rng::{Draw, Rng};
use crate::data::Example;
use templates::{
    Section, CLOSINGS, CURRENCIES, GENERAL_SECTIONS, GOODS, JURISDICTIONS, LEGAL_FORMS, MONTHS,
    PREAMBLES, STREET_KINDS,
};

/// The largest number of contracts one call may ask for.
pub const MAX_COUNT: usize = 1_000_000;
/// The fewest sections a contract has: definitions, the main section and governing law.
pub const MIN_SECTIONS: usize = 3;
/// The most sections a contract can have: the three fixed ones and all eight general sections.
pub const MAX_SECTIONS: usize = 11;
/// The most clauses a section can have (every section has at least this many templates).
pub const MAX_CLAUSES: usize = 4;

/// A kind of agreement; it decides the parties' roles and the main section.
/// As a parameter it is written in snake_case (`"non_disclosure"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Choice)]
pub enum Kind {
    Services,
    NonDisclosure,
    Licence,
    Lease,
    Supply,
    Loan,
    Consultancy,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Services,
        Kind::NonDisclosure,
        Kind::Licence,
        Kind::Lease,
        Kind::Supply,
        Kind::Loan,
        Kind::Consultancy,
    ];
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of contracts, 1..=`MAX_COUNT`. Default 500.
    pub count: usize,
    /// Kinds of agreement to draw from, uniformly; non-empty, no repeats. Default all seven.
    pub kinds: Vec<Kind>,
    /// Fewest sections, `MIN_SECTIONS..=MAX_SECTIONS`. Default 4.
    pub min_sections: usize,
    /// Most sections, `min_sections..=MAX_SECTIONS`. Default 8.
    /// A non-disclosure agreement has at most 9 sections (it has no payment or general confidentiality
    /// section), so it is capped there.
    pub max_sections: usize,
    /// Most clauses per section, 1..=`MAX_CLAUSES`; each section has between 1 and this many.
    /// Default 3.
    pub max_clauses: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            count: 500,
            kinds: Kind::ALL.to_vec(),
            min_sections: 4,
            max_sections: 8,
            max_clauses: 3,
        }
    }
}

impl Config {
    /// Checks every parameter; the error names the parameter and its allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_COUNT).contains(&self.count) {
            return Err(format!(
                "count = {} is out of range; allowed: 1..={MAX_COUNT}",
                self.count
            ));
        }
        if self.kinds.is_empty() {
            return Err(
                "kinds is empty; allowed: a non-empty subset of the agreement kinds".to_string(),
            );
        }
        for (position, kind) in self.kinds.iter().enumerate() {
            if self.kinds[..position].contains(kind) {
                return Err(format!(
                    "kinds lists `{}` twice; allowed: each kind at most once",
                    kind.word()
                ));
            }
        }
        if !(MIN_SECTIONS..=MAX_SECTIONS).contains(&self.min_sections) {
            return Err(format!(
                "min_sections = {} is out of range; allowed: {MIN_SECTIONS}..={MAX_SECTIONS}",
                self.min_sections
            ));
        }
        if !(self.min_sections..=MAX_SECTIONS).contains(&self.max_sections) {
            return Err(format!(
                "max_sections = {} is out of range; allowed: min_sections ({})..={MAX_SECTIONS}",
                self.max_sections, self.min_sections
            ));
        }
        if !(1..=MAX_CLAUSES).contains(&self.max_clauses) {
            return Err(format!(
                "max_clauses = {} is out of range; allowed: 1..={MAX_CLAUSES}",
                self.max_clauses
            ));
        }
        Ok(())
    }
}

/// Small whole numbers in words, as contracts write them: `thirty (30) days`.
fn number_words(number: u64) -> String {
    const ONES: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    assert!(number < 1000, "number_words covers 0..1000, not {number}");
    let hundreds = number / 100;
    let rest = number % 100;
    let rest_words = match rest {
        0..=19 => ONES[rest as usize].to_string(),
        _ if rest.is_multiple_of(10) => TENS[(rest / 10) as usize].to_string(),
        _ => format!(
            "{}-{}",
            TENS[(rest / 10) as usize],
            ONES[(rest % 10) as usize]
        ),
    };
    match (hundreds, rest) {
        (0, _) => rest_words,
        (_, 0) => format!("{} hundred", ONES[hundreds as usize]),
        _ => format!("{} hundred and {rest_words}", ONES[hundreds as usize]),
    }
}

/// A quantity with its unit, in words and figures: `thirty (30) days`, `one (1) year`.
fn period(number: u64, unit: &str) -> String {
    let plural = if number == 1 { "" } else { "s" };
    format!("{} ({number}) {unit}{plural}", number_words(number))
}

/// An amount of money with thousands separators: `EUR 12,500`.
fn money(currency: &str, amount: u64) -> String {
    let digits = amount.to_string();
    let mut grouped = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{currency} {grouped}")
}

/// A rate given in tenths of a per cent: 45 becomes `4.5 per cent`, 40 becomes `4 per cent`.
fn per_cent(tenths: u64) -> String {
    match tenths % 10 {
        0 => format!("{} per cent", tenths / 10),
        fraction => format!("{}.{fraction} per cent", tenths / 10),
    }
}

/// Replaces each `{key}` in `template` with its value from `slots`.
/// Panics on a key with no value: every template is rendered in the tests, so this is a bug in a template.
fn fill(template: &str, slots: &[(&str, String)]) -> String {
    let mut text = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let close = open
            + rest[open..]
                .find('}')
                .expect("a template placeholder is closed");
        let key = &rest[open + 1..close];
        let value = slots
            .iter()
            .find(|(slot, _)| *slot == key)
            .unwrap_or_else(|| panic!("template placeholder {{{key}}} has no value"));
        text.push_str(&value.1);
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    text
}

/// The sections a template cites, as their placeholder names.
fn citations(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|piece| piece.split_once('}').map(|(key, _)| key))
        .filter(|key| key.starts_with("ref_"))
}

/// The terms of one deal: every value a template may ask for.
fn deal_slots(
    kind: Kind,
    namer: &mut Namer,
    rng: &mut Rng,
) -> Result<Vec<(&'static str, String)>, String> {
    let (first_role, second_role) = kind.roles();
    let (payer, payee) = if kind.first_party_pays() {
        (first_role, second_role)
    } else {
        (second_role, first_role)
    };
    let mut company = |rng: &mut Rng| -> Result<String, String> {
        Ok(format!(
            "{} {}",
            namer.company(rng)?,
            rng.choose(&LEGAL_FORMS)
        ))
    };
    let party_a = company(rng)?;
    let party_b = company(rng)?;
    let city_a = namer.place(rng)?;
    let city_b = namer.place(rng)?;
    let product = namer.fresh(rng, |word| word(2))?;
    let street = namer.fresh(rng, |word| word(2))?;
    let date = format!(
        "{} {} {}",
        rng.range_inclusive(1, 28),
        rng.choose(&MONTHS),
        rng.range_inclusive(1995, 2024)
    );
    let law = rng.choose(&JURISDICTIONS).to_string();
    let currency = *rng.choose(&CURRENCIES);
    let days = |rng: &mut Rng, choices: &[u64]| period(*rng.choose(choices), "day");
    Ok(vec![
        ("title", kind.title().to_string()),
        ("a", first_role.to_string()),
        ("b", second_role.to_string()),
        ("payer", payer.to_string()),
        ("payee", payee.to_string()),
        ("party_a", party_a),
        ("party_b", party_b),
        ("city_a", city_a.clone()),
        ("city_b", city_b),
        (
            "law_a",
            if rng.chance(3, 4) {
                law.clone()
            } else {
                rng.choose(&JURISDICTIONS).to_string()
            },
        ),
        (
            "law_b",
            if rng.chance(3, 4) {
                law.clone()
            } else {
                rng.choose(&JURISDICTIONS).to_string()
            },
        ),
        ("law", law),
        ("date", date),
        ("notice", days(rng, &[30, 60, 90])),
        ("cure", days(rng, &[7, 10, 14, 21, 28, 30])),
        ("pay_days", days(rng, &[14, 30, 45, 60])),
        ("force_majeure_days", days(rng, &[30, 60, 90])),
        (
            "term",
            period(*rng.choose(&[6, 12, 18, 24, 36, 48, 60]), "month"),
        ),
        ("years", period(*rng.choose(&[1, 2, 3, 5, 7, 10]), "year")),
        (
            "seats",
            period(*rng.choose(&[5, 10, 25, 50, 100, 250]), "device")
                .replace(" devices", "")
                .replace(" device", ""),
        ),
        ("hours", number_words(*rng.choose(&[20, 40, 60, 80]))),
        ("fee", money(currency, 500 * rng.range_inclusive(2, 200))),
        ("cap", money(currency, 10_000 * rng.range_inclusive(5, 500))),
        (
            "principal",
            money(currency, 5_000 * rng.range_inclusive(2, 400)),
        ),
        ("interest", per_cent(5 * rng.range_inclusive(3, 24))),
        ("late_interest", per_cent(5 * rng.range_inclusive(4, 16))),
        ("product", product),
        ("goods", rng.choose(&GOODS).to_string()),
        (
            "address",
            format!(
                "{} {street} {}, {city_a}",
                rng.range_inclusive(1, 240),
                rng.choose(&STREET_KINDS)
            ),
        ),
    ])
}

/// One contract.
fn contract(config: &Config, rng: &mut Rng) -> Result<String, String> {
    let kind = *rng.choose(&config.kinds);
    let mut namer = Namer::new();
    let mut slots = deal_slots(kind, &mut namer, rng)?;

    let available: Vec<Section> = GENERAL_SECTIONS
        .into_iter()
        .filter(|&section| !kind.excludes(section))
        .collect();
    let wanted =
        rng.range_inclusive(config.min_sections as u64, config.max_sections as u64) as usize;
    let general_count = (wanted - MIN_SECTIONS).min(available.len());
    let mut picked = rng.sample_indices(available.len(), general_count);
    picked.sort_unstable();
    let mut sections = vec![Section::Definitions, Section::Main];
    sections.extend(picked.into_iter().map(|idx| available[idx]));
    sections.push(Section::GoverningLaw);
    for (idx, section) in sections.iter().enumerate() {
        slots.push((section.reference(), (idx + 1).to_string()));
    }

    let mut lines = vec![
        kind.title().to_uppercase(),
        String::new(),
        fill(rng.choose::<&str>(&PREAMBLES), &slots),
        String::new(),
        "The Parties agree as follows:".to_string(),
    ];
    for (idx, &section) in sections.iter().enumerate() {
        let number = idx + 1;
        lines.push(String::new());
        lines.push(format!("{number}. {}", section.heading(kind)));
        let templates = section.templates(kind);
        let mut clauses: Vec<&str> = vec![if section == Section::Definitions {
            kind.subject_definition()
        } else {
            templates[0]
        }];
        let first_optional = if section == Section::Definitions {
            0
        } else {
            1
        };
        // Templates citing a section this contract lacks are left out.
        let eligible: Vec<&str> = templates[first_optional..]
            .iter()
            .copied()
            .filter(|template| {
                citations(template)
                    .all(|key| sections.iter().any(|section| section.reference() == key))
            })
            .collect();
        let extra = rng.index(config.max_clauses).min(eligible.len());
        let mut chosen = rng.sample_indices(eligible.len(), extra);
        chosen.sort_unstable();
        clauses.extend(chosen.into_iter().map(|idx| eligible[idx]));
        for (clause_idx, template) in clauses.into_iter().enumerate() {
            lines.push(format!(
                "{number}.{} {}",
                clause_idx + 1,
                fill(template, &slots)
            ));
        }
    }
    lines.push(String::new());
    lines.push(fill(rng.choose::<&str>(&CLOSINGS), &slots));
    Ok(lines.join("\n") + "\n")
}

/// `config.count` contracts, each one document.
pub fn generate(config: &Config, seed: u64) -> Result<Vec<Example>, String> {
    config.validate()?;
    let mut rng = Rng::new(seed);
    (0..config.count)
        .map(|_| contract(config, &mut rng).map(Example::document))
        .collect()
}

#[cfg(test)]
mod tests;
