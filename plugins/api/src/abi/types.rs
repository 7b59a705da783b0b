//! The C types of the plugin ABI: the only file `include/exp_plugin.h` is generated from
//! (cbindgen, `Ffi` names becoming `Exp` ones), and the one whose hash docs/plugin-abi.md
//! records. Everything here is `#[repr(C)]` data, `extern "C"` function pointers and constants;
//! the glue that fills these tables from safe Rust is in `export`, the host's side in `host`.
//!
//! The rules a plugin in any language follows:
//! - Its library exports one symbol, `exp_plugin_entry`, returning a pointer to an
//!   `FfiPlugin` that lives as long as the library. The host checks `magic`, the ABI version,
//!   `struct_size` and `libtorch_version` before it reads anything else.
//! - Every call returns a status (`STATUS_OK`, `STATUS_ERROR`, `STATUS_PANIC` for a caught
//!   panic or exception). After a failure the host reads the message, and the parameter it
//!   blames if any, with the descriptor's `last_error` and `last_error_field`: per thread,
//!   valid until the next call on that thread. No panic or exception may cross the boundary.
//! - What the host passes in is borrowed for the call: strings (NUL-terminated UTF-8),
//!   parameter values (`FfiValue` trees), tensor handles. What the plugin hands out is owned by
//!   the object that made it and valid until the next call on that object or its release
//!   (strings, JSON texts), except tensors: a tensor handle the plugin returns is a new
//!   reference that the host owns and frees.
//! - Structured data the host gives a plugin arrives as value trees (`FfiValue`), so a plugin never
//!   needs a JSON parser; structured data a plugin gives the host (its schema, dataset info,
//!   metrics, hook settings, saved state) is JSON text, which is easy to write in any language.
//! - A tensor handle is a libtorch `at::Tensor*` (tch's `C_tensor`): in C++, read
//!   `*reinterpret_cast<at::Tensor*>(handle)` and return `new at::Tensor(result)`.
//! - Calls on one object never overlap; different objects may be used from different threads.
//!
//! Bump `ABI_MAJOR` by hand for any change to these types or signatures (`ABI_MINOR` for a
//! field appended where the host checks a size), regenerate the header (`EXP_BLESS=1 cargo test
//! -p exp-plugin-api header`) and update docs/plugin-abi.md (a tidy test holds this file's hash).

use std::ffi::{c_char, c_void};

/// "exp_plug" in ASCII: the first field of every descriptor.
pub const MAGIC: u64 = 0x6578_705f_706c_7567;
pub const ABI_MAJOR: u32 = 7;
pub const ABI_MINOR: u32 = 0;
/// The one symbol a plugin library exports: an `FfiEntryFn` (the header declares it).
pub const ENTRY_SYMBOL: &str = "exp_plugin_entry";

/// The call succeeded.
pub const STATUS_OK: i32 = 0;
/// The component reported an error; read it with `last_error`.
pub const STATUS_ERROR: i32 = 1;
/// The component panicked (or threw); the panic was caught inside the plugin.
pub const STATUS_PANIC: i32 = 2;

/// Opaque: a libtorch `at::Tensor` (tch's `C_tensor`); handles are pointers to it. (Not
/// `repr(C)`, so the header declares it without a body.)
pub struct FfiTensor {
    _private: [u8; 0],
}

/// A tensor handle, borrowed when passed in, owned by the host when returned.
pub type FfiTensorHandle = *mut FfiTensor;

/// The kinds of component, as a component's `kind` field holds them.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiKind {
    Dataset = 0,
    Model = 1,
    Optimizer = 2,
    Scheduler = 3,
    Merger = 4,
    Evaluator = 5,
    Regularizer = 6,
    Tokenizer = 7,
    Exporter = 8,
}

/// What a value holds.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiValueKind {
    /// No value (only inside saved state).
    Null = 0,
    /// `int_value`.
    Int = 1,
    /// `float_value`.
    Float = 2,
    /// `int_value`, 0 or 1.
    Bool = 3,
    /// `text`.
    Str = 4,
    /// `items[0..n_items]`.
    List = 5,
    /// `float_value` of `unit`.
    Duration = 6,
    /// `keys[i]` and `items[i]` for i in `0..n_items`, keys in increasing byte order.
    Record = 7,
    /// An unsigned integer above `INT64_MAX` (only inside saved state): its bits in
    /// `int_value`, read as `uint64_t`.
    Uint = 8,
}

