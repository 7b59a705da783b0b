//! `shapes`: generated captioned images with licences, for training a text-to-image model only
//! on permitted licences (a toy CommonCanvas).
//!
//! Each example is one shape (circle, square, triangle, cross) of one colour (red, green, blue,
//! yellow) and one size (small, large) on a dark background (see `draw`); its caption is the
//! target `[shape, colour, size]` of ids into `DataInfo::attributes`. Each carries a licence
//! drawn from a fixed mix (`licenses::LICENSE_MIX`: CC0-1.0 40%, CC-BY-4.0 30%,
//! CC-BY-NC-4.0 20%, LicenseRef-proprietary 10%).
//!
//! Generation: example i draws everything from its own stream of the `seed` parameter
//! (`seeding::stream(seed, i)`), never from the node's seed, so a sweep over training seeds
//! sees identical data, and which examples a filter drops changes nothing about the others.
//! Of the `count` examples generated, only those whose licence is in `licenses` are kept
//! (all when it is empty). The kept examples, in generation order, are split into train,
//! validation and test blocks (they are i.i.d. draws, so contiguous blocks are random splits).
//! Finally a random `captioned` fraction of the train examples keeps its captions; the others
//! get targets of −100 for every attribute (unlabelled). Validation and test examples always
//! keep theirs: they are the prompts of generated samples and the references that score them.

mod draw;
mod licenses;

use std::collections::BTreeMap;

use exp_plugin_api::sdk::{
    Attribute, Component, Config, Context, DataInfo, Dataset, PluginError, Result, Split,
};
use exp_plugin_api::tch::Tensor;

use crate::seeding::stream;
use draw::{Example, COLOURS, SHAPES, SIZES};
use licenses::{known_licenses, license_index, LICENSE_MIX};

/// Image channels (RGB).
const CHANNELS: i64 = 3;
/// Attributes per caption: shape, colour, size.
const SHAPES_ATTRIBUTES: usize = 3;
/// The target that marks an attribute without a label.
pub const UNLABELLED: i64 = -100;
/// The stream that chooses which train examples keep their captions; examples use the streams
/// `0..count`, far below it.
const CAPTION_STREAM: u64 = u64::MAX;

#[derive(Debug, Clone, Config)]
pub struct ShapesConfig {
    /// examples generated, before the licence filter keeps some of them
    #[param(default = 4000, min = 1, max = 1_000_000)]
    pub count: i64,
    /// side of the square RGB images, in pixels
    #[param(default = 16, min = 8, max = 64)]
    pub size: i64,
    /// seed of the generation; the data does not depend on the node's seed, so runs over several training seeds see the same images
    #[param(default = 0)]
    pub seed: u64,
    /// fraction of the kept examples held out as the validation split
    #[param(default = 0.1, min = 0.0, max = 0.5)]
    pub validation_fraction: f64,
    /// fraction of the kept examples held out as the test split
    #[param(default = 0.1, min = 0.0, max = 0.5)]
    pub test_fraction: f64,
    /// fraction of the train examples that keep their captions; the others have targets of −100 (unlabelled)
    #[param(default = 1.0, min = 0.0, max = 1.0)]
    pub captioned: f64,
    /// the licences of the examples to keep (CC0-1.0, CC-BY-4.0, CC-BY-NC-4.0, LicenseRef-proprietary); empty keeps every example
    #[param(default = [])]
    pub licenses: Vec<String>,
}

pub struct Shapes {
    /// Inputs `[n, 3, side, side]` and targets `[n, 3]` of the train, validation and test
    /// splits.
    splits: [(Tensor, Tensor); 3],
    /// Kept examples per licence, over all splits.
    licenses: BTreeMap<String, i64>,
    side: i64,
    seed: u64,
}

/// The examples kept by the licence filter: pixels (`[n, 3, side, side]`, flattened), targets
/// (`[n, 3]`, flattened) and the count per licence.
struct Generated {
    pixels: Vec<f32>,
    targets: Vec<i64>,
    per_license: [i64; LICENSE_MIX.len()],
}

fn generate(config: &ShapesConfig, keep: &[bool]) -> Generated {
    let side = config.size as usize;
    let image_len = CHANNELS as usize * side * side;
    let mut generated = Generated {
        pixels: Vec::new(),
        targets: Vec::new(),
        per_license: [0; LICENSE_MIX.len()],
    };
    for index in 0..config.count as u64 {
        let mut rng = stream(config.seed, index);
        let example = Example::draw(&mut rng, side);
        if !keep[example.license] {
            continue;
        }
        generated.per_license[example.license] += 1;
        let start = generated.pixels.len();
        generated.pixels.resize(start + image_len, 0.0);
        example.paint(&mut rng, side, &mut generated.pixels[start..]);
        generated.targets.extend(example.target());
    }
    generated
}

/// Which licences `names` keep, by index in `LICENSE_MIX` (all of them when empty).
fn kept_licenses(names: &[String]) -> Result<[bool; LICENSE_MIX.len()]> {
    let mut keep = [names.is_empty(); LICENSE_MIX.len()];
    for name in names {
        let index = license_index(name).ok_or_else(|| {
            PluginError::in_field(
                "licenses",
                format!(
                    "unknown licence `{name}`: the shapes carry {}",
                    known_licenses()
                ),
            )
        })?;
        keep[index] = true;
    }
    Ok(keep)
}

