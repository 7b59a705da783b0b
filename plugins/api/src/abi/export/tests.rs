//! The plugin-side glue driven through the function tables as the host drives them, in process:
//! value trees in, JSON out, every kind's table, errors, panics and saved state. (The host side
//! is exercised end to end by loading the std plugin and the test plugins.)

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr, CString};

use exp_ir::{Duration, DurationUnit, Value};
use tch::Tensor;

use super::{
    export_merger, export_regularizer, export_scheduler, last_error, last_error_field, read_json,
    read_value, ComponentExport,
};
use crate::abi::types::{
    FfiContext, FfiMergerVTable, FfiObject, FfiRegularizerVTable, FfiSchedulerVTable,
    FfiTensorHandle, STATUS_ERROR, STATUS_OK, STATUS_PANIC,
};
use crate::abi::values::OwnedValue;
use crate::sdk::{
    Component, Config, Context, FisherEstimator, FisherRequest, HookAnchor, MergeHook, Merger,
    NoParams, PluginError, Regularizer, Result, SavedState, Scheduler, Stateful,
};

/// Sums its inputs; a hook every 5 steps.
struct Sum;

impl Component for Sum {
    type Config = NoParams;
    const NAME: &'static str = "sum";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "sums";
    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Sum)
    }
}

impl Merger for Sum {
    fn merge(&self, name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        if name == "boom" {
            panic!("merge blew up on `{name}`");
        }
        Ok(inputs.iter().fold(inputs[0].zeros_like(), |sum, x| sum + x))
    }
    fn as_hook(&self) -> Option<MergeHook> {
        Some(MergeHook {
            every: 5,
            anchor: HookAnchor::PreviousMerge,
            keep_optimizer: false,
        })
    }
}

/// Returns one tensor too few from `merge_model`.
struct Short;

impl Component for Short {
    type Config = NoParams;
    const NAME: &'static str = "short";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "drops a tensor";
    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Short)
    }
}

impl Merger for Short {
    fn merge(&self, _name: &str, inputs: &[Tensor]) -> Result<Tensor> {
        Ok(inputs[0].shallow_clone())
    }
    fn merge_model(&self, _tensors: &[(String, Vec<Tensor>)]) -> Result<Vec<Tensor>> {
        Ok(Vec::new())
    }
}

/// A schedule whose parameters exercise the value trees and the scheduled-parameter path.
#[derive(Clone, Config)]
struct RampConfig {
    /// the value at the start
    #[param(default = 1.0, min = 0.0, max = 2.0, schedule)]
    start: f64,
    /// how long the ramp lasts
    every: Duration,
    /// labels, for nothing but the test
    #[param(default = [])]
    tags: Vec<String>,
}

struct Ramp {
    config: RampConfig,
    seed: u64,
}

impl Component for Ramp {
    type Config = RampConfig;
    const NAME: &'static str = "ramp";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "a test schedule";
    fn check(config: &RampConfig) -> Result<()> {
        if config.tags.iter().any(|tag| tag == "forbidden") {
            return Err(PluginError::in_field("tags", "`forbidden` is not a tag"));
        }
        Ok(())
    }
    fn create(config: RampConfig, context: &Context) -> Result<Self> {
        Ok(Ramp {
            config,
            seed: context.seed,
        })
    }
    fn reconfigure(&mut self, config: &RampConfig) -> Result<()> {
        self.config = config.clone();
        Ok(())
    }
}

impl Scheduler for Ramp {
    fn value(&self, step: u64, _total: u64) -> f64 {
        if step == 99 {
            panic!("step 99 is cursed");
        }
        self.config.start + step as f64 + self.config.every.amount + self.seed as f64
    }
}

/// Records what `end_task` received; its state is the number of tasks it has seen and a
/// 64-bit generator state above `i64::MAX`.
struct Counting {
    tasks: u64,
    generator: u64,
    last_fisher: Option<Vec<String>>,
}

