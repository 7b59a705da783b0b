//! The C ABI between the exp host and a plugin library.
//!
//! A plugin exports one symbol, `exp_plugin_entry`, returning a pointer to an `FfiPlugin`
//! descriptor that lives as long as the library. The host checks `magic`, the ABI version, the
//! struct size and the build fingerprint before reading anything else. Each component has a
//! constructor that fills an `FfiObject`: an opaque state pointer, a kind-specific table of
//! functions, and a `release` function (whoever allocates frees). Every function returns a
//! status (`STATUS_OK`, `STATUS_ERROR`, `STATUS_PANIC`); on failure the message is read with the
//! descriptor's `last_error`. Tensors cross as libtorch handles (`*mut C_tensor`): a handle a
//! plugin returns is a new reference owned by the host; a handle the host passes in is borrowed.
//!
//! Bump `ABI_MAJOR` by hand for any change to these structs or signatures; `ABI_MINOR` for an
//! appended field. docs/plugin-abi.md must change with it (a tidy test holds a hash of this file).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use exp_ir::{ComponentKind, Value};
use tch::Tensor;
use torch_sys::C_tensor;

use crate::sdk::{
    Component, Context, Dataset, Evaluator, Merger, Model, Optimizer, Params, PluginError,
    Regularizer, SavedState, Scheduler, Split, Stateful,
};

pub const MAGIC: u64 = 0x6578_705f_706c_7567; // "exp_plug"
pub const ABI_MAJOR: u32 = 4;
pub const ABI_MINOR: u32 = 0;
/// The tch release the ABI is built against; tensors cross as its `C_tensor` handles.
pub const TCH_VERSION: &str = "0.26";
pub const ENTRY_SYMBOL: &str = "exp_plugin_entry";

pub const STATUS_OK: i32 = 0;
pub const STATUS_ERROR: i32 = 1;
pub const STATUS_PANIC: i32 = 2;

/// The type of `exp_plugin_entry`.
pub type EntryFn = unsafe extern "C" fn() -> *const FfiPlugin;

#[repr(C)]
pub struct FfiPlugin {
    pub magic: u64,
    pub abi_major: u32,
    pub abi_minor: u32,
    /// `size_of::<FfiPlugin>()` as the plugin saw it.
    pub struct_size: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    pub fingerprint: *const c_char,
    pub components: *const FfiComponent,
    pub n_components: usize,
    /// The message of the last failed call on this thread, or null.
    pub last_error: extern "C" fn() -> *const c_char,
    /// The parameter the last failed call on this thread complained about, or null.
    pub last_error_field: extern "C" fn() -> *const c_char,
}

#[repr(C)]
pub struct FfiComponent {
    /// `ComponentKind::tag()`.
    pub kind: u32,
    pub name: *const c_char,
    /// The `ComponentSchema` as JSON.
    pub schema_json: *const c_char,
    /// Builds an object from parameters (a JSON object) and a context (JSON: seed, device,
    /// data info). On success fills `out`.
    pub create: extern "C" fn(
        params_json: *const c_char,
        context_json: *const c_char,
        out: *mut FfiObject,
    ) -> i32,
}

/// An object a plugin made. `vtable` points at the table for the component's kind.
#[repr(C)]
pub struct FfiObject {
    pub state: *mut c_void,
    pub vtable: *const c_void,
    pub release: extern "C" fn(state: *mut c_void),
    /// Sets a scheduled parameter (`ParamType::Schedule`) to its value at the current step:
    /// `name`, and the value as JSON (an `exp_ir::Value`). Every kind has it.
    pub set_param:
        extern "C" fn(state: *mut c_void, name: *const c_char, value_json: *const c_char) -> i32,
}

pub type TensorHandle = *mut C_tensor;

#[repr(C)]
pub struct FfiDatasetVTable {
    /// `DataInfo` as JSON; the string is owned by the object.
    pub info: extern "C" fn(state: *mut c_void, out: *mut *const c_char) -> i32,
    /// The examples at `indices` of a split (0 train, 1 test) as inputs and targets.
    pub batch: extern "C" fn(
        state: *mut c_void,
        split: u32,
        indices: *const i64,
        n_indices: usize,
        out_x: *mut TensorHandle,
        out_y: *mut TensorHandle,
    ) -> i32,
}

#[repr(C)]
pub struct FfiModelVTable {
    pub n_tensors: extern "C" fn(state: *mut c_void) -> usize,
    /// The name of tensor `index` (a checkpoint key); owned by the object.
    pub tensor_name: extern "C" fn(state: *mut c_void, index: usize) -> *const c_char,
    /// A new handle sharing storage with the model's tensor `index`, so in-place updates by the
    /// host (optimizer steps, loading a checkpoint) change the model itself.
    pub tensor: extern "C" fn(state: *mut c_void, index: usize, out: *mut TensorHandle) -> i32,
    pub forward: extern "C" fn(
        state: *mut c_void,
        x: TensorHandle,
        train: bool,
        out: *mut TensorHandle,
    ) -> i32,
    /// The training loss of a batch: a scalar tensor that autograd can differentiate.
    pub loss: extern "C" fn(
        state: *mut c_void,
        x: TensorHandle,
        y: TensorHandle,
        out: *mut TensorHandle,
    ) -> i32,
    /// State beyond the tensors above (e.g. a dropout generator), for resuming.
    pub training_state: FfiStateFns,
}

