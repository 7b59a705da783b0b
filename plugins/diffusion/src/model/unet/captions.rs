//! Captions as the U-Net reads them: targets (`[batch, attributes]`, −100 for an attribute
//! without a label) become rows of the attributes' embedding tables, where the last row of
//! each table means "none".

use exp_plugin_api::sdk::{PluginError, Result};
use exp_plugin_api::tch::{Device, Kind, Tensor};

use crate::dataset::shapes::UNLABELLED;

/// The targets of a batch of `batch` examples as one flat row-major list, on the host. A model
/// without caption attributes (its dataset has none) reads none and ignores the targets.
pub fn read_targets(targets: &Tensor, batch: i64, attributes: usize) -> Result<Vec<i64>> {
    if attributes == 0 {
        return Ok(Vec::new());
    }
    let expected = vec![batch, attributes as i64];
    if targets.size() != expected {
        return Err(PluginError::new(format!(
            "the unet is conditioned on captions of {attributes} attributes, so its targets \
             must have shape {expected:?}, not {:?}",
            targets.size()
        )));
    }
    let flat = targets
        .f_to_kind(Kind::Int64)?
        .f_to_device(Device::Cpu)?
        .f_reshape([-1])?;
    Ok(Vec::<i64>::try_from(&flat)?)
}

/// The table rows of `targets` (see `read_targets`) as an int64 `[batch, attributes]` tensor
/// on `device`: an attribute's own value, or its "none" row (`values[i]`) where the target is
/// −100 or the example's caption is `dropped`.
pub fn caption_rows(
    targets: &[i64],
    values: &[i64],
    dropped: &[bool],
    device: Device,
) -> Result<Tensor> {
    let mut rows = Vec::with_capacity(targets.len());
    for (index, target) in targets.iter().enumerate() {
        let example = index / values.len();
        let count = values[index % values.len()];
        let row = match *target {
            UNLABELLED => count,
            value if (0..count).contains(&value) => value,
            value => {
                return Err(PluginError::new(format!(
                    "caption attribute {} of example {example} is {value}, but it has {count} \
                     values (ids 0..{count}, or −100 for none)",
                    index % values.len()
                )))
            }
        };
        rows.push(if dropped[example] { count } else { row });
    }
    Ok(Tensor::from_slice(&rows)
        .f_reshape([dropped.len() as i64, values.len() as i64])?
        .f_to_device(device)?)
}

/// The rows of a batch doubled for classifier-free guidance: the captions of `targets`, then
/// "none" for each of the `batch` examples.
pub fn guidance_rows(
    targets: &[i64],
    values: &[i64],
    batch: i64,
    device: Device,
) -> Result<Tensor> {
    let conditional = caption_rows(targets, values, &vec![false; batch as usize], device)?;
    let unconditional = caption_rows(targets, values, &vec![true; batch as usize], device)?;
    Ok(Tensor::f_cat(&[conditional, unconditional], 0)?)
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::tch::Device;

    use super::caption_rows;

    #[test]
    fn unlabelled_and_dropped_captions_use_the_none_rows() {
        let targets = [1, -100, 0, 2, 3, 1];
        let rows = caption_rows(&targets, &[4, 3], &[false, false, true], Device::Cpu).unwrap();
        let rows = Vec::<Vec<i64>>::try_from(&rows).unwrap();
        assert_eq!(rows, [[1, 3], [0, 2], [4, 3]]);
        let error = caption_rows(&[1, 3], &[4, 3], &[false], Device::Cpu).unwrap_err();
        assert!(
            error.message.contains("attribute 1 of example 0 is 3"),
            "{error}"
        );
        let none = caption_rows(&[], &[], &[false, false], Device::Cpu).unwrap();
        assert_eq!(none.size(), vec![2, 0]);
    }
}