/// The unit of a duration value. The host resolves every duration to steps of the phase
/// before it builds a component inside a training phase; `exp check` and components built
/// outside a phase may see the others.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiDurationUnit {
    Steps = 0,
    Epochs = 1,
    Tokens = 2,
    /// A fraction of the phase, in [0, 1] (`20%` is 0.2).
    Fraction = 3,
}

/// A value the host passes in: a parameter, a record of context, a saved state. Only the fields
/// its `kind` names are meaningful.
#[repr(C)]
pub struct FfiValue {
    pub kind: FfiValueKind,
    pub unit: FfiDurationUnit,
    pub int_value: i64,
    pub float_value: f64,
    pub text: *const c_char,
    pub keys: *const *const c_char,
    pub items: *const FfiValue,
    pub n_items: usize,
}

/// What a component is built with besides its parameters.
#[repr(C)]
pub struct FfiContext {
    /// The node's seed. Draw all randomness from it, never from libtorch's global generator,
    /// so parallel nodes stay deterministic.
    pub seed: u64,
    /// `cpu`, or `cuda:N`.
    pub device: *const c_char,
    /// For models: the dataset that sizes them, as a record (`input_shape`, `classes`,
    /// `train_len`, `validation_len`, `test_len`, `source`, `license`); otherwise null.
    pub data: *const FfiValue,
}

/// The split a dataset serves examples from.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiSplit {
    Train = 0,
    Test = 1,
    Validation = 2,
}

/// A component's constructor: `params` is a record of every parameter (defaults filled in,
/// types checked against the schema); on success it fills `out`.
pub type FfiCreateFn =
    extern "C" fn(params: *const FfiValue, context: *const FfiContext, out: *mut FfiObject) -> i32;

/// A component's check of a parameter record (the rules between parameters a schema cannot
/// state): `STATUS_OK`, or an error naming the parameter it blames. Durations are as written.
pub type FfiCheckFn = extern "C" fn(params: *const FfiValue) -> i32;

/// A model's count of its parameters without being built: writes to `out` the elements of
/// every tensor a model of `params`, sized by `data` (a dataset info record, as
/// `FfiContext::data`, or null), would hold.
pub type FfiParameterCountFn =
    extern "C" fn(params: *const FfiValue, data: *const FfiValue, out: *mut u64) -> i32;

/// One component a plugin provides.
#[repr(C)]
pub struct FfiComponent {
    /// The component's kind (`EXP_KIND_*` in C), held as a plain integer: the host checks it
    /// before trusting it.
    pub kind: u32,
    pub name: *const c_char,
    /// The component's schema as JSON: `{"kind", "name", "doc", "version", "params": [..]}`
    /// (see docs/plugin-abi.md for the parameter fields).
    pub schema_json: *const c_char,
    pub create: FfiCreateFn,
    /// Optional (null when the component states no rule beyond its schema): the component's
    /// check of a parameter record.
    pub check: Option<extern "C" fn(params: *const FfiValue) -> i32>,
    /// Optional (null unless the component is a model that counts its parameters without being
    /// built): `exp graph` calls it instead of building a large model to count it.
    pub parameter_count:
        Option<extern "C" fn(params: *const FfiValue, data: *const FfiValue, out: *mut u64) -> i32>,
}

/// The descriptor `exp_plugin_entry` returns.
#[repr(C)]
pub struct FfiPlugin {
    pub magic: u64,
    pub abi_major: u32,
    pub abi_minor: u32,
    /// The size of this descriptor as the plugin saw it (`sizeof` it, in C).
    pub struct_size: u32,
    pub name: *const c_char,
    pub version: *const c_char,
    /// The libtorch release the plugin was built against, `MAJOR.MINOR.PATCH` (in C++,
    /// `TORCH_VERSION` from `<torch/headeronly/version.h>`). Tensors cross as `at::Tensor*`,
    /// whose layout only the same release is sure to share, so it must equal the host's.
    pub libtorch_version: *const c_char,
    pub components: *const FfiComponent,
    pub n_components: usize,
    /// The message of the last failed call on this thread, or null.
    pub last_error: extern "C" fn() -> *const c_char,
    /// The parameter the last failed call on this thread blamed, or null.
    pub last_error_field: extern "C" fn() -> *const c_char,
}