/// Saving and restoring an object's training state, so an interrupted phase resumes exactly.
/// `save` snapshots the state inside the object and reports how many tensors it holds and a
/// JSON text of everything else; `saved_tensor` hands out each tensor; `load` restores a
/// snapshot. A component that cannot save its state reports an error from `save`.
#[repr(C)]
pub struct FfiStateFns {
    pub save: extern "C" fn(
        state: *mut c_void,
        out_n_tensors: *mut usize,
        out_json: *mut *const c_char,
    ) -> i32,
    pub saved_tensor: extern "C" fn(
        state: *mut c_void,
        index: usize,
        out_name: *mut *const c_char,
        out_tensor: *mut TensorHandle,
    ) -> i32,
    pub load: extern "C" fn(
        state: *mut c_void,
        json: *const c_char,
        names: *const *const c_char,
        tensors: *const TensorHandle,
        n_tensors: usize,
    ) -> i32,
}

#[repr(C)]
pub struct FfiOptimizerVTable {
    /// Updates `params` in place from their gradients with learning rate `lr`.
    pub step: extern "C" fn(
        state: *mut c_void,
        params: *const TensorHandle,
        n_params: usize,
        lr: f64,
    ) -> i32,
    /// The optimizer's state (moments, step count), for resuming.
    pub training_state: FfiStateFns,
}

#[repr(C)]
pub struct FfiSchedulerVTable {
    /// The learning-rate multiplier at `step` of a phase of `total` steps.
    pub multiplier: extern "C" fn(state: *mut c_void, step: u64, total: u64, out: *mut f64) -> i32,
}

#[repr(C)]
pub struct FfiEvaluatorVTable {
    pub reset: extern "C" fn(state: *mut c_void) -> i32,
    pub update:
        extern "C" fn(state: *mut c_void, output: TensorHandle, target: TensorHandle) -> i32,
    /// The metrics so far as a JSON object of numbers; owned by the object.
    pub compute: extern "C" fn(state: *mut c_void, out: *mut *const c_char) -> i32,
}

#[repr(C)]
pub struct FfiMergerVTable {
    /// Merges the tensors named `name` from each input model into one new tensor.
    pub merge: extern "C" fn(
        state: *mut c_void,
        name: *const c_char,
        inputs: *const TensorHandle,
        n_inputs: usize,
        out: *mut TensorHandle,
    ) -> i32,
    /// Merges whole models in one call (ABI 3): `inputs` holds `n_tensors × n_inputs` handles,
    /// tensor by tensor (`inputs[t * n_inputs + i]` is tensor `names[t]` of input model `i`);
    /// on success the plugin fills all `n_tensors` slots of `out` with new handles.
    pub merge_model: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        n_tensors: usize,
        inputs: *const TensorHandle,
        n_inputs: usize,
        out: *mut TensorHandle,
    ) -> i32,
    /// How the merger runs as a training hook (ABI 3): JSON `null`, or a `MergeHook` as JSON
    /// (`{"every": u64, "anchor": "task_start" | "previous_merge", "keep_optimizer": bool}`);
    /// owned by the object.
    pub as_hook: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
}

#[repr(C)]
pub struct FfiRegularizerVTable {
    /// Records the reference weights (e.g. the model at the start of a task).
    pub anchor: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        params: *const TensorHandle,
        n_params: usize,
    ) -> i32,
    /// The penalty to add to the loss: a scalar tensor.
    pub penalty: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        params: *const TensorHandle,
        n_params: usize,
        out: *mut TensorHandle,
    ) -> i32,
    /// Whether `end_task` wants a diagonal Fisher (ABI 3): JSON `null`, or a `FisherRequest` as
    /// JSON (`{"estimator": "empirical" | "sampled", "per_example": bool, "batches": u64}`);
    /// owned by the object.
    pub fisher_request: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
    /// The end of a phase (ABI 3): the final trainable tensors, and, when `has_fisher`, the
    /// diagonal Fisher by name (otherwise the Fisher pointers are ignored).
    pub end_task: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        params: *const TensorHandle,
        n_params: usize,
        has_fisher: bool,
        fisher_names: *const *const c_char,
        fisher: *const TensorHandle,
        n_fisher: usize,
    ) -> i32,
    /// Anchors, Fisher estimates and anything else carried between tasks (ABI 3).
    pub training_state: FfiStateFns,
}

// ---------------------------------------------------------------------------------------------
// Plugin-side glue: generic `extern "C"` functions over the SDK traits. `export_plugin!`
// instantiates them for each component type.
// ---------------------------------------------------------------------------------------------

thread_local! {
    static LAST_ERROR: RefCell<Option<(CString, Option<CString>)>> = const { RefCell::new(None) };
}

fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

fn set_last_error(message: &str, field: Option<&str>) {
    LAST_ERROR.with(|slot| {
        *slot.borrow_mut() = Some((c_string(message), field.map(c_string)));
    });
}

pub extern "C" fn last_error() -> *const c_char {
    LAST_ERROR.with(|slot| {
        slot.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |(message, _)| message.as_ptr())
    })
}

