//! Datasets made by models: `caption(data, model)` fills in the labels a dataset lacks with a
//! model's predictions (synthetic captions), `sample(model, prompts)` draws one input per
//! prompt from a generative model. Both hold their examples as tensors, so they are stored in
//! the cache like a model and never recomputed for an unchanged graph.

use std::sync::Arc;

use exp_ir::graph::SampleSpec;
use exp_plugin_api::sdk::{Rng, Sampling, Split};
use tch::{Kind, Tensor};

use super::evaluate::{check_output, EVAL_BATCH};
use super::NodeRun;
use crate::artifact::{Artifact, DataSource, DatasetArtifact, Examples};
use crate::error::RunError;

/// The target that marks a missing label.
const MISSING: i64 = -100;
/// Conditions per `sample` call: bounds the memory of one batched sampling pass.
const SAMPLE_BATCH: i64 = 256;

/// `caption(data, model)`: every example of `data`, its missing labels predicted by `model`.
pub fn caption(ctx: &NodeRun) -> Result<Artifact, RunError> {
    let data = ctx.dataset_input("data")?;
    let source = ctx.model_input("model")?;
    let mut model = ctx.model_with_weights(source, ctx.node.seed)?;
    let mut splits = Vec::with_capacity(3);
    let mut filled = 0;
    for split in Split::ALL {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let len = data.info.len(split);
        if len == 0 {
            // An empty split keeps its shapes (`[0, ..]`), as the dataset gives them.
            let (x, y) = data
                .batch(split, &[])
                .map_err(|error| ctx.plugin_error(error))?;
            xs.push(x.to_device(tch::Device::Cpu));
            ys.push(y.to_device(tch::Device::Cpu));
        }
        for start in (0..len).step_by(EVAL_BATCH as usize) {
            let indices: Vec<i64> = (start..(start + EVAL_BATCH).min(len)).collect();
            let (x, y) = data
                .batch(split, &indices)
                .map_err(|error| ctx.plugin_error(error))?;
            let missing = y.eq(MISSING);
            let count = missing.sum(Kind::Int64).int64_value(&[]);
            let y = if count == 0 {
                y
            } else {
                let output = tch::no_grad(|| model.forward(&x, false))
                    .map_err(|error| ctx.plugin_error(error))?;
                check_output(ctx, &model, &output, &y, data.info.classes)?;
                filled += count;
                let predicted = output.argmax(-1, false).to_device(y.device());
                predicted.where_self(&missing, &y)
            };
            xs.push(x.to_device(tch::Device::Cpu));
            ys.push(y.to_device(tch::Device::Cpu));
        }
        splits.push(concatenated(&xs, &ys));
    }
    ctx.run_dir
        .log_metric(ctx.name(), None, "train", "labels_filled", filled as f64);
    let model_node = ctx.input_name("model");
    let mut info = data.info.clone();
    info.source = format!(
        "{}, labels it lacked predicted by `{model_node}`",
        info.source
    );
    Ok(Artifact::Dataset(DatasetArtifact {
        info,
        source: DataSource::Examples(Arc::new(Examples::new(splits))),
        component: data.component.clone(),
        device: ctx.device,
    }))
}

/// `sample(model, prompts) { .. }`: one input drawn from `model` for each of the first
/// `count` examples of each of the prompts' splits, conditioned on its targets.
pub fn sample(ctx: &NodeRun, spec: &SampleSpec) -> Result<Artifact, RunError> {
    let source = ctx.model_input("model")?;
    let data = ctx.dataset_input("data")?;
    let mut model = ctx.model_with_weights(source, ctx.node.seed)?;
    let mut info = data.info.clone();
    let mut splits: Vec<(Tensor, Tensor)> = Vec::with_capacity(3);
    for split in Split::ALL {
        let (x, y) = if spec.splits.iter().any(|word| word == split.word()) {
            draw_split(ctx, &mut model, data, split, spec)?
        } else {
            // A split not asked for: empty, in the prompts' shapes.
            data.batch(split, &[])
                .map_err(|error| ctx.plugin_error(error))?
        };
        info.set_len(split, x.size()[0]);
        splits.push((x, y));
    }
    if spec.grid > 0 {
        write_grid(ctx, &splits[grid_split(spec).index()].0, spec.grid)?;
    }
    info.source = format!(
        "samples of `{}` ({}) for the captions of `{}`",
        ctx.input_name("model"),
        spec.summary(),
        ctx.input_name("data")
    );
    info.license = "generated".to_string();
    info.licenses.clear();
    Ok(Artifact::Dataset(DatasetArtifact {
        info,
        source: DataSource::Examples(Arc::new(Examples::new(splits))),
        component: data.component.clone(),
        device: ctx.device,
    }))
}

