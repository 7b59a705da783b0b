//! Tests of `ties`: worked examples by hand, numbers produced by the two reference
//! implementations themselves, and comparisons with independent computations written from
//! each convention's rule in plain loops over `Vec<f64>` (no tensor code).

use exp_plugin_api::sdk::{build, Context, Merger};
use exp_plugin_api::tch::{Kind, Tensor};

use self::by_rule::{mergekit_by_rule, paper_by_rule};
use super::{ties, ties_mergekit, Convention, Ties};

mod by_rule;
mod random;

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

/// For each tensor name, that tensor of the pre-trained model and of each fine-tune.
type Model = Vec<(String, Vec<Tensor>)>;

fn t32(values: &[f32]) -> Tensor {
    Tensor::from_slice(values)
}

fn values(tensor: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(tensor.to_kind(Kind::Double).flatten(0, -1)).unwrap()
}

fn assert_close(found: &[f64], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(found.len(), expected.len(), "{what}: lengths differ");
    for (index, (got, want)) in found.iter().zip(expected).enumerate() {
        assert!(
            (got - want).abs() <= tolerance * (1.0 + want.abs()),
            "{what}: [{index}] is {got}, expected {want}\n found {found:?}\n expected {expected:?}"
        );
    }
}

/// A model of one tensor `w` whose pre-trained values are `pre` and whose fine-tunes are
/// `pre + tau` for each task vector.
fn one_tensor(pre: &[f32], taus: &[&[f32]]) -> Model {
    let pre_tensor = t32(pre);
    let mut inputs = vec![pre_tensor.shallow_clone()];
    inputs.extend(taus.iter().map(|tau| &pre_tensor + t32(tau)));
    vec![("w".into(), inputs)]
}

