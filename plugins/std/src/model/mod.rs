//! Models.
pub mod convnet;
pub mod mlp;

/// What the model tests share: a context sized like the digits data.
#[cfg(test)]
pub(crate) mod test_support {
    use exp_plugin_api::sdk::{Context, DataInfo};

    pub fn digits_context(seed: u64) -> Context {
        Context {
            seed,
            device: "cpu".into(),
            data: Some(DataInfo {
                input_shape: vec![64],
                classes: 10,
                train_len: 10,
                validation_len: 0,
                test_len: 10,
                source: String::new(),
                license: String::new(),
                tokens: None,
                ..Default::default()
            }),
        }
    }
}
