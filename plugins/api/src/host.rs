//! The host side of the plugin boundary: loading a plugin library, refusing one built for
//! another ABI or libtorch, and safe `Foreign*` wrappers over each kind's function table.
//!
//! Libraries are never unloaded: each `Plugin` and every object made from it holds an
//! `Arc<Library>`, and `Plugin::load` also parks one in a process-wide list, because tensors and
//! vtables that came from a library may outlive any single owner.

use std::ffi::{c_char, c_void, CStr, CString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use std::collections::BTreeMap;

use exp_ir::{ComponentKind, ComponentSchema, Value};
use libloading::Library;
use tch::Tensor;

use crate::abi::values::OwnedValue;
use crate::abi::{
    FfiCheckFn, FfiContext, FfiCreateFn, FfiDatasetVTable, FfiEntryFn, FfiEvaluatorVTable,
    FfiExporterVTable, FfiMergerVTable, FfiModelVTable, FfiObject, FfiOptimizerVTable,
    FfiParameterCountFn, FfiPlugin, FfiRegularizerVTable, FfiSchedulerVTable, FfiSplit,
    FfiStateFns, FfiTensorHandle, FfiTokenizerVTable, ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL, MAGIC,
    STATUS_OK, STATUS_PANIC,
};
use crate::sdk::{
    Context, DataInfo, DescribedVocabulary, Document, FisherRequest, Generation, MergeHook,
    SavedState, Split, TokenInfo,
};

type TensorHandle = FfiTensorHandle;

/// Why a plugin could not be loaded, or why a call into it failed.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginError {
    Open {
        path: PathBuf,
        reason: String,
    },
    MissingEntry {
        path: PathBuf,
    },
    NotAPlugin {
        path: PathBuf,
    },
    AbiMismatch {
        path: PathBuf,
        found: (u32, u32),
        expected: (u32, u32),
    },
    LibtorchMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
    BadSchema {
        path: PathBuf,
        component: String,
        reason: String,
    },
    /// A component returned an error; `field` names the parameter it blamed.
    Call {
        plugin: String,
        component: String,
        operation: &'static str,
        message: String,
        field: Option<String>,
    },
    /// A component panicked in `method` (the one that panicked, which may be called by the
    /// `operation` the host asked for); the panic was caught inside the plugin. `detail` is
    /// the rest of what the plugin reported (where it panicked, a backtrace), for logs.
    Panic {
        plugin: String,
        component: String,
        operation: &'static str,
        method: String,
        message: String,
        detail: String,
    },
    /// A value could not cross the boundary (a NUL byte in a string parameter).
    Value {
        plugin: String,
        component: String,
        message: String,
    },
}

impl PluginError {
    /// Everything the plugin said, for a node's log: the message and any detail.
    pub fn full_text(&self) -> String {
        match self {
            PluginError::Panic { detail, .. } if !detail.is_empty() => {
                format!("{self}\n{detail}")
            }
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginError::Open { path, reason } => {
                write!(f, "cannot load plugin `{}`: {reason}", path.display())
            }
            PluginError::MissingEntry { path } => write!(
                f,
                "`{}` is not an exp plugin: it has no `{ENTRY_SYMBOL}` symbol (build it with `exp_plugin_api::export_plugin!`)",
                path.display()
            ),
            PluginError::NotAPlugin { path } => write!(
                f,
                "`{}` exports `{ENTRY_SYMBOL}` but its descriptor is not an exp plugin descriptor",
                path.display()
            ),
            PluginError::AbiMismatch { path, found, expected } => write!(
                f,
                "plugin `{}` was built for plugin ABI {}.{}, but this exp speaks ABI {}.{}: rebuild the plugin against this exp's `exp-plugin-api`",
                path.display(),
                found.0,
                found.1,
                expected.0,
                expected.1
            ),
            PluginError::LibtorchMismatch { path, found, expected } => write!(
                f,
                "plugin `{}` was built against libtorch {found}, but this exp runs libtorch {expected}: rebuild the plugin against libtorch {expected} (tensors cross as `at::Tensor`, whose layout only the same release shares)",
                path.display()
            ),
            PluginError::BadSchema { path, component, reason } => write!(
                f,
                "plugin `{}` describes component `{component}` badly: {reason}",
                path.display()
            ),
            PluginError::Call { plugin, component, operation, message, field } => {
                write!(f, "`{component}` (plugin `{plugin}`) failed in {operation}: {message}")?;
                if let Some(field) = field {
                    write!(f, " (parameter `{field}`)")?;
                }
                Ok(())
            }
            PluginError::Panic { plugin, component, method, message, .. } => {
                write!(f, "`{component}` (plugin `{plugin}`) panicked in `{method}`: {message}")
            }
            PluginError::Value { plugin, component, message } => {
                write!(f, "cannot pass parameters to `{component}` (plugin `{plugin}`): {message}")
            }
        }
    }
}

impl std::error::Error for PluginError {}

fn parked_libraries() -> &'static Mutex<Vec<Arc<Library>>> {
    static PARKED: OnceLock<Mutex<Vec<Arc<Library>>>> = OnceLock::new();
    PARKED.get_or_init(|| Mutex::new(Vec::new()))
}

/// A loaded, verified plugin library.
pub struct Plugin {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    /// The libtorch release it was built against (equal to the host's, or it is refused).
    pub libtorch_version: String,
    library: Arc<Library>,
    descriptor: *const FfiPlugin,
    components: Vec<LoadedComponent>,
}

// SAFETY: the descriptor is immutable after the entry call and lives as long as the library,
// which this value keeps loaded; its functions are safe to call from any thread.
unsafe impl Send for Plugin {}
// SAFETY: as above; `Plugin` has no interior mutability.
unsafe impl Sync for Plugin {}

struct LoadedComponent {
    schema: ComponentSchema,
    create: FfiCreateFn,
    check: Option<FfiCheckFn>,
    parameter_count: Option<FfiParameterCountFn>,
}

fn c_text(pointer: *const c_char) -> String {
    if pointer.is_null() {
        return String::new();
    }
    // SAFETY: plugin strings are NUL-terminated and live as long as the library or object that
    // returned them; we copy before returning.
    unsafe { CStr::from_ptr(pointer) }
        .to_string_lossy()
        .into_owned()
}

