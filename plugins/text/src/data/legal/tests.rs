//! Tests of the `legal` generator.

use std::collections::BTreeSet;

use super::templates::{Section, GENERAL_SECTIONS};
use super::{
    citations, fill, generate, money, number_words, per_cent, period, Config, Kind, MAX_CLAUSES,
};

/// Checks the numbering of one contract and returns its section headings in order.
fn check_numbering(text: &str) -> Vec<String> {
    let mut headings: Vec<String> = Vec::new();
    let mut clauses_in_section = 0;
    let mut cited: Vec<(usize, usize, bool)> = Vec::new();
    for line in text.lines() {
        let Some((label, rest)) = line.split_once(' ') else {
            continue;
        };
        if let Some(number) = label
            .strip_suffix('.')
            .and_then(|n| n.parse::<usize>().ok())
        {
            assert_eq!(number, headings.len() + 1, "heading out of order: {line}");
            assert!(
                rest.chars()
                    .all(|c| c.is_ascii_uppercase() || " -".contains(c)),
                "{line}"
            );
            headings.push(rest.to_string());
            clauses_in_section = 0;
        } else if let Some((section, clause)) = label.split_once('.') {
            let (Ok(section), Ok(clause)) = (section.parse::<usize>(), clause.parse::<usize>())
            else {
                continue;
            };
            assert_eq!(
                section,
                headings.len(),
                "clause outside its section: {line}"
            );
            assert_eq!(
                clause,
                clauses_in_section + 1,
                "clause out of order: {line}"
            );
            clauses_in_section = clause;
            // Citations: "Section N", "Sections N and M"; "this Section N" must be the current one.
            let words: Vec<&str> = rest.split(' ').collect();
            for (idx, word) in words.iter().enumerate() {
                if *word == "Section" || *word == "Sections" {
                    let own = idx > 0 && words[idx - 1] == "this";
                    for candidate in words[idx + 1..].iter().take(3) {
                        let digits = candidate.trim_end_matches(['.', ',']);
                        if let Ok(target) = digits.parse::<usize>() {
                            cited.push((section, target, own));
                        }
                    }
                }
            }
        }
    }
    for (section, target, own) in cited {
        assert!(
            (1..=headings.len()).contains(&target),
            "Section {target} does not exist:\n{text}"
        );
        if own {
            assert_eq!(
                section, target,
                "\"this Section\" cites another section:\n{text}"
            );
        }
    }
    assert!(clauses_in_section >= 1, "the last section has no clause");
    headings
}

#[test]
fn numbering_is_well_formed_and_citations_resolve() {
    let config = Config {
        count: 2000,
        min_sections: 3,
        max_sections: 11,
        max_clauses: MAX_CLAUSES,
        ..Config::default()
    };
    for example in generate(&config, 1).unwrap() {
        let headings = check_numbering(&example.text);
        assert_eq!(headings.first().map(String::as_str), Some("DEFINITIONS"));
        assert_eq!(
            headings.last().map(String::as_str),
            Some("GOVERNING LAW AND JURISDICTION")
        );
        assert!(!example.text.contains(['{', '}']), "{}", example.text);
    }
}

#[test]
fn cited_sections_are_the_right_ones() {
    // "On termination, Sections X and Y continue in force": X must be CONFIDENTIALITY, Y LIABILITY.
    let config = Config {
        count: 3000,
        max_sections: 11,
        max_clauses: MAX_CLAUSES,
        ..Config::default()
    };
    let mut seen = 0;
    for example in generate(&config, 2).unwrap() {
        let headings = check_numbering(&example.text);
        let Some(start) = example.text.find("On termination, Sections ") else {
            continue;
        };
        let cited: Vec<usize> = example.text[start..]
            .split(' ')
            .filter_map(|word| word.parse().ok())
            .take(2)
            .collect();
        assert_eq!(headings[cited[0] - 1], "CONFIDENTIALITY");
        assert_eq!(headings[cited[1] - 1], "LIMITATION OF LIABILITY");
        seen += 1;
    }
    assert!(seen > 20, "{seen}");
}

#[test]
fn section_and_clause_counts_respect_the_config() {
    let config = Config {
        count: 1000,
        min_sections: 5,
        max_sections: 6,
        max_clauses: 2,
        ..Config::default()
    };
    for example in generate(&config, 3).unwrap() {
        let headings = check_numbering(&example.text);
        assert!((5..=6).contains(&headings.len()), "{}", example.text);
        let most_clauses = example
            .text
            .lines()
            .filter_map(|line| {
                line.split_once(' ')
                    .and_then(|(label, _)| label.split_once('.'))
            })
            .filter_map(|(_, clause)| clause.parse::<usize>().ok())
            .max()
            .unwrap();
        assert!(most_clauses <= 2);
    }
}

