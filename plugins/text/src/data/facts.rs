//! Facts about invented people: biographies to train on, and questions to test what was learned.
//!
//! How the world is drawn: `entities` people with invented names (see [`crate::data::names`]); each gets one
//! value per chosen attribute, drawn uniformly from that attribute's value set.
//! Cities and employers are invented too (`cities`, `employers` of them), so no fact can be known
//! before training; professions, colours and instruments come from fixed lists, birth years from
//! 1940..=2004.
//!
//! Documents: every fact is written in `paraphrases` different sentence templates across the corpus.
//! With `Layout::Biography` a document is one person's facts in one paraphrase per fact (attributes in
//! a shuffled order); with `Layout::Shuffled` all fact sentences are shuffled together and cut into
//! documents of `facts_per_document` sentences.
//!
//! Questions: for each person, `questions_per_entity` distinct attributes are asked about, each once as
//! a multiple-choice [`Question`] and once as an exact-match [`Example`]
//! (`Q: Where does Tovar Elin live? A: Grenholm\n`, prompt up to `A:`, answer ` Grenholm\n`);
//! `questions[i]` and `qa[i]` ask the same thing.
//! A question's distractors are other values of the same attribute; the correct option's position
//! comes from a shuffled deck of `0..options`, refilled when empty, so positions are uniform for each
//! question and balanced to within one over any set.

use exp_plugin_api::sdk::Choice;

use crate::data::names::Namer;
use crate::data::rng::{Draw, Rng};
use crate::data::{Example, Question};

/// A kind of fact about a person (as a parameter, its [`Attribute::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Choice)]
pub enum Attribute {
    City,
    Profession,
    BirthYear,
    Colour,
    Employer,
    Instrument,
}

const PROFESSIONS: [&str; 24] = [
    "baker",
    "architect",
    "nurse",
    "carpenter",
    "pilot",
    "teacher",
    "engineer",
    "librarian",
    "farmer",
    "surgeon",
    "plumber",
    "journalist",
    "chemist",
    "electrician",
    "gardener",
    "lawyer",
    "translator",
    "photographer",
    "accountant",
    "tailor",
    "geologist",
    "firefighter",
    "veterinarian",
    "astronomer",
];
const COLOURS: [&str; 12] = [
    "red", "blue", "green", "yellow", "purple", "orange", "black", "white", "grey", "brown",
    "pink", "teal",
];
const INSTRUMENTS: [&str; 12] = [
    "piano",
    "violin",
    "cello",
    "flute",
    "guitar",
    "trumpet",
    "clarinet",
    "harp",
    "drums",
    "oboe",
    "accordion",
    "saxophone",
];
const FIRST_BIRTH_YEAR: u32 = 1940;
const LAST_BIRTH_YEAR: u32 = 2004;

/// Number of sentence templates each attribute has, and so the most paraphrases a fact can have.
pub const MAX_PARAPHRASES: usize = 4;
/// The most options a question may have.
pub const MAX_OPTIONS: usize = 8;
/// The most people one call may invent.
pub const MAX_ENTITIES: usize = 100_000;
/// The most invented cities or employers.
pub const MAX_INVENTED_VALUES: usize = 10_000;
/// The most fact sentences in one `Layout::Shuffled` document.
pub const MAX_FACTS_PER_DOCUMENT: usize = 64;

impl Attribute {
    pub const ALL: [Attribute; 6] = [
        Attribute::City,
        Attribute::Profession,
        Attribute::BirthYear,
        Attribute::Colour,
        Attribute::Employer,
        Attribute::Instrument,
    ];