pub extern "C" fn last_error_field() -> *const c_char {
    LAST_ERROR.with(|slot| {
        slot.borrow()
            .as_ref()
            .and_then(|(_, field)| field.as_ref())
            .map_or(std::ptr::null(), |field| field.as_ptr())
    })
}

/// Runs `body`, turning an error or a panic into a status and a last-error message. No panic
/// ever unwinds across the boundary.
fn guarded(body: impl FnOnce() -> Result<(), PluginError>) -> i32 {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => STATUS_OK,
        Ok(Err(error)) => {
            set_last_error(&error.message, error.field.as_deref());
            STATUS_ERROR
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| text.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-text payload".to_string());
            set_last_error(&format!("panicked: {message}"), None);
            STATUS_PANIC
        }
    }
}

/// Hands a tensor to the host as a new handle (a shallow clone the host will free).
fn tensor_out(tensor: &Tensor, out: *mut TensorHandle) {
    // SAFETY: `tensor` is a live tensor; `at_shallow_clone` returns a new, separately owned
    // handle. `out` is a valid pointer provided by the host for this call.
    unsafe { *out = torch_sys::at_shallow_clone(tensor.as_ptr() as *mut C_tensor) };
}

/// Hands the host a JSON text that lives in the object's state until its next call.
fn json_out<T>(
    state: &mut State<T>,
    value: &impl serde::Serialize,
    out: *mut *const c_char,
) -> Result<(), PluginError> {
    let json = serde_json::to_string(value).map_err(|error| PluginError::new(error.to_string()))?;
    state.text = c_string(&json);
    // SAFETY: `out` is valid for this call; the string lives in the state.
    unsafe { *out = state.text.as_ptr() };
    Ok(())
}

/// Borrows a host tensor as an owned shallow clone (a new reference to the same storage).
fn tensor_in(handle: TensorHandle) -> Result<Tensor, PluginError> {
    if handle.is_null() {
        return Err(PluginError::new("received a null tensor handle"));
    }
    // SAFETY: the host guarantees `handle` is a live tensor for the duration of the call;
    // `clone_from_ptr` takes a new reference and does not take ownership of `handle`.
    Ok(unsafe { Tensor::clone_from_ptr(handle) })
}

fn tensors_in(handles: *const TensorHandle, n: usize) -> Result<Vec<Tensor>, PluginError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the host passes `n` valid handles at `handles` for the duration of the call.
    let slice = unsafe { std::slice::from_raw_parts(handles, n) };
    slice.iter().map(|handle| tensor_in(*handle)).collect()
}

fn str_in<'a>(text: *const c_char) -> Result<&'a str, PluginError> {
    if text.is_null() {
        return Err(PluginError::new("received a null string"));
    }
    // SAFETY: the host passes a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| PluginError::new("received a string that is not UTF-8"))
}

fn names_in<'a>(names: *const *const c_char, n: usize) -> Result<Vec<&'a str>, PluginError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the host passes `n` valid C strings at `names` for the duration of the call.
    let slice = unsafe { std::slice::from_raw_parts(names, n) };
    slice.iter().map(|name| str_in(*name)).collect()
}

/// The state behind every object: the component plus strings it has handed out, which must
/// stay valid until the next call or release.
struct State<T> {
    component: T,
    text: CString,
    tensor_names: Vec<CString>,
    /// The tensors of the last `save`, until the next one.
    saved: Vec<(CString, Tensor)>,
}

fn state<'a, T>(raw: *mut c_void) -> &'a mut State<T> {
    // SAFETY: `raw` was created by `create::<T>` as a `Box<State<T>>` and the host only passes
    // it back to functions of the same vtable until `release`; calls on one object are never
    // concurrent (the host wrapper needs `&mut self`).
    unsafe { &mut *(raw as *mut State<T>) }
}

extern "C" fn release<T>(raw: *mut c_void) {
    if !raw.is_null() {
        // SAFETY: `raw` came from `Box::into_raw` in `create` and is released exactly once.
        let state = unsafe { Box::from_raw(raw as *mut State<T>) };
        // A panic in a component's `Drop` must not unwind into the host either; there is no
        // status to report it with, so it is contained and the object is gone.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
    }
}

/// `Component::set_param`, for every kind.
extern "C" fn set_param<T: Component>(
    raw: *mut c_void,
    name: *const c_char,
    value_json: *const c_char,
) -> i32 {
    guarded(|| {
        let name = str_in(name)?;
        let value: Value = serde_json::from_str(str_in(value_json)?)
            .map_err(|error| PluginError::new(format!("bad value for `{name}`: {error}")))?;
        state::<T>(raw).component.set_param(name, &value)
    })
}

/// Builds a component through its SDK constructor; shared by every kind.
fn create<T: Component>(
    build: fn(&Params, &Context) -> Result<T, PluginError>,
    vtable: *const c_void,
    params_json: *const c_char,
    context_json: *const c_char,
    out: *mut FfiObject,
) -> i32 {
    guarded(|| {
        let params: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(str_in(params_json)?).map_err(|error| {
                PluginError::new(format!("parameters are not a JSON object: {error}"))
            })?;
        let context: Context = serde_json::from_str(str_in(context_json)?)
            .map_err(|error| PluginError::new(format!("bad context: {error}")))?;
        let component = build(&Params::new(params), &context)?;
        let boxed = Box::new(State {
            component,
            text: CString::default(),
            tensor_names: Vec::new(),
            saved: Vec::new(),
        });
        // SAFETY: `out` is a valid pointer provided by the host for this call.
        unsafe {
            *out = FfiObject {
                state: Box::into_raw(boxed) as *mut c_void,
                vtable,
                release: release::<T>,
                set_param: set_param::<T>,
            };
        }
        Ok(())
    })
}

