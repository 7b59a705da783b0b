//! Text datasets: the shipped corpus (`corpus`), a user's own files (`text_files`), and the
//! generated domains (`arithmetic`, `code`, `facts`, `facts_qa`, `legal`).
//!
//! Every one of them builds all its documents in `create`, splits them by document into train,
//! validation and test with the shared [`SplitConfig`] (duplicates dropped first, so the same
//! text never lands in two splits; see `crate::data::split`), and keeps the three lists in a
//! [`Splits`], which answers `info` and `documents`. `info`'s lengths count documents, as the SDK
//! asks of a text dataset; its `input_shape` is empty and `classes` 0, because the host decides
//! the token windows once it has tokenized the documents.

pub mod arithmetic;
pub mod code;
pub mod corpus;
pub mod facts;
pub mod legal;
pub mod text_files;

use exp_plugin_api::sdk::{Config, DataInfo, Document, PluginError, Result, Split};

use crate::data::split::{split, Fractions, SplitKey};

/// What every generated dataset records as its source and licence in the run's data ledger.
pub const GENERATED: &str = "generated";

/// The parameters every text dataset splits its documents by.
#[derive(Debug, Clone, Config)]
pub struct SplitConfig {
    /// fraction of the documents held out as the validation split, for choosing settings
    #[param(default = 0.1, min = 0.0, max = 0.5)]
    pub validation_fraction: f64,
    /// fraction of the documents held out as the test split, reported once
    #[param(default = 0.1, min = 0.0, max = 0.5)]
    pub test_fraction: f64,
    /// seed of the shuffle that assigns documents to splits
    #[param(default = 0)]
    pub split_seed: u64,
}

impl SplitConfig {
    /// At least 5% of the documents stay for training.
    pub fn check(&self) -> Result<()> {
        if self.validation_fraction + self.test_fraction > 0.95 {
            return Err(PluginError::in_field(
                "validation_fraction",
                format!(
                    "with `test_fraction` {} it leaves under 5% of the documents for training",
                    self.test_fraction
                ),
            ));
        }
        Ok(())
    }

    fn fractions(&self) -> Fractions {
        Fractions {
            train: 1.0 - self.validation_fraction - self.test_fraction,
            validation: self.validation_fraction,
            test: self.test_fraction,
        }
    }
}

/// A dataset's documents, split, with where they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    pub train: Vec<Document>,
    pub validation: Vec<Document>,
    pub test: Vec<Document>,
    pub source: String,
    pub license: String,
}

impl Splits {
    /// Splits `items` by document (see `crate::data::split` for how duplicates are dropped and
    /// the shuffle made). An empty train split is an error: nothing could learn from it.
    pub fn new<T>(
        items: Vec<T>,
        config: &SplitConfig,
        source: &str,
        license: &str,
    ) -> Result<Splits>
    where
        T: SplitKey + Into<Document>,
    {
        let (train, validation, test) =
            split(items, config.fractions(), config.split_seed).map_err(PluginError::new)?;
        if train.is_empty() {
            let kept = validation.len() + test.len();
            return Err(PluginError::new(format!(
                "the dataset has {kept} distinct documents, too few to leave one for the train split"
            )));
        }
        let documents = |items: Vec<T>| items.into_iter().map(Into::into).collect();
        Ok(Splits {
            train: documents(train),
            validation: documents(validation),
            test: documents(test),
            source: source.to_string(),
            license: license.to_string(),
        })
    }

    pub fn info(&self) -> DataInfo {
        DataInfo {
            input_shape: Vec::new(),
            classes: 0,
            train_len: self.train.len() as i64,
            validation_len: self.validation.len() as i64,
            test_len: self.test.len() as i64,
            source: self.source.clone(),
            license: self.license.clone(),
            tokens: None,
            ..Default::default()
        }
    }

    pub fn documents(&self, split: Split) -> Vec<Document> {
        match split {
            Split::Train => self.train.clone(),
            Split::Validation => self.validation.clone(),
            Split::Test => self.test.clone(),
        }
    }
}

