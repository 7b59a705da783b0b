//! Tests of the `facts` generator.

use std::collections::{BTreeMap, BTreeSet};

use super::{build, fact_sentence, generate, Attribute, Config, Layout, MAX_PARAPHRASES};

#[test]
fn every_correct_option_is_the_true_value_and_distractors_are_distinct() {
    let config = Config {
        questions_per_entity: 6,
        ..Config::default()
    };
    let facts = build(&config, 1).unwrap();
    assert_eq!(facts.questions.len(), 200 * 6);
    // Every (person, attribute) pair asks a different question: map question text to its truth.
    let mut asked = BTreeMap::new();
    for entity in &facts.entities {
        for (attribute_idx, attribute) in facts.attributes.iter().enumerate() {
            asked.insert(attribute.question(&entity.name), (entity, attribute_idx));
        }
    }
    assert_eq!(asked.len(), 200 * 6);
    for question in &facts.questions {
        let (entity, attribute_idx) = asked[&question.question];
        assert_eq!(question.options.len(), 4);
        assert_eq!(
            question.options[question.answer],
            entity.values[attribute_idx]
        );
        let distinct: BTreeSet<&String> = question.options.iter().collect();
        assert_eq!(distinct.len(), 4, "{question:?}");
        for option in &question.options {
            assert!(facts.value_sets[attribute_idx].contains(option), "{option}");
        }
    }
}

#[test]
fn answer_positions_are_balanced() {
    for options in [2, 4, 5] {
        let config = Config {
            options,
            questions_per_entity: 3,
            ..Config::default()
        };
        let facts = build(&config, 2).unwrap();
        let mut counts = vec![0usize; options];
        for question in &facts.questions {
            counts[question.answer] += 1;
        }
        let (low, high) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(high - low <= 1, "{counts:?}");
    }
}

#[test]
fn qa_examples_ask_what_the_questions_ask() {
    let facts = build(&Config::default(), 3).unwrap();
    assert_eq!(facts.qa.len(), facts.questions.len());
    for (example, question) in facts.qa.iter().zip(&facts.questions) {
        assert_eq!(
            example.prompt().unwrap(),
            format!("Q: {} A:", question.question)
        );
        assert_eq!(
            example.answer().unwrap(),
            format!(" {}\n", question.options[question.answer])
        );
    }
}

#[test]
fn every_fact_is_stated_in_the_configured_number_of_paraphrases() {
    for paraphrases in 1..=MAX_PARAPHRASES {
        let config = Config {
            entities: 30,
            paraphrases,
            ..Config::default()
        };
        let facts = build(&config, 4).unwrap();
        let corpus: String = facts
            .documents
            .iter()
            .map(|doc| doc.text.as_str())
            .collect();
        for entity in &facts.entities {
            for (attribute_idx, &attribute) in facts.attributes.iter().enumerate() {
                let stated = (0..MAX_PARAPHRASES)
                    .filter(|&template| {
                        let sentence = fact_sentence(
                            attribute,
                            template,
                            &entity.name,
                            &entity.values[attribute_idx],
                        );
                        corpus.contains(&sentence)
                    })
                    .count();
                assert_eq!(stated, paraphrases, "{} {}", entity.name, attribute.name());
            }
        }
    }
}

#[test]
fn biographies_and_shuffled_documents_have_the_expected_shape() {
    let biography = build(&Config::default(), 5).unwrap();
    assert_eq!(biography.documents.len(), 200 * 2);
    for document in &biography.documents {
        assert_eq!(
            document.text.matches(". ").count() + 1,
            6,
            "{}",
            document.text
        );
        assert!(document.text.ends_with(".\n"));
    }
    let shuffled = Config {
        layout: Layout::Shuffled {
            facts_per_document: 5,
        },
        ..Config::default()
    };
    let documents = generate(&shuffled, 5).unwrap();
    // 200 people x 6 attributes x 2 paraphrases = 2400 sentences, 5 to a document.
    assert_eq!(documents.len(), 480);
}

#[test]
fn names_are_distinct_and_the_output_is_seeded() {
    let facts = build(&Config::default(), 6).unwrap();
    let names: BTreeSet<&String> = facts.entities.iter().map(|entity| &entity.name).collect();
    assert_eq!(names.len(), facts.entities.len());
    assert_eq!(build(&Config::default(), 6).unwrap(), facts);
    assert_ne!(
        build(&Config::default(), 7).unwrap().documents,
        facts.documents
    );
}

#[test]
fn question_settings_do_not_change_the_documents() {
    let few = build(&Config::default(), 8).unwrap();
    let many = build(
        &Config {
            questions_per_entity: 5,
            options: 6,
            ..Config::default()
        },
        8,
    )
    .unwrap();
    assert_eq!(few.documents, many.documents);
    assert_eq!(few.entities, many.entities);
}

#[test]
fn every_template_renders_every_value() {
    for attribute in Attribute::ALL {
        for template in 0..MAX_PARAPHRASES {
            let sentence = fact_sentence(attribute, template, "Tovar Elin", "architect");
            assert!(!sentence.contains('{'), "{sentence}");
            assert!(sentence.contains("Tovar Elin") && sentence.ends_with('.'));
        }
    }
    assert_eq!(
        fact_sentence(Attribute::Profession, 0, "Tovar Elin", "architect"),
        "Tovar Elin works as an architect."
    );
    assert_eq!(Attribute::from_name("birth_year"), Ok(Attribute::BirthYear));
    assert!(Attribute::from_name("age")
        .unwrap_err()
        .contains("attributes"));
}

#[test]
fn bad_configs_are_refused_with_the_parameter_named() {
    let cases = [
        (
            Config {
                entities: 0,
                ..Config::default()
            },
            "entities = 0",
        ),
        (
            Config {
                attributes: vec![],
                ..Config::default()
            },
            "attributes is empty",
        ),
        (
            Config {
                attributes: vec![Attribute::City, Attribute::City],
                ..Config::default()
            },
            "attributes lists `city` twice",
        ),
        (
            Config {
                paraphrases: 5,
                ..Config::default()
            },
            "paraphrases = 5",
        ),
        (
            Config {
                attributes: vec![Attribute::City],
                questions_per_entity: 2,
                ..Config::default()
            },
            "questions_per_entity = 2",
        ),
        (
            Config {
                options: 1,
                ..Config::default()
            },
            "options = 1",
        ),
        (
            Config {
                options: 9,
                ..Config::default()
            },
            "options = 9",
        ),
        (
            Config {
                cities: 3,
                ..Config::default()
            },
            "cities = 3",
        ),
        (
            Config {
                layout: Layout::Shuffled {
                    facts_per_document: 0,
                },
                ..Config::default()
            },
            "facts_per_document = 0",
        ),
    ];
    for (config, expected) in cases {
        let error = build(&config, 0).unwrap_err();
        assert!(error.contains(expected), "{error}");
    }
}