/// A descriptor entry for one component; made by `export_plugin!`.
pub struct ComponentExport {
    pub kind: ComponentKind,
    pub name: String,
    pub schema_json: String,
    pub create: extern "C" fn(*const c_char, *const c_char, *mut FfiObject) -> i32,
}

/// `Sync` wrapper so vtables can live in statics. Transparent, because the host reads a pointer
/// to it as a pointer to the table inside.
#[repr(transparent)]
pub struct VTable<T>(pub T);
// SAFETY: vtables hold only function pointers, which are safe to share between threads.
unsafe impl<T> Sync for VTable<T> {}

macro_rules! export_fn {
    ($fn_name:ident, $trait:ident, $kind:expr, $vtable:ident) => {
        pub fn $fn_name<T: $trait>() -> ComponentExport {
            extern "C" fn create_it<T: $trait>(
                params: *const c_char,
                context: *const c_char,
                out: *mut FfiObject,
            ) -> i32 {
                create::<T>(T::create, $vtable::<T>(), params, context, out)
            }
            let schema = T::schema();
            ComponentExport {
                kind: $kind,
                name: schema.name.clone(),
                schema_json: serde_json::to_string(&schema).unwrap_or_default(),
                create: create_it::<T>,
            }
        }
    };
}

export_fn!(
    export_dataset,
    Dataset,
    ComponentKind::Dataset,
    dataset_vtable
);
export_fn!(export_model, Model, ComponentKind::Model, model_vtable);
export_fn!(
    export_optimizer,
    Optimizer,
    ComponentKind::Optimizer,
    optimizer_vtable
);
export_fn!(
    export_scheduler,
    Scheduler,
    ComponentKind::Scheduler,
    scheduler_vtable
);
export_fn!(
    export_evaluator,
    Evaluator,
    ComponentKind::Evaluator,
    evaluator_vtable
);
export_fn!(export_merger, Merger, ComponentKind::Merger, merger_vtable);
export_fn!(
    export_regularizer,
    Regularizer,
    ComponentKind::Regularizer,
    regularizer_vtable
);

fn leak_vtable<V: 'static>(vtable: V) -> *const c_void {
    // One table per component type, made once per process and never freed: a plugin library is
    // never unloaded, so its tables live as long as it does.
    Box::leak(Box::new(VTable(vtable))) as *const VTable<V> as *const c_void
}

fn dataset_vtable<T: Dataset>() -> *const c_void {
    extern "C" fn info<T: Dataset>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded(|| {
            let state = state::<T>(raw);
            let info = state.component.info();
            json_out(state, &info, out)
        })
    }
    extern "C" fn batch<T: Dataset>(
        raw: *mut c_void,
        split: u32,
        indices: *const i64,
        n: usize,
        out_x: *mut TensorHandle,
        out_y: *mut TensorHandle,
    ) -> i32 {
        guarded(|| {
            let split = if split == 0 {
                Split::Train
            } else {
                Split::Test
            };
            let indices = if n == 0 {
                &[][..]
            } else {
                // SAFETY: the host passes `n` indices at `indices` for the duration of the call.
                unsafe { std::slice::from_raw_parts(indices, n) }
            };
            let (x, y) = state::<T>(raw).component.batch(split, indices)?;
            tensor_out(&x, out_x);
            tensor_out(&y, out_y);
            Ok(())
        })
    }
    static_vtable::<T, _>(|| FfiDatasetVTable {
        info: info::<T>,
        batch: batch::<T>,
    })
}

fn model_vtable<T: Model>() -> *const c_void {
    extern "C" fn n_tensors<T: Model>(raw: *mut c_void) -> usize {
        let state = state::<T>(raw);
        catch_unwind(AssertUnwindSafe(|| state.component.named_tensors().len())).unwrap_or(0)
    }
    extern "C" fn tensor_name<T: Model>(raw: *mut c_void, index: usize) -> *const c_char {
        let state = state::<T>(raw);
        if state.tensor_names.is_empty() {
            let names = catch_unwind(AssertUnwindSafe(|| {
                state
                    .component
                    .named_tensors()
                    .into_iter()
                    .map(|(name, _)| c_string(&name))
                    .collect::<Vec<_>>()
            }));
            state.tensor_names = names.unwrap_or_default();
        }
        state
            .tensor_names
            .get(index)
            .map_or(std::ptr::null(), |name| name.as_ptr())
    }
    extern "C" fn tensor<T: Model>(raw: *mut c_void, index: usize, out: *mut TensorHandle) -> i32 {
        guarded(|| {
            let tensors = state::<T>(raw).component.named_tensors();
            let (_, tensor) = tensors
                .get(index)
                .ok_or_else(|| PluginError::new(format!("no tensor at index {index}")))?;
            tensor_out(tensor, out);
            Ok(())
        })
    }
    extern "C" fn forward<T: Model>(
        raw: *mut c_void,
        x: TensorHandle,
        train: bool,
        out: *mut TensorHandle,
    ) -> i32 {
        guarded(|| {
            let x = tensor_in(x)?;
            let y = state::<T>(raw).component.forward(&x, train)?;
            tensor_out(&y, out);
            Ok(())
        })
    }
    extern "C" fn loss<T: Model>(
        raw: *mut c_void,
        x: TensorHandle,
        y: TensorHandle,
        out: *mut TensorHandle,
    ) -> i32 {
        guarded(|| {
            let (x, y) = (tensor_in(x)?, tensor_in(y)?);
            let loss = state::<T>(raw).component.loss(&x, &y)?;
            tensor_out(&loss, out);
            Ok(())
        })
    }
    static_vtable::<T, _>(|| FfiModelVTable {
        n_tensors: n_tensors::<T>,
        tensor_name: tensor_name::<T>,
        tensor: tensor::<T>,
        forward: forward::<T>,
        loss: loss::<T>,
        training_state: state_fns::<T>(),
    })
}

