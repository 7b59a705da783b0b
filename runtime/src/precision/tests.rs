use super::*;

fn param_with_grad(values: &[f32], grad: &[f32]) -> Tensor {
    let param = Tensor::from_slice(values).set_requires_grad(true);
    let loss = (&param * Tensor::from_slice(grad)).sum(Kind::Float);
    loss.backward();
    param
}

#[test]
fn the_global_norm_is_the_norm_of_every_gradient_together() {
    let a = param_with_grad(&[1.0, 1.0], &[3.0, 0.0]);
    let b = param_with_grad(&[1.0], &[4.0]);
    let norm = f64::try_from(grad_norm(&[a, b]).unwrap()).unwrap();
    assert!((norm - 5.0).abs() < 1e-6, "{norm}");
    let untouched = Tensor::from_slice(&[1.0f32]).set_requires_grad(true);
    assert!(grad_norm(&[untouched]).is_none());
}

#[test]
fn clipping_scales_to_the_limit_as_pytorch_does_and_leaves_small_gradients() {
    let a = param_with_grad(&[1.0, 1.0], &[3.0, 0.0]);
    let b = param_with_grad(&[1.0], &[4.0]);
    let params = [a, b];
    let norm = grad_norm(&params).unwrap();
    clip_gradients(&params, &norm, 1.0);
    // PyTorch: factor = 1 / (5 + 1e-6).
    let factor = 1.0 / (5.0 + 1e-6);
    let grads: Vec<f32> = Vec::try_from(params[0].grad()).unwrap();
    assert!((grads[0] as f64 - 3.0 * factor).abs() < 1e-6, "{grads:?}");
    assert_eq!(grads[1], 0.0);
    let after = f64::try_from(grad_norm(&params).unwrap()).unwrap();
    assert!((after - 1.0).abs() < 1e-5, "{after}");

    let small = [param_with_grad(&[1.0], &[0.5])];
    let norm = grad_norm(&small).unwrap();
    clip_gradients(&small, &norm, 1.0);
    assert_eq!(Vec::<f32>::try_from(small[0].grad()).unwrap(), vec![0.5]);
}

#[test]
fn the_loss_scale_halves_on_overflow_skipping_the_step_and_doubles_after_2000_good_steps() {
    let mut scale = LossScale::default();
    assert_eq!(scale.scale, 65536.0);
    assert!(!scale.update(false));
    assert_eq!((scale.scale, scale.skipped), (32768.0, 1));
    for step in 1..2000 {
        assert!(scale.update(true));
        assert_eq!(scale.good_steps, step);
    }
    assert_eq!(scale.scale, 32768.0);
    assert!(scale.update(true));
    assert_eq!((scale.scale, scale.good_steps), (65536.0, 0));
    assert_eq!(LossScale::from_json(&scale.to_json()), Some(scale.clone()));

    let param = param_with_grad(&[1.0], &[8.0]);
    LossScale {
        scale: 4.0,
        ..LossScale::default()
    }
    .unscale(std::slice::from_ref(&param));
    assert_eq!(Vec::<f32>::try_from(param.grad()).unwrap(), vec![2.0]);
}

#[test]
fn autocast_is_on_inside_the_region_only_and_casts_matrix_products() {
    let a = Tensor::ones([2, 2], (Kind::Float, Device::Cpu));
    assert!(!Autocast::is_on(Device::Cpu));
    {
        let _region = Autocast::enter("n", Precision::Bf16, Device::Cpu)
            .unwrap()
            .unwrap();
        assert!(Autocast::is_on(Device::Cpu));
        assert_eq!(a.matmul(&a).kind(), Kind::BFloat16);
        // What needs the range stays in 32 bits.
        assert_eq!(a.log_softmax(-1, None).kind(), Kind::Float);
    }
    assert!(!Autocast::is_on(Device::Cpu));
    assert_eq!(a.matmul(&a).kind(), Kind::Float);
    {
        let _region = Autocast::enter("n", Precision::Fp16, Device::Cpu)
            .unwrap()
            .unwrap();
        assert_eq!(a.matmul(&a).kind(), Kind::Half);
    }
    assert!(Autocast::enter("n", Precision::Fp32, Device::Cpu)
        .unwrap()
        .is_none());
}
