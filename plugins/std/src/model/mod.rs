//! Models.
pub mod convnet;
pub mod mlp;

/// What the model tests share: a context sized like the digits data, and parameters from JSON.
#[cfg(test)]
pub(crate) mod test_support {
    use exp_plugin_api::sdk::{Context, DataInfo, Params};

    pub fn digits_context(seed: u64) -> Context {
        Context {
            seed,
            device: "cpu".into(),
            data: Some(DataInfo {
                input_shape: vec![64],
                classes: 10,
                train_len: 10,
                test_len: 10,
                source: String::new(),
                license: String::new(),
            }),
        }
    }

    pub fn params(json: &str) -> Params {
        Params::new(serde_json::from_str(json).unwrap())
    }
}