fn optimizer_vtable<T: Optimizer>() -> *const c_void {
    extern "C" fn step<T: Optimizer>(
        raw: *mut c_void,
        params: *const TensorHandle,
        n: usize,
        lr: f64,
    ) -> i32 {
        guarded(|| {
            let params = tensors_in(params, n)?;
            state::<T>(raw).component.step(&params, lr)
        })
    }
    static_vtable::<T, _>(|| FfiOptimizerVTable {
        step: step::<T>,
        training_state: state_fns::<T>(),
    })
}

/// The state functions for any component that implements `Stateful`.
fn state_fns<T: Stateful>() -> FfiStateFns {
    extern "C" fn save<T: Stateful>(
        raw: *mut c_void,
        out_n: *mut usize,
        out_json: *mut *const c_char,
    ) -> i32 {
        guarded(|| {
            let state = state::<T>(raw);
            let saved = state.component.save_state()?;
            let json = serde_json::to_string(&saved.data)
                .map_err(|error| PluginError::new(error.to_string()))?;
            state.text = c_string(&json);
            state.saved = saved
                .tensors
                .into_iter()
                .map(|(name, tensor)| (c_string(&name), tensor))
                .collect();
            // SAFETY: the out pointers are valid for this call; the string lives in the state.
            unsafe {
                *out_n = state.saved.len();
                *out_json = state.text.as_ptr();
            }
            Ok(())
        })
    }
    extern "C" fn saved_tensor<T: Stateful>(
        raw: *mut c_void,
        index: usize,
        out_name: *mut *const c_char,
        out_tensor: *mut TensorHandle,
    ) -> i32 {
        guarded(|| {
            let state = state::<T>(raw);
            let (name, tensor) = state
                .saved
                .get(index)
                .ok_or_else(|| PluginError::new(format!("no saved tensor at index {index}")))?;
            // SAFETY: `out_name` is valid for this call; the name lives in the state.
            unsafe { *out_name = name.as_ptr() };
            tensor_out(tensor, out_tensor);
            Ok(())
        })
    }
    extern "C" fn load<T: Stateful>(
        raw: *mut c_void,
        json: *const c_char,
        names: *const *const c_char,
        tensors: *const TensorHandle,
        n: usize,
    ) -> i32 {
        guarded(|| {
            let data: serde_json::Value = serde_json::from_str(str_in(json)?)
                .map_err(|error| PluginError::new(format!("malformed saved state: {error}")))?;
            let names = names_in(names, n)?;
            let tensors = tensors_in(tensors, n)?;
            let saved = SavedState {
                tensors: names.into_iter().map(str::to_string).zip(tensors).collect(),
                data,
            };
            state::<T>(raw).component.load_state(saved)
        })
    }
    FfiStateFns {
        save: save::<T>,
        saved_tensor: saved_tensor::<T>,
        load: load::<T>,
    }
}

fn scheduler_vtable<T: Scheduler>() -> *const c_void {
    extern "C" fn multiplier<T: Scheduler>(
        raw: *mut c_void,
        step: u64,
        total: u64,
        out: *mut f64,
    ) -> i32 {
        guarded(|| {
            let value = state::<T>(raw).component.multiplier(step, total);
            // SAFETY: `out` is valid for this call.
            unsafe { *out = value };
            Ok(())
        })
    }
    static_vtable::<T, _>(|| FfiSchedulerVTable {
        multiplier: multiplier::<T>,
    })
}

fn evaluator_vtable<T: Evaluator>() -> *const c_void {
    extern "C" fn reset<T: Evaluator>(raw: *mut c_void) -> i32 {
        guarded(|| {
            state::<T>(raw).component.reset();
            Ok(())
        })
    }
    extern "C" fn update<T: Evaluator>(
        raw: *mut c_void,
        output: TensorHandle,
        target: TensorHandle,
    ) -> i32 {
        guarded(|| {
            let (output, target) = (tensor_in(output)?, tensor_in(target)?);
            state::<T>(raw).component.update(&output, &target)
        })
    }
    extern "C" fn compute<T: Evaluator>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded(|| {
            let state = state::<T>(raw);
            let metrics: BTreeMap<String, f64> = state.component.compute();
            json_out(state, &metrics, out)
        })
    }
    static_vtable::<T, _>(|| FfiEvaluatorVTable {
        reset: reset::<T>,
        update: update::<T>,
        compute: compute::<T>,
    })
}