#[test]
fn contracts_vary() {
    let examples = generate(
        &Config {
            count: 1000,
            ..Config::default()
        },
        4,
    )
    .unwrap();
    let documents: BTreeSet<&str> = examples
        .iter()
        .map(|example| example.text.as_str())
        .collect();
    assert_eq!(documents.len(), 1000);
    let titles: BTreeSet<&str> = examples
        .iter()
        .map(|example| example.text.lines().next().unwrap())
        .collect();
    assert_eq!(titles.len(), Kind::ALL.len());
    let lines: BTreeSet<&str> = examples
        .iter()
        .flat_map(|example| example.text.lines())
        .collect();
    // Fixed boilerplate clauses repeat by design; clauses with terms and names make the rest distinct.
    assert!(lines.len() > 3_000, "{}", lines.len());
}

#[test]
fn same_seed_same_contracts() {
    let config = Config {
        count: 50,
        ..Config::default()
    };
    assert_eq!(generate(&config, 5).unwrap(), generate(&config, 5).unwrap());
    assert_ne!(generate(&config, 5).unwrap(), generate(&config, 6).unwrap());
}

#[test]
fn every_template_of_every_kind_is_used() {
    let config = Config {
        count: 3000,
        max_sections: 11,
        max_clauses: MAX_CLAUSES,
        ..Config::default()
    };
    let corpus: String = generate(&config, 7)
        .unwrap()
        .into_iter()
        .map(|example| example.text)
        .collect();
    for kind in Kind::ALL {
        let mut sections = vec![Section::Definitions, Section::Main, Section::GoverningLaw];
        sections.extend(
            GENERAL_SECTIONS
                .into_iter()
                .filter(|&section| !kind.excludes(section)),
        );
        for section in sections {
            for template in section.templates(kind) {
                // The template's longest placeholder-free stretch must appear somewhere.
                let stretch = template
                    .split(['{', '}'])
                    .step_by(2)
                    .max_by_key(|piece| piece.len())
                    .unwrap();
                assert!(corpus.contains(stretch), "{kind:?} {section:?}: {template}");
            }
        }
    }
}

#[test]
fn helpers_write_numbers_as_contracts_do() {
    assert_eq!(number_words(0), "zero");
    assert_eq!(number_words(14), "fourteen");
    assert_eq!(number_words(30), "thirty");
    assert_eq!(number_words(45), "forty-five");
    assert_eq!(number_words(250), "two hundred and fifty");
    assert_eq!(number_words(300), "three hundred");
    assert_eq!(period(30, "day"), "thirty (30) days");
    assert_eq!(period(1, "year"), "one (1) year");
    assert_eq!(money("EUR", 12_500), "EUR 12,500");
    assert_eq!(money("GBP", 1_000_000), "GBP 1,000,000");
    assert_eq!(money("USD", 500), "USD 500");
    assert_eq!(per_cent(45), "4.5 per cent");
    assert_eq!(per_cent(40), "4 per cent");
    assert_eq!(
        fill("the {a} and {b}", &[("a", "x".into()), ("b", "y".into())]),
        "the x and y"
    );
    assert_eq!(
        citations("Sections {ref_payment} and {a} {ref_liability}").collect::<Vec<_>>(),
        ["ref_payment", "ref_liability"]
    );
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
                kinds: vec![],
                ..Config::default()
            },
            "kinds is empty",
        ),
        (
            Config {
                kinds: vec![Kind::Loan, Kind::Loan],
                ..Config::default()
            },
            "kinds lists `loan` twice",
        ),
        (
            Config {
                min_sections: 2,
                ..Config::default()
            },
            "min_sections = 2",
        ),
        (
            Config {
                min_sections: 6,
                max_sections: 5,
                ..Config::default()
            },
            "max_sections = 5",
        ),
        (
            Config {
                max_sections: 12,
                ..Config::default()
            },
            "max_sections = 12",
        ),
        (
            Config {
                max_clauses: 0,
                ..Config::default()
            },
            "max_clauses = 0",
        ),
        (
            Config {
                max_clauses: 5,
                ..Config::default()
            },
            "max_clauses = 5",
        ),
    ];
    for (config, expected) in cases {
        let error = generate(&config, 0).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}
