//! Task constructions over image datasets, for continual-learning sequences (several related
//! tasks built from one dataset): keep some classes, rotate, permute pixels, invert intensities.
//!
//! Each transform is a deterministic function of the data (and of a seed where it is random),
//! written over image tensors whose last two dimensions are height and width (`[N, H, W]` or
//! `[N, C, H, W]`), so any image dataset can reuse them. `Construction` bundles them as the
//! parameters `labels`, `rotate`, `permute` and `invert`, applied in that fixed order.
//!
//! Label filtering keeps the label values as they are (keeping classes 3 and 7 yields labels 3
//! and 7, not 0 and 1), and a dataset keeps reporting all its classes: one classifier head then
//! serves every task of a sequence, and accuracy on any task means the same thing.

use exp_plugin_api::sdk::{Config, PluginError, Result, Rng};
use exp_plugin_api::tch::Tensor;

/// The shape of `images`, refusing a tensor without a height and a width, for `doing` to it.
fn image_dims(images: &Tensor, doing: &str) -> Result<Vec<i64>> {
    let shape = images.size();
    if shape.len() < 2 {
        return Err(PluginError::new(format!(
            "cannot {doing} a tensor of shape {shape:?}: images need a height and a width"
        )));
    }
    Ok(shape)
}

/// The examples of `x` and `y` whose label is one of `classes` (all of them when `classes` is
/// empty), in their original order.
pub fn keep_classes(x: &Tensor, y: &Tensor, classes: &[i64]) -> Result<(Tensor, Tensor)> {
    if classes.is_empty() {
        return Ok((x.shallow_clone(), y.shallow_clone()));
    }
    let wanted = Tensor::from_slice(classes).to_device(y.device());
    let keep = Tensor::f_isin(y, &wanted, false, false)?
        .f_nonzero()?
        .f_reshape([-1])?;
    Ok((x.f_index_select(0, &keep)?, y.f_index_select(0, &keep)?))
}

/// The images rotated by `degrees` (0, 90, 180 or 270) counter-clockwise, as seen with row 0 at
/// the top: the top row of the result is the right-hand column of the original, read top to
/// bottom.
pub fn rotate(images: &Tensor, degrees: i64) -> Result<Tensor> {
    if degrees.rem_euclid(90) != 0 {
        return Err(PluginError::new(format!(
            "images rotate by multiples of 90 degrees, not {degrees}"
        )));
    }
    let dims = image_dims(images, "rotate")?.len() as i64;
    Ok(images
        .f_rot90(degrees.rem_euclid(360) / 90, [dims - 2, dims - 1])?
        .f_contiguous()?)
}

/// A fixed permutation of `pixels` positions, drawn from `seed` alone.
pub fn pixel_permutation(pixels: usize, seed: u64) -> Vec<i64> {
    Rng::new(seed).permutation(pixels)
}

/// The images with their pixel positions shuffled by `permutation` (of height × width
/// positions, row-major): pixel `i` of a result is pixel `permutation[i]` of its image. Every
/// channel moves alike.
pub fn permute_pixels(images: &Tensor, permutation: &[i64]) -> Result<Tensor> {
    let shape = image_dims(images, "permute the pixels of")?;
    let (lead, plane) = shape.split_at(shape.len() - 2);
    let pixels = plane[0] * plane[1];
    if permutation.len() as i64 != pixels {
        return Err(PluginError::new(format!(
            "a permutation of {} positions cannot shuffle images of {} pixels",
            permutation.len(),
            pixels
        )));
    }
    let flat: Vec<i64> = lead.iter().copied().chain([pixels]).collect();
    let index = Tensor::from_slice(permutation).to_device(images.device());
    Ok(images
        .f_reshape(flat.as_slice())?
        .f_index_select(lead.len() as i64, &index)?
        .f_reshape(shape.as_slice())?)
}

/// The images with intensities mirrored within `[low, high]`: `low + high − x`, so `high − x`
/// for a range starting at 0. Inverting twice gives the images back (exactly when the values and
/// `low + high` are exact in the tensor's precision).
pub fn invert(images: &Tensor, low: f64, high: f64) -> Result<Tensor> {
    Ok(images.f_neg()?.f_add_scalar(low + high)?)
}

/// The parameters of a task construction, flattened into an image dataset's config. The label
/// bounds are those of a 10-class dataset (the digits); `Construction::new` checks the rest.
#[derive(Debug, Clone, Config)]
pub struct ConstructionConfig {
    /// keep only these classes, in both splits (empty: all); labels keep values
    #[param(default = [], min = 0.0, max = 9.0)]
    pub labels: Vec<i64>,
    /// rotate every image counter-clockwise by 0, 90, 180 or 270 degrees
    #[param(default = 0, min = 0.0, max = 270.0)]
    pub rotate: i64,
    /// shuffle pixels by a fixed permutation drawn from this seed (-1: none)
    #[param(default = -1, min = -1.0)]
    pub permute: i64,
    /// invert intensities within the data's range (max − x)
    #[param(default = false)]
    pub invert: bool,
}