fn merger_vtable<T: Merger>() -> *const c_void {
    extern "C" fn merge<T: Merger>(
        raw: *mut c_void,
        name: *const c_char,
        inputs: *const TensorHandle,
        n: usize,
        out: *mut TensorHandle,
    ) -> i32 {
        guarded(|| {
            let name = str_in(name)?;
            let inputs = tensors_in(inputs, n)?;
            let merged = state::<T>(raw).component.merge(name, &inputs)?;
            tensor_out(&merged, out);
            Ok(())
        })
    }
    extern "C" fn merge_model<T: Merger>(
        raw: *mut c_void,
        names: *const *const c_char,
        n_tensors: usize,
        inputs: *const TensorHandle,
        n_inputs: usize,
        out: *mut TensorHandle,
    ) -> i32 {
        guarded(|| {
            let names = names_in(names, n_tensors)?;
            let count = n_tensors.checked_mul(n_inputs).ok_or_else(|| {
                PluginError::new(format!("{n_tensors} tensors × {n_inputs} inputs overflows"))
            })?;
            let mut flat = tensors_in(inputs, count)?.into_iter();
            let tensors: Vec<(String, Vec<Tensor>)> = names
                .into_iter()
                .map(|name| (name.to_string(), flat.by_ref().take(n_inputs).collect()))
                .collect();
            let merged = state::<T>(raw).component.merge_model(&tensors)?;
            // The host sized `out` for exactly `n_tensors` handles; writing a different count
            // would leave slots unset or overrun it.
            if merged.len() != n_tensors {
                return Err(PluginError::new(format!(
                    "merge_model returned {} tensors for {n_tensors} names",
                    merged.len()
                )));
            }
            for (index, tensor) in merged.iter().enumerate() {
                // SAFETY: the host passes room for `n_tensors` handles at `out`.
                tensor_out(tensor, unsafe { out.add(index) });
            }
            Ok(())
        })
    }
    extern "C" fn as_hook<T: Merger>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded(|| {
            let state = state::<T>(raw);
            let hook = state.component.as_hook();
            json_out(state, &hook, out)
        })
    }
    static_vtable::<T, _>(|| FfiMergerVTable {
        merge: merge::<T>,
        merge_model: merge_model::<T>,
        as_hook: as_hook::<T>,
    })
}

fn regularizer_vtable<T: Regularizer>() -> *const c_void {
    fn named(
        names: *const *const c_char,
        params: *const TensorHandle,
        n: usize,
    ) -> Result<Vec<(String, Tensor)>, PluginError> {
        let names = names_in(names, n)?;
        let tensors = tensors_in(params, n)?;
        Ok(names.into_iter().map(str::to_string).zip(tensors).collect())
    }
    extern "C" fn anchor<T: Regularizer>(
        raw: *mut c_void,
        names: *const *const c_char,
        params: *const TensorHandle,
        n: usize,
    ) -> i32 {
        guarded(|| {
            let params = named(names, params, n)?;
            state::<T>(raw).component.anchor(&params)
        })
    }
    extern "C" fn penalty<T: Regularizer>(
        raw: *mut c_void,
        names: *const *const c_char,
        params: *const TensorHandle,
        n: usize,
        out: *mut TensorHandle,
    ) -> i32 {
        guarded(|| {
            let params = named(names, params, n)?;
            let penalty = state::<T>(raw).component.penalty(&params)?;
            tensor_out(&penalty, out);
            Ok(())
        })
    }
    extern "C" fn fisher_request<T: Regularizer>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded(|| {
            let state = state::<T>(raw);
            let request = state.component.fisher_request();
            json_out(state, &request, out)
        })
    }
    #[allow(clippy::too_many_arguments)] // a C signature: two named tensor lists and a flag
    extern "C" fn end_task<T: Regularizer>(
        raw: *mut c_void,
        names: *const *const c_char,
        params: *const TensorHandle,
        n: usize,
        has_fisher: bool,
        fisher_names: *const *const c_char,
        fisher: *const TensorHandle,
        n_fisher: usize,
    ) -> i32 {
        guarded(|| {
            let params = named(names, params, n)?;
            let fisher = if has_fisher {
                Some(named(fisher_names, fisher, n_fisher)?)
            } else {
                None
            };
            state::<T>(raw)
                .component
                .end_task(&params, fisher.as_deref())
        })
    }
    static_vtable::<T, _>(|| FfiRegularizerVTable {
        anchor: anchor::<T>,
        penalty: penalty::<T>,
        fisher_request: fisher_request::<T>,
        end_task: end_task::<T>,
        training_state: state_fns::<T>(),
    })
}

/// One vtable per (component type, table type), built on first use.
fn static_vtable<T: 'static, V: 'static>(make: impl FnOnce() -> V) -> *const c_void {
    use std::any::TypeId;
    use std::sync::{Mutex, OnceLock};
    static TABLES: OnceLock<Mutex<Vec<(TypeId, usize)>>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| Mutex::new(Vec::new()));
    let mut tables = tables
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = TypeId::of::<(T, V)>();
    if let Some((_, address)) = tables.iter().find(|(id, _)| *id == key) {
        return *address as *const c_void;
    }
    let pointer = leak_vtable(make());
    tables.push((key, pointer as usize));
    pointer
}