impl Plugin {
    /// Loads a library and checks, in order: the entry symbol, the magic number, the ABI
    /// version, the descriptor size, the libtorch release, and every component's schema.
    pub fn load(path: &Path) -> Result<Plugin, PluginError> {
        // A bare file name (`plugin "libmine.so"` in a file of the current directory) is a
        // path relative to here, but the loader would search its library path for it instead.
        let relative_here;
        let open_path = if path.is_relative() && path.parent() == Some(Path::new("")) {
            relative_here = Path::new(".").join(path);
            relative_here.as_path()
        } else {
            path
        };
        // SAFETY: loading a library runs its initialisers; exp only loads files the user named
        // as plugins (workspace plugins, EXP_PLUGIN_PATH, or `plugin` lines).
        let library = unsafe { Library::new(open_path) }.map_err(|error| {
            // libloading's own message is terse ("dlopen failed"); the loader's reason is the
            // error's source.
            let reason = std::error::Error::source(&error)
                .map_or_else(|| error.to_string(), |source| source.to_string());
            PluginError::Open {
                path: path.to_path_buf(),
                reason,
            }
        })?;
        let library = Arc::new(library);
        // SAFETY: `EntryFn` is the documented type of the entry symbol.
        let entry =
            unsafe { library.get::<FfiEntryFn>(ENTRY_SYMBOL.as_bytes()) }.map_err(|_| {
                PluginError::MissingEntry {
                    path: path.to_path_buf(),
                }
            })?;
        // SAFETY: calling the entry function; a conforming plugin returns a pointer to a
        // descriptor that lives as long as the library.
        let descriptor = unsafe { entry() };
        if descriptor.is_null() {
            return Err(PluginError::NotAPlugin {
                path: path.to_path_buf(),
            });
        }
        // SAFETY: the first three fields (magic, versions) are read before trusting anything
        // else; every descriptor version starts with them.
        let (magic, major, minor, size) = unsafe {
            (
                (*descriptor).magic,
                (*descriptor).abi_major,
                (*descriptor).abi_minor,
                (*descriptor).struct_size,
            )
        };
        if magic != MAGIC {
            return Err(PluginError::NotAPlugin {
                path: path.to_path_buf(),
            });
        }
        if major != ABI_MAJOR || minor > ABI_MINOR {
            return Err(PluginError::AbiMismatch {
                path: path.to_path_buf(),
                found: (major, minor),
                expected: (ABI_MAJOR, ABI_MINOR),
            });
        }
        if (size as usize) < std::mem::size_of::<FfiPlugin>() {
            return Err(PluginError::NotAPlugin {
                path: path.to_path_buf(),
            });
        }
        // SAFETY: magic, version and size match, so the descriptor has this layout.
        let ffi = unsafe { &*descriptor };
        let libtorch = c_text(ffi.libtorch_version);
        let expected = crate::libtorch_release();
        if libtorch != expected {
            return Err(PluginError::LibtorchMismatch {
                path: path.to_path_buf(),
                found: libtorch,
                expected: expected.to_string(),
            });
        }
        let raw_components = if ffi.n_components == 0 {
            &[][..]
        } else {
            // SAFETY: the descriptor holds `n_components` entries at `components`.
            unsafe { std::slice::from_raw_parts(ffi.components, ffi.n_components) }
        };
        let mut components = Vec::new();
        for raw in raw_components {
            let name = c_text(raw.name);
            let schema: ComponentSchema =
                serde_json::from_str(&c_text(raw.schema_json)).map_err(|error| {
                    PluginError::BadSchema {
                        path: path.to_path_buf(),
                        component: name.clone(),
                        reason: error.to_string(),
                    }
                })?;
            if ComponentKind::from_tag(raw.kind) != Some(schema.kind) || schema.name != name {
                return Err(PluginError::BadSchema {
                    path: path.to_path_buf(),
                    component: name,
                    reason: "its kind or name disagrees with its schema".into(),
                });
            }
            components.push(LoadedComponent {
                schema,
                create: raw.create,
                check: raw.check,
                parameter_count: raw.parameter_count,
            });
        }
        parked_libraries()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(library.clone());
        Ok(Plugin {
            path: path.to_path_buf(),
            name: c_text(ffi.name),
            version: c_text(ffi.version),
            libtorch_version: c_text(ffi.libtorch_version),
            library,
            descriptor,
            components,
        })
    }

    pub fn schemas(&self) -> impl Iterator<Item = &ComponentSchema> {
        self.components.iter().map(|component| &component.schema)
    }

    pub fn schema(&self, kind: ComponentKind, name: &str) -> Option<&ComponentSchema> {
        self.schemas()
            .find(|schema| schema.kind == kind && schema.name == name)
    }

    fn last_error(&self) -> (String, Option<String>) {
        // SAFETY: the descriptor lives as long as `self.library`.
        let ffi = unsafe { &*self.descriptor };
        let message = c_text((ffi.last_error)());
        let field = (ffi.last_error_field)();
        let field = (!field.is_null()).then(|| c_text(field));
        (message, field)
    }

    fn loaded(&self, kind: ComponentKind, name: &str) -> Result<&LoadedComponent, PluginError> {
        self.components
            .iter()
            .find(|component| component.schema.kind == kind && component.schema.name == name)
            .ok_or_else(|| PluginError::Call {
                plugin: self.name.clone(),
                component: name.to_string(),
                operation: "create",
                message: format!("plugin `{}` has no {kind} called `{name}`", self.name),
                field: None,
            })
    }