fn merge(
    convention: Convention,
    model: &Model,
    density: f64,
    lambda: f64,
    weights: &[f64],
    normalize: bool,
) -> Vec<Vec<f64>> {
    ties(convention, model, density, lambda, weights, normalize)
        .unwrap()
        .iter()
        .map(values)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Worked examples (the ones in docs/language.md).
// ---------------------------------------------------------------------------------------------

/// τ_1 = [4, −1, 0.5, 3, −2], τ_2 = [−2, 1, 1, −3, 0.5] from a zero model, density 0.5.
const TAU_1: [f32; 5] = [4.0, -1.0, 0.5, 3.0, -2.0];
const TAU_2: [f32; 5] = [-2.0, 1.0, 1.0, -3.0, 0.5];

/// mergekit: k = max(1, ⌊0.5·5⌋) = 2 per task vector.
///   τ_1 keeps 4 and 3: [4, 0, 0, 3, 0];  τ_2 keeps −3 and −2: [−2, 0, 0, −3, 0].
///   Sums [2, 0, 0, 0, 0]: every coordinate elects + (a zero sum counts as positive).
///   [0]: 4 agrees → 4.  [3]: 3 − 3 = 0 → +, so 3 agrees → 3.  The rest: nothing agrees → 0.
/// With weights [1, 2]: τ_2 becomes [−4, 0, 0, −6, 0]; [0] sums to 0 → +, 4/1 = 4;
/// [3] sums to −3 → −, −6/2 = −3; without normalize, −6.
#[test]
fn mergekit_worked_example() {
    let model = one_tensor(&[0.0; 5], &[&TAU_1, &TAU_2]);
    let merged = merge(Convention::Mergekit, &model, 0.5, 1.0, &[], true);
    assert_eq!(merged[0], vec![4.0, 0.0, 0.0, 3.0, 0.0]);
    let merged = merge(Convention::Mergekit, &model, 0.5, 1.0, &[1.0, 2.0], true);
    assert_eq!(merged[0], vec![4.0, 0.0, 0.0, -3.0, 0.0]);
    let merged = merge(Convention::Mergekit, &model, 0.5, 1.0, &[1.0, 2.0], false);
    assert_eq!(merged[0], vec![4.0, 0.0, 0.0, -6.0, 0.0]);
}

/// paper: m = ⌊0.5·5⌋ = 2, so each task vector keeps what reaches its 3rd largest magnitude.
///   τ_1: 3rd largest 2, keeps 4, 3, −2: [4, 0, 0, 3, −2].
///   τ_2: 3rd largest 1, keeps −2, 1, 1, −3 (two tied at 1): [−2, 1, 1, −3, 0].
///   Sums [2, 1, 1, 0, −2]: signs [+, +, +, 0, −]; three + against one −, so [3] takes +.
///   Means: [4, 1, 1, 3, −2].
#[test]
fn paper_worked_example() {
    let model = one_tensor(&[0.0; 5], &[&TAU_1, &TAU_2]);
    let merged = merge(Convention::Paper, &model, 0.5, 1.0, &[], true);
    assert_eq!(merged[0], vec![4.0, 1.0, 1.0, 3.0, -2.0]);
    // λ scales the merged task vector before the pre-trained model is added back.
    let shifted = one_tensor(&[1.0; 5], &[&TAU_1, &TAU_2]);
    let merged = merge(Convention::Paper, &shifted, 0.5, 0.5, &[], true);
    assert_eq!(merged[0], vec![3.0, 1.5, 1.5, 2.5, 0.0]);
}

// ---------------------------------------------------------------------------------------------
// Numbers produced by the reference implementations themselves.
// ---------------------------------------------------------------------------------------------

const PRE_W: [f32; 8] = [0.5, -0.25, 1.0, 0.0, 2.0, -1.0, 0.125, 3.0];
const PRE_B: [f32; 3] = [0.1, -0.2, 0.3];

/// A model of two tensors, `w` (8 entries, pre-trained `PRE_W`) and `b` (3, `PRE_B`), and three
/// task vectors. It has exact cancellations (w[0], w[3] of τ_1 and τ_2), ties at the trimming
/// threshold (|τ_3| has two 0.5s at the cut of a per-tensor top-4) and zeros.
fn fixture() -> Model {
    let tau_w: [[f32; 8]; 3] = [
        [0.75, -0.5, 0.25, 1.5, -0.125, 0.0, 2.0, -1.0],
        [-0.75, 0.5, 0.5, -1.5, 0.25, 1.0, -0.5, -1.0],
        [0.5, -0.25, -1.0, 0.5, 0.0, -2.0, 0.25, 1.0],
    ];
    let tau_b: [[f32; 3]; 3] = [[0.25, -3.0, 0.0], [-0.25, 0.5, 0.125], [0.0, 0.75, -0.125]];
    let w = one_tensor(&PRE_W, &[&tau_w[0], &tau_w[1], &tau_w[2]])
        .remove(0)
        .1;
    let b = one_tensor(&PRE_B, &[&tau_b[0], &tau_b[1], &tau_b[2]])
        .remove(0)
        .1;
    vec![("w".into(), w), ("b".into(), b)]
}

/// mergekit 0.1.5 itself, from PyPI, on CPU with torch 2.13, merging the fixture's float32
/// tensors with `mergekit.merge_methods.api.merge_tensors([pre, ft1, ft2, ft3], "ties",
/// parameters=..., base_index=0)`, one tensor at a time. Each case: its parameters, then the
/// merged `w` and `b` as mergekit printed them.
#[test]
fn matches_numbers_from_mergekit_itself() {
    let model = fixture();
    // (density, lambda, weights, normalize, merged w, merged b)
    type Case = (f64, f64, &'static [f64], bool, [f64; 8], [f64; 3]);
    let cases: [Case; 6] = [
        // density=0.5, weight=1.0
        (
            0.5,
            1.0,
            &[],
            true,
            [1.125, -0.25, 0.0, 1.5, 2.0, -3.0, 2.125, 2.0],
            [0.10000000149011612, -3.200000047683716, 0.30000001192092896],
        ),
        // density=0.5, weight=[1.0, 0.5, 2.0]
        (
            0.5,
            1.0,
            &[1.0, 0.5, 2.0],
            true,
            [1.0833332538604736, -0.25, 0.0, 1.5, 2.0, -3.0, 2.125, 4.0],
            [0.10000000149011612, -3.200000047683716, 0.30000001192092896],
        ),
        // density=0.5, weight=[1.0, 0.5, 2.0], normalize=False, lambda=0.7
        (
            0.5,
            0.7,
            &[1.0, 0.5, 2.0],
            false,
            [
                1.725000023841858,
                -0.25,
                -0.3999999761581421,
                1.0499999523162842,
                2.0,
                -3.799999952316284,
                1.524999976158142,
                4.400000095367432,
            ],
            [0.10000000149011612, -2.299999952316284, 0.30000001192092896],
        ),
        // density=1.0, weight=1.0
        (
            1.0,
            1.0,
            &[],
            true,
            [1.125, -0.625, 0.0, 1.0, 2.25, -3.0, 1.25, 2.0],
            [0.3499999940395355, -3.200000047683716, 0.42500001192092896],
        ),
        // density=0.01, weight=1.0: k = max(1, 0) = 1
        (
            0.01,
            1.0,
            &[],
            true,
            [0.5, -0.25, 1.0, -1.5, 2.0, -3.0, 2.125, 3.0],
            [0.10000000149011612, -3.200000047683716, 0.30000001192092896],
        ),
        // density=0.25, weight=1.0: k = 2 and |τ_2| ties at 1.0 (w[5], w[7]) across the cut
        (
            0.25,
            1.0,
            &[],
            true,
            [0.5, -0.25, 0.0, 1.5, 2.0, -3.0, 2.125, 3.0],
            [0.10000000149011612, -3.200000047683716, 0.30000001192092896],
        ),
    ];
    for (density, lambda, weights, normalize, want_w, want_b) in cases {
        let merged = merge(
            Convention::Mergekit,
            &model,
            density,
            lambda,
            weights,
            normalize,
        );
        let what = format!("density {density}, lambda {lambda}, weights {weights:?}");
        assert_close(&merged[0], &want_w, 1e-6, &format!("w, {what}"));
        assert_close(&merged[1], &want_b, 1e-6, &format!("b, {what}"));
    }

    // Equal and opposite task vectors (τ_2 = −τ_1), density=1.0: every sum is 0, so every
    // coordinate elects + and takes τ_1's or τ_2's positive entry.
    let tau = [0.75, -0.5, 0.25, 1.5, -0.125, 0.0, 2.0, -1.0];
    let opposite = tau.map(|value: f32| -value);
    let merged = merge(
        Convention::Mergekit,
        &one_tensor(&PRE_W, &[&tau, &opposite]),
        1.0,
        1.0,
        &[],
        true,
    );
    assert_close(
        &merged[0],
        &[1.25, 0.25, 1.25, 1.5, 2.125, -1.0, 2.125, 4.0],
        1e-6,
        "exact cancellation",
    );
}

/// The paper's reference code itself: the functions of `src/ties_minimal.ipynb` (cell
/// "TIES MERGING UTILS") run on CPU with torch 2.13 on the fixture flattened into one row per
/// task, `merged = ties_merging(flat_task_vectors, reset_thresh=K, merge_func=...)`, then
/// `flat_pre + lambda * merged`, as the notebook's example does.
#[test]
fn matches_numbers_from_the_paper_reference_code() {
    let model = fixture();
    // K=0.5, dis-mean, lambda=1
    let merged = merge(Convention::Paper, &model, 0.5, 1.0, &[], true);
    assert_close(
        &merged[0],
        &[1.125, -0.75, 0.0, 1.0, 2.0, -3.0, 2.125, 2.0],
        1e-6,
        "w, K=0.5",
    );
    assert_close(
        &merged[1],
        &[0.10000000149011612, -3.200000047683716, 0.30000001192092896],
        1e-6,
        "b, K=0.5",
    );
    // K=0.5, dis-sum, lambda=0.7
    let merged = merge(Convention::Paper, &model, 0.5, 0.7, &[], false);
    assert_close(
        &merged[0],
        &[
            1.375,
            -0.6000000238418579,
            0.30000001192092896,
            1.399999976158142,
            2.0,
            -2.4000000953674316,
            1.524999976158142,
            1.600000023841858,
        ],
        1e-6,
        "w, K=0.5, dis-sum",
    );
    assert_close(
        &merged[1],
        &[0.10000000149011612, -2.299999952316284, 0.30000001192092896],
        1e-6,
        "b, K=0.5, dis-sum",
    );
    // K=0.01, dis-mean: m = ⌊0.11⌋ = 0, so each task vector keeps its largest entry.
    let merged = merge(Convention::Paper, &model, 0.01, 1.0, &[], true);
    assert_close(
        &merged[0],
        &[0.5, -0.25, 1.0, -1.5, 2.0, -3.0, 0.125, 3.0],
        1e-6,
        "w, K=0.01",
    );
    assert_close(
        &merged[1],
        &[0.10000000149011612, -3.200000047683716, 0.30000001192092896],
        1e-6,
        "b, K=0.01",
    );
    // τ_2 = −τ_1 on both tensors, K=0.99 (m = 10 of 11: everything kept): every elected sign
    // is 0, so is their sum, and the code then keeps the negative entries.
    let tau_w = [0.75, -0.5, 0.25, 1.5, -0.125, 0.0, 2.0, -1.0];
    let tau_b = [0.25, -3.0, 0.0];
    let opposite_w = tau_w.map(|value: f32| -value);
    let opposite_b = tau_b.map(|value: f32| -value);
    let w = one_tensor(&PRE_W, &[&tau_w, &opposite_w]).remove(0).1;
    let b = one_tensor(&PRE_B, &[&tau_b, &opposite_b]).remove(0).1;
    let cancelled = vec![("w".to_string(), w), ("b".to_string(), b)];
    let merged = merge(Convention::Paper, &cancelled, 0.99, 1.0, &[], true);
    assert_close(
        &merged[0],
        &[-0.25, -0.75, 0.75, -1.5, 1.875, -1.0, -1.875, 2.0],
        1e-6,
        "w, exact cancellation",
    );
    assert_close(
        &merged[1],
        &[
            -0.15000000596046448,
            -3.200000047683716,
            0.30000001192092896,
        ],
        1e-6,
        "b, exact cancellation",
    );
}

// ---------------------------------------------------------------------------------------------
// Edge cases, each against the independent computation and a number worked by hand.
// ---------------------------------------------------------------------------------------------

/// 50 distinct magnitudes and density 0.58: 0.58·50 is 28.999999999999996 in f64, so both
/// conventions truncate it to 28. mergekit keeps 28 entries, the paper 28 + 1 = 29 (rounding
/// would keep 29 and 30). Checked against mergekit 0.1.5 and the reference code, which keep
/// 28 and 29 entries of this task vector.
#[test]
fn keep_counts_truncate_the_f64_product() {
    let tau: Vec<f64> = (0..50)
        .map(|i: i32| ((i * 37) % 101 + 1) as f64 / 64.0 * if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let pre = vec![0.0; 50];
    let model = vec![(
        "w".to_string(),
        vec![Tensor::from_slice(&pre), Tensor::from_slice(&tau)],
    )];
    let count_nonzero = |values: &[f64]| values.iter().filter(|&&value| value != 0.0).count();
    let mergekit = merge(Convention::Mergekit, &model, 0.58, 1.0, &[], true);
    assert_eq!(count_nonzero(&mergekit[0]), 28);
    assert_eq!(
        mergekit[0],
        mergekit_by_rule(&pre, std::slice::from_ref(&tau), 0.58, 1.0, &[1.0], true)
    );
    let paper = merge(Convention::Paper, &model, 0.58, 1.0, &[], true);
    assert_eq!(count_nonzero(&paper[0]), 29);
    assert_eq!(
        paper[0],
        paper_by_rule(&[pre], &[vec![tau]], 0.58, 1.0, true)[0]
    );
}

/// Where ⌊density·n⌋ is 0: mergekit still keeps one entry (the first of the largest), the
/// paper keeps the largest and every entry tied with it.
///   τ = [1, −3, 3, 2]: mergekit keeps −3 (index 1 before index 2): [0, −3, 0, 0];
///   the paper keeps −3 and 3: signs [0, −, +, 0], one each, majority 0, so the zero-sign
///   coordinates keep negative entries, of which there are none: [0, −3, 3, 0].
/// A task vector of zeros keeps nothing that counts.
#[test]
fn a_zero_keep_count_keeps_the_largest() {
    let tau = [1.0, -3.0, 3.0, 2.0];
    let model = one_tensor(&[0.0; 4], &[&tau]);
    assert_eq!(
        merge(Convention::Mergekit, &model, 0.01, 1.0, &[], true)[0],
        vec![0.0, -3.0, 0.0, 0.0]
    );
    assert_eq!(
        merge(Convention::Paper, &model, 0.01, 1.0, &[], true)[0],
        vec![0.0, -3.0, 3.0, 0.0]
    );
    let zeros = one_tensor(&[2.0; 4], &[&[0.0; 4], &[0.0; 4]]);
    for convention in [Convention::Paper, Convention::Mergekit] {
        assert_eq!(
            merge(convention, &zeros, 0.01, 1.0, &[], true)[0],
            vec![2.0; 4]
        );
    }
}

/// Density 1 trims nothing in either convention (the paper's code cannot run it: it would ask
/// `kthvalue` for the 0-th smallest). τ_1 = [1, −2, 2], τ_2 = [−1, −1, 3], τ_3 = [0, 0, −5]:
///   sums [0, −3, 0].
///   mergekit: signs [+, −, +]: [1, −1.5, 2.5].
///   paper: signs [0, −, 0], majority −, so [−, −, −]: [−1, −1.5, −5].
#[test]
fn density_one_trims_nothing() {
    let model = one_tensor(
        &[0.0; 3],
        &[&[1.0, -2.0, 2.0], &[-1.0, -1.0, 3.0], &[0.0, 0.0, -5.0]],
    );
    assert_eq!(
        merge(Convention::Mergekit, &model, 1.0, 1.0, &[], true)[0],
        vec![1.0, -1.5, 2.5]
    );
    assert_eq!(
        merge(Convention::Paper, &model, 1.0, 1.0, &[], true)[0],
        vec![-1.0, -1.5, -5.0]
    );
}

/// mergekit with weights whose agreeing sum is 0 divides by 1: τ_1 = [1], τ_2 = [−1] with
/// weights [1, −1] give weighted entries [1, 1], both +, weight sum 0: merged 2.
/// A zero weight removes its model from the vote and from the mean.
#[test]
fn mergekit_weights_edge_cases() {
    let model = one_tensor(&[0.0], &[&[1.0], &[-1.0]]);
    assert_eq!(
        merge(Convention::Mergekit, &model, 1.0, 1.0, &[1.0, -1.0], true)[0],
        vec![2.0]
    );
    let model = one_tensor(&[0.0, 0.0], &[&[1.0, -4.0], &[-3.0, 2.0]]);
    assert_eq!(
        merge(Convention::Mergekit, &model, 1.0, 1.0, &[0.0, 0.5], true)[0],
        vec![-3.0, 2.0]
    );
}

/// `merge` alone treats its tensor as the whole model; `merge_model` under `paper` trims over
/// all tensors together, so a tensor's result depends on the others, and under `mergekit` it
/// does not.
#[test]
fn paper_trims_over_the_model_and_mergekit_per_tensor() {
    let ties = |convention| Ties {
        density: 0.5,
        lambda: 1.0,
        convention,
        weights: Vec::new(),
        normalize: true,
    };
    // τ = a [4, 3] b [1, 0.5]: the model's top ⌊0.5·4⌋ + 1 = 3 are 4, 3 and 1.
    let model = vec![
        ("a".to_string(), vec![t32(&[0.0, 0.0]), t32(&[4.0, 3.0])]),
        ("b".to_string(), vec![t32(&[0.0, 0.0]), t32(&[1.0, 0.5])]),
    ];
    let whole: Vec<Vec<f64>> = ties(Convention::Paper)
        .merge_model(&model)
        .unwrap()
        .iter()
        .map(values)
        .collect();
    assert_eq!(whole, vec![vec![4.0, 3.0], vec![1.0, 0.0]]);
    let alone = ties(Convention::Paper).merge("b", &model[1].1).unwrap();
    assert_eq!(values(&alone), vec![1.0, 0.5]);
    let per_tensor: Vec<Vec<f64>> = ties(Convention::Mergekit)
        .merge_model(&model)
        .unwrap()
        .iter()
        .map(values)
        .collect();
    assert_eq!(per_tensor, vec![vec![4.0, 0.0], vec![1.0, 0.0]]);
    let direct = ties_mergekit(&model[1].1[0], &model[1].1[1..], 0.5, 1.0, &[1.0], true).unwrap();
    assert_eq!(values(&direct), vec![1.0, 0.0]);
}

/// Merged tensors keep their shapes and the inputs' dtype.
#[test]
fn merged_tensors_keep_shape_and_dtype() {
    let pre = Tensor::from_slice(&[0.5f32; 24]).reshape([2, 3, 4]);
    let tuned =
        Tensor::from_slice(&(0..24).map(|i| i as f32 / 8.0).collect::<Vec<_>>()).reshape([2, 3, 4]);
    let model = vec![("w".to_string(), vec![pre, tuned])];
    for convention in [Convention::Paper, Convention::Mergekit] {
        let merged = ties(convention, &model, 0.3, 0.5, &[], true).unwrap();
        assert_eq!(merged[0].size(), vec![2, 3, 4]);
        assert_eq!(merged[0].kind(), Kind::Float);
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters and errors.
// ---------------------------------------------------------------------------------------------

fn create(json: serde_json::Value) -> exp_plugin_api::sdk::Result<Ties> {
    let context = Context {
        seed: 0,
        device: "cpu".into(),
        data: None,
    };
    // The host's path: defaults filled in, read into the config, checked, created. Bounds and
    // choices are the schema's, which `exp check` enforces before a plugin sees a value.
    build::<Ties>(json, &context)
}

#[test]
fn parameters_are_checked_and_errors_name_them() {
    let ties = create(serde_json::json!({})).unwrap();
    assert_eq!(ties.convention, Convention::Paper);
    assert!(ties.normalize);
    let ties =
        create(serde_json::json!({ "convention": "mergekit", "weights": [1.0, 0.5] })).unwrap();
    assert_eq!(ties.convention, Convention::Mergekit);
    assert_eq!(ties.weights, vec![1.0, 0.5]);

    for (params, field, words) in [
        (
            serde_json::json!({ "convention": "tensor" }),
            "convention",
            "must be one of \"paper\", \"mergekit\"",
        ),
        (
            serde_json::json!({ "weights": [1.0, 2.0] }),
            "weights",
            "convention: \"mergekit\"",
        ),
    ] {
        let error = create(params).err().unwrap();
        assert_eq!(error.field.as_deref(), Some(field), "{}", error.message);
        assert!(error.message.contains(words), "{}", error.message);
    }
    // Weights of 1 describe the paper's method exactly, so they are accepted.
    assert!(create(serde_json::json!({ "weights": [1.0, 1.0] })).is_ok());
    // The schema states the density's bounds, which `exp check` applies: (0, 1].
    let schema =
        exp_plugin_api::sdk::schema_of::<Ties>(exp_plugin_api::exp_ir::ComponentKind::Merger);
    let density = schema.param("density").unwrap();
    for (value, fits) in [(0.0, false), (1e-9, true), (1.0, true), (1.5, false)] {
        assert_eq!(
            density
                .validate(&exp_plugin_api::exp_ir::Value::Float(value))
                .is_ok(),
            fits,
            "{value}"
        );
    }
}

#[test]
fn refuses_a_lone_model_mismatched_shapes_and_the_wrong_number_of_weights() {
    let ties =
        create(serde_json::json!({ "convention": "mergekit", "weights": [1.0, 0.5] })).unwrap();
    let error = ties.merge("w", &[t32(&[1.0])]).unwrap_err();
    assert!(error.message.contains("at least one"), "{}", error.message);
    let error = ties
        .merge(
            "layers.0.bias",
            &[t32(&[1.0]), t32(&[1.0, 2.0]), t32(&[1.0])],
        )
        .unwrap_err();
    assert!(error.message.contains("layers.0.bias"), "{}", error.message);
    let error = ties
        .merge("w", &[t32(&[1.0]), t32(&[2.0]), t32(&[3.0]), t32(&[4.0])])
        .unwrap_err();
    assert_eq!(error.field.as_deref(), Some("weights"));
    assert!(
        error
            .message
            .contains("2 numbers but there are 3 fine-tunes"),
        "{}",
        error.message
    );
}
