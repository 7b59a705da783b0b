//! CUDA against CPU, run only with `EXP_GPU_TESTS=1` (the project's switch for device tests).
//!
//! Weights are drawn on the CPU, so a seed gives the same model on both devices; dropout masks
//! are exact integer hashes, so they agree too.

use exp_plugin_api::sdk::Rng;
use exp_plugin_api::tch::{Device, Kind};
use exp_text::gpt::{Gpt, GptConfig};

use super::{max_abs_diff, random_ids, randomise, tiny, variants};

fn gpu_tests_enabled() -> bool {
    std::env::var("EXP_GPU_TESTS").as_deref() == Ok("1")
}

#[test]
fn cuda_computes_what_the_cpu_computes() {
    if !gpu_tests_enabled() {
        return;
    }
    assert!(
        exp_plugin_api::tch::Cuda::is_available(),
        "EXP_GPU_TESTS=1 but libtorch sees no CUDA device"
    );
    let cuda = Device::Cuda(0);
    for (positions, mlp) in variants() {
        let config = GptConfig {
            dropout: 0.2,
            ..tiny(positions, mlp)
        };
        let build_on = |device| {
            let mut model = Gpt::new(&config, &mut Rng::new(80), device).unwrap();
            model.to_kind(Kind::Double).unwrap();
            randomise(&model, 81);
            model
        };
        let (cpu_model, cuda_model) = (build_on(Device::Cpu), build_on(cuda));
        let ids = random_ids(&mut Rng::new(82), 3, 16, 37);
        let cpu_logits = cpu_model.forward(&ids, false).unwrap();
        let cuda_logits = cuda_model.forward(&ids.to_device(cuda), false).unwrap();
        let diff = max_abs_diff(&cpu_logits, &cuda_logits.to_device(Device::Cpu));
        assert!(
            diff < 1e-9,
            "{positions:?} {mlp:?}: eval logits differ by {diff}"
        );
        let cpu_train = cpu_model.forward(&ids, true).unwrap();
        let cuda_train = cuda_model.forward(&ids.to_device(cuda), true).unwrap();
        let diff = max_abs_diff(&cpu_train, &cuda_train.to_device(Device::Cpu));
        assert!(
            diff < 1e-9,
            "{positions:?} {mlp:?}: dropout masks differ ({diff})"
        );
        let prompts = vec![vec![1, 2, 3], vec![4; 9], vec![5]];
        assert_eq!(
            cpu_model.generate(&prompts, 8, None).unwrap(),
            cuda_model.generate(&prompts, 8, None).unwrap(),
            "{positions:?} {mlp:?}"
        );
    }
}