/// The type of `exp_plugin_entry`.
pub type FfiEntryFn = unsafe extern "C" fn() -> *const FfiPlugin;

/// An object a plugin made: its state, the table of its kind, and the functions every kind
/// has. The host calls `release` exactly once.
#[repr(C)]
pub struct FfiObject {
    pub state: *mut c_void,
    /// Points at the function table of the component's kind (a dataset's, a model's, ...).
    pub vtable: *const c_void,
    pub release: extern "C" fn(state: *mut c_void),
    /// A scheduled parameter's value for the steps from now on; called before the step it
    /// holds for, whenever the schedule has moved.
    pub set_param: extern "C" fn(state: *mut c_void, name: *const c_char, value: f64) -> i32,
}

/// Saving and restoring an object's training state, so that an interrupted phase resumes
/// exactly: `save` snapshots the state inside the object and reports its tensor count and a
/// JSON text of everything else; `saved_tensor` hands out each tensor; `load` restores a
/// snapshot given as a value (the JSON read back) and named tensors.
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
        out_tensor: *mut FfiTensorHandle,
    ) -> i32,
    pub load: extern "C" fn(
        state: *mut c_void,
        data: *const FfiValue,
        names: *const *const c_char,
        tensors: *const FfiTensorHandle,
        n_tensors: usize,
    ) -> i32,
}

/// A dataset of tensors has `batch`; a dataset of text has `documents`, which the host
/// tokenizes with a model's tokenizer. Exactly one of the two is non-null.
#[repr(C)]
pub struct FfiDatasetVTable {
    /// The dataset's description as JSON: `{"input_shape": [..], "classes", "train_len",
    /// "validation_len", "test_len", "source", "license"}` (for text, the lengths count
    /// documents).
    pub info: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
    /// The examples at `indices` of a split, as inputs and targets.
    pub batch: Option<
        extern "C" fn(
            state: *mut c_void,
            split: FfiSplit,
            indices: *const i64,
            n_indices: usize,
            out_x: *mut FfiTensorHandle,
            out_y: *mut FfiTensorHandle,
        ) -> i32,
    >,
    /// Every document of a split, as JSON: `[{"text": "..", "answer_at": null | n}]`, where
    /// `answer_at` is the byte offset at which the text's checkable answer starts (the prompt
    /// is the text before it).
    pub documents: Option<
        extern "C" fn(state: *mut c_void, split: FfiSplit, out_json: *mut *const c_char) -> i32,
    >,
}

