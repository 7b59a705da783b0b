//! `legal`: contracts between invented parties (`crate::data::legal`), one contract per
//! document.

use exp_plugin_api::sdk::Config;

use super::{generated_dataset, SplitConfig};
use crate::data::legal::{self, Kind, MAX_CLAUSES, MAX_COUNT, MAX_SECTIONS, MIN_SECTIONS};

#[derive(Debug, Clone, Config)]
pub struct LegalConfig {
    /// number of contracts (duplicates, rare, are dropped before the split)
    #[param(default = 500, min = 1, max = MAX_COUNT)]
    pub count: usize,
    /// kinds of agreement drawn uniformly, each at most once
    #[param(default = Kind::ALL.to_vec())]
    pub kinds: Vec<Kind>,
    /// fewest sections in a contract (definitions, the main section and governing law are always there)
    #[param(default = 4, min = MIN_SECTIONS, max = MAX_SECTIONS)]
    pub min_sections: usize,
    /// most sections in a contract, at least `min_sections`
    #[param(default = 8, min = MIN_SECTIONS, max = MAX_SECTIONS)]
    pub max_sections: usize,
    /// most numbered clauses in a section
    #[param(default = 3, min = 1, max = MAX_CLAUSES)]
    pub max_clauses: usize,
    /// seed of the generator: the same seed and parameters give the same contracts in every run
    #[param(default = 0)]
    pub seed: u64,
    #[param(flatten)]
    pub split: SplitConfig,
}

impl LegalConfig {
    fn generator(&self) -> legal::Config {
        legal::Config {
            count: self.count,
            kinds: self.kinds.clone(),
            min_sections: self.min_sections,
            max_sections: self.max_sections,
            max_clauses: self.max_clauses,
        }
    }
}

generated_dataset!(
    Legal,
    LegalConfig,
    "legal",
    "generated contracts between invented parties, with numbered clauses",
    legal
);

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::{build, TextDataset};
    use exp_plugin_api::serde_json::json;

    use super::Legal;
    use crate::dataset::test_support::{all_documents, context};

    #[test]
    fn contracts_of_the_chosen_kinds() {
        let params =
            json!({"count": 30, "kinds": ["lease", "non_disclosure"], "validation_fraction": 0.0});
        let dataset = build::<Legal>(params, &context()).unwrap();
        let info = dataset.info();
        assert_eq!(
            (info.train_len, info.validation_len, info.test_len),
            (27, 0, 3)
        );
        for document in all_documents(&dataset) {
            let title = document.text.lines().next().unwrap();
            assert!(
                title.contains("LEASE") || title.contains("NON-DISCLOSURE"),
                "{title}"
            );
        }
        let error = build::<Legal>(json!({"min_sections": 6, "max_sections": 5}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("max_sections"));
        let error = build::<Legal>(json!({"kinds": []}), &context())
            .err()
            .unwrap();
        assert_eq!(error.field.as_deref(), Some("kinds"));
    }
}
