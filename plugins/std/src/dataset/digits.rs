//! `digits`: the 8×8 handwritten digits (UCI, CC BY 4.0), 1,797 images, as scikit-learn ships
//! them. The file is compiled into the plugin, so no run ever reads or downloads data.
//!
//! The train/test split is a deterministic stratified split: within each class the examples are
//! shuffled with `split_seed` and the first `test_fraction` of them go to the test set, so every
//! digit is represented in both splits in the same proportion.
//!
//! The optional parameters `labels`, `rotate`, `permute` and `invert` turn the data into one task
//! of a continual-learning sequence (see `tasks`); they apply to both splits, after the split,
//! in that order. Pixels are scaled from 0–16 to [0, 1], so `invert` maps x to 1 − x. Labels
//! keep their values and `classes` stays 10 whatever `labels` keeps, so one 10-way head serves
//! every task.

use std::io::Read;

use exp_plugin_api::sdk::{
    Component, Config, Context, DataInfo, Dataset, PluginError, Result, Rng, Split,
};
use exp_plugin_api::tch::{Device, Kind, Tensor};

use super::tasks::{Construction, ConstructionConfig};

const DIGITS_GZ: &[u8] = include_bytes!("../../../../data/digits/digits.csv.gz");
const SIDE: i64 = 8;
const N_PIXELS: usize = 64;
const CLASSES: i64 = 10;
/// Intensities after scaling.
const RANGE: (f64, f64) = (0.0, 1.0);
const SOURCE: &str = "UCI Optical Recognition of Handwritten Digits (scikit-learn digits.csv.gz)";

#[derive(Debug, Clone, Config)]
pub struct DigitsConfig {
    /// fraction of each class held out as the test split
    #[param(default = 0.2, min = 0.05, max = 0.95)]
    pub test_fraction: f64,
    /// fraction of each class held out as the validation split, for choosing settings
    #[param(default = 0.0, min = 0.0, max = 0.5)]
    pub validation_fraction: f64,
    /// seed of the stratified split
    #[param(default = 0)]
    pub split_seed: u64,
    #[param(flatten)]
    pub construction: ConstructionConfig,
}

pub struct Digits {
    /// Inputs and targets of the train, validation and test splits.
    splits: [(Tensor, Tensor); 3],
    construction: Construction,
}

/// Parses the shipped CSV into pixel rows (0–16) and labels.
pub fn load_raw() -> Result<(Vec<[f32; N_PIXELS]>, Vec<i64>)> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_GZ)
        .read_to_string(&mut text)
        .map_err(|error| {
            PluginError::new(format!("cannot read the shipped digits file: {error}"))
        })?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (line_idx, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
    {
        let values: Vec<f32> = line
            .split(',')
            .map(|cell| cell.trim().parse::<f32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                PluginError::new(format!("digits file line {}: not a number", line_idx + 1))
            })?;
        if values.len() != N_PIXELS + 1 {
            return Err(PluginError::new(format!(
                "digits file line {}: expected {} columns, found {}",
                line_idx + 1,
                N_PIXELS + 1,
                values.len()
            )));
        }
        let mut image = [0f32; N_PIXELS];
        image.copy_from_slice(&values[..N_PIXELS]);
        images.push(image);
        labels.push(values[N_PIXELS] as i64);
    }
    Ok((images, labels))
}

/// The examples of each split, by index into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