/// The descriptor and the C strings it points at, kept alive for the life of the library.
pub struct PluginExport {
    descriptor: FfiPlugin,
    _strings: Vec<CString>,
    _components: Vec<FfiComponent>,
}

// SAFETY: after construction the descriptor is never mutated; its pointers refer to strings and
// tables owned by the same value, which lives in a static for the life of the library.
unsafe impl Sync for PluginExport {}
// SAFETY: as above; moving it between threads moves only owned data.
unsafe impl Send for PluginExport {}

impl PluginExport {
    /// Assembles the descriptor; `export_plugin!` calls this once.
    pub fn new(name: &str, version: &str, components: Vec<ComponentExport>) -> PluginExport {
        let mut strings = Vec::new();
        let mut keep = |text: &str| {
            let owned = c_string(text);
            let pointer = owned.as_ptr();
            strings.push(owned);
            pointer
        };
        let name_ptr = keep(name);
        let version_ptr = keep(version);
        let fingerprint_ptr = keep(&crate::build_fingerprint());
        let ffi_components: Vec<FfiComponent> = components
            .iter()
            .map(|component| FfiComponent {
                kind: component.kind.tag(),
                name: keep(&component.name),
                schema_json: keep(&component.schema_json),
                create: component.create,
            })
            .collect();
        PluginExport {
            descriptor: FfiPlugin {
                magic: MAGIC,
                abi_major: ABI_MAJOR,
                abi_minor: ABI_MINOR,
                struct_size: std::mem::size_of::<FfiPlugin>() as u32,
                name: name_ptr,
                version: version_ptr,
                fingerprint: fingerprint_ptr,
                components: ffi_components.as_ptr(),
                n_components: ffi_components.len(),
                last_error,
                last_error_field,
            },
            _strings: strings,
            _components: ffi_components,
        }
    }

    /// The descriptor with a different ABI version; only for tests of the host's refusal.
    pub fn with_abi_version(mut self, major: u32, minor: u32) -> PluginExport {
        self.descriptor.abi_major = major;
        self.descriptor.abi_minor = minor;
        self
    }

    /// The descriptor with another build fingerprint; only for tests of the host's refusal.
    pub fn with_fingerprint(mut self, fingerprint: &str) -> PluginExport {
        let owned = c_string(fingerprint);
        self.descriptor.fingerprint = owned.as_ptr();
        self._strings.push(owned);
        self
    }

    pub fn descriptor(&self) -> *const FfiPlugin {
        &self.descriptor
    }
}

#[cfg(test)]
mod tests {
    //! The plugin-side glue of the ABI 3 calls, driven through the function tables as the host
    //! drives them (the host side is exercised end to end by loading the std plugin).

    use std::ffi::{c_char, c_void, CStr, CString};

    use exp_ir::{ComponentKind, ComponentSchema};
    use tch::Tensor;

    use super::*;
    use crate::sdk::{
        schema, Component, Context, FisherEstimator, FisherRequest, HookAnchor, MergeHook, Params,
        Result, SavedState, Stateful,
    };

    /// Sums its inputs; a hook every 5 steps.
    struct Sum;