    fn params_value(
        &self,
        name: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<OwnedValue, PluginError> {
        OwnedValue::record(params).map_err(|error| PluginError::Value {
            plugin: self.name.clone(),
            component: name.to_string(),
            message: error.to_string(),
        })
    }

    /// Whether the component states a check rule of its own (`Component::check`), which only
    /// the loaded plugin can run; `false` for a component it does not provide.
    pub fn has_check(&self, kind: ComponentKind, name: &str) -> bool {
        self.loaded(kind, name)
            .is_ok_and(|component| component.check.is_some())
    }

    /// The component's own check of a parameter set (see `Component::check`); `Ok` when it
    /// states no rules.
    pub fn check_params(
        &self,
        kind: ComponentKind,
        name: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<(), PluginError> {
        let Some(check) = self.loaded(kind, name)?.check else {
            return Ok(());
        };
        let value = self.params_value(name, params)?;
        let status = check(value.as_ptr());
        self.status(status, name, "check")
    }

    /// A model's count of its parameters without building it (`Model::parameter_count`),
    /// sized by `data`; `None` when the model does not count them (or is not provided).
    pub fn parameter_count(
        &self,
        name: &str,
        params: &BTreeMap<String, Value>,
        data: Option<&DataInfo>,
    ) -> Option<Result<u64, PluginError>> {
        let count = self
            .loaded(ComponentKind::Model, name)
            .ok()?
            .parameter_count?;
        let counted = || {
            let params = self.params_value(name, params)?;
            let data = data.map(|info| self.data_value(name, info)).transpose()?;
            let mut out = 0u64;
            let status = count(
                params.as_ptr(),
                data.as_ref().map_or(std::ptr::null(), OwnedValue::as_ptr),
                &mut out,
            );
            self.status(status, name, "parameter_count")?;
            Ok(out)
        };
        Some(counted())
    }

    /// A dataset info as the record a plugin reads (`FfiContext::data`).
    fn data_value(&self, name: &str, info: &DataInfo) -> Result<OwnedValue, PluginError> {
        let value_error = |message: String| PluginError::Value {
            plugin: self.name.clone(),
            component: name.to_string(),
            message,
        };
        let json = serde_json::to_value(info)
            .map_err(|error| value_error(format!("dataset info: {error}")))?;
        OwnedValue::from_json(&json).map_err(|error| value_error(error.to_string()))
    }

    /// Builds a component object from its resolved parameters (durations in steps where a
    /// phase resolved them, schedules replaced by their starting values).
    pub fn instantiate(
        self: &Arc<Self>,
        kind: ComponentKind,
        name: &str,
        params: &BTreeMap<String, Value>,
        context: &Context,
    ) -> Result<Foreign, PluginError> {
        let component = self.loaded(kind, name)?;
        let params = self.params_value(name, params)?;
        let value_error = |message: String| PluginError::Value {
            plugin: self.name.clone(),
            component: name.to_string(),
            message,
        };
        let device = CString::new(context.device.as_str())
            .map_err(|_| value_error("the device name holds a NUL byte".into()))?;
        let data = context
            .data
            .as_ref()
            .map(|info| self.data_value(name, info))
            .transpose()?;
        let ffi_context = FfiContext {
            seed: context.seed,
            device: device.as_ptr(),
            data: data.as_ref().map_or(std::ptr::null(), OwnedValue::as_ptr),
        };
        let mut object = FfiObject {
            state: std::ptr::null_mut(),
            vtable: std::ptr::null(),
            release: noop_release,
            set_param: noop_set_param,
        };
        let status = (component.create)(params.as_ptr(), &ffi_context, &mut object);
        let foreign = Foreign {
            plugin: self.clone(),
            _library: self.library.clone(),
            component: name.to_string(),
            kind,
            object,
        };
        foreign.check(status, "create")?;
        Ok(foreign)
    }

    /// The error for a failed call (`status` not OK) on component `component`.
    fn status(
        &self,
        status: i32,
        component: &str,
        operation: &'static str,
    ) -> Result<(), PluginError> {
        if status == STATUS_OK {
            return Ok(());
        }
        let (message, field) = self.last_error();
        if status == STATUS_PANIC {
            // A panic's first line is its text; the rest is where it happened (see `abi`).
            let (message, detail) = message.split_once('\n').unwrap_or((&message, ""));
            Err(PluginError::Panic {
                plugin: self.name.clone(),
                component: component.to_string(),
                operation,
                method: field.unwrap_or_else(|| operation.to_string()),
                message: message.to_string(),
                detail: detail.to_string(),
            })
        } else {
            Err(PluginError::Call {
                plugin: self.name.clone(),
                component: component.to_string(),
                operation,
                message,
                field,
            })
        }
    }
}

extern "C" fn noop_release(_state: *mut c_void) {}

extern "C" fn noop_set_param(_state: *mut c_void, _name: *const c_char, _value: f64) -> i32 {
    STATUS_OK
}

/// An object made by a plugin; released when dropped.
pub struct Foreign {
    plugin: Arc<Plugin>,
    _library: Arc<Library>,
    component: String,
    kind: ComponentKind,
    object: FfiObject,
}

// SAFETY: plugin objects are used by one thread at a time (every call takes `&mut self` or
// happens inside one node); SDK components are `Send`.
unsafe impl Send for Foreign {}

impl Drop for Foreign {
    fn drop(&mut self) {
        if !self.object.state.is_null() {
            (self.object.release)(self.object.state);
        }
    }
}

impl Foreign {
    /// Sets a scheduled parameter to its value for the steps from now on.
    pub fn set_param(&mut self, name: &str, value: f64) -> Result<(), PluginError> {
        let name_c = self.c_text(name)?;
        let status = (self.object.set_param)(self.object.state, name_c.as_ptr(), value);
        self.check(status, "set_param")
    }

    fn check(&self, status: i32, operation: &'static str) -> Result<(), PluginError> {
        self.plugin.status(status, &self.component, operation)
    }

    /// The error for a result that breaks its kind's contract (see docs/plugin-abi.md).
    fn broke(&self, operation: &'static str, message: String) -> PluginError {
        PluginError::Call {
            plugin: self.plugin.name.clone(),
            component: self.component.clone(),
            operation,
            message: format!("broke the {} contract: {message}", self.kind),
            field: None,
        }
    }

    /// A name as a C string; a NUL byte in it is an error naming the component.
    fn c_text(&self, text: &str) -> Result<CString, PluginError> {
        CString::new(text).map_err(|_| PluginError::Value {
            plugin: self.plugin.name.clone(),
            component: self.component.clone(),
            message: format!("{text:?} holds a NUL byte"),
        })
    }

    /// Reads a JSON text the plugin returned, blaming the component when it is malformed.
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        json: *const c_char,
        operation: &'static str,
        what: &str,
    ) -> Result<T, PluginError> {
        serde_json::from_str(&c_text(json)).map_err(|error| PluginError::Call {
            plugin: self.plugin.name.clone(),
            component: self.component.clone(),
            operation,
            message: format!("returned malformed {what}: {error}"),
            field: None,
        })
    }

    fn vtable<V>(&self) -> &V {
        // SAFETY: the host only calls this with the table type of the kind it instantiated
        // (the typed wrappers below are made by kind), and tables live as long as the library.
        unsafe { &*(self.object.vtable as *const V) }
    }
}

impl Foreign {
    fn save_state(&self, fns: &FfiStateFns) -> Result<SavedState, PluginError> {
        let mut count = 0usize;
        let mut json: *const c_char = std::ptr::null();
        let status = (fns.save)(self.object.state, &mut count, &mut json);
        self.check(status, "save_state")?;
        let data: serde_json::Value = self.decode(json, "save_state", "state")?;
        let mut tensors = Vec::with_capacity(count);
        for index in 0..count {
            let mut name: *const c_char = std::ptr::null();
            let mut handle: TensorHandle = std::ptr::null_mut();
            let status = (fns.saved_tensor)(self.object.state, index, &mut name, &mut handle);
            self.check(status, "save_state")?;
            tensors.push((c_text(name), owned_tensor(handle)));
        }
        Ok(SavedState { tensors, data })
    }

