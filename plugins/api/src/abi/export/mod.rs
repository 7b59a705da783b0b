//! The plugin side of the ABI: generic `extern "C"` functions over the SDK traits, which
//! `export_plugin!` instantiates for each component type, and the descriptor they hang from.
//!
//! Every body runs inside `guarded`: an error becomes `STATUS_ERROR` and a panic
//! `STATUS_PANIC`, with the message kept for `last_error`, so nothing unwinds into the host. A
//! panic hook installed once per library records where a panic happened instead of printing
//! it: the host shows one clean line and keeps the rest for the node's log.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use exp_ir::{ComponentKind, Duration, DurationUnit, Value};
use tch::Tensor;
use torch_sys::C_tensor;

mod tables;
#[cfg(test)]
mod tests;
mod text;

use tables::{
    dataset_vtable, evaluator_vtable, exporter_vtable, merger_vtable, model_vtable,
    optimizer_vtable, regularizer_vtable, scheduler_vtable, text_dataset_vtable, tokenizer_vtable,
};

use super::types::{
    FfiCheckFn, FfiComponent, FfiContext, FfiCreateFn, FfiDurationUnit, FfiObject,
    FfiParameterCountFn, FfiPlugin, FfiTensorHandle, FfiValue, FfiValueKind, ABI_MAJOR, ABI_MINOR,
    MAGIC, STATUS_ERROR, STATUS_OK, STATUS_PANIC,
};
use crate::sdk::config::{Config, Params};
use crate::sdk::panics;
use crate::sdk::{
    schema_of, Component, Context, DataInfo, Dataset, Evaluator, Exporter, Merger, Model,
    Optimizer, PluginError, Regularizer, Scheduler, TextDataset, Tokenizer,
};

thread_local! {
    static LAST_ERROR: RefCell<Option<(CString, Option<CString>)>> = const { RefCell::new(None) };
    /// What the panic hook saw of the latest panic on this thread: its location and, when
    /// `RUST_BACKTRACE` asks for one, the backtrace.
    static PANIC_DETAIL: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub(super) fn c_string(text: &str) -> CString {
    // Interior NULs cannot be represented; the message stays readable without them.
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

/// Replaces the default panic output (a message and maybe a backtrace on stderr, before the
/// host's own message) with a record the failed call hands over; installed once per library.
fn quiet_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let mut detail = info
                .location()
                .map(|at| format!("at {}:{}:{}", at.file(), at.line(), at.column()))
                .unwrap_or_default();
            let backtrace = std::backtrace::Backtrace::capture();
            if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
                detail.push_str(&format!("\n{backtrace}"));
            }
            PANIC_DETAIL.with(|slot| *slot.borrow_mut() = Some(detail));
        }));
    });
}

/// Runs `body` as SDK method `method`, turning an error or a panic into a status and a
/// last-error message. No panic ever unwinds across the boundary. After `STATUS_PANIC` the
/// message's first line is the panic's own text and the lines after it its location (and
/// backtrace); `last_error_field` names the method that panicked.
pub(super) fn guarded(method: &'static str, body: impl FnOnce() -> Result<(), PluginError>) -> i32 {
    quiet_panics();
    // Forget what a panic the component caught itself left behind.
    PANIC_DETAIL.with(|slot| slot.borrow_mut().take());
    panics::take_panic_method();
    match catch_unwind(AssertUnwindSafe(|| panics::in_method(method, body))) {
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
            let method = panics::take_panic_method().unwrap_or(method);
            let detail = PANIC_DETAIL.with(|slot| slot.borrow_mut().take());
            let full = match detail {
                Some(detail) if !detail.is_empty() => format!("{message}\n{detail}"),
                _ => message,
            };
            set_last_error(&full, Some(method));
            STATUS_PANIC
        }
    }
}

/// Hands a tensor to the host as a new handle (a shallow clone the host will free).
pub(super) fn tensor_out(tensor: &Tensor, out: *mut FfiTensorHandle) {
    // SAFETY: `tensor` is a live tensor; `at_shallow_clone` returns a new, separately owned
    // handle. `out` is a valid pointer provided by the host for this call.
    unsafe { *out = torch_sys::at_shallow_clone(tensor.as_ptr() as *mut C_tensor) as _ };
}