    impl Component for Sum {
        fn schema() -> ComponentSchema {
            schema(ComponentKind::Merger, "sum", "1", "sums")
        }
        fn create(_params: &Params, _context: &Context) -> Result<Self> {
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
        fn schema() -> ComponentSchema {
            schema(ComponentKind::Merger, "short", "1", "drops a tensor")
        }
        fn create(_params: &Params, _context: &Context) -> Result<Self> {
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

    /// Records what `end_task` received; its state is the number of tasks it has seen.
    struct Counting {
        tasks: u64,
        last_fisher: Option<Vec<String>>,
    }

    impl Component for Counting {
        fn schema() -> ComponentSchema {
            schema(ComponentKind::Regularizer, "counting", "1", "counts tasks")
        }
        fn create(_params: &Params, _context: &Context) -> Result<Self> {
            Ok(Counting {
                tasks: 0,
                last_fisher: None,
            })
        }
    }

    impl Stateful for Counting {
        fn save_state(&self) -> Result<SavedState> {
            Ok(SavedState {
                tensors: Vec::new(),
                data: serde_json::json!({ "tasks": self.tasks }),
            })
        }
        fn load_state(&mut self, state: SavedState) -> Result<()> {
            self.tasks = state.data["tasks"].as_u64().unwrap_or(0);
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

    /// A live object and its table, released when dropped.
    struct Object<V: 'static> {
        object: FfiObject,
        table: &'static V,
    }

    impl<V> Object<V> {
        fn new(export: ComponentExport) -> Object<V> {
            let params = CString::new("{}").unwrap();
            let context = CString::new(r#"{"seed": 0, "device": "cpu", "data": null}"#).unwrap();
            let mut object = FfiObject {
                state: std::ptr::null_mut(),
                vtable: std::ptr::null(),
                release: noop,
                set_param: noop_set_param,
            };
            let status = (export.create)(params.as_ptr(), context.as_ptr(), &mut object);
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

    extern "C" fn noop(_state: *mut c_void) {}

    extern "C" fn noop_set_param(
        _state: *mut c_void,
        _name: *const c_char,
        _value: *const c_char,
    ) -> i32 {
        STATUS_OK
    }

    fn error() -> String {
        let message = last_error();
        if message.is_null() {
            return String::new();
        }
        // SAFETY: a non-null `last_error` is a NUL-terminated string owned by this thread.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    }

    fn text(json: *const c_char) -> String {
        // SAFETY: the table returned a NUL-terminated string that lives until the next call.
        unsafe { CStr::from_ptr(json) }
            .to_string_lossy()
            .into_owned()
    }

    fn handle(tensor: &Tensor) -> TensorHandle {
        tensor.as_ptr() as TensorHandle
    }

    fn values(handle: TensorHandle) -> Vec<f32> {
        // SAFETY: a handle the plugin returned is a new reference the caller owns.
        let tensor = unsafe { Tensor::from_ptr(handle) };
        Vec::<f32>::try_from(&tensor).unwrap()
    }

    /// Two tensors of two models, laid out tensor by tensor, merged in one call.
    fn merge_model(
        merger: &Object<FfiMergerVTable>,
        names: &[&str],
        out: &mut [TensorHandle],
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
        let handles: Vec<TensorHandle> = inputs.iter().map(handle).collect();
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
        let merger = Object::<FfiMergerVTable>::new(export_merger::<Sum>());
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
        let hook: Option<MergeHook> = serde_json::from_str(&text(json)).unwrap();
        assert_eq!(
            hook,
            Some(MergeHook {
                every: 5,
                anchor: HookAnchor::PreviousMerge,
                keep_optimizer: false
            })
        );
        assert_eq!(
            text(json),
            r#"{"every":5,"anchor":"previous_merge","keep_optimizer":false}"#
        );

        let short = Object::<FfiMergerVTable>::new(export_merger::<Short>());
        let mut json = std::ptr::null();
        assert_eq!(
            (short.table.as_hook)(short.object.state, &mut json),
            STATUS_OK
        );
        assert_eq!(text(json), "null");
    }

    #[test]
    fn merge_model_reports_a_short_result_and_catches_panics() {
        let short = Object::<FfiMergerVTable>::new(export_merger::<Short>());
        let mut out = [std::ptr::null_mut(); 2];
        assert_eq!(merge_model(&short, &["a", "b"], &mut out), STATUS_ERROR);
        assert!(
            error().contains("returned 0 tensors for 2 names"),
            "{}",
            error()
        );
        assert!(out.iter().all(|handle| handle.is_null()));

        let sum = Object::<FfiMergerVTable>::new(export_merger::<Sum>());
        assert_eq!(merge_model(&sum, &["a", "boom"], &mut out), STATUS_PANIC);
        assert!(error().contains("merge blew up on `boom`"), "{}", error());
    }

    #[test]
    fn regularizer_state_fisher_request_and_end_task_cross_the_table() {
        let regularizer = Object::<FfiRegularizerVTable>::new(export_regularizer::<Counting>());
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
        let fisher_name = CString::new("w").unwrap();
        let names = [name.as_ptr()];
        let handles = [handle(&weight)];
        let fisher_names = [fisher_name.as_ptr()];
        let status = (table.end_task)(
            state,
            names.as_ptr(),
            handles.as_ptr(),
            1,
            true,
            fisher_names.as_ptr(),
            handles.as_ptr(),
            1,
        );
        assert_eq!(status, STATUS_OK, "{}", error());
        let status = (table.end_task)(
            state,
            names.as_ptr(),
            handles.as_ptr(),
            1,
            false,
            std::ptr::null(),
            std::ptr::null(),
            0,
        );
        assert_eq!(status, STATUS_OK, "{}", error());

        let mut count = 0;
        let mut json = std::ptr::null();
        assert_eq!(
            (table.training_state.save)(state, &mut count, &mut json),
            STATUS_OK
        );
        assert_eq!((count, text(json).as_str()), (0, r#"{"tasks":2}"#));

        let fresh = Object::<FfiRegularizerVTable>::new(export_regularizer::<Counting>());
        let saved = CString::new(r#"{"tasks":2}"#).unwrap();
        let status = (fresh.table.training_state.load)(
            fresh.object.state,
            saved.as_ptr(),
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
        let penalty = unsafe { Tensor::from_ptr(penalty) };
        assert_eq!(f64::try_from(&penalty).unwrap(), 2.0);
    }

    #[test]
    fn end_task_passes_the_fisher_only_when_there_is_one() {
        let regularizer = Object::<FfiRegularizerVTable>::new(export_regularizer::<Counting>());
        let weight = Tensor::from_slice(&[1.0f32]);
        let name = CString::new("w").unwrap();
        let names = [name.as_ptr()];
        let handles = [handle(&weight)];
        let call = |has_fisher: bool| {
            (regularizer.table.end_task)(
                regularizer.object.state,
                names.as_ptr(),
                handles.as_ptr(),
                1,
                has_fisher,
                names.as_ptr(),
                handles.as_ptr(),
                1,
            )
        };
        assert_eq!(call(true), STATUS_OK);
        let counting = state::<Counting>(regularizer.object.state);
        assert_eq!(counting.component.last_fisher, Some(vec!["w".to_string()]));
        assert_eq!(call(false), STATUS_OK);
        let counting = state::<Counting>(regularizer.object.state);
        assert_eq!(counting.component.last_fisher, None);
        assert_eq!(counting.component.tasks, 2);
    }
}