/// Stratified split: within each class the examples are shuffled with `seed`; the first
/// `test_fraction` of them go to the test split, the next `validation_fraction` to the
/// validation split, the rest to the train split. Without a validation split this is the
/// split exp always made.
pub fn split_indices(
    labels: &[i64],
    test_fraction: f64,
    validation_fraction: f64,
    seed: u64,
) -> SplitIndices {
    let mut rng = Rng::new(seed);
    let (mut train, mut validation, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for class in 0..10 {
        let members: Vec<usize> = (0..labels.len())
            .filter(|idx| labels[*idx] == class)
            .collect();
        let order = rng.permutation(members.len());
        let n_test = (members.len() as f64 * test_fraction).round() as usize;
        let n_validation = (members.len() as f64 * validation_fraction).round() as usize;
        for (rank, position) in order.iter().enumerate() {
            let example = members[*position as usize];
            if rank < n_test {
                test.push(example);
            } else if rank < n_test + n_validation {
                validation.push(example);
            } else {
                train.push(example);
            }
        }
    }
    train.sort_unstable();
    validation.sort_unstable();
    test.sort_unstable();
    SplitIndices {
        train,
        validation,
        test,
    }
}

fn tensors(
    images: &[[f32; N_PIXELS]],
    labels: &[i64],
    picks: &[usize],
    device: Device,
) -> (Tensor, Tensor) {
    // Pixels are scaled from 0–16 to 0–1.
    let pixels: Vec<f32> = picks
        .iter()
        .flat_map(|idx| images[*idx].iter().map(|value| value / 16.0))
        .collect();
    let targets: Vec<i64> = picks.iter().map(|idx| labels[*idx]).collect();
    let x = Tensor::from_slice(&pixels)
        .reshape([picks.len() as i64, N_PIXELS as i64])
        .to_device(device);
    let y = Tensor::from_slice(&targets).to_device(device);
    (x, y)
}

impl Component for Digits {
    type Config = DigitsConfig;
    const NAME: &'static str = "digits";
    // 3: an optional validation split (none by default, which splits as version 2 did).
    const VERSION: &'static str = "3";
    const DOC: &'static str =
        "8×8 handwritten digits (UCI, 1,797 images, CC BY 4.0), pixels scaled to [0, 1]";

    fn check(config: &DigitsConfig) -> Result<()> {
        if config.test_fraction + config.validation_fraction > 0.95 {
            return Err(PluginError::in_field(
                "validation_fraction",
                format!(
                    "with `test_fraction` {} it leaves under 5% of the data for training",
                    config.test_fraction
                ),
            ));
        }
        Construction::new(&config.construction, CLASSES).map(|_| ())
    }

    fn create(config: DigitsConfig, context: &Context) -> Result<Self> {
        let construction = Construction::new(&config.construction, CLASSES)?;
        let (images, labels) = load_raw()?;
        let picks = split_indices(
            &labels,
            config.test_fraction,
            config.validation_fraction,
            config.split_seed,
        );
        let device = context.device();
        let split = |picks: &[usize]| -> Result<(Tensor, Tensor)> {
            let (x, y) = tensors(&images, &labels, picks, device);
            let (x, y) = construction.apply(&x.f_reshape([-1, SIDE, SIDE])?, &y, RANGE)?;
            Ok((x.f_reshape([-1, N_PIXELS as i64])?, y))
        };
        Ok(Digits {
            splits: [
                split(&picks.train)?,
                split(&picks.validation)?,
                split(&picks.test)?,
            ],
            construction,
        })
    }
}

impl Digits {
    fn split(&self, split: Split) -> &(Tensor, Tensor) {
        match split {
            Split::Train => &self.splits[0],
            Split::Validation => &self.splits[1],
            Split::Test => &self.splits[2],
        }
    }
}

impl Dataset for Digits {
    fn info(&self) -> DataInfo {
        let len = |split| self.split(split).1.size()[0];
        DataInfo {
            input_shape: vec![N_PIXELS as i64],
            classes: CLASSES,
            train_len: len(Split::Train),
            validation_len: len(Split::Validation),
            test_len: len(Split::Test),
            source: match self.construction.describe() {
                Some(task) => format!("{SOURCE}; task: {task}"),
                None => SOURCE.into(),
            },
            license: "CC-BY-4.0".into(),
            tokens: None,
            ..Default::default()
        }
    }

    fn batch(&self, split: Split, indices: &[i64]) -> Result<(Tensor, Tensor)> {
        let (x, y) = self.split(split);
        let len = y.size()[0];
        if let Some(bad) = indices.iter().find(|idx| **idx < 0 || **idx >= len) {
            return Err(PluginError::new(format!(
                "index {bad} is outside the {} split of {len} examples",
                match split {
                    Split::Train => "train",
                    Split::Validation => "validation",
                    Split::Test => "test",
                }
            )));
        }
        let index = Tensor::from_slice(indices).to_device(x.device());
        Ok((
            x.f_index_select(0, &index)?,
            y.f_index_select(0, &index)?.to_kind(Kind::Int64),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{load_raw, split_indices, Digits, SOURCE};
    use exp_plugin_api::sdk::{build, Context, Dataset, Split};
    use exp_plugin_api::serde_json::{json, Value};
    use exp_plugin_api::tch::Tensor;

    /// `digits` with the default split and `task` over the default construction.
    fn digits(task: Value) -> Digits {
        let context = Context {
            seed: 0,
            device: "cpu".into(),
            data: None,
        };
        build::<Digits>(task, &context).unwrap_or_else(|error| panic!("{error}"))
    }

    /// The whole of one split.
    fn all(data: &Digits, split: Split) -> (Tensor, Tensor) {
        let len = data.info().len(split);
        data.batch(split, &(0..len).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn label_filtering_keeps_only_those_classes_in_both_splits() {
        let plain = digits(json!({})).info();
        let task = digits(json!({"labels": [3, 7]}));
        let info = task.info();
        assert_eq!(info.classes, 10);
        assert!(info.train_len < plain.train_len / 4 && info.train_len > 0);
        assert!(info.test_len < plain.test_len / 4 && info.test_len > 0);
        for split in [Split::Train, Split::Test] {
            let labels = Vec::<i64>::try_from(&all(&task, split).1).unwrap();
            assert!(labels.iter().all(|label| [3, 7].contains(label)));
            assert!(labels.contains(&3) && labels.contains(&7));
        }
        assert_eq!(info.source, format!("{SOURCE}; task: labels [3, 7]"));
        assert_eq!(plain.source, SOURCE);
    }

    #[test]
    fn constructions_transform_the_images_of_both_splits() {
        let plain = digits(json!({}));
        for split in [Split::Train, Split::Test] {
            let (x, y) = all(&plain, split);
            let image = |data: &Digits| all(data, split).0.reshape([-1, 8, 8]);
            let rotated = image(&digits(json!({"rotate": 90})));
            assert!(rotated.equal(&x.reshape([-1, 8, 8]).rot90(1, [1, 2])));
            let inverted = digits(json!({"invert": true}));
            assert!(all(&inverted, split).0.equal(&(x.neg() + 1.0)));
            assert!(all(&inverted, split).1.equal(&y));
            let permuted = all(&digits(json!({"permute": 4})), split).0;
            assert!(!permuted.equal(&x));
            assert!(permuted.equal(&all(&digits(json!({"permute": 4})), split).0));
            // Same pixels per image, moved.
            assert!(permuted.sort(1, false).0.equal(&x.sort(1, false).0));
        }
        let everything =
            digits(json!({"labels": [1], "rotate": 180, "permute": 2, "invert": true}));
        assert_eq!(
            everything.info().source,
            format!("{SOURCE}; task: labels [1], rotate 180, permute 2, invert")
        );
    }

    #[test]
    fn the_shipped_file_has_1797_images_of_every_digit() {
        let (images, labels) = load_raw().unwrap();
        assert_eq!(images.len(), 1797);
        for class in 0..10 {
            assert!(labels.iter().filter(|label| **label == class).count() > 170);
        }
        assert!(images
            .iter()
            .flatten()
            .all(|pixel| (0.0..=16.0).contains(pixel)));
    }

    #[test]
    fn the_split_is_deterministic_stratified_and_disjoint() {
        let (_, labels) = load_raw().unwrap();
        let picks = split_indices(&labels, 0.2, 0.0, 0);
        let (train, test) = (&picks.train, &picks.test);
        assert_eq!(train.len() + test.len(), 1797);
        assert!(picks.validation.is_empty());
        assert!(train.iter().all(|idx| !test.contains(idx)));
        assert_eq!(split_indices(&labels, 0.2, 0.0, 0), picks);
        assert_ne!(&split_indices(&labels, 0.2, 0.0, 1).test, test);
        let zeros_in_test = test.iter().filter(|idx| labels[**idx] == 0).count();
        assert_eq!(zeros_in_test, 36); // 178 zeros × 0.2, rounded
                                       // A validation split comes out of the train split only: the test split is unchanged.
        let with_validation = split_indices(&labels, 0.2, 0.1, 0);
        assert_eq!(&with_validation.test, test);
        assert_eq!(
            with_validation.train.len() + with_validation.validation.len(),
            train.len()
        );
        assert!(with_validation
            .validation
            .iter()
            .all(|idx| train.contains(idx) && !with_validation.train.contains(idx)));
        let zeros_in_validation = with_validation
            .validation
            .iter()
            .filter(|idx| labels[**idx] == 0)
            .count();
        assert_eq!(zeros_in_validation, 18); // 178 zeros × 0.1, rounded
    }
}