/// The task an image dataset is turned into, from its `labels`, `rotate`, `permute` and
/// `invert` parameters. Applied in that order: keep the classes, rotate, permute, invert.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Construction {
    /// Classes kept; empty keeps all.
    pub labels: Vec<i64>,
    /// Counter-clockwise, one of 0, 90, 180, 270.
    pub rotate: i64,
    /// Seed of the pixel permutation; `None` leaves pixels in place.
    pub permute: Option<u64>,
    pub invert: bool,
}

impl Construction {
    /// Checks the parameters, for a dataset of `classes` classes.
    pub fn new(config: &ConstructionConfig, classes: i64) -> Result<Construction> {
        let labels = &config.labels;
        for (idx, label) in labels.iter().enumerate() {
            if !(0..classes).contains(label) {
                return Err(PluginError::in_field(
                    "labels",
                    format!(
                        "class {label} does not exist: classes run from 0 to {}",
                        classes - 1
                    ),
                ));
            }
            if labels[..idx].contains(label) {
                return Err(PluginError::in_field(
                    "labels",
                    format!("class {label} is listed twice"),
                ));
            }
        }
        let rotate = config.rotate;
        if ![0, 90, 180, 270].contains(&rotate) {
            return Err(PluginError::in_field(
                "rotate",
                format!("must be 0, 90, 180 or 270 degrees, found {rotate}"),
            ));
        }
        let permute = match config.permute {
            -1 => None,
            seed if seed >= 0 => Some(seed as u64),
            seed => {
                return Err(PluginError::in_field(
                    "permute",
                    format!("must be a seed of at least 0, or -1 for none; found {seed}"),
                ))
            }
        };
        Ok(Construction {
            labels: labels.clone(),
            rotate,
            permute,
            invert: config.invert,
        })
    }

    /// Applies the construction to one split: `images` of shape `[N, …, H, W]` with intensities
    /// in `range`, and their labels `[N]`.
    pub fn apply(
        &self,
        images: &Tensor,
        labels: &Tensor,
        range: (f64, f64),
    ) -> Result<(Tensor, Tensor)> {
        let (mut images, labels) = keep_classes(images, labels, &self.labels)?;
        if self.rotate != 0 {
            images = rotate(&images, self.rotate)?;
        }
        if let Some(seed) = self.permute {
            let size = images.size();
            let pixels = size[size.len() - 2..].iter().product::<i64>() as usize;
            images = permute_pixels(&images, &pixel_permutation(pixels, seed))?;
        }
        if self.invert {
            images = invert(&images, range.0, range.1)?;
        }
        Ok((images, labels))
    }