impl Component for Counting {
    type Config = NoParams;
    const NAME: &'static str = "counting";
    const VERSION: &'static str = "1";
    const DOC: &'static str = "counts tasks";
    fn create(_config: NoParams, _context: &Context) -> Result<Self> {
        Ok(Counting {
            tasks: 0,
            generator: u64::MAX - 7,
            last_fisher: None,
        })
    }
}

impl Stateful for Counting {
    fn save_state(&self) -> Result<SavedState> {
        Ok(SavedState {
            tensors: Vec::new(),
            data: serde_json::json!({ "tasks": self.tasks, "generator": self.generator }),
        })
    }
    fn load_state(&mut self, state: SavedState) -> Result<()> {
        self.tasks = state.data["tasks"].as_u64().unwrap_or(0);
        self.generator = state.data["generator"].as_u64().unwrap_or(0);
        Ok(())
    }
}

impl Regularizer for Counting {
    fn anchor(&mut self, _params: &[(String, Tensor)]) -> Result<()> {
        Ok(())
    }
    fn penalty(&self, _params: &[(String, Tensor)]) -> Result<Tensor> {
        Ok(Tensor::from(self.tasks as f64))
    }
    fn fisher_request(&self) -> Option<FisherRequest> {
        Some(FisherRequest {
            estimator: FisherEstimator::Sampled,
            per_example: true,
            batches: 3,
        })
    }
    fn end_task(
        &mut self,
        _params: &[(String, Tensor)],
        fisher: Option<&[(String, Tensor)]>,
    ) -> Result<()> {
        self.tasks += 1;
        self.last_fisher =
            fisher.map(|fisher| fisher.iter().map(|(name, _)| name.clone()).collect());
        Ok(())
    }
}

fn error() -> String {
    text(last_error())
}

fn field() -> Option<String> {
    let field = last_error_field();
    (!field.is_null()).then(|| text(field))
}

fn text(json: *const c_char) -> String {
    if json.is_null() {
        return String::new();
    }
    // SAFETY: the table returned a NUL-terminated string that lives until the next call.
    unsafe { CStr::from_ptr(json) }
        .to_string_lossy()
        .into_owned()
}

fn handle(tensor: &Tensor) -> FfiTensorHandle {
    tensor.as_ptr() as FfiTensorHandle
}

fn values(handle: FfiTensorHandle) -> Vec<f32> {
    // SAFETY: a handle the plugin returned is a new reference the caller owns.
    let tensor = unsafe { Tensor::from_ptr(handle as *mut torch_sys::C_tensor) };
    Vec::<f32>::try_from(&tensor).unwrap()
}

/// A live object and its table, released when dropped.
struct Object<V: 'static> {
    object: FfiObject,
    table: &'static V,
}

extern "C" fn noop(_state: *mut c_void) {}

extern "C" fn noop_set_param(_state: *mut c_void, _name: *const c_char, _value: f64) -> i32 {
    STATUS_OK
}

/// Calls `create` with `params` (a record) and a context of seed 7; the status and object.
fn create_raw(export: &ComponentExport, params: &BTreeMap<String, Value>) -> (i32, FfiObject) {
    let params = OwnedValue::record(params).unwrap();
    let device = CString::new("cpu").unwrap();
    let context = FfiContext {
        seed: 7,
        device: device.as_ptr(),
        data: std::ptr::null(),
    };
    let mut object = FfiObject {
        state: std::ptr::null_mut(),
        vtable: std::ptr::null(),
        release: noop,
        set_param: noop_set_param,
    };
    let status = (export.create)(params.as_ptr(), &context, &mut object);
    (status, object)
}

impl<V> Object<V> {
    fn new(export: ComponentExport, params: &BTreeMap<String, Value>) -> Object<V> {
        let (status, object) = create_raw(&export, params);
        assert_eq!(status, STATUS_OK, "{}", error());
        // SAFETY: `create` succeeded, so `vtable` points at the (leaked, never freed) table
        // of the kind `export` was made for, which `V` names.
        let table = unsafe { &*(object.vtable as *const V) };
        Object { object, table }
    }
}

