/*
 * exp_plugin.h: the exp plugin ABI for C and C++ authors.
 *
 * Generated from plugins/api/src/abi/types.rs by cbindgen (plugins/api/cbindgen.toml); do not
 * edit: change types.rs and run `EXP_BLESS=1 cargo test -p exp-plugin-api --test header`.
 * docs/plugin-abi.md walks through a first plugin in C++.
 *
 * In C++, a tensor handle (ExpTensorHandle) is an `at::Tensor*`: read an input as
 * `*reinterpret_cast<at::Tensor*>(handle)` and hand a result out as
 * `reinterpret_cast<ExpTensorHandle>(new at::Tensor(result))`; the host frees it.
 * No C++ exception may leave a function of the ABI: catch it and return EXP_STATUS_PANIC.
 */

#ifndef EXP_PLUGIN_H
#define EXP_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

// "exp_plug" in ASCII: the first field of every descriptor.
#define EXP_MAGIC 7311717550246360423

#define EXP_ABI_MAJOR 7

#define EXP_ABI_MINOR 0

// The call succeeded.
#define EXP_STATUS_OK 0

// The component reported an error; read it with `last_error`.
#define EXP_STATUS_ERROR 1

// The component panicked (or threw); the panic was caught inside the plugin.
#define EXP_STATUS_PANIC 2

// The kinds of component, as a component's `kind` field holds them.
enum ExpKind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  EXP_KIND_DATASET = 0,
  EXP_KIND_MODEL = 1,
  EXP_KIND_OPTIMIZER = 2,
  EXP_KIND_SCHEDULER = 3,
  EXP_KIND_MERGER = 4,
  EXP_KIND_EVALUATOR = 5,
  EXP_KIND_REGULARIZER = 6,
  EXP_KIND_TOKENIZER = 7,
  EXP_KIND_EXPORTER = 8,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum ExpKind ExpKind;
#else
typedef uint32_t ExpKind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// The split a dataset serves examples from.
enum ExpSplit
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  EXP_SPLIT_TRAIN = 0,
  EXP_SPLIT_TEST = 1,
  EXP_SPLIT_VALIDATION = 2,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum ExpSplit ExpSplit;
#else
typedef uint32_t ExpSplit;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// The unit of a duration value. The host resolves every duration to steps of the phase
// before it builds a component inside a training phase; `exp check` and components built
// outside a phase may see the others.
enum ExpDurationUnit
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  EXP_DURATION_UNIT_STEPS = 0,
  EXP_DURATION_UNIT_EPOCHS = 1,
  EXP_DURATION_UNIT_TOKENS = 2,
  // A fraction of the phase, in [0, 1] (`20%` is 0.2).
  EXP_DURATION_UNIT_FRACTION = 3,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum ExpDurationUnit ExpDurationUnit;
#else
typedef uint32_t ExpDurationUnit;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// What a value holds.
enum ExpValueKind
#if defined(__cplusplus) || __STDC_VERSION__ >= 202311L
  : uint32_t
#endif // defined(__cplusplus) || __STDC_VERSION__ >= 202311L
 {
  // No value (only inside saved state).
  EXP_VALUE_KIND_NULL = 0,
  // `int_value`.
  EXP_VALUE_KIND_INT = 1,
  // `float_value`.
  EXP_VALUE_KIND_FLOAT = 2,
  // `int_value`, 0 or 1.
  EXP_VALUE_KIND_BOOL = 3,
  // `text`.
  EXP_VALUE_KIND_STR = 4,
  // `items[0..n_items]`.
  EXP_VALUE_KIND_LIST = 5,
  // `float_value` of `unit`.
  EXP_VALUE_KIND_DURATION = 6,
  // `keys[i]` and `items[i]` for i in `0..n_items`, keys in increasing byte order.
  EXP_VALUE_KIND_RECORD = 7,
  // An unsigned integer above `INT64_MAX` (only inside saved state): its bits in
  // `int_value`, read as `uint64_t`.
  EXP_VALUE_KIND_UINT = 8,
};
#ifndef __cplusplus
#if __STDC_VERSION__ >= 202311L
typedef enum ExpValueKind ExpValueKind;
#else
typedef uint32_t ExpValueKind;
#endif // __STDC_VERSION__ >= 202311L
#endif // __cplusplus

