//! Image generation for exp: captioned, licensed images and a diffusion model over them.
//!
//! A toy CommonCanvas (study 9 of the spec): `shapes` generates small images whose captions are
//! their attributes (shape, colour, size) and whose licences come from a fixed mix, so a run can
//! keep only permitted licences and replace true captions with synthetic ones; `unet` is a
//! caption-conditioned DDPM trained on them and sampled with DDIM and classifier-free
//! guidance; `attribute_net` reads the attributes back from an image (the captioner, and the
//! independent judge of samples); `agreement` scores its predictions against captions.
//!
//! - `schedule`: the noise schedules and the forward process, shared by training and sampling.
//! - `seeding`: independent random streams keyed by a seed and an index.
//! - `layers`: the PyTorch-initialised layers both networks are built from.

pub mod dataset;
pub mod evaluator;
pub mod layers;
pub mod model;
pub mod schedule;
pub mod seeding;

exp_plugin_api::export_plugin! {
    name: "diffusion",
    version: env!("CARGO_PKG_VERSION"),
    datasets: [dataset::shapes::Shapes],
    models: [model::unet::UNet, model::attribute_net::AttributeNet],
    evaluators: [evaluator::agreement::Agreement],
}