/// Hands the host a JSON text that lives in the object's state until its next call.
pub(super) fn json_out<T: Component>(
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
pub(super) fn tensor_in(handle: FfiTensorHandle) -> Result<Tensor, PluginError> {
    if handle.is_null() {
        return Err(PluginError::new("received a null tensor handle"));
    }
    // SAFETY: the host guarantees `handle` is a live tensor for the duration of the call;
    // `clone_from_ptr` takes a new reference and does not take ownership of `handle`.
    Ok(unsafe { Tensor::clone_from_ptr(handle as *mut C_tensor) })
}

pub(super) fn tensors_in(
    handles: *const FfiTensorHandle,
    n: usize,
) -> Result<Vec<Tensor>, PluginError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the host passes `n` valid handles at `handles` for the duration of the call.
    let slice = unsafe { std::slice::from_raw_parts(handles, n) };
    slice.iter().map(|handle| tensor_in(*handle)).collect()
}

pub(super) fn str_in<'a>(text: *const c_char) -> Result<&'a str, PluginError> {
    if text.is_null() {
        return Err(PluginError::new("received a null string"));
    }
    // SAFETY: the host passes a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(text) }
        .to_str()
        .map_err(|_| PluginError::new("received a string that is not UTF-8"))
}

pub(super) fn names_in<'a>(
    names: *const *const c_char,
    n: usize,
) -> Result<Vec<&'a str>, PluginError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the host passes `n` valid C strings at `names` for the duration of the call.
    let slice = unsafe { std::slice::from_raw_parts(names, n) };
    slice.iter().map(|name| str_in(*name)).collect()
}

/// The items of a list or record value (empty when there are none).
fn items_of(value: &FfiValue) -> &[FfiValue] {
    if value.n_items == 0 || value.items.is_null() {
        return &[];
    }
    // SAFETY: the host built `n_items` items at `items` (see `values::OwnedValue`), alive for
    // the call.
    unsafe { std::slice::from_raw_parts(value.items, value.n_items) }
}

/// The keys of a record value.
fn keys_of(value: &FfiValue) -> Result<Vec<&str>, PluginError> {
    names_in(
        value.keys,
        if value.keys.is_null() {
            0
        } else {
            value.n_items
        },
    )
}

pub(super) fn value_ref<'a>(value: *const FfiValue) -> Result<&'a FfiValue, PluginError> {
    if value.is_null() {
        return Err(PluginError::new("received a null value"));
    }
    // SAFETY: the host passes a value tree that lives for the duration of the call.
    Ok(unsafe { &*value })
}

/// Reads a parameter value as the file wrote it.
pub fn read_value(value: &FfiValue) -> Result<Value, PluginError> {
    Ok(match value.kind {
        FfiValueKind::Int => Value::Int(value.int_value),
        FfiValueKind::Float => Value::Float(value.float_value),
        FfiValueKind::Bool => Value::Bool(value.int_value != 0),
        FfiValueKind::Str => Value::Str(str_in(value.text)?.to_string()),
        FfiValueKind::List => Value::List(
            items_of(value)
                .iter()
                .map(read_value)
                .collect::<Result<_, _>>()?,
        ),
        FfiValueKind::Duration => Value::Duration(Duration {
            amount: value.float_value,
            unit: match value.unit {
                FfiDurationUnit::Steps => DurationUnit::Steps,
                FfiDurationUnit::Epochs => DurationUnit::Epochs,
                FfiDurationUnit::Tokens => DurationUnit::Tokens,
                FfiDurationUnit::Fraction => DurationUnit::Fraction,
            },
        }),
        FfiValueKind::Record => Value::Record(read_record(value)?),
        FfiValueKind::Null | FfiValueKind::Uint => {
            return Err(PluginError::new(
                "received a value no parameter can hold (null or a 64-bit unsigned integer)",
            ))
        }
    })
}

fn read_record(value: &FfiValue) -> Result<BTreeMap<String, Value>, PluginError> {
    keys_of(value)?
        .into_iter()
        .zip(items_of(value))
        .map(|(key, item)| Ok((key.to_string(), read_value(item)?)))
        .collect()
}

/// Reads a value as plain JSON (context records, saved state).
pub fn read_json(value: &FfiValue) -> Result<serde_json::Value, PluginError> {
    use serde_json::Value as J;
    Ok(match value.kind {
        FfiValueKind::Null => J::Null,
        FfiValueKind::Int => J::from(value.int_value),
        FfiValueKind::Uint => J::from(value.int_value as u64),
        FfiValueKind::Float => J::from(value.float_value),
        FfiValueKind::Bool => J::Bool(value.int_value != 0),
        FfiValueKind::Str => J::String(str_in(value.text)?.to_string()),
        FfiValueKind::List => J::Array(
            items_of(value)
                .iter()
                .map(read_json)
                .collect::<Result<_, _>>()?,
        ),
        FfiValueKind::Duration => serde_json::json!({
            "amount": value.float_value,
            "unit": read_value(value)?.to_json()["unit"],
        }),
        FfiValueKind::Record => J::Object(
            keys_of(value)?
                .into_iter()
                .zip(items_of(value))
                .map(|(key, item)| Ok((key.to_string(), read_json(item)?)))
                .collect::<Result<_, PluginError>>()?,
        ),
    })
}