impl<V> Drop for Object<V> {
    fn drop(&mut self) {
        (self.object.release)(self.object.state);
    }
}

fn ramp_params(start: f64, tags: &[&str]) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("start".to_string(), Value::Float(start)),
        (
            "every".to_string(),
            Value::Duration(Duration {
                amount: 10.0,
                unit: DurationUnit::Steps,
            }),
        ),
        (
            "tags".to_string(),
            Value::List(tags.iter().map(|tag| Value::Str(tag.to_string())).collect()),
        ),
    ])
}

#[test]
fn values_cross_as_trees_and_read_back_as_written() {
    let written = Value::Record(BTreeMap::from([
        ("n".into(), Value::Int(-3)),
        ("x".into(), Value::Float(0.25)),
        ("on".into(), Value::Bool(true)),
        ("word".into(), Value::Str("héllo".into())),
        (
            "at".into(),
            Value::List(vec![Value::Duration(Duration {
                amount: 0.5,
                unit: DurationUnit::Fraction,
            })]),
        ),
        ("block".into(), Value::Record(BTreeMap::new())),
    ]));
    let tree = OwnedValue::from_ir(&written).unwrap();
    // SAFETY: the tree lives for this scope.
    assert_eq!(read_value(unsafe { &*tree.as_ptr() }).unwrap(), written);
    // JSON, with a u64 past i64's range and a null, for saved state.
    let state = serde_json::json!({ "big": u64::MAX, "none": null, "list": [1, 2.5, "a"] });
    let tree = OwnedValue::from_json(&state).unwrap();
    // SAFETY: as above.
    assert_eq!(read_json(unsafe { &*tree.as_ptr() }).unwrap(), state);
    // A NUL byte cannot cross, and the error names where it was.
    let nul = BTreeMap::from([(
        "source".to_string(),
        Value::List(vec![Value::Str("a\0b".into())]),
    )]);
    let error = OwnedValue::record(&nul).err().unwrap();
    assert!(
        error.to_string().contains("`source[0]` holds a NUL byte"),
        "{error}"
    );
}

#[test]
fn create_reads_the_record_into_the_config_and_the_context() {
    let ramp =
        Object::<FfiSchedulerVTable>::new(export_scheduler::<Ramp>(), &ramp_params(0.5, &["a"]));
    let mut out = 0.0;
    let status = (ramp.table.value)(ramp.object.state, 2, 100, &mut out);
    assert_eq!(status, STATUS_OK, "{}", error());
    // start 0.5 + step 2 + every 10 + seed 7.
    assert_eq!(out, 19.5);
    // A value of the wrong type is refused, naming the parameter.
    let mut wrong = ramp_params(0.5, &[]);
    wrong.insert("start".into(), Value::Str("high".into()));
    let (status, _) = create_raw(&export_scheduler::<Ramp>(), &wrong);
    assert_eq!(status, STATUS_ERROR);
    assert_eq!(field().as_deref(), Some("start"));
    assert!(error().contains("must be a number"), "{}", error());
}

#[test]
fn set_param_checks_bounds_and_reaches_the_component() {
    let ramp =
        Object::<FfiSchedulerVTable>::new(export_scheduler::<Ramp>(), &ramp_params(1.0, &[]));
    let start = CString::new("start").unwrap();
    assert_eq!(
        (ramp.object.set_param)(ramp.object.state, start.as_ptr(), 1.5),
        STATUS_OK,
        "{}",
        error()
    );
    let mut out = 0.0;
    (ramp.table.value)(ramp.object.state, 0, 100, &mut out);
    assert_eq!(out, 1.5 + 10.0 + 7.0);
    // Past its bounds: refused, the value unchanged.
    assert_eq!(
        (ramp.object.set_param)(ramp.object.state, start.as_ptr(), 2.5),
        STATUS_ERROR
    );
    assert_eq!(field().as_deref(), Some("start"));
    assert!(error().contains("reached 2.5"), "{}", error());
    (ramp.table.value)(ramp.object.state, 0, 100, &mut out);
    assert_eq!(out, 1.5 + 10.0 + 7.0);
    // A parameter that does not follow a schedule.
    let every = CString::new("every").unwrap();
    assert_eq!(
        (ramp.object.set_param)(ramp.object.state, every.as_ptr(), 3.0),
        STATUS_ERROR
    );
    assert!(
        error().contains("cannot change during a phase"),
        "{}",
        error()
    );
}