    /// The attribute's name in configs: `city`, `profession`, `birth_year`, `colour`, `employer`, `instrument`.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::City => "city",
            Attribute::Profession => "profession",
            Attribute::BirthYear => "birth_year",
            Attribute::Colour => "colour",
            Attribute::Employer => "employer",
            Attribute::Instrument => "instrument",
        }
    }

    /// The attribute called `name` (see [`Attribute::name`]).
    pub fn from_name(name: &str) -> Result<Attribute, String> {
        Attribute::ALL
            .into_iter()
            .find(|attribute| attribute.name() == name)
            .ok_or_else(|| {
                format!(
                    "attributes: unknown attribute `{name}`; allowed: city, profession, birth_year, \
                     colour, employer, instrument"
                )
            })
    }

    /// The sentence templates for a fact; `{name}` is the person, `{value}` the value and `{a}` the
    /// article that goes before the value (`a` or `an`).
    fn templates(self) -> [&'static str; MAX_PARAPHRASES] {
        match self {
            Attribute::City => [
                "{name} lives in {value}.",
                "{name}'s home is in the city of {value}.",
                "{name} has made a home in {value}.",
                "The city of {value} is where {name} lives.",
            ],
            Attribute::Profession => [
                "{name} works as {a} {value}.",
                "{name} earns a living as {a} {value}.",
                "By profession, {name} is {a} {value}.",
                "{name} has a career as {a} {value}.",
            ],
            Attribute::BirthYear => [
                "{name} was born in {value}.",
                "{name}'s year of birth is {value}.",
                "{name} came into the world in {value}.",
                "In {value}, {name} was born.",
            ],
            Attribute::Colour => [
                "{name}'s favourite colour is {value}.",
                "{name} likes {value} more than any other colour.",
                "The colour {name} prefers is {value}.",
                "Of all colours, {name} loves {value} best.",
            ],
            Attribute::Employer => [
                "{name} is employed by {value}.",
                "{name} works for {value}.",
                "{value} employs {name}.",
                "{name} has a job at {value}.",
            ],
            Attribute::Instrument => [
                "{name} plays the {value}.",
                "{name} is a keen {value} player.",
                "In the evenings, {name} practises the {value}.",
                "The instrument {name} plays is the {value}.",
            ],
        }
    }

    /// The question asked about this attribute of `name`.
    fn question(self, name: &str) -> String {
        match self {
            Attribute::City => format!("Where does {name} live?"),
            Attribute::Profession => format!("What is {name}'s profession?"),
            Attribute::BirthYear => format!("In which year was {name} born?"),
            Attribute::Colour => format!("What is {name}'s favourite colour?"),
            Attribute::Employer => format!("Which company employs {name}?"),
            Attribute::Instrument => format!("Which instrument does {name} play?"),
        }
    }
}

/// How fact sentences are grouped into documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One person's facts per document, one document per paraphrase.
    Biography,
    /// All fact sentences shuffled together, `facts_per_document` to a document (1..=64).
    Shuffled { facts_per_document: usize },
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of invented people, 1..=`MAX_ENTITIES`. Default 200.
    pub entities: usize,
    /// Attributes each person has; non-empty, no repeats. Default all six.
    pub attributes: Vec<Attribute>,
    /// Different sentence templates each fact appears in, 1..=`MAX_PARAPHRASES`. Default 2.
    pub paraphrases: usize,
    /// Questions per person, each about a different attribute, 0..=attributes.len(). Default 2.
    pub questions_per_entity: usize,
    /// Options per multiple-choice question, 2..=`MAX_OPTIONS`. Default 4.
    /// Every value set is at least this large: the fixed lists have 12 or more values, and `cities`
    /// and `employers` are checked against it.
    pub options: usize,
    /// How facts are grouped into documents. Default `Layout::Biography`.
    pub layout: Layout,
    /// Number of invented cities, options..=`MAX_INVENTED_VALUES`. Default 30.
    pub cities: usize,
    /// Number of invented employers, options..=`MAX_INVENTED_VALUES`. Default 20.
    pub employers: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            entities: 200,
            attributes: Attribute::ALL.to_vec(),
            paraphrases: 2,
            questions_per_entity: 2,
            options: 4,
            layout: Layout::Biography,
            cities: 30,
            employers: 20,
        }
    }
}