    /// The construction in words for a data ledger (`labels [3, 7], rotate 90, permute 5,
    /// invert`), or `None` when it leaves the data as it is.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.labels.is_empty() {
            let labels: Vec<String> = self.labels.iter().map(i64::to_string).collect();
            parts.push(format!("labels [{}]", labels.join(", ")));
        }
        if self.rotate != 0 {
            parts.push(format!("rotate {}", self.rotate));
        }
        if let Some(seed) = self.permute {
            parts.push(format!("permute {seed}"));
        }
        if self.invert {
            parts.push("invert".to_string());
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::{
        invert, keep_classes, permute_pixels, pixel_permutation, rotate, Construction,
        ConstructionConfig,
    };
    use exp_plugin_api::sdk::{Config, Params};
    use exp_plugin_api::serde_json::json;
    use exp_plugin_api::tch::Tensor;

    fn rows(tensor: &Tensor) -> Vec<Vec<f32>> {
        Vec::<Vec<f32>>::try_from(tensor).unwrap()
    }

    fn config(value: exp_plugin_api::serde_json::Value) -> ConstructionConfig {
        ConstructionConfig::from_params(&Params::from_json(&value).unwrap()).unwrap()
    }

    #[test]
    fn rotation_turns_a_known_image_counter_clockwise() {
        // 1 2 3        90°: 3 6 9    180°: 9 8 7    270°: 7 4 1
        // 4 5 6             2 5 8          6 5 4          8 5 2
        // 7 8 9             1 4 7          3 2 1          9 6 3
        let image = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6., 7., 8., 9.]).reshape([1, 3, 3]);
        let turned = |degrees| rows(&rotate(&image, degrees).unwrap().reshape([3, 3]));
        assert_eq!(turned(0), [[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]]);
        assert_eq!(turned(90), [[3., 6., 9.], [2., 5., 8.], [1., 4., 7.]]);
        assert_eq!(turned(180), [[9., 8., 7.], [6., 5., 4.], [3., 2., 1.]]);
        assert_eq!(turned(270), [[7., 4., 1.], [8., 5., 2.], [9., 6., 3.]]);
        assert!(rotate(&image, 45).is_err());
        // Four quarter turns give the image back, channels and batch untouched.
        let batch = Tensor::from_slice(&(0..2 * 3 * 4 * 4).map(|v| v as f32).collect::<Vec<_>>())
            .reshape([2, 3, 4, 4]);
        let mut turned = batch.shallow_clone();
        for _ in 0..4 {
            turned = rotate(&turned, 90).unwrap();
        }
        assert!(turned.equal(&batch));
    }

    #[test]
    fn permutation_is_a_deterministic_bijection_per_seed() {
        let permutation = pixel_permutation(64, 3);
        let mut sorted = permutation.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..64).collect::<Vec<i64>>());
        assert_eq!(pixel_permutation(64, 3), permutation);
        let seeds: Vec<Vec<i64>> = (0..5).map(|seed| pixel_permutation(64, seed)).collect();
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Pixel i of the result is pixel permutation[i] of the image.
        let image = Tensor::from_slice(&[10f32, 11., 12., 13.]).reshape([1, 2, 2]);
        let shuffled = permute_pixels(&image, &[2, 0, 3, 1]).unwrap();
        assert_eq!(rows(&shuffled.reshape([1, 4])), [[12., 10., 13., 11.]]);
        assert!(permute_pixels(&image, &[0, 1, 2]).is_err());
    }

    #[test]
    fn inverting_twice_is_the_identity() {
        let values: Vec<f32> = (0..=16).map(|v| v as f32 / 16.0).collect();
        let images = Tensor::from_slice(&values).reshape([1, 1, 17]);
        let once = invert(&images, 0.0, 1.0).unwrap();
        assert_eq!(rows(&once.reshape([1, 17]))[0][0], 1.0);
        assert_eq!(rows(&once.reshape([1, 17]))[0][16], 0.0);
        assert!(invert(&once, 0.0, 1.0).unwrap().equal(&images));
        let shifted = invert(&images, -1.0, 1.0).unwrap();
        assert_eq!(rows(&shifted.reshape([1, 17]))[0][16], -1.0);
    }

    #[test]
    fn keeping_classes_keeps_only_those_in_order() {
        let x = Tensor::from_slice(&[0f32, 1., 2., 3., 4., 5.]).reshape([6, 1, 1]);
        let y = Tensor::from_slice(&[0i64, 1, 2, 1, 0, 2]);
        let (kept_x, kept_y) = keep_classes(&x, &y, &[2, 0]).unwrap();
        assert_eq!(Vec::<i64>::try_from(&kept_y).unwrap(), [0, 2, 0, 2]);
        assert_eq!(
            Vec::<f32>::try_from(&kept_x.reshape([-1])).unwrap(),
            [0., 2., 4., 5.]
        );
        let (all_x, _) = keep_classes(&x, &y, &[]).unwrap();
        assert_eq!(all_x.size(), [6, 1, 1]);
    }

    #[test]
    fn parameters_are_checked_and_described() {
        let read = |value| Construction::new(&config(value), 10);
        let plain = read(json!({"labels": [], "rotate": 0, "permute": -1, "invert": false}));
        assert_eq!(plain.unwrap().describe(), None);
        let task = read(json!({"labels": [3, 7], "rotate": 90, "permute": 5, "invert": true}));
        assert_eq!(
            task.unwrap().describe().as_deref(),
            Some("labels [3, 7], rotate 90, permute 5, invert")
        );
        let field = |value| read(value).err().and_then(|error| error.field);
        let bad_rotate = json!({"labels": [], "rotate": 45, "permute": -1, "invert": false});
        assert_eq!(field(bad_rotate).as_deref(), Some("rotate"));
        let bad_label = json!({"labels": [10], "rotate": 0, "permute": -1, "invert": false});
        assert_eq!(field(bad_label).as_deref(), Some("labels"));
        let twice = json!({"labels": [1, 1], "rotate": 0, "permute": -1, "invert": false});
        assert_eq!(field(twice).as_deref(), Some("labels"));
        let bad_seed = json!({"labels": [], "rotate": 0, "permute": -2, "invert": false});
        assert_eq!(field(bad_seed).as_deref(), Some("permute"));
    }
}