#[test]
fn the_check_hook_states_rules_between_parameters() {
    let export = export_scheduler::<Ramp>();
    let check = |params| {
        let tree = OwnedValue::record(&params).unwrap();
        (export.check)(tree.as_ptr())
    };
    assert_eq!(check(ramp_params(1.0, &["fine"])), STATUS_OK);
    assert_eq!(check(ramp_params(1.0, &["forbidden"])), STATUS_ERROR);
    assert_eq!(field().as_deref(), Some("tags"));
    // `create` runs the same check.
    let (status, _) = create_raw(&export, &ramp_params(1.0, &["forbidden"]));
    assert_eq!(status, STATUS_ERROR);
}

#[test]
fn a_panic_names_the_method_and_keeps_its_location_off_the_first_line() {
    let ramp =
        Object::<FfiSchedulerVTable>::new(export_scheduler::<Ramp>(), &ramp_params(1.0, &[]));
    let mut out = 0.0;
    let status = (ramp.table.value)(ramp.object.state, 99, 100, &mut out);
    assert_eq!(status, STATUS_PANIC);
    assert_eq!(field().as_deref(), Some("value"));
    let message = error();
    let mut lines = message.lines();
    assert_eq!(lines.next(), Some("step 99 is cursed"));
    assert!(
        lines
            .next()
            .is_some_and(|line| line.starts_with("at ") && line.contains("tests.rs")),
        "{message}"
    );
    // The next call works: nothing is left behind.
    assert_eq!(
        (ramp.table.value)(ramp.object.state, 1, 100, &mut out),
        STATUS_OK
    );
}

/// Two tensors of two models, laid out tensor by tensor, merged in one call.
fn merge_model(
    merger: &Object<FfiMergerVTable>,
    names: &[&str],
    out: &mut [FfiTensorHandle],
) -> i32 {
    let names: Vec<CString> = names
        .iter()
        .map(|name| CString::new(*name).unwrap())
        .collect();
    let name_ptrs: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
    let inputs = [
        Tensor::from_slice(&[1.0f32, 2.0]),
        Tensor::from_slice(&[10.0f32, 20.0]),
        Tensor::from_slice(&[3.0f32]),
        Tensor::from_slice(&[30.0f32]),
    ];
    let handles: Vec<FfiTensorHandle> = inputs.iter().map(handle).collect();
    (merger.table.merge_model)(
        merger.object.state,
        name_ptrs.as_ptr(),
        names.len(),
        handles.as_ptr(),
        2,
        out.as_mut_ptr(),
    )
}

#[test]
fn merge_model_and_as_hook_cross_the_table() {
    let merger = Object::<FfiMergerVTable>::new(export_merger::<Sum>(), &BTreeMap::new());
    let mut out = [std::ptr::null_mut(); 2];
    assert_eq!(
        merge_model(&merger, &["a", "b"], &mut out),
        STATUS_OK,
        "{}",
        error()
    );
    assert_eq!(values(out[0]), vec![11.0, 22.0]);
    assert_eq!(values(out[1]), vec![33.0]);

    let mut json = std::ptr::null();
    assert_eq!(
        (merger.table.as_hook)(merger.object.state, &mut json),
        STATUS_OK
    );
    assert_eq!(
        text(json),
        r#"{"every":5,"anchor":"previous_merge","keep_optimizer":false}"#
    );
    let short = Object::<FfiMergerVTable>::new(export_merger::<Short>(), &BTreeMap::new());
    let mut json = std::ptr::null();
    assert_eq!(
        (short.table.as_hook)(short.object.state, &mut json),
        STATUS_OK
    );
    assert_eq!(text(json), "null");
}