impl Config {
    /// Checks every parameter; the error names the parameter and its allowed range.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_ENTITIES).contains(&self.entities) {
            return Err(format!(
                "entities = {} is out of range; allowed: 1..={MAX_ENTITIES}",
                self.entities
            ));
        }
        if self.attributes.is_empty() {
            return Err(
                "attributes is empty; allowed: a non-empty subset of city, profession, birth_year, \
                 colour, employer, instrument"
                    .to_string(),
            );
        }
        for (position, attribute) in self.attributes.iter().enumerate() {
            if self.attributes[..position].contains(attribute) {
                return Err(format!(
                    "attributes lists `{}` twice; allowed: each attribute at most once",
                    attribute.name()
                ));
            }
        }
        if !(1..=MAX_PARAPHRASES).contains(&self.paraphrases) {
            return Err(format!(
                "paraphrases = {} is out of range; allowed: 1..={MAX_PARAPHRASES}",
                self.paraphrases
            ));
        }
        if self.questions_per_entity > self.attributes.len() {
            return Err(format!(
                "questions_per_entity = {} is out of range; allowed: 0..={} (one per attribute)",
                self.questions_per_entity,
                self.attributes.len()
            ));
        }
        if !(2..=MAX_OPTIONS).contains(&self.options) {
            return Err(format!(
                "options = {} is out of range; allowed: 2..={MAX_OPTIONS}",
                self.options
            ));
        }
        for (parameter, value) in [("cities", self.cities), ("employers", self.employers)] {
            if !(self.options..=MAX_INVENTED_VALUES).contains(&value) {
                return Err(format!(
                    "{parameter} = {value} is out of range; allowed: options ({})..={MAX_INVENTED_VALUES}",
                    self.options
                ));
            }
        }
        if let Layout::Shuffled { facts_per_document } = self.layout {
            if !(1..=MAX_FACTS_PER_DOCUMENT).contains(&facts_per_document) {
                return Err(format!(
                    "facts_per_document = {facts_per_document} is out of range; allowed: 1..={MAX_FACTS_PER_DOCUMENT}"
                ));
            }
        }
        Ok(())
    }
}

/// An invented person and their facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub name: String,
    /// One value per attribute, in the order of `Facts::attributes`.
    pub values: Vec<String>,
}

/// Everything generated for one config and seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The attributes, in config order; `Entity::values` follows it.
    pub attributes: Vec<Attribute>,
    /// Every value each attribute could take, in a fixed order; distractors come from here.
    pub value_sets: Vec<Vec<String>>,
    pub entities: Vec<Entity>,
    /// Fact documents to train on (no `answer_at`).
    pub documents: Vec<Example>,
    /// Multiple-choice questions, person by person.
    pub questions: Vec<Question>,
    /// The same questions as exact-match examples: `qa[i]` asks what `questions[i]` asks.
    pub qa: Vec<Example>,
}

/// The article before a word: `an` before a vowel letter, `a` otherwise (right for every listed profession).
fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// The sentence stating that `name`'s `attribute` is `value`, in template `paraphrase`.
fn fact_sentence(attribute: Attribute, paraphrase: usize, name: &str, value: &str) -> String {
    attribute.templates()[paraphrase]
        .replace("{name}", name)
        .replace("{a}", article(value))
        .replace("{value}", value)
}

fn value_set(
    attribute: Attribute,
    namer: &mut Namer,
    config: &Config,
    rng: &mut Rng,
) -> Result<Vec<String>, String> {
    let fixed = |values: &[&str]| values.iter().map(|value| value.to_string()).collect();
    Ok(match attribute {
        Attribute::City => (0..config.cities)
            .map(|_| namer.place(rng))
            .collect::<Result<_, _>>()?,
        Attribute::Employer => (0..config.employers)
            .map(|_| namer.company(rng))
            .collect::<Result<_, _>>()?,
        Attribute::Profession => fixed(&PROFESSIONS),
        Attribute::Colour => fixed(&COLOURS),
        Attribute::Instrument => fixed(&INSTRUMENTS),
        Attribute::BirthYear => (FIRST_BIRTH_YEAR..=LAST_BIRTH_YEAR)
            .map(|year| year.to_string())
            .collect(),
    })
}

/// Generates the people, their documents and the questions about them.
pub fn build(config: &Config, seed: u64) -> Result<Facts, String> {
    config.validate()?;
    let mut root = Rng::new(seed);
    // Separate streams, so a change to the question settings leaves the world and documents as they were.
    let (mut world_rng, mut document_rng, mut question_rng) =
        (root.fork(), root.fork(), root.fork());

    let mut namer = Namer::new();
    let value_sets: Vec<Vec<String>> = config
        .attributes
        .iter()
        .map(|&attribute| value_set(attribute, &mut namer, config, &mut world_rng))
        .collect::<Result<_, _>>()?;
    let mut entities = Vec::with_capacity(config.entities);
    for _ in 0..config.entities {
        let name = namer.person(&mut world_rng)?;
        let values = value_sets
            .iter()
            .map(|values| world_rng.choose(values).clone())
            .collect();
        entities.push(Entity { name, values });
    }

    let documents = documents(config, &entities, &mut document_rng);
    let (questions, qa) = questions(config, &entities, &value_sets, &mut question_rng);
    Ok(Facts {
        attributes: config.attributes.clone(),
        value_sets,
        entities,
        documents,
        questions,
        qa,
    })
}

