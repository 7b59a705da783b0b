//! `facts` and `facts_qa`: biographies of invented people, and questions about them
//! (`crate::data::facts`).
//!
//! Both take the same parameters, and the same parameters (seed included) describe the same
//! people: `facts` holds the fact documents to train on, `facts_qa` the exact-match questions
//! about those people (`Q: Where does Tovar Elin live? A: Grenholm`, the answer starting after
//! `A:`). To test what a model learned from the facts, train on every `facts` document
//! (`validation_fraction: 0.0, test_fraction: 0.0`) and evaluate on `facts_qa`'s splits.
//! The same questions as multiple choice ([`FactsQa::questions`]) split exactly like the
//! exact-match ones, for a multiple-choice component to read.

use exp_plugin_api::sdk::{
    Choice, Component, Config, Context, DataInfo, Document, Result, Split, TextDataset,
};

use super::{generator_error, SplitConfig, Splits, GENERATED};
use crate::data::facts::{
    self, Attribute, Layout, MAX_ENTITIES, MAX_FACTS_PER_DOCUMENT, MAX_INVENTED_VALUES,
    MAX_OPTIONS, MAX_PARAPHRASES,
};
use crate::data::split::split;
use crate::data::Question;

/// How fact sentences are grouped into documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Choice)]
pub enum FactsLayout {
    /// One person's facts per document, one document per paraphrase.
    Biography,
    /// All fact sentences shuffled together, `facts_per_document` to a document.
    Shuffled,
}

/// The world both datasets describe.
#[derive(Debug, Clone, Config)]
pub struct FactsConfig {
    /// number of invented people
    #[param(default = 200, min = 1, max = MAX_ENTITIES)]
    pub count: usize,
    /// attributes each person has, each at most once
    #[param(default = Attribute::ALL.to_vec())]
    pub attributes: Vec<Attribute>,
    /// different sentences each fact is written in across the documents
    #[param(default = 2, min = 1, max = MAX_PARAPHRASES)]
    pub paraphrases: usize,
    /// questions per person, each about a different attribute (at most one per attribute)
    #[param(default = 2)]
    pub questions_per_entity: usize,
    /// options per multiple-choice question
    #[param(default = 4, min = 2, max = MAX_OPTIONS)]
    pub options: usize,
    /// "biography" (a person's facts per document) or "shuffled" (facts of everyone mixed)
    #[param(default = "biography")]
    pub layout: FactsLayout,
    /// fact sentences per document with the "shuffled" layout
    #[param(default = 8, min = 1, max = MAX_FACTS_PER_DOCUMENT)]
    pub facts_per_document: usize,
    /// number of invented cities, at least `options`
    #[param(default = 30, min = 2, max = MAX_INVENTED_VALUES)]
    pub cities: usize,
    /// number of invented employers, at least `options`
    #[param(default = 20, min = 2, max = MAX_INVENTED_VALUES)]
    pub employers: usize,
    /// seed of the generator: the same seed and parameters give the same people in every run
    #[param(default = 0)]
    pub seed: u64,
    #[param(flatten)]
    pub split: SplitConfig,
}

/// The generator calls the number of people `entities`; this component calls it `count`.
const RENAMED: &[(&str, &str)] = &[("entities", "count")];

impl FactsConfig {
    fn generator(&self) -> facts::Config {
        facts::Config {
            entities: self.count,
            attributes: self.attributes.clone(),
            paraphrases: self.paraphrases,
            questions_per_entity: self.questions_per_entity,
            options: self.options,
            layout: match self.layout {
                FactsLayout::Biography => Layout::Biography,
                FactsLayout::Shuffled => Layout::Shuffled {
                    facts_per_document: self.facts_per_document,
                },
            },
            cities: self.cities,
            employers: self.employers,
        }
    }

    fn check(&self) -> Result<()> {
        self.split.check()?;
        self.generator()
            .validate()
            .map_err(|message| generator_error::<FactsConfig>(message, RENAMED))
    }

    fn build(&self) -> Result<facts::Facts> {
        facts::build(&self.generator(), self.seed)
            .map_err(|message| generator_error::<FactsConfig>(message, RENAMED))
    }
}

/// `facts`: the fact documents.
pub struct Facts {
    splits: Splits,
}

impl Component for Facts {
    type Config = FactsConfig;
    const NAME: &'static str = "facts";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "generated biographies of invented people (questions about them: `facts_qa`)";