/// Removes the captions of all but a `captioned` fraction of the first `train` examples,
/// chosen at random from the generation seed.
fn drop_captions(targets: &mut [i64], train: usize, captioned: f64, seed: u64) {
    let keep = (train as f64 * captioned).round() as usize;
    let order = stream(seed, CAPTION_STREAM).permutation(train);
    for &example in &order[keep..] {
        let start = example as usize * SHAPES_ATTRIBUTES;
        targets[start..start + SHAPES_ATTRIBUTES].fill(UNLABELLED);
    }
}

impl Component for Shapes {
    type Config = ShapesConfig;
    const NAME: &'static str = "shapes";
    const VERSION: &'static str = "1";
    const DOC: &'static str =
        "generated images of coloured shapes, captioned by their attributes, each with a licence";

    fn check(config: &ShapesConfig) -> Result<()> {
        if config.validation_fraction + config.test_fraction > 0.9 {
            return Err(PluginError::in_field(
                "test_fraction",
                format!(
                    "with `validation_fraction` {} it leaves under 10% of the data for training",
                    config.validation_fraction
                ),
            ));
        }
        kept_licenses(&config.licenses).map(|_| ())
    }

    fn create(config: ShapesConfig, context: &Context) -> Result<Self> {
        let keep = kept_licenses(&config.licenses)?;
        let Generated {
            pixels,
            mut targets,
            per_license,
        } = generate(&config, &keep);
        let kept = (targets.len() / SHAPES_ATTRIBUTES) as i64;
        if kept == 0 {
            return Err(PluginError::in_field(
                "licenses",
                format!(
                    "none of the {} generated examples has one of the licences {}",
                    config.count,
                    config
                        .licenses
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let test = (kept as f64 * config.test_fraction).round() as i64;
        // Each fraction is at most a half and they sum to at most 0.9, so this only guards
        // against rounding both up in a tiny dataset.
        let validation =
            ((kept as f64 * config.validation_fraction).round() as i64).min(kept - test);
        let train = kept - validation - test;
        drop_captions(&mut targets, train as usize, config.captioned, config.seed);

        let side = config.size;
        let device = context.device();
        let x = Tensor::from_slice(&pixels)
            .f_reshape([kept, CHANNELS, side, side])?
            .f_to_device(device)?;
        let y = Tensor::from_slice(&targets)
            .f_reshape([kept, SHAPES_ATTRIBUTES as i64])?
            .f_to_device(device)?;
        let block = |start: i64, len: i64| -> Result<(Tensor, Tensor)> {
            Ok((x.f_narrow(0, start, len)?, y.f_narrow(0, start, len)?))
        };
        let licenses = LICENSE_MIX
            .iter()
            .zip(per_license)
            .filter(|(_, count)| *count > 0)
            .map(|((name, _), count)| (name.to_string(), count))
            .collect();
        Ok(Shapes {
            splits: [
                block(0, train)?,
                block(train, validation)?,
                block(train + validation, test)?,
            ],
            licenses,
            side,
            seed: config.seed,
        })
    }
}

impl Shapes {
    fn split(&self, split: Split) -> &(Tensor, Tensor) {
        match split {
            Split::Train => &self.splits[0],
            Split::Validation => &self.splits[1],
            Split::Test => &self.splits[2],
        }
    }
}

fn attribute(name: &str, values: &[&str]) -> Attribute {
    Attribute {
        name: name.to_string(),
        values: values.iter().map(|value| value.to_string()).collect(),
    }
}

impl Dataset for Shapes {
    fn info(&self) -> DataInfo {
        let len = |split| self.split(split).1.size()[0];
        DataInfo {
            input_shape: vec![CHANNELS, self.side, self.side],
            classes: SHAPES.len().max(COLOURS.len()).max(SIZES.len()) as i64,
            train_len: len(Split::Train),
            validation_len: len(Split::Validation),
            test_len: len(Split::Test),
            source: format!(
                "generated: shapes, {side}×{side} (seed {seed})",
                side = self.side,
                seed = self.seed
            ),
            license: self.licenses.keys().cloned().collect::<Vec<_>>().join(", "),
            tokens: None,
            licenses: self.licenses.clone(),
            attributes: vec![
                attribute("shape", &SHAPES),
                attribute("colour", &COLOURS),
                attribute("size", &SIZES),
            ],
        }
    }

    fn batch(&self, split: Split, indices: &[i64]) -> Result<(Tensor, Tensor)> {
        let (x, y) = self.split(split);
        let len = y.size()[0];
        if let Some(bad) = indices.iter().find(|index| **index < 0 || **index >= len) {
            return Err(PluginError::new(format!(
                "index {bad} is outside the {} split of {len} examples",
                split.word()
            )));
        }
        let index = Tensor::from_slice(indices).f_to_device(x.device())?;
        Ok((x.f_index_select(0, &index)?, y.f_index_select(0, &index)?))
    }
}

#[cfg(test)]
mod tests;