#[repr(C)]
pub struct FfiModelVTable {
    pub n_tensors: extern "C" fn(state: *mut c_void) -> usize,
    /// The checkpoint key of tensor `index`, or null past the end.
    pub tensor_name: extern "C" fn(state: *mut c_void, index: usize) -> *const c_char,
    /// A new handle sharing storage with the model's tensor `index`, so that the host's
    /// in-place updates (optimizer steps, loading a checkpoint) change the model itself.
    pub tensor: extern "C" fn(state: *mut c_void, index: usize, out: *mut FfiTensorHandle) -> i32,
    /// The model's output for a batch of inputs; for a classifier, logits `[batch, classes]`.
    pub forward: extern "C" fn(
        state: *mut c_void,
        x: FfiTensorHandle,
        train: bool,
        out: *mut FfiTensorHandle,
    ) -> i32,
    /// The training loss of a batch: a scalar that autograd can differentiate.
    pub loss: extern "C" fn(
        state: *mut c_void,
        x: FfiTensorHandle,
        y: FfiTensorHandle,
        out: *mut FfiTensorHandle,
    ) -> i32,
    /// State beyond the tensors (a dropout generator), for resuming.
    pub training_state: FfiStateFns,
    /// Optional, for models of token sequences: greedy continuations of `n_prompts` prompts
    /// (prompt `i` is `ids[offsets[i]..offsets[i + 1]]`), at most `max_new` tokens each,
    /// stopping after token `stop` (none when negative); the new tokens as JSON, `[[id, ..]]`.
    pub generate: Option<
        extern "C" fn(
            state: *mut c_void,
            ids: *const i64,
            offsets: *const usize,
            n_prompts: usize,
            max_new: usize,
            stop: i64,
            out_json: *mut *const c_char,
        ) -> i32,
    >,
    /// Optional: the names of the tensors weight decay must leave alone (norms, biases,
    /// embeddings), as a JSON list; null, or an empty list, for none.
    pub no_decay: Option<extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32>,
    /// Optional, for generative models of their inputs (a diffusion model): one input drawn
    /// for each row of `conditions` (targets as the model's dataset gives them, −100 for "no
    /// condition"), with `steps` denoising steps, classifier-free guidance weight `guidance`
    /// (0: unconditional, 1: conditional), stochasticity `eta` (0: deterministic DDIM) and
    /// every random draw from `seed`.
    pub sample: Option<
        extern "C" fn(
            state: *mut c_void,
            conditions: FfiTensorHandle,
            steps: u64,
            guidance: f64,
            eta: f64,
            seed: u64,
            out: *mut FfiTensorHandle,
        ) -> i32,
    >,
}

#[repr(C)]
pub struct FfiOptimizerVTable {
    /// Updates `params` in place from their gradients. The learning rate is a parameter of
    /// the optimizer like any other, moved by `set_param` when it follows a schedule.
    pub step:
        extern "C" fn(state: *mut c_void, params: *const FfiTensorHandle, n_params: usize) -> i32,
    /// The optimizer's state (moments, step count), for resuming.
    pub training_state: FfiStateFns,
    /// Optional: which of the parameters `step` receives (`exempt[i]` for the `i`-th, one
    /// byte each, 0 or 1) weight decay must leave alone, as the model says; called once after
    /// the optimizer is made, before its first step.
    pub set_no_decay:
        Option<extern "C" fn(state: *mut c_void, exempt: *const u8, n_params: usize) -> i32>,
}

#[repr(C)]
pub struct FfiSchedulerVTable {
    /// The schedule's value at `step` (0-based) of a phase of `total` steps.
    pub value: extern "C" fn(state: *mut c_void, step: u64, total: u64, out: *mut f64) -> i32,
}

#[repr(C)]
pub struct FfiEvaluatorVTable {
    pub reset: extern "C" fn(state: *mut c_void) -> i32,
    /// Accumulates one batch of model outputs and targets.
    pub update:
        extern "C" fn(state: *mut c_void, output: FfiTensorHandle, target: FfiTensorHandle) -> i32,
    /// The metrics so far as a JSON object of numbers, e.g. `{"accuracy": 0.93}`.
    pub compute: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
    /// How the evaluator judges generated text, as JSON: `null` for one that reads model
    /// outputs through `update`, or `{"max_new_tokens": n, "stop": "end_of_text" | "newline",
    /// "prompt_tokens": null | n, "max_documents": null | n}` for one the host feeds
    /// generations through `update_text` (documents with an answer are prompted with the text
    /// before it; others with their first `prompt_tokens` tokens, when given). Optional: null
    /// for an evaluator of model outputs only (as a C or C++ table that ends before it is).
    pub generation: Option<extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32>,
    /// One generation: the prompt, what the model continued it with (cut at the stop), and
    /// the reference answer. Optional, with `generation`.
    pub update_text: Option<
        extern "C" fn(
            state: *mut c_void,
            prompt: *const c_char,
            generated: *const c_char,
            reference: *const c_char,
        ) -> i32,
    >,
}