/// The fact documents only (`build(config, seed)?.documents`).
pub fn generate(config: &Config, seed: u64) -> Result<Vec<Example>, String> {
    Ok(build(config, seed)?.documents)
}

fn documents(config: &Config, entities: &[Entity], rng: &mut Rng) -> Vec<Example> {
    let n_attributes = config.attributes.len();
    // Paraphrase p of a fact uses template (p + shift) mod MAX_PARAPHRASES, with a shift drawn per
    // (person, attribute): the paraphrases of one fact are distinct, and templates are used evenly.
    let shifts: Vec<Vec<usize>> = entities
        .iter()
        .map(|_| {
            (0..n_attributes)
                .map(|_| rng.index(MAX_PARAPHRASES))
                .collect()
        })
        .collect();
    let sentence = |entity_idx: usize, attribute_idx: usize, paraphrase: usize| {
        let entity = &entities[entity_idx];
        let template = (paraphrase + shifts[entity_idx][attribute_idx]) % MAX_PARAPHRASES;
        fact_sentence(
            config.attributes[attribute_idx],
            template,
            &entity.name,
            &entity.values[attribute_idx],
        )
    };
    let mut texts = Vec::new();
    match config.layout {
        Layout::Biography => {
            for paraphrase in 0..config.paraphrases {
                for entity_idx in 0..entities.len() {
                    let mut order: Vec<usize> = (0..n_attributes).collect();
                    rng.shuffle(&mut order);
                    let sentences: Vec<String> = order
                        .into_iter()
                        .map(|attribute_idx| sentence(entity_idx, attribute_idx, paraphrase))
                        .collect();
                    texts.push(sentences.join(" "));
                }
            }
        }
        Layout::Shuffled { facts_per_document } => {
            let mut sentences = Vec::new();
            for paraphrase in 0..config.paraphrases {
                for entity_idx in 0..entities.len() {
                    for attribute_idx in 0..n_attributes {
                        sentences.push(sentence(entity_idx, attribute_idx, paraphrase));
                    }
                }
            }
            rng.shuffle(&mut sentences);
            texts = sentences
                .chunks(facts_per_document)
                .map(|chunk| chunk.join(" "))
                .collect();
        }
    }
    // Shuffled so that the paraphrases of one biography are not neighbours.
    rng.shuffle(&mut texts);
    texts
        .into_iter()
        .map(|text| Example::document(text + "\n"))
        .collect()
}

fn questions(
    config: &Config,
    entities: &[Entity],
    value_sets: &[Vec<String>],
    rng: &mut Rng,
) -> (Vec<Question>, Vec<Example>) {
    let mut questions = Vec::new();
    let mut qa = Vec::new();
    let mut position_deck: Vec<usize> = Vec::new();
    for entity in entities {
        let asked = rng.sample_indices(config.attributes.len(), config.questions_per_entity);
        for attribute_idx in asked {
            let attribute = config.attributes[attribute_idx];
            let truth = &entity.values[attribute_idx];
            let values = &value_sets[attribute_idx];
            // Distinct distractors: distinct indices into the value set, skipping the true value.
            let others: Vec<&String> = values.iter().filter(|value| *value != truth).collect();
            let mut options: Vec<String> = rng
                .sample_indices(others.len(), config.options - 1)
                .into_iter()
                .map(|idx| others[idx].clone())
                .collect();
            if position_deck.is_empty() {
                position_deck = (0..config.options).collect();
                rng.shuffle(&mut position_deck);
            }
            let answer = position_deck.pop().expect("the deck was just refilled");
            options.insert(answer, truth.clone());
            let question = attribute.question(&entity.name);
            let prompt = format!("Q: {question} A:");
            qa.push(Example {
                answer_at: Some(prompt.len()),
                text: format!("{prompt} {truth}\n"),
            });
            questions.push(Question {
                question,
                options,
                answer,
            });
        }
    }
    (questions, qa)
}

#[cfg(test)]
mod tests;