/// Reads and checks a component's parameter record into its config.
fn config_in<T: Component>(params: *const FfiValue) -> Result<T::Config, PluginError> {
    let params = Params::new(read_record(value_ref(params)?)?);
    let config = T::Config::from_params(&params)?;
    T::check(&config)?;
    Ok(config)
}

fn context_in(context: *const FfiContext) -> Result<Context, PluginError> {
    if context.is_null() {
        return Err(PluginError::new("received a null context"));
    }
    // SAFETY: the host passes a context that lives for the duration of the call.
    let context = unsafe { &*context };
    Ok(Context {
        seed: context.seed,
        device: str_in(context.device)?.to_string(),
        data: data_in(context.data)?,
    })
}

/// A dataset info record, or `None` for a null pointer.
fn data_in(data: *const FfiValue) -> Result<Option<DataInfo>, PluginError> {
    if data.is_null() {
        return Ok(None);
    }
    let json = read_json(value_ref(data)?)?;
    serde_json::from_value::<DataInfo>(json)
        .map(Some)
        .map_err(|error| PluginError::new(format!("bad dataset info: {error}")))
}

/// The state behind every object: the component, its config (which scheduled parameters
/// update), and what it has handed out, which must stay valid until its next call or release.
pub(super) struct State<T: Component> {
    pub(super) component: T,
    config: T::Config,
    pub(super) text: CString,
    pub(super) tensor_names: Vec<CString>,
    /// The tensors of the last `save`, until the next one.
    pub(super) saved: Vec<(CString, Tensor)>,
    /// A tokenizer's last `encode`, until the next call.
    pub(super) encoded: text::Encoded,
}

pub(super) fn state<'a, T: Component>(raw: *mut c_void) -> &'a mut State<T> {
    // SAFETY: `raw` was created by `create::<T>` as a `Box<State<T>>` and the host only passes
    // it back to functions of the same vtable until `release`; calls on one object are never
    // concurrent (the host wrapper needs `&mut self`).
    unsafe { &mut *(raw as *mut State<T>) }
}

extern "C" fn release<T: Component>(raw: *mut c_void) {
    if !raw.is_null() {
        // SAFETY: `raw` came from `Box::into_raw` in `create` and is released exactly once.
        let state = unsafe { Box::from_raw(raw as *mut State<T>) };
        // A panic in a component's `Drop` must not unwind into the host either; there is no
        // status to report it with, so it is contained and the object is gone.
        let _ = catch_unwind(AssertUnwindSafe(move || drop(state)));
    }
}

/// A scheduled parameter's new value: checked and written into the config, which the
/// component then takes over.
extern "C" fn set_param<T: Component>(raw: *mut c_void, name: *const c_char, value: f64) -> i32 {
    guarded("reconfigure", || {
        let name = str_in(name)?;
        let state = state::<T>(raw);
        state.config.set_scheduled(name, value)?;
        state
            .component
            .reconfigure(&state.config)
            .map_err(|error| PluginError {
                field: error.field.or_else(|| Some(name.to_string())),
                ..error
            })
    })
}