    fn load_state(&self, fns: &FfiStateFns, saved: &SavedState) -> Result<(), PluginError> {
        let data = OwnedValue::from_json(&saved.data).map_err(|error| PluginError::Value {
            plugin: self.plugin.name.clone(),
            component: self.component.clone(),
            message: format!("saved state: {error}"),
        })?;
        let names: Vec<CString> = saved
            .tensors
            .iter()
            .map(|(name, _)| self.c_text(name))
            .collect::<Result<_, _>>()?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
        let handles: Vec<TensorHandle> = saved
            .tensors
            .iter()
            .map(|(_, tensor)| borrow_handle(tensor))
            .collect();
        let status = (fns.load)(
            self.object.state,
            data.as_ptr(),
            name_ptrs.as_ptr(),
            handles.as_ptr(),
            handles.len(),
        );
        self.check(status, "load_state")
    }
}

/// Takes ownership of a handle a plugin returned.
fn owned_tensor(handle: TensorHandle) -> Tensor {
    // SAFETY: the plugin returned a new handle (a shallow clone) that the host now owns.
    unsafe { Tensor::from_ptr(handle as *mut torch_sys::C_tensor) }
}

fn borrow_handle(tensor: &Tensor) -> TensorHandle {
    // The plugin only borrows the handle for the call (and takes its own reference if it keeps
    // the tensor), so a const pointer from `&Tensor` suffices.
    tensor.as_ptr() as TensorHandle
}

impl Foreign {
    pub fn kind(&self) -> ComponentKind {
        self.kind
    }
}

macro_rules! foreign_kind {
    ($name:ident, $kind:expr) => {
        pub struct $name(Foreign);

        impl $name {
            /// Wraps an object of this kind; an object of another kind is refused, because its
            /// function table has another layout.
            pub fn new(foreign: Foreign) -> Result<$name, PluginError> {
                if foreign.kind != $kind {
                    return Err(PluginError::Call {
                        plugin: foreign.plugin.name.clone(),
                        component: foreign.component.clone(),
                        operation: "create",
                        message: format!("is a {}, not a {}", foreign.kind, $kind),
                        field: None,
                    });
                }
                Ok($name(foreign))
            }

            /// Sets a scheduled parameter to its value for the steps from now on.
            pub fn set_param(&mut self, name: &str, value: f64) -> Result<(), PluginError> {
                self.0.set_param(name, value)
            }

            /// The component's name, and the plugin that provides it.
            pub fn identity(&self) -> (&str, &str) {
                (&self.0.component, &self.0.plugin.name)
            }
        }
    };
}

foreign_kind!(ForeignDataset, ComponentKind::Dataset);
foreign_kind!(ForeignModel, ComponentKind::Model);
foreign_kind!(ForeignOptimizer, ComponentKind::Optimizer);
foreign_kind!(ForeignScheduler, ComponentKind::Scheduler);
foreign_kind!(ForeignEvaluator, ComponentKind::Evaluator);
foreign_kind!(ForeignMerger, ComponentKind::Merger);
foreign_kind!(ForeignRegularizer, ComponentKind::Regularizer);
foreign_kind!(ForeignTokenizer, ComponentKind::Tokenizer);
foreign_kind!(ForeignExporter, ComponentKind::Exporter);

impl ForeignDataset {
    pub fn info(&mut self) -> Result<DataInfo, PluginError> {
        let mut out: *const c_char = std::ptr::null();
        let status = (self.0.vtable::<FfiDatasetVTable>().info)(self.0.object.state, &mut out);
        self.0.check(status, "info")?;
        self.0.decode(out, "info", "dataset info")
    }

    pub fn batch(
        &mut self,
        split: Split,
        indices: &[i64],
    ) -> Result<(Tensor, Tensor), PluginError> {
        let mut x: TensorHandle = std::ptr::null_mut();
        let mut y: TensorHandle = std::ptr::null_mut();
        let split = split_code(split);
        let Some(batch) = self.0.vtable::<FfiDatasetVTable>().batch else {
            return Err(self.0.broke(
                "batch",
                "it is a dataset of text documents, which a model reads through its tokenizer"
                    .to_string(),
            ));
        };
        let status = batch(
            self.0.object.state,
            split,
            indices.as_ptr(),
            indices.len(),
            &mut x,
            &mut y,
        );
        self.0.check(status, "batch")?;
        let (x, y) = (owned_tensor(x), owned_tensor(y));
        // One input and one target per index: everything downstream pairs them by row.
        for (what, tensor) in [("inputs", &x), ("targets", &y)] {
            let rows = tensor.size().first().copied();
            if rows != Some(indices.len() as i64) {
                return Err(self.0.broke(
                    "batch",
                    format!(
                        "returned {what} of shape {:?} for {} indices; expected one row per index",
                        tensor.size(),
                        indices.len()
                    ),
                ));
            }
        }
        Ok((x, y))
    }
}

impl ForeignDataset {
    /// Whether the dataset holds text documents (read through a tokenizer) instead of tensors.
    pub fn is_text(&self) -> bool {
        self.0.vtable::<FfiDatasetVTable>().documents.is_some()
    }

