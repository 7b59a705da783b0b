//! The shape of a U-Net: the channels of every block, read from the parameters and the
//! dataset. The network is built from it, and the parameter count is computed from it without
//! building anything.

use exp_plugin_api::sdk::{DataInfo, PluginError, Result};

use super::UNetConfig;
use crate::layers::{conv_count, linear_count};
use crate::model::{attribute_values, image_shape};

/// The side of every convolution kernel but the residual blocks' 1×1 skips.
pub const KERNEL: i64 = 3;
/// The embedding is this many times the base width (diffusers' `time_embed_dim`).
const EMBEDDING_FACTOR: i64 = 4;

pub struct Plan {
    /// `[channels, height, width]` of the images.
    pub image: [i64; 3],
    /// The base width: the channels of `conv_in` and of the sinusoidal time features.
    pub width: i64,
    /// The channels of each level.
    pub channels: Vec<i64>,
    /// The width of the time-and-caption embedding.
    pub embedding: i64,
    pub groups: i64,
    /// How many values each caption attribute has (its table has one more row: "none").
    pub values: Vec<i64>,
}

impl Plan {
    pub fn new(config: &UNetConfig, data: &DataInfo) -> Result<Plan> {
        let image = image_shape(data, "unet", config.multipliers.len().saturating_sub(1))?;
        let values = attribute_values(data);
        if let Some(empty) = data.attributes.iter().find(|a| a.values.is_empty()) {
            return Err(PluginError::new(format!(
                "the dataset's caption attribute `{}` has no values",
                empty.name
            )));
        }
        Ok(Plan {
            image,
            width: config.width,
            channels: config
                .multipliers
                .iter()
                .map(|multiplier| config.width * multiplier)
                .collect(),
            embedding: EMBEDDING_FACTOR * config.width,
            groups: config.groups,
            values,
        })
    }

    pub fn levels(&self) -> usize {
        self.channels.len()
    }

    /// Input and output channels of the residual block of down level `level`.
    pub fn down_block(&self, level: usize) -> (i64, i64) {
        let input = match level {
            0 => self.width,
            _ => self.channels[level - 1],
        };
        (input, self.channels[level])
    }

    pub fn middle_block(&self) -> (i64, i64) {
        let deepest = self.channels[self.levels() - 1];
        (deepest, deepest)
    }

    /// Input and output channels of the residual block of up level `level`: what comes up
    /// from below (the middle block, or the level below's output) concatenated with the skip
    /// of down level `level`.
    pub fn up_block(&self, level: usize) -> (i64, i64) {
        let below = self.channels[(level + 1).min(self.levels() - 1)];
        (below + self.channels[level], self.channels[level])
    }

    /// Whether down level `level` ends with a stride-2 convolution (all but the deepest).
    pub fn downsamples(&self, level: usize) -> bool {
        level + 1 < self.levels()
    }

    /// Whether up level `level` ends with an upsampling (all but the shallowest).
    pub fn upsamples(&self, level: usize) -> bool {
        level > 0
    }

    /// Elements of every tensor of the network built from this plan.
    pub fn parameter_count(&self) -> i64 {
        let [image_channels, ..] = self.image;
        let resample = |channels: i64| conv_count(channels, channels, KERNEL);
        let mut count = conv_count(image_channels, self.width, KERNEL)
            + linear_count(self.width, self.embedding)
            + linear_count(self.embedding, self.embedding)
            + self
                .values
                .iter()
                .map(|values| (values + 1) * self.embedding)
                .sum::<i64>()
            + self.block_count(self.middle_block())
            + 2 * self.width
            + conv_count(self.width, image_channels, KERNEL);
        for level in 0..self.levels() {
            count +=
                self.block_count(self.down_block(level)) + self.block_count(self.up_block(level));
            if self.downsamples(level) {
                count += resample(self.channels[level]);
            }
            if self.upsamples(level) {
                count += resample(self.channels[level]);
            }
        }
        count
    }

    /// Elements of a residual block: two norms, two convolutions, the FiLM map (a scale and a
    /// shift per output channel) and a 1×1 skip when the channels change.
    fn block_count(&self, (input, output): (i64, i64)) -> i64 {
        let skip = if input == output {
            0
        } else {
            conv_count(input, output, 1)
        };
        2 * input
            + conv_count(input, output, KERNEL)
            + linear_count(self.embedding, 2 * output)
            + 2 * output
            + conv_count(output, output, KERNEL)
            + skip
    }
}