/// The split whose samples the grid shows: the test split's when drawn, else the first.
pub fn grid_split(spec: &SampleSpec) -> Split {
    let drawn: Vec<Split> = spec
        .splits
        .iter()
        .filter_map(|word| Split::from_word(word))
        .collect();
    if drawn.contains(&Split::Test) {
        Split::Test
    } else {
        drawn.first().copied().unwrap_or(Split::Test)
    }
}

/// The samples of one split of the prompts: `[count, ..input shape]` and their conditions.
fn draw_split(
    ctx: &NodeRun,
    model: &mut exp_plugin_api::host::ForeignModel,
    data: &DatasetArtifact,
    split: Split,
    spec: &SampleSpec,
) -> Result<(Tensor, Tensor), RunError> {
    let available = data.info.len(split);
    let count = spec
        .count
        .map_or(available, |count| (count as i64).min(available));
    if count == 0 {
        return Err(RunError::Mismatch {
            node: ctx.name().to_string(),
            message: format!(
                "`{}` has no {} split to take prompts from; hold one out in its definition",
                ctx.input_name("data"),
                split.word()
            ),
        });
    }
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (chunk, start) in (0..count).step_by(SAMPLE_BATCH as usize).enumerate() {
        let indices: Vec<i64> = (start..(start + SAMPLE_BATCH).min(count)).collect();
        let (_, conditions) = data
            .batch(split, &indices)
            .map_err(|error| ctx.plugin_error(error))?;
        let options = Sampling {
            steps: spec.steps,
            guidance: spec.guidance,
            eta: spec.eta,
            // A stream per split and chunk, so a sample depends on its place only.
            seed: Rng::new(
                ctx.node.seed
                    ^ ((split.index() as u64) << 32 | chunk as u64)
                        .wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
            .next_u64(),
        };
        let samples = tch::no_grad(|| model.sample(&conditions.to_device(ctx.device), &options))
            .map_err(|error| ctx.plugin_error(error))?;
        let mut expected = vec![indices.len() as i64];
        expected.extend(&data.info.input_shape);
        if samples.size() != expected {
            let (component, plugin) = model.identity();
            return Err(RunError::Contract {
                node: ctx.name().to_string(),
                component: component.to_string(),
                plugin: plugin.to_string(),
                message: format!(
                    "broke the sampling contract: `sample` returned shape {:?} for {} \
                     conditions; expected {expected:?} (one input of the dataset's shape each)",
                    samples.size(),
                    indices.len()
                ),
            });
        }
        xs.push(samples.to_kind(Kind::Float).to_device(tch::Device::Cpu));
        ys.push(conditions.to_device(tch::Device::Cpu));
    }
    Ok(concatenated(&xs, &ys))
}

/// Where a sample dataset's picture goes: `samples/<node>.png`.
pub fn grid_path(run_dir: &crate::run_dir::RunDir, node: &str) -> std::path::PathBuf {
    run_dir.path.join("samples").join(format!("{node}.png"))
}

/// Draws the first `grid` images as a PNG grid.
pub fn write_grid(ctx: &NodeRun, images: &Tensor, grid: u64) -> Result<(), RunError> {
    let path = grid_path(ctx.run_dir, ctx.name());
    write_grid_at(&path, images, grid).map_err(|message| RunError::Mismatch {
        node: ctx.name().to_string(),
        message: format!(
            "cannot draw the samples into `{}`: {message}",
            path.display()
        ),
    })
}

/// The same, outside a running node (a restore from the cache).
pub fn write_grid_at(path: &std::path::Path, images: &Tensor, grid: u64) -> Result<(), String> {
    let shown = images.size()[0].min(grid as i64);
    let size = images.size();
    let (channels, height, width) = match size[1..] {
        [channels, height, width] if channels == 1 || channels == 3 => (channels, height, width),
        _ => {
            return Err(format!(
                "images of shape {size:?} are not [n, 1 or 3, h, w]"
            ))
        }
    };
    // [-1, 1] to bytes, laid out [n, h, w, channels].
    let bytes = images
        .narrow(0, 0, shown)
        .clamp(-1.0, 1.0)
        .g_add_scalar(1.0)
        .g_mul_scalar(127.5)
        .round()
        .to_kind(Kind::Uint8)
        .permute([0, 2, 3, 1])
        .contiguous();
    let pixels = Vec::<u8>::try_from(bytes.flatten(0, -1)).map_err(|error| error.to_string())?;
    crate::plots::write_image_grid(
        path,
        &pixels,
        crate::plots::ImageShape {
            count: shown as usize,
            height: height as usize,
            width: width as usize,
            channels: channels as usize,
        },
    )
    .map_err(|error| error.to_string())
}

/// Batches joined into one split, (inputs, targets).
fn concatenated(xs: &[Tensor], ys: &[Tensor]) -> (Tensor, Tensor) {
    (Tensor::cat(xs, 0), Tensor::cat(ys, 0))
}