    /// Every document of a split, for a text dataset.
    pub fn documents(&mut self, split: Split) -> Result<Vec<Document>, PluginError> {
        let Some(documents) = self.0.vtable::<FfiDatasetVTable>().documents else {
            return Err(self.0.broke(
                "documents",
                "it is a dataset of tensors, not of text documents".to_string(),
            ));
        };
        let mut out: *const c_char = std::ptr::null();
        let status = documents(self.0.object.state, split_code(split), &mut out);
        self.0.check(status, "documents")?;
        self.0.decode(out, "documents", "documents")
    }
}

fn split_code(split: Split) -> FfiSplit {
    match split {
        Split::Train => FfiSplit::Train,
        Split::Validation => FfiSplit::Validation,
        Split::Test => FfiSplit::Test,
    }
}

impl ForeignModel {
    /// Whether the model can continue a prompt of token ids (`generate`).
    pub fn can_generate(&self) -> bool {
        self.0.vtable::<FfiModelVTable>().generate.is_some()
    }

    /// Greedy continuations of `prompts`, at most `max_new` tokens each, stopping after
    /// `stop`: the new tokens of each.
    pub fn generate(
        &mut self,
        prompts: &[Vec<i64>],
        max_new: usize,
        stop: Option<i64>,
    ) -> Result<Vec<Vec<i64>>, PluginError> {
        let Some(generate) = self.0.vtable::<FfiModelVTable>().generate else {
            return Err(self.0.broke(
                "generate",
                "it does not generate text: an evaluator of generations needs a model of \
                 token sequences that does (such as `gpt`)"
                    .to_string(),
            ));
        };
        let mut offsets = Vec::with_capacity(prompts.len() + 1);
        offsets.push(0);
        let mut ids = Vec::new();
        for prompt in prompts {
            ids.extend_from_slice(prompt);
            offsets.push(ids.len());
        }
        let mut out: *const c_char = std::ptr::null();
        let status = generate(
            self.0.object.state,
            ids.as_ptr(),
            offsets.as_ptr(),
            prompts.len(),
            max_new,
            stop.unwrap_or(-1),
            &mut out,
        );
        self.0.check(status, "generate")?;
        let generated: Vec<Vec<i64>> = self.0.decode(out, "generate", "generations")?;
        if generated.len() != prompts.len() {
            return Err(self.0.broke(
                "generate",
                format!(
                    "returned {} continuations for {} prompts",
                    generated.len(),
                    prompts.len()
                ),
            ));
        }
        Ok(generated)
    }

    /// Whether the model draws samples of its inputs (`sample`).
    pub fn can_sample(&self) -> bool {
        self.0.vtable::<FfiModelVTable>().sample.is_some()
    }

    /// One input drawn for each row of `conditions`, as `options` say: `[n, ..input shape]`.
    pub fn sample(
        &mut self,
        conditions: &Tensor,
        options: &crate::sdk::Sampling,
    ) -> Result<Tensor, PluginError> {
        let Some(sample) = self.0.vtable::<FfiModelVTable>().sample else {
            return Err(self.0.broke(
                "sample",
                "it does not draw samples: a `sample(..)` dataset needs a generative model \
                 of its inputs (such as `unet`)"
                    .to_string(),
            ));
        };
        let mut out: TensorHandle = std::ptr::null_mut();
        let status = sample(
            self.0.object.state,
            borrow_handle(conditions),
            options.steps,
            options.guidance,
            options.eta,
            options.seed,
            &mut out,
        );
        self.0.check(status, "sample")?;
        let samples = owned_tensor(out);
        let rows = conditions.size().first().copied().unwrap_or(0);
        if samples.size().first().copied() != Some(rows) || !samples.is_floating_point() {
            return Err(self.0.broke(
                "sample",
                format!(
                    "returned a {:?} tensor of shape {:?} for {rows} conditions; expected a \
                     floating-point tensor with one row per condition",
                    samples.kind(),
                    samples.size()
                ),
            ));
        }
        Ok(samples)
    }

    /// Every tensor of the model by checkpoint key; each shares storage with the model.
    pub fn named_tensors(&mut self) -> Result<Vec<(String, Tensor)>, PluginError> {
        let table = self.0.vtable::<FfiModelVTable>();
        let count = (table.n_tensors)(self.0.object.state);
        let mut tensors = Vec::with_capacity(count);
        for index in 0..count {
            let name = c_text((table.tensor_name)(self.0.object.state, index));
            let mut handle: TensorHandle = std::ptr::null_mut();
            let status = (table.tensor)(self.0.object.state, index, &mut handle);
            self.0.check(status, "tensor")?;
            tensors.push((name, owned_tensor(handle)));
        }
        Ok(tensors)
    }

    pub fn forward(&mut self, x: &Tensor, train: bool) -> Result<Tensor, PluginError> {
        let mut out: TensorHandle = std::ptr::null_mut();
        let status = (self.0.vtable::<FfiModelVTable>().forward)(
            self.0.object.state,
            borrow_handle(x),
            train,
            &mut out,
        );
        self.0.check(status, "forward")?;
        Ok(owned_tensor(out))
    }

    pub fn loss(&mut self, x: &Tensor, y: &Tensor) -> Result<Tensor, PluginError> {
        let mut out: TensorHandle = std::ptr::null_mut();
        let status = (self.0.vtable::<FfiModelVTable>().loss)(
            self.0.object.state,
            borrow_handle(x),
            borrow_handle(y),
            &mut out,
        );
        self.0.check(status, "loss")?;
        let loss = owned_tensor(out);
        if loss.dim() != 0 || !loss.is_floating_point() {
            return Err(self.0.broke(
                "loss",
                format!(
                    "returned a {:?} tensor of shape {:?}; expected a floating-point scalar",
                    loss.kind(),
                    loss.size()
                ),
            ));
        }
        Ok(loss)
    }
}

impl ForeignModel {
    /// The model's training state beyond its tensors (e.g. a dropout generator).
    pub fn save_state(&mut self) -> Result<SavedState, PluginError> {
        let fns = &self.0.vtable::<FfiModelVTable>().training_state;
        self.0.save_state(fns)
    }