#[repr(C)]
pub struct FfiMergerVTable {
    /// Merges the tensors named `name` of each input model (in the file's order) into one new
    /// tensor.
    pub merge: extern "C" fn(
        state: *mut c_void,
        name: *const c_char,
        inputs: *const FfiTensorHandle,
        n_inputs: usize,
        out: *mut FfiTensorHandle,
    ) -> i32,
    /// Merges whole models in one call: `inputs` holds `n_tensors × n_inputs` handles, tensor by
    /// tensor (`inputs[t * n_inputs + i]` is tensor `names[t]` of input model `i`); on success
    /// the plugin fills all `n_tensors` slots of `out`.
    pub merge_model: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        n_tensors: usize,
        inputs: *const FfiTensorHandle,
        n_inputs: usize,
        out: *mut FfiTensorHandle,
    ) -> i32,
    /// How the merger runs as a training hook, as JSON: `null`, or
    /// `{"every": steps, "anchor": "task_start" | "previous_merge", "keep_optimizer": bool}`.
    pub as_hook: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
}

#[repr(C)]
pub struct FfiRegularizerVTable {
    /// Records the reference weights (the model at the start of a task).
    pub anchor: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        params: *const FfiTensorHandle,
        n_params: usize,
    ) -> i32,
    /// The penalty to add to the loss: a scalar, differentiable with respect to `params`.
    pub penalty: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        params: *const FfiTensorHandle,
        n_params: usize,
        out: *mut FfiTensorHandle,
    ) -> i32,
    /// Whether `end_task` wants a diagonal Fisher, as JSON: `null`, or
    /// `{"estimator": "empirical" | "sampled", "per_example": bool, "batches": count}`.
    pub fisher_request: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
    /// The end of a phase: the final trainable tensors and, when `has_fisher`, the diagonal
    /// Fisher by name (otherwise the Fisher pointers are ignored).
    pub end_task: extern "C" fn(
        state: *mut c_void,
        names: *const *const c_char,
        params: *const FfiTensorHandle,
        n_params: usize,
        has_fisher: bool,
        fisher_names: *const *const c_char,
        fisher: *const FfiTensorHandle,
        n_fisher: usize,
    ) -> i32,
    /// Anchors, Fisher estimates and anything else carried between tasks.
    pub training_state: FfiStateFns,
}

#[repr(C)]
pub struct FfiTokenizerVTable {
    /// Learns the vocabulary from `n` documents (a tokenizer that needs no training ignores
    /// them).
    pub train: extern "C" fn(state: *mut c_void, texts: *const *const c_char, n: usize) -> i32,
    /// The tokenizer as JSON text (Hugging Face's `tokenizer.json` format), to save it.
    pub to_json: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
    /// Replaces the tokenizer by one `to_json` wrote.
    pub load_json: extern "C" fn(state: *mut c_void, json: *const c_char) -> i32,
    /// `{"vocab_size": n, "special": {"<|endoftext|>": id, ..}}`, and before training
    /// optionally `"bound": n`, the most ids training can give (`DescribedVocabulary`).
    pub describe: extern "C" fn(state: *mut c_void, out_json: *mut *const c_char) -> i32,
    /// The ids of `n` texts: text `i` is `out_ids[out_offsets[i]..out_offsets[i + 1]]`; both
    /// arrays belong to the object until its next call.
    pub encode: extern "C" fn(
        state: *mut c_void,
        texts: *const *const c_char,
        n: usize,
        out_ids: *mut *const u32,
        out_offsets: *mut *const usize,
    ) -> i32,
    /// The text of `n` ids.
    pub decode: extern "C" fn(
        state: *mut c_void,
        ids: *const u32,
        n: usize,
        out_text: *mut *const c_char,
    ) -> i32,
}

#[repr(C)]
pub struct FfiExporterVTable {
    /// Writes a model into the directory `dir` (which exists and is empty): its architecture
    /// (`model`, with its parameters as a record and the dataset info that sized it), its
    /// `n` named tensors, and its tokenizer's JSON (null without one). Reports the files it
    /// wrote as JSON, `["config.json", ..]`.
    pub write: extern "C" fn(
        state: *mut c_void,
        model: *const c_char,
        params: *const FfiValue,
        data: *const FfiValue,
        names: *const *const c_char,
        tensors: *const FfiTensorHandle,
        n: usize,
        tokenizer_json: *const c_char,
        dir: *const c_char,
        out_json: *mut *const c_char,
    ) -> i32,
}
