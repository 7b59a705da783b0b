//! The standard components of exp. This crate is an ordinary plugin: it sees only the SDK, and
//! the host loads it through the same path as a third party's plugin.

pub mod dataset;
pub mod evaluator;
pub mod merger;
pub mod model;
pub mod optimizer;
pub mod regularizer;
pub mod scheduler;

exp_plugin_api::export_plugin! {
    name: "std",
    version: env!("CARGO_PKG_VERSION"),
    datasets: [dataset::digits::Digits],
    models: [model::mlp::Mlp, model::convnet::ConvNet],
    optimizers: [optimizer::sgd::Sgd, optimizer::adamw::AdamW],
    schedulers: [scheduler::Constant, scheduler::Linear, scheduler::Cosine, scheduler::Step, scheduler::Piecewise],
    evaluators: [evaluator::accuracy::Accuracy, evaluator::loss::Loss],
    mergers: [
        merger::average::Average,
        merger::wise_ft::WiseFt,
        merger::sfa::Sfa,
        merger::task_arithmetic::TaskArithmetic,
        merger::ties::Ties,
    ],
    regularizers: [regularizer::l2::L2, regularizer::ewc::Ewc],
}