// Opaque: a libtorch `at::Tensor` (tch's `C_tensor`); handles are pointers to it. (Not
// `repr(C)`, so the header declares it without a body.)
typedef struct ExpTensor ExpTensor;

// A value the host passes in: a parameter, a record of context, a saved state. Only the fields
// its `kind` names are meaningful.
typedef struct ExpValue {
  ExpValueKind kind;
  ExpDurationUnit unit;
  int64_t int_value;
  double float_value;
  const char *text;
  const char *const *keys;
  const struct ExpValue *items;
  size_t n_items;
} ExpValue;

// What a component is built with besides its parameters.
typedef struct ExpContext {
  // The node's seed. Draw all randomness from it, never from libtorch's global generator,
  // so parallel nodes stay deterministic.
  uint64_t seed;
  // `cpu`, or `cuda:N`.
  const char *device;
  // For models: the dataset that sizes them, as a record (`input_shape`, `classes`,
  // `train_len`, `validation_len`, `test_len`, `source`, `license`); otherwise null.
  const struct ExpValue *data;
} ExpContext;

// An object a plugin made: its state, the table of its kind, and the functions every kind
// has. The host calls `release` exactly once.
typedef struct ExpObject {
  void *state;
  // Points at the function table of the component's kind (a dataset's, a model's, ...).
  const void *vtable;
  void (*release)(void *state);
  // A scheduled parameter's value for the steps from now on; called before the step it
  // holds for, whenever the schedule has moved.
  int32_t (*set_param)(void *state, const char *name, double value);
} ExpObject;

// A component's constructor: `params` is a record of every parameter (defaults filled in,
// types checked against the schema); on success it fills `out`.
typedef int32_t (*ExpCreateFn)(const struct ExpValue *params,
                               const struct ExpContext *context,
                               struct ExpObject *out);

// One component a plugin provides.
typedef struct ExpComponent {
  // The component's kind (`EXP_KIND_*` in C), held as a plain integer: the host checks it
  // before trusting it.
  uint32_t kind;
  const char *name;
  // The component's schema as JSON: `{"kind", "name", "doc", "version", "params": [..]}`
  // (see docs/plugin-abi.md for the parameter fields).
  const char *schema_json;
  ExpCreateFn create;
  // Optional (null when the component states no rule beyond its schema): the component's
  // check of a parameter record.
  int32_t (*check)(const struct ExpValue *params);
  // Optional (null unless the component is a model that counts its parameters without being
  // built): `exp graph` calls it instead of building a large model to count it.
  int32_t (*parameter_count)(const struct ExpValue *params,
                             const struct ExpValue *data,
                             uint64_t *out);
} ExpComponent;

// The descriptor `exp_plugin_entry` returns.
typedef struct ExpPlugin {
  uint64_t magic;
  uint32_t abi_major;
  uint32_t abi_minor;
  // The size of this descriptor as the plugin saw it (`sizeof` it, in C).
  uint32_t struct_size;
  const char *name;
  const char *version;
  // The libtorch release the plugin was built against, `MAJOR.MINOR.PATCH` (in C++,
  // `TORCH_VERSION` from `<torch/headeronly/version.h>`). Tensors cross as `at::Tensor*`,
  // whose layout only the same release is sure to share, so it must equal the host's.
  const char *libtorch_version;
  const struct ExpComponent *components;
  size_t n_components;
  // The message of the last failed call on this thread, or null.
  const char *(*last_error)(void);
  // The parameter the last failed call on this thread blamed, or null.
  const char *(*last_error_field)(void);
} ExpPlugin;

// A tensor handle, borrowed when passed in, owned by the host when returned.
typedef struct ExpTensor *ExpTensorHandle;

