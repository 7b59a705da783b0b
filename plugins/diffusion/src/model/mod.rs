//! Models: the diffusion `unet` and the `attribute_net` classifier, and what both read from
//! their dataset.
pub mod attribute_net;
pub mod unet;

use exp_plugin_api::sdk::{DataInfo, PluginError, Result};

/// The `[channels, height, width]` of the dataset's images, whose sides must halve `halvings`
/// times without remainder.
pub(crate) fn image_shape(data: &DataInfo, model: &str, halvings: usize) -> Result<[i64; 3]> {
    let multiple = u32::try_from(halvings)
        .ok()
        .and_then(|halvings| 1i64.checked_shl(halvings))
        .filter(|multiple| *multiple > 0);
    match (multiple, &data.input_shape[..]) {
        (Some(multiple), &[channels, height, width])
            if channels > 0
                && height > 0
                && width > 0
                && height % multiple == 0
                && width % multiple == 0 =>
        {
            Ok([channels, height, width])
        }
        _ => Err(PluginError::new(format!(
            "{model} needs images `[channels, height, width]` whose sides are multiples of \
             2^{halvings} (it halves them {halvings} times), but the dataset's inputs have shape \
             {:?}",
            data.input_shape
        ))),
    }
}

/// How many values each caption attribute of the dataset has.
pub(crate) fn attribute_values(data: &DataInfo) -> Vec<i64> {
    data.attributes
        .iter()
        .map(|attribute| attribute.values.len() as i64)
        .collect()
}

/// What the model tests share: a context sized like 8×8 `shapes`.
#[cfg(test)]
pub(crate) mod test_support {
    use exp_plugin_api::sdk::{Attribute, Context, DataInfo};

    pub fn shapes_context(seed: u64) -> Context {
        let attribute = |name: &str, values: &[&str]| Attribute {
            name: name.into(),
            values: values.iter().map(|value| value.to_string()).collect(),
        };
        Context {
            seed,
            device: "cpu".into(),
            data: Some(DataInfo {
                input_shape: vec![3, 8, 8],
                classes: 4,
                train_len: 10,
                test_len: 10,
                attributes: vec![
                    attribute("shape", &["circle", "square", "triangle", "cross"]),
                    attribute("colour", &["red", "green", "blue", "yellow"]),
                    attribute("size", &["small", "large"]),
                ],
                ..Default::default()
            }),
        }
    }
}
