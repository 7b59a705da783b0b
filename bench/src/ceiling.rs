//! The machine's fp32 matmul ceiling, measured in the same run as the models: the best rate of
//! square `matmul`s on libtorch (the same library both sides use) with the intra-op thread count
//! of the benchmark. Each size is warmed up, then timed repeatedly for a fixed budget, and the
//! fastest repetition counts; the ceiling is the best size.

use std::time::{Duration, Instant};

use exp_plugin_api::sdk::Rng;

/// FLOP/s of the fastest square fp32 matmul among `sizes`.
pub fn matmul_flops(threads: usize, sizes: &[i64], budget: Duration) -> f64 {
    exp_plugin_api::tch::set_num_threads(threads as i32);
    let mut rng = Rng::new(7);
    let mut best: f64 = 0.0;
    for &n in sizes {
        let a = rng.uniform(&[n, n], -1.0, 1.0);
        let b = rng.uniform(&[n, n], -1.0, 1.0);
        for _ in 0..2 {
            let _ = a.matmul(&b);
        }
        let started = Instant::now();
        let mut fastest = f64::INFINITY;
        while started.elapsed() < budget {
            let rep = Instant::now();
            let _ = a.matmul(&b);
            fastest = fastest.min(rep.elapsed().as_secs_f64());
        }
        best = best.max(2.0 * (n * n * n) as f64 / fastest);
    }
    best
}
