//! Tests of `shapes`, built the way the host builds it.

use exp_plugin_api::sdk::{build, Component, Context, Dataset, Split};
use exp_plugin_api::serde_json::{json, Value};
use exp_plugin_api::tch::{Kind, Tensor};

use super::draw::{Example, RGB};
use super::{Shapes, ShapesConfig, UNLABELLED};
use crate::seeding::stream;

fn context(seed: u64) -> Context {
    Context {
        seed,
        device: "cpu".into(),
        data: None,
    }
}

/// `shapes` of 400 8×8 examples with `params` on top.
fn shapes(params: Value) -> Shapes {
    let mut all = json!({"count": 400, "size": 8});
    for (key, value) in params.as_object().unwrap() {
        all[key] = value.clone();
    }
    build::<Shapes>(all, &context(0)).unwrap_or_else(|error| panic!("{error}"))
}

/// The whole of one split.
fn all(data: &Shapes, split: Split) -> (Tensor, Tensor) {
    let len = data.info().len(split);
    data.batch(split, &(0..len).collect::<Vec<_>>()).unwrap()
}

fn rows(targets: &Tensor) -> Vec<Vec<i64>> {
    Vec::<Vec<i64>>::try_from(targets).unwrap()
}

#[test]
fn data_depends_on_its_seed_parameter_not_on_the_nodes() {
    let params = json!({"count": 50, "size": 8});
    let first = build::<Shapes>(params.clone(), &context(1)).unwrap();
    let second = build::<Shapes>(params, &context(2)).unwrap();
    let other = shapes(json!({"count": 50, "seed": 1}));
    for split in [Split::Train, Split::Validation, Split::Test] {
        let (x, y) = all(&first, split);
        assert!(x.equal(&all(&second, split).0) && y.equal(&all(&second, split).1));
        assert!(!x.equal(&all(&other, split).0));
    }
    let info = first.info();
    assert_eq!(info.input_shape, vec![3, 8, 8]);
    assert_eq!(
        (info.train_len, info.validation_len, info.test_len),
        (40, 5, 5)
    );
    assert_eq!(info.classes, 4);
    let names: Vec<&str> = info.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["shape", "colour", "size"]);
    assert_eq!(info.attributes[2].values, ["small", "large"]);
    assert_eq!(info.source, "generated: shapes, 8×8 (seed 0)");
}

#[test]
fn pixels_show_the_captioned_shape_in_its_colour() {
    let data = shapes(json!({"count": 60}));
    let (x, y) = all(&data, Split::Train);
    assert_eq!(x.kind(), Kind::Float);
    assert!(x.abs().max().double_value(&[]) <= 1.0);
    let pixels = Vec::<f32>::try_from(x.reshape([-1])).unwrap();
    for (index, (image, target)) in pixels.chunks_exact(3 * 64).zip(rows(&y)).enumerate() {
        // Without a licence filter the train split is the first examples generated.
        let example = Example::draw(&mut stream(0, index as u64), 8);
        assert_eq!(target, example.target());
        let inside = |x: usize, y: usize| {
            (example.left..example.left + example.extent).contains(&x)
                && (example.top..example.top + example.extent).contains(&y)
        };
        let mut means = [0f32; 3];
        for (position, value) in image.iter().enumerate() {
            let (channel, row, column) = (position / 64, position % 64 / 8, position % 8);
            if inside(column, row) {
                means[channel] += value / (example.extent * example.extent) as f32;
            } else {
                // The background: 0.1 ± 0.04, mapped to [−1, 1].
                assert!((value + 0.8).abs() <= 0.0801, "{value}");
            }
        }
        let ink = RGB[example.colour];
        for lit in (0..3).filter(|channel| ink[*channel] > 0.0) {
            for unlit in (0..3).filter(|channel| ink[*channel] == 0.0) {
                assert!(means[lit] > means[unlit] + 0.5, "{example:?}: {means:?}");
            }
        }
    }
}

#[test]
fn the_licence_filter_keeps_the_same_examples_and_counts_them() {
    let everything = shapes(json!({}));
    let info = everything.info();
    assert_eq!(info.licenses.values().sum::<i64>(), 400);
    assert_eq!(
        info.license,
        "CC-BY-4.0, CC-BY-NC-4.0, CC0-1.0, LicenseRef-proprietary"
    );
    // The mix is 40/30/20/10%: with 400 draws each count is within 4 standard deviations.
    for (name, share) in super::LICENSE_MIX {
        let expected = 400.0 * share;
        let deviation = (400.0 * share * (1.0 - share)).sqrt();
        assert!((info.licenses[name] as f64 - expected).abs() < 4.0 * deviation);
    }

    let open = shapes(json!({"licenses": ["CC0-1.0", "CC-BY-4.0"]}));
    let kept = open.info();
    assert_eq!(kept.licenses.len(), 2);
    assert_eq!(kept.licenses["CC0-1.0"], info.licenses["CC0-1.0"]);
    assert_eq!(kept.licenses["CC-BY-4.0"], info.licenses["CC-BY-4.0"]);
    let total = kept.train_len + kept.validation_len + kept.test_len;
    assert_eq!(total, kept.licenses.values().sum::<i64>());
    assert_eq!(kept.license, "CC-BY-4.0, CC0-1.0");
    // The first kept example is the first generated one with an open licence, unchanged.
    let first_open = (0..)
        .find(|index| Example::draw(&mut stream(0, *index), 8).license <= 1)
        .unwrap();
    let (x, _) = all(&everything, Split::Train);
    let (kept_x, _) = open.batch(Split::Train, &[0]).unwrap();
    assert!(kept_x.equal(&x.narrow(0, first_open as i64, 1)));
}

#[test]
fn only_a_fraction_of_the_train_examples_keeps_its_captions() {
    let full = shapes(json!({}));
    let partial = shapes(json!({"captioned": 0.25}));
    let (x, y) = all(&partial, Split::Train);
    assert!(x.equal(&all(&full, Split::Train).0));
    let targets = rows(&y);
    let unlabelled = targets
        .iter()
        .filter(|row| row.iter().all(|value| *value == UNLABELLED))
        .count();
    let labelled = rows(&all(&full, Split::Train).1);
    assert_eq!(targets.len(), 320);
    assert_eq!(unlabelled, 320 - 80);
    for (row, truth) in targets.iter().zip(&labelled) {
        assert!(row == truth || row.iter().all(|value| *value == UNLABELLED));
    }
    for split in [Split::Validation, Split::Test] {
        assert!(all(&partial, split).1.equal(&all(&full, split).1));
        assert!(rows(&all(&partial, split).1)
            .iter()
            .flatten()
            .all(|v| *v >= 0));
    }
}

#[test]
fn unknown_licences_and_bad_indices_are_refused() {
    let config = ShapesConfig {
        count: 10,
        size: 8,
        seed: 0,
        validation_fraction: 0.1,
        test_fraction: 0.1,
        captioned: 1.0,
        licenses: vec!["CC0-1.0".into(), "MIT".into()],
    };
    let error = Shapes::check(&config).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("licenses"));
    assert!(
        error.message.contains("`MIT`") && error.message.contains("`LicenseRef-proprietary`"),
        "{error}"
    );
    let data = shapes(json!({"count": 10}));
    let error = data.batch(Split::Test, &[0, 1]).unwrap_err();
    assert_eq!(
        error.message,
        "index 1 is outside the test split of 1 examples"
    );
}
