//! `corpus`: Jane Austen's six novels (public domain), shipped inside the plugin
//! (`crate::data::corpus`; provenance and licence in the repository's `data/austen/LICENSE.md`).
//!
//! A document is a chapter (269 of them, 15 kB on average), or with `min_chars` above 0 a
//! passage: a chapter's paragraphs merged in order until the passage has at least `min_chars`
//! bytes, never across a chapter's end. Chapters are the default because the split is by
//! document: held-out chapters are text the model never saw, with no overlap at their edges.
//! Passages give many more, shorter documents (about 1,900 at 2,000 bytes) for studies that want
//! them; neighbouring passages of one chapter may then land in different splits.

use exp_plugin_api::sdk::{
    Component, Config, Context, DataInfo, Document, PluginError, Result, Split, TextDataset,
};

use super::{SplitConfig, Splits};
use crate::data::corpus::{passages_of, shared_documents};
use crate::data::Example;

/// The corpus as the data ledger records it (from `data/austen/LICENSE.md`): the novels are in the
/// public domain, which is what a licence policy checks; the MIT licence covers only the R
/// package they were extracted from, and the source says so.
pub const SOURCE: &str =
    "austen (Jane Austen, six novels, via Debian r-cran-janeaustenr 1.0.0-1, packaging MIT)";
pub const LICENSE: &str = "public-domain";

#[derive(Debug, Clone, Config)]
pub struct CorpusConfig {
    /// 0: one document per chapter; above 0, passages of at least this many bytes within a chapter
    #[param(default = 0)]
    pub min_chars: usize,
    #[param(flatten)]
    pub split: SplitConfig,
}

pub struct Corpus {
    splits: Splits,
}

impl Component for Corpus {
    type Config = CorpusConfig;
    const NAME: &'static str = "corpus";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "Jane Austen's six novels (public domain, 4 MB, shipped), split by chapter or passage";

    fn check(config: &CorpusConfig) -> Result<()> {
        config.split.check()
    }

    fn create(config: CorpusConfig, _context: &Context) -> Result<Self> {
        let chapters = shared_documents().map_err(PluginError::new)?;
        let texts = match config.min_chars {
            0 => chapters.to_vec(),
            min_chars => passages_of(chapters.to_vec(), min_chars),
        };
        let documents: Vec<Example> = texts.into_iter().map(Example::document).collect();
        Ok(Corpus {
            splits: Splits::new(documents, &config.split, SOURCE, LICENSE)?,
        })
    }
}

impl TextDataset for Corpus {
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

    use super::{Corpus, LICENSE, SOURCE};
    use crate::data::corpus;
    use crate::dataset::test_support::context;

    #[test]
    fn chapters_split_by_document_with_the_licence_recorded() {
        let dataset = build::<Corpus>(json!({}), &context()).unwrap();
        let info = dataset.info();
        assert_eq!(
            (info.train_len, info.validation_len, info.test_len),
            (215, 27, 27)
        );
        assert_eq!(
            (info.source.as_str(), info.license.as_str()),
            (SOURCE, LICENSE)
        );
        assert!(corpus::LICENSE.contains("source `austen`"));
        assert!(corpus::LICENSE.contains(&format!("licence `{LICENSE}` (packaging `MIT`)")));
        let test = dataset.documents(Split::Test).unwrap();
        assert!(test.iter().all(|document| document.answer_at.is_none()));
        let train: Vec<String> = dataset
            .documents(Split::Train)
            .unwrap()
            .into_iter()
            .map(|d| d.text)
            .collect();
        assert!(test.iter().all(|document| !train.contains(&document.text)));
    }

    #[test]
    fn passages_are_shorter_documents() {
        let dataset = build::<Corpus>(
            json!({"min_chars": 2000, "test_fraction": 0.05}),
            &context(),
        )
        .unwrap();
        let info = dataset.info();
        let total = info.train_len + info.validation_len + info.test_len;
        assert!(total > 1500, "{total}");
        let train = dataset.documents(Split::Train).unwrap();
        let long = train
            .iter()
            .filter(|document| document.text.len() >= 2000)
            .count();
        assert!(
            long * 10 > train.len() * 8,
            "most passages reach the minimum"
        );
    }
}