/// A generated dataset's component: `$config` (with `split`, `seed` and a `generator()` that
/// gives `$generator`'s config, whose `validate` names a parameter in its messages) and
/// `$generator::generate(config, seed)`; the documents are split by `Splits` with `generated`
/// as their source and licence. `arithmetic`, `code` and `legal` differ only in these.
macro_rules! generated_dataset {
    ($dataset:ident, $config:ident, $name:literal, $doc:literal, $generator:ident) => {
        pub struct $dataset {
            splits: $crate::dataset::Splits,
        }

        impl exp_plugin_api::sdk::Component for $dataset {
            type Config = $config;
            const NAME: &'static str = $name;
            const VERSION: &'static str = "1";
            const DOC: &'static str = $doc;

            fn check(config: &$config) -> exp_plugin_api::sdk::Result<()> {
                config.split.check()?;
                config
                    .generator()
                    .validate()
                    .map_err(|message| $crate::dataset::generator_error::<$config>(message, &[]))
            }

            fn create(
                config: $config,
                _context: &exp_plugin_api::sdk::Context,
            ) -> exp_plugin_api::sdk::Result<Self> {
                let items = $generator::generate(&config.generator(), config.seed)
                    .map_err(|message| $crate::dataset::generator_error::<$config>(message, &[]))?;
                Ok($dataset {
                    splits: $crate::dataset::Splits::new(
                        items,
                        &config.split,
                        $crate::dataset::GENERATED,
                        $crate::dataset::GENERATED,
                    )?,
                })
            }
        }

        impl exp_plugin_api::sdk::TextDataset for $dataset {
            fn info(&self) -> exp_plugin_api::sdk::DataInfo {
                self.splits.info()
            }

            fn documents(
                &self,
                split: exp_plugin_api::sdk::Split,
            ) -> exp_plugin_api::sdk::Result<Vec<exp_plugin_api::sdk::Document>> {
                Ok(self.splits.documents(split))
            }
        }
    };
}
pub(crate) use generated_dataset;

/// A generator's validation message as an error on the parameter it names: the generators start
/// each message with the parameter's name (`max_digits = 12 is out of range; …`). `renamed` maps
/// a generator's name for a parameter to the component's (`entities` is `facts`'s `count`).
pub fn generator_error<C: Config>(message: String, renamed: &[(&str, &str)]) -> PluginError {
    let word: String = message
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
        .collect();
    let (field, message) = match renamed.iter().find(|(from, _)| *from == word) {
        Some((from, to)) => (to.to_string(), format!("{to}{}", &message[from.len()..])),
        None => (word, message),
    };
    if C::params().iter().any(|param| param.name == field) {
        PluginError::in_field(&field, message)
    } else {
        PluginError::new(message)
    }
}

/// Test helpers the dataset tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use exp_plugin_api::sdk::{Context, Document, Split, TextDataset};

    pub fn context() -> Context {
        Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        }
    }

    /// Every document of every split, in split order.
    pub fn all_documents<T: TextDataset>(dataset: &T) -> Vec<Document> {
        [Split::Train, Split::Validation, Split::Test]
            .into_iter()
            .flat_map(|split| dataset.documents(split).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{Document, Split};

    use super::{generator_error, SplitConfig, Splits};
    use crate::data::Example;
    use crate::dataset::arithmetic::ArithmeticConfig;

    fn config(validation: f64, test: f64) -> SplitConfig {
        SplitConfig {
            validation_fraction: validation,
            test_fraction: test,
            split_seed: 3,
        }
    }

    #[test]
    fn splits_follow_the_fractions_and_drop_duplicates() {
        let mut texts: Vec<Example> = (0..100)
            .map(|index| Example::document(format!("doc {index}\n")))
            .collect();
        texts.push(Example::document("doc 7\n".to_string()));
        let splits = Splits::new(texts, &config(0.1, 0.2), "here", "CC0-1.0").unwrap();
        let info = splits.info();
        assert_eq!(
            (info.train_len, info.validation_len, info.test_len),
            (70, 10, 20)
        );
        assert_eq!(
            (info.source.as_str(), info.license.as_str()),
            ("here", "CC0-1.0")
        );
        assert_eq!(info.tokens, None);
        assert_eq!(splits.documents(Split::Test).len(), 20);
        let mut all: Vec<Document> = [Split::Train, Split::Validation, Split::Test]
            .into_iter()
            .flat_map(|split| splits.documents(split))
            .collect();
        all.sort_by(|a, b| a.text.cmp(&b.text));
        all.dedup();
        assert_eq!(all.len(), 100, "every distinct document once");
    }

    #[test]
    fn too_little_training_data_is_an_error() {
        assert!(config(0.5, 0.5).check().is_err());
        assert_eq!(
            config(0.5, 0.5).check().unwrap_err().field.as_deref(),
            Some("validation_fraction")
        );
        assert!(config(0.45, 0.5).check().is_ok());
        let error = Splits::new(
            vec![Example::document("one".to_string())],
            &config(0.45, 0.5),
            "",
            "",
        )
        .unwrap_err();
        assert!(
            error.message.contains("1 distinct documents"),
            "{}",
            error.message
        );
    }

    #[test]
    fn generator_messages_blame_the_parameter_they_name() {
        let error =
            generator_error::<ArithmeticConfig>("max_digits = 12 is out of range".into(), &[]);
        assert_eq!(error.field.as_deref(), Some("max_digits"));
        let error = generator_error::<ArithmeticConfig>("fractions sum to 2".into(), &[]);
        assert_eq!(error.field, None);
        let error = generator_error::<ArithmeticConfig>(
            "tally = 0 is out of range".into(),
            &[("tally", "count")],
        );
        assert_eq!(error.field.as_deref(), Some("count"));
        assert_eq!(error.message, "count = 0 is out of range");
    }
}