// Saving and restoring an object's training state, so that an interrupted phase resumes
// exactly: `save` snapshots the state inside the object and reports its tensor count and a
// JSON text of everything else; `saved_tensor` hands out each tensor; `load` restores a
// snapshot given as a value (the JSON read back) and named tensors.
typedef struct ExpStateFns {
  int32_t (*save)(void *state, size_t *out_n_tensors, const char **out_json);
  int32_t (*saved_tensor)(void *state,
                          size_t index,
                          const char **out_name,
                          ExpTensorHandle *out_tensor);
  int32_t (*load)(void *state,
                  const struct ExpValue *data,
                  const char *const *names,
                  const ExpTensorHandle *tensors,
                  size_t n_tensors);
} ExpStateFns;

// A dataset of tensors has `batch`; a dataset of text has `documents`, which the host
// tokenizes with a model's tokenizer. Exactly one of the two is non-null.
typedef struct ExpDatasetVTable {
  // The dataset's description as JSON: `{"input_shape": [..], "classes", "train_len",
  // "validation_len", "test_len", "source", "license"}` (for text, the lengths count
  // documents).
  int32_t (*info)(void *state, const char **out_json);
  // The examples at `indices` of a split, as inputs and targets.
  int32_t (*batch)(void *state,
                   ExpSplit split,
                   const int64_t *indices,
                   size_t n_indices,
                   ExpTensorHandle *out_x,
                   ExpTensorHandle *out_y);
  // Every document of a split, as JSON: `[{"text": "..", "answer_at": null | n}]`, where
  // `answer_at` is the byte offset at which the text's checkable answer starts (the prompt
  // is the text before it).
  int32_t (*documents)(void *state, ExpSplit split, const char **out_json);
} ExpDatasetVTable;

typedef struct ExpModelVTable {
  size_t (*n_tensors)(void *state);
  // The checkpoint key of tensor `index`, or null past the end.
  const char *(*tensor_name)(void *state, size_t index);
  // A new handle sharing storage with the model's tensor `index`, so that the host's
  // in-place updates (optimizer steps, loading a checkpoint) change the model itself.
  int32_t (*tensor)(void *state, size_t index, ExpTensorHandle *out);
  // The model's output for a batch of inputs; for a classifier, logits `[batch, classes]`.
  int32_t (*forward)(void *state, ExpTensorHandle x, bool train, ExpTensorHandle *out);
  // The training loss of a batch: a scalar that autograd can differentiate.
  int32_t (*loss)(void *state, ExpTensorHandle x, ExpTensorHandle y, ExpTensorHandle *out);
  // State beyond the tensors (a dropout generator), for resuming.
  struct ExpStateFns training_state;
  // Optional, for models of token sequences: greedy continuations of `n_prompts` prompts
  // (prompt `i` is `ids[offsets[i]..offsets[i + 1]]`), at most `max_new` tokens each,
  // stopping after token `stop` (none when negative); the new tokens as JSON, `[[id, ..]]`.
  int32_t (*generate)(void *state,
                      const int64_t *ids,
                      const size_t *offsets,
                      size_t n_prompts,
                      size_t max_new,
                      int64_t stop,
                      const char **out_json);
  // Optional: the names of the tensors weight decay must leave alone (norms, biases,
  // embeddings), as a JSON list; null, or an empty list, for none.
  int32_t (*no_decay)(void *state, const char **out_json);
  // Optional, for generative models of their inputs (a diffusion model): one input drawn
  // for each row of `conditions` (targets as the model's dataset gives them, −100 for "no
  // condition"), with `steps` denoising steps, classifier-free guidance weight `guidance`
  // (0: unconditional, 1: conditional), stochasticity `eta` (0: deterministic DDIM) and
  // every random draw from `seed`.
  int32_t (*sample)(void *state,
                    ExpTensorHandle conditions,
                    uint64_t steps,
                    double guidance,
                    double eta,
                    uint64_t seed,
                    ExpTensorHandle *out);
} ExpModelVTable;