    pub fn load_state(&mut self, saved: &SavedState) -> Result<(), PluginError> {
        let fns = &self.0.vtable::<FfiModelVTable>().training_state;
        self.0.load_state(fns, saved)
    }

    /// The names of the tensors weight decay must leave alone (none from a table without the
    /// entry).
    pub fn no_decay(&mut self) -> Result<Vec<String>, PluginError> {
        let Some(no_decay) = self.0.vtable::<FfiModelVTable>().no_decay else {
            return Ok(Vec::new());
        };
        let mut out: *const c_char = std::ptr::null();
        let status = no_decay(self.0.object.state, &mut out);
        self.0.check(status, "no_decay")?;
        let names: Option<Vec<String>> =
            self.0.decode(out, "no_decay", "a list of tensor names")?;
        Ok(names.unwrap_or_default())
    }
}

impl ForeignOptimizer {
    /// The optimizer's state (moments, step count).
    pub fn save_state(&mut self) -> Result<SavedState, PluginError> {
        let fns = &self.0.vtable::<FfiOptimizerVTable>().training_state;
        self.0.save_state(fns)
    }

    pub fn load_state(&mut self, saved: &SavedState) -> Result<(), PluginError> {
        let fns = &self.0.vtable::<FfiOptimizerVTable>().training_state;
        self.0.load_state(fns, saved)
    }

    pub fn step(&mut self, params: &[Tensor]) -> Result<(), PluginError> {
        let handles: Vec<TensorHandle> = params.iter().map(borrow_handle).collect();
        let status = (self.0.vtable::<FfiOptimizerVTable>().step)(
            self.0.object.state,
            handles.as_ptr(),
            handles.len(),
        );
        self.0.check(status, "step")
    }

    /// Tells the optimizer which parameters (by position in `step`) weight decay must leave
    /// alone; an optimizer whose table lacks the entry decays every parameter it decays.
    pub fn set_no_decay(&mut self, exempt: &[bool]) -> Result<(), PluginError> {
        let Some(set_no_decay) = self.0.vtable::<FfiOptimizerVTable>().set_no_decay else {
            return Ok(());
        };
        let flags: Vec<u8> = exempt.iter().map(|flag| u8::from(*flag)).collect();
        let status = set_no_decay(self.0.object.state, flags.as_ptr(), flags.len());
        self.0.check(status, "set_no_decay")
    }
}

impl ForeignScheduler {
    /// The schedule's value at `step` of a phase of `total` steps.
    pub fn value(&mut self, step: u64, total: u64) -> Result<f64, PluginError> {
        let mut out = 0.0;
        let status = (self.0.vtable::<FfiSchedulerVTable>().value)(
            self.0.object.state,
            step,
            total,
            &mut out,
        );
        self.0.check(status, "value")?;
        Ok(out)
    }
}

impl ForeignEvaluator {
    pub fn reset(&mut self) -> Result<(), PluginError> {
        let status = (self.0.vtable::<FfiEvaluatorVTable>().reset)(self.0.object.state);
        self.0.check(status, "reset")
    }

    pub fn update(&mut self, output: &Tensor, target: &Tensor) -> Result<(), PluginError> {
        let status = (self.0.vtable::<FfiEvaluatorVTable>().update)(
            self.0.object.state,
            borrow_handle(output),
            borrow_handle(target),
        );
        self.0.check(status, "update")
    }

    pub fn compute(&mut self) -> Result<Vec<(String, f64)>, PluginError> {
        let mut out: *const c_char = std::ptr::null();
        let status = (self.0.vtable::<FfiEvaluatorVTable>().compute)(self.0.object.state, &mut out);
        self.0.check(status, "compute")?;
        let metrics: std::collections::BTreeMap<String, f64> =
            self.0.decode(out, "compute", "metrics")?;
        Ok(metrics.into_iter().collect())
    }

    /// How the evaluator wants generations made, or `None` for one that reads model outputs.
    pub fn generation(&mut self) -> Result<Option<Generation>, PluginError> {
        // A table without the entry (C or C++ that ends before it) judges model outputs only.
        let Some(generation) = self.0.vtable::<FfiEvaluatorVTable>().generation else {
            return Ok(None);
        };
        let mut out: *const c_char = std::ptr::null();
        let status = generation(self.0.object.state, &mut out);
        self.0.check(status, "generation")?;
        self.0.decode(out, "generation", "generation settings")
    }

    /// One generation: its prompt, the continuation, and the reference answer.
    pub fn update_text(
        &mut self,
        prompt: &str,
        generated: &str,
        reference: &str,
    ) -> Result<(), PluginError> {
        let (prompt, generated, reference) = (
            self.0.c_text(prompt)?,
            self.0.c_text(generated)?,
            self.0.c_text(reference)?,
        );
        let Some(update_text) = self.0.vtable::<FfiEvaluatorVTable>().update_text else {
            return Err(self.0.broke(
                "update_text",
                "its table has no `update_text` entry, so it cannot judge generated text"
                    .to_string(),
            ));
        };
        let status = update_text(
            self.0.object.state,
            prompt.as_ptr(),
            generated.as_ptr(),
            reference.as_ptr(),
        );
        self.0.check(status, "update_text")
    }
}

impl ForeignMerger {
    pub fn merge(&mut self, name: &str, inputs: &[Tensor]) -> Result<Tensor, PluginError> {
        let name_c = self.0.c_text(name)?;
        let handles: Vec<TensorHandle> = inputs.iter().map(borrow_handle).collect();
        let mut out: TensorHandle = std::ptr::null_mut();
        let status = (self.0.vtable::<FfiMergerVTable>().merge)(
            self.0.object.state,
            name_c.as_ptr(),
            handles.as_ptr(),
            handles.len(),
            &mut out,
        );
        self.0.check(status, "merge")?;
        let merged = owned_tensor(out);
        self.check_merged("merge", (name, inputs.first()), &merged)?;
        Ok(merged)
    }