#[test]
fn merge_model_reports_a_short_result_and_catches_panics() {
    let short = Object::<FfiMergerVTable>::new(export_merger::<Short>(), &BTreeMap::new());
    let mut out = [std::ptr::null_mut(); 2];
    assert_eq!(merge_model(&short, &["a", "b"], &mut out), STATUS_ERROR);
    assert!(
        error().contains("returned 0 tensors for 2 names"),
        "{}",
        error()
    );
    assert!(out.iter().all(|handle| handle.is_null()));
    let sum = Object::<FfiMergerVTable>::new(export_merger::<Sum>(), &BTreeMap::new());
    assert_eq!(merge_model(&sum, &["a", "boom"], &mut out), STATUS_PANIC);
    assert!(
        error().starts_with("merge blew up on `boom`"),
        "{}",
        error()
    );
    // The default `merge_model` calls `merge`, which is where it panicked.
    assert_eq!(field().as_deref(), Some("merge"));
}

#[test]
fn regularizer_state_fisher_request_and_end_task_cross_the_table() {
    let regularizer =
        Object::<FfiRegularizerVTable>::new(export_regularizer::<Counting>(), &BTreeMap::new());
    let table = regularizer.table;
    let state = regularizer.object.state;

    let mut json = std::ptr::null();
    assert_eq!((table.fisher_request)(state, &mut json), STATUS_OK);
    assert_eq!(
        text(json),
        r#"{"estimator":"sampled","per_example":true,"batches":3}"#
    );

    let weight = Tensor::from_slice(&[1.0f32]);
    let name = CString::new("w").unwrap();
    let names = [name.as_ptr()];
    let handles = [handle(&weight)];
    for has_fisher in [true, false] {
        let status = (table.end_task)(
            state,
            names.as_ptr(),
            handles.as_ptr(),
            1,
            has_fisher,
            names.as_ptr(),
            handles.as_ptr(),
            1,
        );
        assert_eq!(status, STATUS_OK, "{}", error());
    }

    let mut count = 0;
    let mut json = std::ptr::null();
    assert_eq!(
        (table.training_state.save)(state, &mut count, &mut json),
        STATUS_OK
    );
    let saved: serde_json::Value = serde_json::from_str(&text(json)).unwrap();
    assert_eq!(count, 0);
    assert_eq!(
        saved,
        serde_json::json!({ "tasks": 2, "generator": u64::MAX - 7 })
    );

    // Loaded into a fresh object as the host does: the JSON read back, as a value tree.
    let fresh =
        Object::<FfiRegularizerVTable>::new(export_regularizer::<Counting>(), &BTreeMap::new());
    let tree = OwnedValue::from_json(&serde_json::json!({ "tasks": 2, "generator": 9 })).unwrap();
    let status = (fresh.table.training_state.load)(
        fresh.object.state,
        tree.as_ptr(),
        std::ptr::null(),
        std::ptr::null(),
        0,
    );
    assert_eq!(status, STATUS_OK, "{}", error());
    let mut penalty = std::ptr::null_mut();
    let status = (fresh.table.penalty)(
        fresh.object.state,
        std::ptr::null(),
        std::ptr::null(),
        0,
        &mut penalty,
    );
    assert_eq!(status, STATUS_OK, "{}", error());
    // SAFETY: a handle the plugin returned is a new reference the caller owns.
    let penalty = unsafe { Tensor::from_ptr(penalty as *mut torch_sys::C_tensor) };
    assert_eq!(f64::try_from(&penalty).unwrap(), 2.0);
}
