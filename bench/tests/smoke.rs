//! Runs the harness in `--smoke` mode through the built binary. It asserts what the harness
//! prints, never timings: the suite's test.sh builds `exp` and the plugin libraries
//! (`libexp_std.so`, `libexp_text.so`, `libexp_diffusion.so`) beside `exp-bench` before the
//! tests run.

use std::process::Command;

#[test]
fn smoke_run_prints_a_line_per_model_with_both_timings_and_a_ratio() {
    let output = Command::new(env!("CARGO_BIN_EXE_exp-bench"))
        .arg("--smoke")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    for model in ["digits-mlp", "digits-convnet", "gpt-1m", "unet-16px"] {
        let line = stdout
            .lines()
            .find(|line| line.starts_with(&format!("model {model}: ")))
            .unwrap_or_else(|| panic!("no line for {model} in:\n{stdout}"));
        for part in [" ms/step, pytorch ", " ms/step, ratio exp/pytorch "] {
            assert!(line.contains(part), "{line}");
        }
    }
    assert!(stdout.contains("plugin boundary: "), "{stdout}");
    assert!(
        stdout.contains("cached rerun: `experiments/quickstart.exp`: first run ")
            && stdout.contains("every node from the cache"),
        "{stdout}"
    );
    let results = stdout
        .lines()
        .find_map(|line| line.strip_prefix("results: "))
        .unwrap();
    assert!(!results.ends_with("bench/RESULTS.md"), "{results}");
    let markdown = std::fs::read_to_string(results).unwrap();
    assert!(
        markdown.contains("## exp against PyTorch eager"),
        "{markdown}"
    );
    assert!(
        markdown.contains("## U-Net (diffusion): exp against PyTorch eager")
            && markdown.contains("compared for magnitude only"),
        "{markdown}"
    );
    std::fs::remove_dir_all(std::path::Path::new(results).parent().unwrap()).unwrap();
}