    /// Merges whole models in one call: for each tensor name, that tensor of every input model
    /// (every entry with the same number of inputs); the merged tensors come back in order.
    pub fn merge_model(
        &mut self,
        tensors: &[(String, Vec<Tensor>)],
    ) -> Result<Vec<Tensor>, PluginError> {
        let n_inputs = tensors.first().map_or(0, |(_, inputs)| inputs.len());
        if let Some((name, inputs)) = tensors.iter().find(|(_, inputs)| inputs.len() != n_inputs) {
            return Err(PluginError::Call {
                plugin: self.0.plugin.name.clone(),
                component: self.0.component.clone(),
                operation: "merge_model",
                message: format!(
                    "tensor `{name}` comes from {} models but the first from {n_inputs}",
                    inputs.len()
                ),
                field: None,
            });
        }
        let names: Vec<CString> = tensors
            .iter()
            .map(|(name, _)| self.0.c_text(name))
            .collect::<Result<_, _>>()?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
        let handles: Vec<TensorHandle> = tensors
            .iter()
            .flat_map(|(_, inputs)| inputs.iter().map(borrow_handle))
            .collect();
        let mut out: Vec<TensorHandle> = vec![std::ptr::null_mut(); tensors.len()];
        let status = (self.0.vtable::<FfiMergerVTable>().merge_model)(
            self.0.object.state,
            name_ptrs.as_ptr(),
            tensors.len(),
            handles.as_ptr(),
            n_inputs,
            out.as_mut_ptr(),
        );
        self.0.check(status, "merge_model")?;
        let merged: Vec<Tensor> = out.into_iter().map(owned_tensor).collect();
        for ((name, inputs), tensor) in tensors.iter().zip(&merged) {
            self.check_merged("merge_model", (name, inputs.first()), tensor)?;
        }
        Ok(merged)
    }