typedef struct ExpOptimizerVTable {
  // Updates `params` in place from their gradients. The learning rate is a parameter of
  // the optimizer like any other, moved by `set_param` when it follows a schedule.
  int32_t (*step)(void *state, const ExpTensorHandle *params, size_t n_params);
  // The optimizer's state (moments, step count), for resuming.
  struct ExpStateFns training_state;
  // Optional: which of the parameters `step` receives (`exempt[i]` for the `i`-th, one
  // byte each, 0 or 1) weight decay must leave alone, as the model says; called once after
  // the optimizer is made, before its first step.
  int32_t (*set_no_decay)(void *state, const uint8_t *exempt, size_t n_params);
} ExpOptimizerVTable;

typedef struct ExpSchedulerVTable {
  // The schedule's value at `step` (0-based) of a phase of `total` steps.
  int32_t (*value)(void *state, uint64_t step, uint64_t total, double *out);
} ExpSchedulerVTable;

typedef struct ExpEvaluatorVTable {
  int32_t (*reset)(void *state);
  // Accumulates one batch of model outputs and targets.
  int32_t (*update)(void *state, ExpTensorHandle output, ExpTensorHandle target);
  // The metrics so far as a JSON object of numbers, e.g. `{"accuracy": 0.93}`.
  int32_t (*compute)(void *state, const char **out_json);
  // How the evaluator judges generated text, as JSON: `null` for one that reads model
  // outputs through `update`, or `{"max_new_tokens": n, "stop": "end_of_text" | "newline",
  // "prompt_tokens": null | n, "max_documents": null | n}` for one the host feeds
  // generations through `update_text` (documents with an answer are prompted with the text
  // before it; others with their first `prompt_tokens` tokens, when given). Optional: null
  // for an evaluator of model outputs only (as a C or C++ table that ends before it is).
  int32_t (*generation)(void *state, const char **out_json);
  // One generation: the prompt, what the model continued it with (cut at the stop), and
  // the reference answer. Optional, with `generation`.
  int32_t (*update_text)(void *state,
                         const char *prompt,
                         const char *generated,
                         const char *reference);
} ExpEvaluatorVTable;

typedef struct ExpMergerVTable {
  // Merges the tensors named `name` of each input model (in the file's order) into one new
  // tensor.
  int32_t (*merge)(void *state,
                   const char *name,
                   const ExpTensorHandle *inputs,
                   size_t n_inputs,
                   ExpTensorHandle *out);
  // Merges whole models in one call: `inputs` holds `n_tensors × n_inputs` handles, tensor by
  // tensor (`inputs[t * n_inputs + i]` is tensor `names[t]` of input model `i`); on success
  // the plugin fills all `n_tensors` slots of `out`.
  int32_t (*merge_model)(void *state,
                         const char *const *names,
                         size_t n_tensors,
                         const ExpTensorHandle *inputs,
                         size_t n_inputs,
                         ExpTensorHandle *out);
  // How the merger runs as a training hook, as JSON: `null`, or
  // `{"every": steps, "anchor": "task_start" | "previous_merge", "keep_optimizer": bool}`.
  int32_t (*as_hook)(void *state, const char **out_json);
} ExpMergerVTable;

typedef struct ExpRegularizerVTable {
  // Records the reference weights (the model at the start of a task).
  int32_t (*anchor)(void *state,
                    const char *const *names,
                    const ExpTensorHandle *params,
                    size_t n_params);
  // The penalty to add to the loss: a scalar, differentiable with respect to `params`.
  int32_t (*penalty)(void *state,
                     const char *const *names,
                     const ExpTensorHandle *params,
                     size_t n_params,
                     ExpTensorHandle *out);
  // Whether `end_task` wants a diagonal Fisher, as JSON: `null`, or
  // `{"estimator": "empirical" | "sampled", "per_example": bool, "batches": count}`.
  int32_t (*fisher_request)(void *state, const char **out_json);
  // The end of a phase: the final trainable tensors and, when `has_fisher`, the diagonal
  // Fisher by name (otherwise the Fisher pointers are ignored).
  int32_t (*end_task)(void *state,
                      const char *const *names,
                      const ExpTensorHandle *params,
                      size_t n_params,
                      bool has_fisher,
                      const char *const *fisher_names,
                      const ExpTensorHandle *fisher,
                      size_t n_fisher);
  // Anchors, Fisher estimates and anything else carried between tasks.
  struct ExpStateFns training_state;
} ExpRegularizerVTable;