/// Builds a component through its SDK constructor; shared by every kind.
fn create<T: Component>(
    vtable: *const c_void,
    params: *const FfiValue,
    context: *const FfiContext,
    out: *mut FfiObject,
) -> i32 {
    guarded("create", || {
        let config = config_in::<T>(params)?;
        let context = context_in(context)?;
        let component = T::create(config.clone(), &context)?;
        let boxed = Box::new(State {
            component,
            config,
            text: CString::default(),
            tensor_names: Vec::new(),
            saved: Vec::new(),
            encoded: text::Encoded::default(),
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

extern "C" fn check<T: Component>(params: *const FfiValue) -> i32 {
    guarded("check", || config_in::<T>(params).map(|_| ()))
}

extern "C" fn parameter_count<T: Model>(
    params: *const FfiValue,
    data: *const FfiValue,
    out: *mut u64,
) -> i32 {
    guarded("parameter_count", || {
        let config = config_in::<T>(params)?;
        let data = data_in(data)?;
        let count = T::parameter_count(&config, data.as_ref())?;
        // SAFETY: `out` is valid for this call.
        unsafe { *out = count };
        Ok(())
    })
}

/// A descriptor entry for one component; made by `export_plugin!`.
pub struct ComponentExport {
    pub kind: ComponentKind,
    pub name: String,
    pub schema_json: String,
    pub create: FfiCreateFn,
    pub check: FfiCheckFn,
    pub parameter_count: Option<FfiParameterCountFn>,
}

/// `Sync` wrapper so vtables can live in statics. Transparent, because the host reads a pointer
/// to it as a pointer to the table inside.
#[repr(transparent)]
pub struct VTable<T>(pub T);
// SAFETY: vtables hold only function pointers, which are safe to share between threads.
unsafe impl<T> Sync for VTable<T> {}

macro_rules! export_fn {
    ($fn_name:ident, $trait:ident, $kind:expr, $vtable:ident) => {
        export_fn!($fn_name, $trait, $kind, $vtable, |_schema| {});
    };
    // `$amend` sets what the schema says beyond the component's own constants.
    ($fn_name:ident, $trait:ident, $kind:expr, $vtable:ident, |$schema:ident| $amend:block) => {
        pub fn $fn_name<T: $trait>() -> ComponentExport {
            extern "C" fn create_it<T: $trait>(
                params: *const FfiValue,
                context: *const FfiContext,
                out: *mut FfiObject,
            ) -> i32 {
                create::<T>($vtable::<T>(), params, context, out)
            }
            #[allow(unused_mut)]
            let mut $schema = schema_of::<T>($kind);
            $amend
            let schema = $schema;
            ComponentExport {
                kind: $kind,
                name: schema.name.clone(),
                // A schema of plain data always serialises; an empty one would be refused by
                // the host as a bad schema, naming the component.
                schema_json: serde_json::to_string(&schema).unwrap_or_default(),
                create: create_it::<T>,
                check: check::<T>,
                parameter_count: None,
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
export_fn!(
    export_model_table,
    Model,
    ComponentKind::Model,
    model_vtable
);

/// A model's entry: with its parameter count where it computes one (`COUNTS_PARAMETERS`).
pub fn export_model<T: Model>() -> ComponentExport {
    let mut export = export_model_table::<T>();
    if T::COUNTS_PARAMETERS {
        export.parameter_count = Some(parameter_count::<T>);
    }
    export
}
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
export_fn!(
    export_text_dataset,
    TextDataset,
    ComponentKind::Dataset,
    text_dataset_vtable,
    |schema| {
        schema.text = true;
    }
);
export_fn!(export_merger, Merger, ComponentKind::Merger, merger_vtable);
export_fn!(
    export_tokenizer,
    Tokenizer,
    ComponentKind::Tokenizer,
    tokenizer_vtable,
    |schema| {
        schema.trained = T::TRAINED;
    }
);
export_fn!(
    export_exporter,
    Exporter,
    ComponentKind::Exporter,
    exporter_vtable
);
export_fn!(
    export_regularizer,
    Regularizer,
    ComponentKind::Regularizer,
    regularizer_vtable
);

/// One vtable per (component type, table type), built on first use and never freed: a plugin
/// library is never unloaded, so its tables live as long as it does.
pub(super) fn static_vtable<T: 'static, V: 'static>(make: impl FnOnce() -> V) -> *const c_void {
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
    let pointer = Box::leak(Box::new(VTable(make()))) as *const VTable<V> as *const c_void;
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
        let libtorch_ptr = keep(crate::libtorch_release());
        let ffi_components: Vec<FfiComponent> = components
            .iter()
            .map(|component| FfiComponent {
                kind: component.kind.tag(),
                name: keep(&component.name),
                schema_json: keep(&component.schema_json),
                create: component.create,
                check: Some(component.check),
                parameter_count: component.parameter_count,
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
                libtorch_version: libtorch_ptr,
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

    /// The descriptor with another libtorch version; only for tests of the host's refusal.
    pub fn with_libtorch_version(mut self, version: &str) -> PluginExport {
        let owned = c_string(version);
        self.descriptor.libtorch_version = owned.as_ptr();
        self._strings.push(owned);
        self
    }

    pub fn descriptor(&self) -> *const FfiPlugin {
        &self.descriptor
    }
}