    /// A merged tensor has its inputs' shape.
    fn check_merged(
        &self,
        operation: &'static str,
        (name, first): (&str, Option<&Tensor>),
        merged: &Tensor,
    ) -> Result<(), PluginError> {
        match first {
            Some(input) if input.size() != merged.size() => Err(self.0.broke(
                operation,
                format!(
                    "merged tensor `{name}` has shape {:?}, but its inputs have {:?}",
                    merged.size(),
                    input.size()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// How the merger runs as a training hook, or `None` when it cannot.
    pub fn as_hook(&mut self) -> Result<Option<MergeHook>, PluginError> {
        let mut out: *const c_char = std::ptr::null();
        let status = (self.0.vtable::<FfiMergerVTable>().as_hook)(self.0.object.state, &mut out);
        self.0.check(status, "as_hook")?;
        self.0.decode(out, "as_hook", "hook settings")
    }
}

/// Names and borrowed handles of a named tensor list, as the C calls take them.
fn named_args(
    foreign: &Foreign,
    params: &[(String, Tensor)],
) -> Result<(Vec<CString>, Vec<TensorHandle>), PluginError> {
    let names = params
        .iter()
        .map(|(name, _)| foreign.c_text(name))
        .collect::<Result<_, _>>()?;
    let handles = params
        .iter()
        .map(|(_, tensor)| borrow_handle(tensor))
        .collect();
    Ok((names, handles))
}

impl ForeignRegularizer {
    pub fn anchor(&mut self, params: &[(String, Tensor)]) -> Result<(), PluginError> {
        let (names, handles) = named_args(&self.0, params)?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
        let status = (self.0.vtable::<FfiRegularizerVTable>().anchor)(
            self.0.object.state,
            name_ptrs.as_ptr(),
            handles.as_ptr(),
            handles.len(),
        );
        self.0.check(status, "anchor")
    }

    pub fn penalty(&mut self, params: &[(String, Tensor)]) -> Result<Tensor, PluginError> {
        let (names, handles) = named_args(&self.0, params)?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
        let mut out: TensorHandle = std::ptr::null_mut();
        let status = (self.0.vtable::<FfiRegularizerVTable>().penalty)(
            self.0.object.state,
            name_ptrs.as_ptr(),
            handles.as_ptr(),
            handles.len(),
            &mut out,
        );
        self.0.check(status, "penalty")?;
        let penalty = owned_tensor(out);
        if penalty.dim() != 0 {
            return Err(self.0.broke(
                "penalty",
                format!("returned shape {:?}; expected a scalar", penalty.size()),
            ));
        }
        Ok(penalty)
    }

    /// Whether `end_task` wants a diagonal Fisher, and how to estimate it.
    pub fn fisher_request(&mut self) -> Result<Option<FisherRequest>, PluginError> {
        let mut out: *const c_char = std::ptr::null();
        let status =
            (self.0.vtable::<FfiRegularizerVTable>().fisher_request)(self.0.object.state, &mut out);
        self.0.check(status, "fisher_request")?;
        self.0.decode(out, "fisher_request", "Fisher request")
    }

    /// The end of a phase: its final trainable tensors and, if requested, their Fisher.
    pub fn end_task(
        &mut self,
        params: &[(String, Tensor)],
        fisher: Option<&[(String, Tensor)]>,
    ) -> Result<(), PluginError> {
        let (names, handles) = named_args(&self.0, params)?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
        let (fisher_names, fisher_handles) = named_args(&self.0, fisher.unwrap_or_default())?;
        let fisher_ptrs: Vec<*const c_char> =
            fisher_names.iter().map(|name| name.as_ptr()).collect();
        let status = (self.0.vtable::<FfiRegularizerVTable>().end_task)(
            self.0.object.state,
            name_ptrs.as_ptr(),
            handles.as_ptr(),
            handles.len(),
            fisher.is_some(),
            fisher_ptrs.as_ptr(),
            fisher_handles.as_ptr(),
            fisher_handles.len(),
        );
        self.0.check(status, "end_task")
    }

    /// The regularizer's state (anchors, Fisher estimates), carried between tasks and saved
    /// in resumable checkpoints.
    pub fn save_state(&mut self) -> Result<SavedState, PluginError> {
        let fns = &self.0.vtable::<FfiRegularizerVTable>().training_state;
        self.0.save_state(fns)
    }

    pub fn load_state(&mut self, saved: &SavedState) -> Result<(), PluginError> {
        let fns = &self.0.vtable::<FfiRegularizerVTable>().training_state;
        self.0.load_state(fns, saved)
    }
}

impl ForeignTokenizer {
    /// Learns the vocabulary from documents.
    pub fn train(&mut self, documents: &[&str]) -> Result<(), PluginError> {
        let texts: Vec<CString> = documents
            .iter()
            .map(|text| self.0.c_text(text))
            .collect::<Result<_, _>>()?;
        let pointers: Vec<*const c_char> = texts.iter().map(|text| text.as_ptr()).collect();
        let status = (self.0.vtable::<FfiTokenizerVTable>().train)(
            self.0.object.state,
            pointers.as_ptr(),
            pointers.len(),
        );
        self.0.check(status, "train")
    }

    /// The tokenizer as `tokenizer.json` text.
    pub fn to_json(&mut self) -> Result<String, PluginError> {
        let mut out: *const c_char = std::ptr::null();
        let status = (self.0.vtable::<FfiTokenizerVTable>().to_json)(self.0.object.state, &mut out);
        self.0.check(status, "to_json")?;
        Ok(c_text(out))
    }

    /// Becomes the tokenizer a `to_json` wrote.
    pub fn load_json(&mut self, json: &str) -> Result<(), PluginError> {
        let json = self.0.c_text(json)?;
        let status =
            (self.0.vtable::<FfiTokenizerVTable>().load_json)(self.0.object.state, json.as_ptr());
        self.0.check(status, "load_json")
    }

    pub fn vocabulary(&mut self) -> Result<TokenInfo, PluginError> {
        Ok(self.described()?.vocabulary)
    }

    /// Before training: the most token ids training can give, where the tokenizer says
    /// (`Tokenizer::vocabulary_bound`).
    pub fn vocabulary_bound(&mut self) -> Result<Option<i64>, PluginError> {
        Ok(self.described()?.bound)
    }

    fn described(&mut self) -> Result<DescribedVocabulary, PluginError> {
        let mut out: *const c_char = std::ptr::null();
        let status =
            (self.0.vtable::<FfiTokenizerVTable>().describe)(self.0.object.state, &mut out);
        self.0.check(status, "vocabulary")?;
        self.0.decode(out, "vocabulary", "vocabulary")
    }

    /// The ids of each text.
    pub fn encode(&mut self, texts: &[&str]) -> Result<Vec<Vec<u32>>, PluginError> {
        let owned: Vec<CString> = texts
            .iter()
            .map(|text| self.0.c_text(text))
            .collect::<Result<_, _>>()?;
        let pointers: Vec<*const c_char> = owned.iter().map(|text| text.as_ptr()).collect();
        let mut ids: *const u32 = std::ptr::null();
        let mut offsets: *const usize = std::ptr::null();
        let status = (self.0.vtable::<FfiTokenizerVTable>().encode)(
            self.0.object.state,
            pointers.as_ptr(),
            pointers.len(),
            &mut ids,
            &mut offsets,
        );
        self.0.check(status, "encode")?;
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // SAFETY: after a successful `encode` the object holds `texts.len() + 1` offsets and
        // `offsets[n]` ids until its next call; both are copied out here.
        let offsets = unsafe { std::slice::from_raw_parts(offsets, texts.len() + 1) }.to_vec();
        let total = offsets[texts.len()];
        let ids = if total == 0 {
            Vec::new()
        } else {
            // SAFETY: as above.
            unsafe { std::slice::from_raw_parts(ids, total) }.to_vec()
        };
        offsets
            .windows(2)
            .map(|pair| {
                ids.get(pair[0]..pair[1])
                    .map(<[u32]>::to_vec)
                    .ok_or_else(|| {
                        self.0
                            .broke("encode", "returned offsets out of order".into())
                    })
            })
            .collect()
    }

    pub fn decode(&mut self, ids: &[u32]) -> Result<String, PluginError> {
        let mut out: *const c_char = std::ptr::null();
        let status = (self.0.vtable::<FfiTokenizerVTable>().decode)(
            self.0.object.state,
            ids.as_ptr(),
            ids.len(),
            &mut out,
        );
        self.0.check(status, "decode")?;
        Ok(c_text(out))
    }
}

impl ForeignExporter {
    /// Writes a model into `dir`; returns the files written.
    pub fn export(
        &mut self,
        model: &crate::sdk::ExportedModel,
        dir: &Path,
    ) -> Result<Vec<String>, PluginError> {
        let value_error = |message: String| PluginError::Value {
            plugin: self.0.plugin.name.clone(),
            component: self.0.component.clone(),
            message,
        };
        let params = OwnedValue::record(model.params.values())
            .map_err(|error| value_error(error.to_string()))?;
        let data = serde_json::to_value(&model.data)
            .map_err(|error| value_error(error.to_string()))
            .and_then(|json| {
                OwnedValue::from_json(&json).map_err(|error| value_error(error.to_string()))
            })?;
        let architecture = self.0.c_text(&model.architecture)?;
        let (names, handles) = named_args(&self.0, &model.tensors)?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|name| name.as_ptr()).collect();
        let tokenizer = model
            .tokenizer_json
            .as_deref()
            .map(|json| self.0.c_text(json))
            .transpose()?;
        let dir = self.0.c_text(&dir.display().to_string())?;
        let mut out: *const c_char = std::ptr::null();
        let status = (self.0.vtable::<FfiExporterVTable>().write)(
            self.0.object.state,
            architecture.as_ptr(),
            params.as_ptr(),
            data.as_ptr(),
            name_ptrs.as_ptr(),
            handles.as_ptr(),
            handles.len(),
            tokenizer
                .as_ref()
                .map_or(std::ptr::null(), |json| json.as_ptr()),
            dir.as_ptr(),
            &mut out,
        );
        self.0.check(status, "export")?;
        self.0.decode(out, "export", "the list of files written")
    }
}