    fn check(config: &FactsConfig) -> Result<()> {
        config.check()
    }

    fn create(config: FactsConfig, _context: &Context) -> Result<Self> {
        let built = config.build()?;
        Ok(Facts {
            splits: Splits::new(built.documents, &config.split, GENERATED, GENERATED)?,
        })
    }
}

impl TextDataset for Facts {
    fn info(&self) -> DataInfo {
        self.splits.info()
    }

    fn documents(&self, split: Split) -> Result<Vec<Document>> {
        Ok(self.splits.documents(split))
    }
}

/// `facts_qa`: questions about the people of `facts`, as exact-match documents, and the same
/// questions as multiple choice.
pub struct FactsQa {
    splits: Splits,
    /// Multiple-choice questions of the train, validation and test splits.
    questions: [Vec<Question>; 3],
}

impl FactsQa {
    /// The multiple-choice questions of a split: `questions(split)[i]` asks what
    /// `documents(split)[i]` asks.
    pub fn questions(&self, split: Split) -> &[Question] {
        match split {
            Split::Train => &self.questions[0],
            Split::Validation => &self.questions[1],
            Split::Test => &self.questions[2],
        }
    }
}

impl Component for FactsQa {
    type Config = FactsConfig;
    const NAME: &'static str = "facts_qa";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "questions about the invented people of `facts` (same parameters), answers checked by exact match";

    fn check(config: &FactsConfig) -> Result<()> {
        config.check()
    }

    fn create(config: FactsConfig, _context: &Context) -> Result<Self> {
        let built = config.build()?;
        // The questions have no duplicates, so both lists split the same way under one seed.
        let (train, validation, test) = split(
            built.questions,
            config.split.fractions(),
            config.split.split_seed,
        )
        .map_err(exp_plugin_api::sdk::PluginError::new)?;
        Ok(FactsQa {
            splits: Splits::new(built.qa, &config.split, GENERATED, GENERATED)?,
            questions: [train, validation, test],
        })
    }
}

impl TextDataset for FactsQa {
    fn info(&self) -> DataInfo {
        self.splits.info()
    }

    fn documents(&self, split: Split) -> Result<Vec<Document>> {
        Ok(self.splits.documents(split))
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, Split, TextDataset};
    use exp_plugin_api::serde_json::json;

    use super::{Facts, FactsQa};
    use crate::dataset::test_support::{all_documents, context};

    #[test]
    fn questions_ask_about_the_people_of_the_documents() {
        let world =
            json!({"count": 20, "attributes": ["city", "colour"], "questions_per_entity": 1});
        let mut train_all = world.clone();
        train_all["validation_fraction"] = json!(0.0);
        train_all["test_fraction"] = json!(0.0);
        let facts = build::<Facts>(train_all, &context()).unwrap();
        assert_eq!(facts.info().train_len, 40, "20 people × 2 paraphrases");
        let biographies: String = all_documents(&facts).into_iter().map(|d| d.text).collect();
        let qa = build::<FactsQa>(world, &context()).unwrap();
        let info = qa.info();
        assert_eq!(
            (info.train_len, info.validation_len, info.test_len),
            (16, 2, 2)
        );
        for split in [Split::Train, Split::Validation, Split::Test] {
            let documents = qa.documents(split).unwrap();
            let questions = qa.questions(split);
            assert_eq!(documents.len(), questions.len());
            for (document, question) in documents.iter().zip(questions) {
                let (prompt, answer) = document.prompt_and_answer().unwrap();
                assert_eq!(prompt, format!("Q: {} A:", question.question));
                let truth = &question.options[question.answer];
                assert_eq!(answer, format!(" {truth}\n"));
                assert!(biographies.contains(truth.as_str()));
            }
        }
    }

    #[test]
    fn the_generators_rules_name_the_parameter() {
        let error = build::<Facts>(json!({"options": 8, "employers": 5}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("employers"));
        let error = build::<FactsQa>(
            json!({"attributes": ["city"], "questions_per_entity": 2}),
            &context(),
        )
        .err()
        .unwrap();
        assert_eq!(error.field.as_deref(), Some("questions_per_entity"));
        let shuffled = build::<Facts>(
            json!({"count": 10, "layout": "shuffled", "facts_per_document": 3, "paraphrases": 1}),
            &context(),
        )
        .unwrap();
        // 10 people × 6 facts in documents of 3 sentences.
        assert_eq!(all_documents(&shuffled).len(), 20);
    }
}
