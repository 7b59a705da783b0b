//! Study 9's parts through the real binary: the `shapes` images with their licences, a
//! captioner whose predictions fill in the missing captions (`caption(..)`), a U-Net sampled
//! into a dataset (`sample(..)`) that an independent judge scores, the licence policy over
//! per-image licences, and the cache keeping what models made.

use crate::support::{statuses, Test};

/// The value a node logged for a metric on a split (`metrics.jsonl`), without a step.
fn metric(test: &Test, out: &str, node: &str, split: &str, name: &str) -> f64 {
    let text = std::fs::read_to_string(test.path(&format!("{out}/metrics.jsonl"))).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|line| {
            line["node"] == node
                && line["split"] == split
                && line["name"] == name
                && line["step"].is_null()
        })
        .unwrap_or_else(|| panic!("{node} logged no {split} {name}:\n{text}"))["value"]
        .as_f64()
        .unwrap()
}

/// Tiny images (8×8), a captioner, a U-Net of a few steps, and samples scored by the
/// captioner; `{captioned}` is the fraction of training images with captions.
fn study(captioned: f64) -> String {
    format!(
        r#"import std.shapes
policy {{ licenses: ["CC0-1.0", "CC-BY-4.0"] }}
dataset few = shapes {{ count: 300, size: 8, licenses: ["CC0-1.0", "CC-BY-4.0"], captioned: {captioned} }}
dataset truth = shapes {{ count: 300, size: 8, licenses: ["CC0-1.0", "CC-BY-4.0"] }}
train learn_captions {{ model: captioner, data: truth, steps: 20 steps, batch: 32, optimizer: adamw {{ lr: 0.003 }} }}
dataset recaptioned = caption(few, learn_captions)
model gen = unet {{ width: 8, multipliers: [1, 2], timesteps: 40, groups: 4 }}
train fit {{ model: gen, data: recaptioned, steps: 4 steps, batch: 16, optimizer: adamw {{ lr: 0.001 }} }}
dataset drawn = sample(fit, few) {{ steps: 4, guidance: 2.0, count: 12, split: ["validation", "test"], grid: 9 }}
evaluate filled {{ model: learn_captions, data: recaptioned, metrics: [agreement], split: "train" }}
evaluate kept {{ model: learn_captions, data: recaptioned, metrics: [agreement], split: "validation" }}
evaluate original {{ model: learn_captions, data: few, metrics: [agreement], split: "validation" }}
evaluate scored {{ model: learn_captions, data: drawn, metrics: [agreement], split: ["validation", "test"] }}
"#
    )
}

#[test]
fn a_captioner_fills_in_missing_captions_and_a_unet_is_sampled_into_a_dataset() {
    let test = Test::new().file("study.exp", &study(0.0));
    let outcome = test.run_with(&["run", "study.exp", "--out", "first"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);

    // No training image had a caption: every label of the training split is the captioner's
    // own prediction, so it agrees with all of them; the validation split's true captions are
    // kept, so it scores there exactly as on the dataset it was made from.
    assert_eq!(metric(&test, "first", "filled", "train", "agreement"), 1.0);
    assert_eq!(
        metric(&test, "first", "kept", "validation", "agreement"),
        metric(&test, "first", "original", "validation", "agreement")
    );
    let filled = metric(&test, "first", "recaptioned", "train", "labels_filled");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.path("first/manifest.json")).unwrap())
            .unwrap();
    // Three attributes per training image, all of them missing.
    let fit = manifest["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["node"] == "fit")
        .unwrap();
    let source = &fit["sources"][0];
    let licenses = source["licenses"].as_object().unwrap();
    assert_eq!(
        licenses.keys().collect::<Vec<_>>(),
        ["CC-BY-4.0", "CC0-1.0"],
        "{source}"
    );
    let images: i64 = licenses.values().map(|count| count.as_i64().unwrap()).sum();
    assert!(images > 0 && images < 300, "{source}");
    assert!(
        filled > 0.0 && filled % 3.0 == 0.0 && filled < 3.0 * images as f64,
        "{filled}"
    );
    assert!(
        source["source"]
            .as_str()
            .unwrap()
            .contains("labels it lacked predicted by `learn_captions`"),
        "{source}"
    );

    // The samples: the two splits asked for, scored with prefixed validation metrics, and the
    // first nine drawn as a PNG grid.
    let scored = |split: &str, name: &str| metric(&test, "first", "scored", split, name);
    for split in ["validation", "test"] {
        let agreement = scored(split, "agreement");
        assert!((0.0..=1.0).contains(&agreement), "{agreement}");
    }
    let results = std::fs::read_to_string(test.path("first/results.csv")).unwrap();
    assert!(results.contains("validation_agreement"), "{results}");
    let grid = std::fs::read(test.path("first/samples/drawn.png")).unwrap();
    assert_eq!(&grid[..8], b"\x89PNG\r\n\x1a\n");
    // The run's HTML page carries the grid in itself (a PNG's signature, in base64).
    let outcome = test.run_with(&["report", "first", "--html"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let page = std::fs::read_to_string(test.path("first/report.html")).unwrap();
    assert!(
        page.contains("<section id=\"samples\">"),
        "no samples section"
    );
    assert!(
        page.contains("src=\"data:image/png;base64,iVBORw0KGgo"),
        "no embedded grid"
    );

    // The same file again without the cache: the same samples, bit for bit (the node's seed
    // drives every draw); with the cache: nothing runs, and the grid is drawn again.
    let outcome = test.run_with(&["run", "study.exp", "--out", "again", "--no-cache"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    assert_eq!(
        std::fs::read(test.path("again/samples/drawn.png")).unwrap(),
        grid
    );
    assert_eq!(
        scored("test", "agreement"),
        metric(&test, "again", "scored", "test", "agreement")
    );
    let outcome = test.run_with(&["run", "study.exp", "--out", "cached"]);
    assert_eq!(outcome.status, 0, "{}", outcome.stderr);
    let cached = statuses(&test, "cached");
    for node in ["recaptioned", "drawn", "fit", "scored"] {
        assert_eq!(cached[node], "cached", "{node}: {cached:?}");
    }
    assert_eq!(
        std::fs::read(test.path("cached/samples/drawn.png")).unwrap(),
        grid
    );
}

#[test]
fn the_licence_policy_refuses_images_with_a_licence_it_does_not_allow() {
    // Without a licence filter, `shapes` holds images under CC BY-NC and a proprietary licence.
    let file = r#"import std.shapes
policy { licenses: ["CC0-1.0", "CC-BY-4.0"] }
dataset everything = shapes { count: 100, size: 8 }
train fit { model: captioner, data: everything, steps: 2 steps, batch: 8, optimizer: adamw }
"#;
    let test = Test::new().file("refused.exp", file);
    let outcome = test.run_with(&["run", "refused.exp", "--out", "out"]);
    assert_eq!(outcome.status, 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(
            "dataset `everything` has licences `CC-BY-NC-4.0`, `LicenseRef-proprietary`, which \
             the experiment's policy does not allow"
        ),
        "{}",
        outcome.stderr
    );
    let statuses = statuses(&test, "out");
    assert_eq!(statuses["everything"], "failed", "{statuses:?}");
    assert_eq!(statuses["fit"], "skipped", "{statuses:?}");
}