typedef struct ExpTokenizerVTable {
  // Learns the vocabulary from `n` documents (a tokenizer that needs no training ignores
  // them).
  int32_t (*train)(void *state, const char *const *texts, size_t n);
  // The tokenizer as JSON text (Hugging Face's `tokenizer.json` format), to save it.
  int32_t (*to_json)(void *state, const char **out_json);
  // Replaces the tokenizer by one `to_json` wrote.
  int32_t (*load_json)(void *state, const char *json);
  // `{"vocab_size": n, "special": {"<|endoftext|>": id, ..}}`, and before training
  // optionally `"bound": n`, the most ids training can give (`DescribedVocabulary`).
  int32_t (*describe)(void *state, const char **out_json);
  // The ids of `n` texts: text `i` is `out_ids[out_offsets[i]..out_offsets[i + 1]]`; both
  // arrays belong to the object until its next call.
  int32_t (*encode)(void *state,
                    const char *const *texts,
                    size_t n,
                    const uint32_t **out_ids,
                    const size_t **out_offsets);
  // The text of `n` ids.
  int32_t (*decode)(void *state, const uint32_t *ids, size_t n, const char **out_text);
} ExpTokenizerVTable;

typedef struct ExpExporterVTable {
  // Writes a model into the directory `dir` (which exists and is empty): its architecture
  // (`model`, with its parameters as a record and the dataset info that sized it), its
  // `n` named tensors, and its tokenizer's JSON (null without one). Reports the files it
  // wrote as JSON, `["config.json", ..]`.
  int32_t (*write)(void *state,
                   const char *model,
                   const struct ExpValue *params,
                   const struct ExpValue *data,
                   const char *const *names,
                   const ExpTensorHandle *tensors,
                   size_t n,
                   const char *tokenizer_json,
                   const char *dir,
                   const char **out_json);
} ExpExporterVTable;

// The type of `exp_plugin_entry`.
typedef const struct ExpPlugin *(*ExpEntryFn)(void);

#endif  /* EXP_PLUGIN_H */

#ifndef EXP_PLUGIN_HELPERS_H
#define EXP_PLUGIN_HELPERS_H

/* The one symbol a plugin library exports (written by hand here, held to `ENTRY_SYMBOL` in
 * types.rs by tests/header.rs): it returns the plugin's descriptor, which lives as long as the
 * library. */
#define EXP_ENTRY_SYMBOL "exp_plugin_entry"

#ifdef __cplusplus
extern "C" {
#endif
const ExpPlugin *exp_plugin_entry(void);
#ifdef __cplusplus
}
#endif

/* Helpers: plain C over the types above, not part of the ABI itself. */

/* The item of record `record` under `key`, or NULL when it has none (or is not a record). */
static inline const ExpValue *exp_value_get(const ExpValue *record, const char *key) {
  if (record == NULL || record->kind != EXP_VALUE_KIND_RECORD) {
    return NULL;
  }
  for (size_t i = 0; i < record->n_items; i++) {
    if (strcmp(record->keys[i], key) == 0) {
      return &record->items[i];
    }
  }
  return NULL;
}

/* A number (an integer or a float) as a double; NaN for anything else, or for NULL. */
static inline double exp_value_number(const ExpValue *value) {
  if (value != NULL && value->kind == EXP_VALUE_KIND_INT) {
    return (double)value->int_value;
  }
  if (value != NULL && value->kind == EXP_VALUE_KIND_FLOAT) {
    return value->float_value;
  }
  return NAN;
}

/* A string's text, or NULL when the value is not a string. */
static inline const char *exp_value_text(const ExpValue *value) {
  return value != NULL && value->kind == EXP_VALUE_KIND_STR ? value->text : NULL;
}

#endif /* EXP_PLUGIN_HELPERS_H */
