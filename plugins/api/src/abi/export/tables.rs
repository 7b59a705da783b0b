//! The function table of each component kind, filled with generic `extern "C"` functions
//! over the kind's SDK trait. Every body runs inside `guarded`.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use tch::Tensor;

use super::{
    c_string, guarded, json_out, names_in, read_json, state, static_vtable, str_in, tensor_in,
    tensor_out, tensors_in, value_ref,
};
use crate::abi::types::{
    FfiDatasetVTable, FfiEvaluatorVTable, FfiMergerVTable, FfiModelVTable, FfiOptimizerVTable,
    FfiRegularizerVTable, FfiSchedulerVTable, FfiSplit, FfiStateFns, FfiTensorHandle, FfiValue,
};
use crate::sdk::{
    Component, Dataset, Evaluator, Merger, Model, Optimizer, PluginError, Regularizer, Sampling,
    SavedState, Scheduler, Split, Stateful,
};

pub(super) use super::text::{exporter_vtable, text_dataset_vtable, tokenizer_vtable};

pub(super) fn dataset_vtable<T: Dataset>() -> *const c_void {
    extern "C" fn info<T: Dataset>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("info", || {
            let state = state::<T>(raw);
            let info = state.component.info();
            json_out(state, &info, out)
        })
    }
    extern "C" fn batch<T: Dataset>(
        raw: *mut c_void,
        split: FfiSplit,
        indices: *const i64,
        n: usize,
        out_x: *mut FfiTensorHandle,
        out_y: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("batch", || {
            let split = split_in(split);
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
        batch: Some(batch::<T>),
        documents: None,
    })
}

pub(super) fn model_vtable<T: Model>() -> *const c_void {
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
    extern "C" fn tensor<T: Model>(
        raw: *mut c_void,
        index: usize,
        out: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("named_tensors", || {
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
        x: FfiTensorHandle,
        train: bool,
        out: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("forward", || {
            let x = tensor_in(x)?;
            let y = state::<T>(raw).component.forward(&x, train)?;
            tensor_out(&y, out);
            Ok(())
        })
    }
    extern "C" fn loss<T: Model>(
        raw: *mut c_void,
        x: FfiTensorHandle,
        y: FfiTensorHandle,
        out: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("loss", || {
            let (x, y) = (tensor_in(x)?, tensor_in(y)?);
            let loss = state::<T>(raw).component.loss(&x, &y)?;
            tensor_out(&loss, out);
            Ok(())
        })
    }
    extern "C" fn generate<T: Model>(
        raw: *mut c_void,
        ids: *const i64,
        offsets: *const usize,
        n_prompts: usize,
        max_new: usize,
        stop: i64,
        out: *mut *const c_char,
    ) -> i32 {
        guarded("generate", || {
            let prompts = prompts_in(ids, offsets, n_prompts)?;
            let state = state::<T>(raw);
            let stop = (stop >= 0).then_some(stop);
            let generated = state.component.generate(&prompts, max_new, stop)?;
            if generated.len() != prompts.len() {
                return Err(PluginError::new(format!(
                    "generate returned {} continuations for {} prompts",
                    generated.len(),
                    prompts.len()
                )));
            }
            json_out(state, &generated, out)
        })
    }
    extern "C" fn sample<T: Model>(
        raw: *mut c_void,
        conditions: FfiTensorHandle,
        steps: u64,
        guidance: f64,
        eta: f64,
        seed: u64,
        out: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("sample", || {
            let conditions = tensor_in(conditions)?;
            let options = Sampling {
                steps,
                guidance,
                eta,
                seed,
            };
            let samples = state::<T>(raw).component.sample(&conditions, &options)?;
            tensor_out(&samples, out);
            Ok(())
        })
    }
    extern "C" fn no_decay<T: Model>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("no_decay", || {
            let state = state::<T>(raw);
            let names = state.component.no_decay();
            json_out(state, &names, out)
        })
    }
    static_vtable::<T, _>(|| FfiModelVTable {
        n_tensors: n_tensors::<T>,
        tensor_name: tensor_name::<T>,
        tensor: tensor::<T>,
        forward: forward::<T>,
        loss: loss::<T>,
        training_state: state_fns::<T>(),
        generate: if T::GENERATES {
            Some(generate::<T>)
        } else {
            None
        },
        no_decay: Some(no_decay::<T>),
        sample: if T::SAMPLES { Some(sample::<T>) } else { None },
    })
}

/// The prompts the host passes flattened: prompt `i` is `ids[offsets[i]..offsets[i + 1]]`.
fn prompts_in(
    ids: *const i64,
    offsets: *const usize,
    n_prompts: usize,
) -> Result<Vec<Vec<i64>>, PluginError> {
    if n_prompts == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the host passes `n_prompts + 1` offsets, the last the length of `ids`.
    let offsets = unsafe { std::slice::from_raw_parts(offsets, n_prompts + 1) };
    let total = offsets[n_prompts];
    let ids = if total == 0 {
        &[][..]
    } else {
        // SAFETY: `ids` holds `offsets[n_prompts]` ids for the duration of the call.
        unsafe { std::slice::from_raw_parts(ids, total) }
    };
    offsets
        .windows(2)
        .map(|pair| {
            ids.get(pair[0]..pair[1])
                .map(<[i64]>::to_vec)
                .ok_or_else(|| PluginError::new("prompt offsets out of order"))
        })
        .collect()
}

/// A split as the SDK names it.
pub(super) fn split_in(split: FfiSplit) -> Split {
    match split {
        FfiSplit::Train => Split::Train,
        FfiSplit::Validation => Split::Validation,
        FfiSplit::Test => Split::Test,
    }
}

pub(super) fn optimizer_vtable<T: Optimizer>() -> *const c_void {
    extern "C" fn step<T: Optimizer>(
        raw: *mut c_void,
        params: *const FfiTensorHandle,
        n: usize,
    ) -> i32 {
        guarded("step", || {
            let params = tensors_in(params, n)?;
            state::<T>(raw).component.step(&params)
        })
    }
    extern "C" fn set_no_decay<T: Optimizer>(raw: *mut c_void, exempt: *const u8, n: usize) -> i32 {
        guarded("set_no_decay", || {
            let exempt: Vec<bool> = if n == 0 {
                Vec::new()
            } else {
                // SAFETY: the host passes `n` bytes that live for the duration of the call.
                unsafe { std::slice::from_raw_parts(exempt, n) }
                    .iter()
                    .map(|flag| *flag != 0)
                    .collect()
            };
            state::<T>(raw).component.set_no_decay(&exempt)
        })
    }
    static_vtable::<T, _>(|| FfiOptimizerVTable {
        step: step::<T>,
        training_state: state_fns::<T>(),
        set_no_decay: Some(set_no_decay::<T>),
    })
}

/// The state functions for any component that implements `Stateful`.
fn state_fns<T: Component + Stateful>() -> FfiStateFns {
    extern "C" fn save<T: Component + Stateful>(
        raw: *mut c_void,
        out_n: *mut usize,
        out_json: *mut *const c_char,
    ) -> i32 {
        guarded("save_state", || {
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
    extern "C" fn saved_tensor<T: Component + Stateful>(
        raw: *mut c_void,
        index: usize,
        out_name: *mut *const c_char,
        out_tensor: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("save_state", || {
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
    extern "C" fn load<T: Component + Stateful>(
        raw: *mut c_void,
        data: *const FfiValue,
        names: *const *const c_char,
        tensors: *const FfiTensorHandle,
        n: usize,
    ) -> i32 {
        guarded("load_state", || {
            let data = read_json(value_ref(data)?)?;
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

pub(super) fn scheduler_vtable<T: Scheduler>() -> *const c_void {
    extern "C" fn value<T: Scheduler>(
        raw: *mut c_void,
        step: u64,
        total: u64,
        out: *mut f64,
    ) -> i32 {
        guarded("value", || {
            let value = state::<T>(raw).component.value(step, total);
            // SAFETY: `out` is valid for this call.
            unsafe { *out = value };
            Ok(())
        })
    }
    static_vtable::<T, _>(|| FfiSchedulerVTable { value: value::<T> })
}

pub(super) fn evaluator_vtable<T: Evaluator>() -> *const c_void {
    extern "C" fn reset<T: Evaluator>(raw: *mut c_void) -> i32 {
        guarded("reset", || {
            state::<T>(raw).component.reset();
            Ok(())
        })
    }
    extern "C" fn update<T: Evaluator>(
        raw: *mut c_void,
        output: FfiTensorHandle,
        target: FfiTensorHandle,
    ) -> i32 {
        guarded("update", || {
            let (output, target) = (tensor_in(output)?, tensor_in(target)?);
            state::<T>(raw).component.update(&output, &target)
        })
    }
    extern "C" fn compute<T: Evaluator>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("compute", || {
            let state = state::<T>(raw);
            let metrics: BTreeMap<String, f64> = state.component.compute();
            json_out(state, &metrics, out)
        })
    }
    extern "C" fn generation<T: Evaluator>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("generation", || {
            let state = state::<T>(raw);
            let generation = state.component.generation();
            json_out(state, &generation, out)
        })
    }
    extern "C" fn update_text<T: Evaluator>(
        raw: *mut c_void,
        prompt: *const c_char,
        generated: *const c_char,
        reference: *const c_char,
    ) -> i32 {
        guarded("update_text", || {
            let (prompt, generated, reference) =
                (str_in(prompt)?, str_in(generated)?, str_in(reference)?);
            state::<T>(raw)
                .component
                .update_text(prompt, generated, reference)
        })
    }
    static_vtable::<T, _>(|| FfiEvaluatorVTable {
        reset: reset::<T>,
        update: update::<T>,
        compute: compute::<T>,
        generation: Some(generation::<T>),
        update_text: Some(update_text::<T>),
    })
}

pub(super) fn merger_vtable<T: Merger>() -> *const c_void {
    extern "C" fn merge<T: Merger>(
        raw: *mut c_void,
        name: *const c_char,
        inputs: *const FfiTensorHandle,
        n: usize,
        out: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("merge", || {
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
        inputs: *const FfiTensorHandle,
        n_inputs: usize,
        out: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("merge_model", || {
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
        guarded("as_hook", || {
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

pub(super) fn regularizer_vtable<T: Regularizer>() -> *const c_void {
    fn named(
        names: *const *const c_char,
        params: *const FfiTensorHandle,
        n: usize,
    ) -> Result<Vec<(String, Tensor)>, PluginError> {
        let names = names_in(names, n)?;
        let tensors = tensors_in(params, n)?;
        Ok(names.into_iter().map(str::to_string).zip(tensors).collect())
    }
    extern "C" fn anchor<T: Regularizer>(
        raw: *mut c_void,
        names: *const *const c_char,
        params: *const FfiTensorHandle,
        n: usize,
    ) -> i32 {
        guarded("anchor", || {
            let params = named(names, params, n)?;
            state::<T>(raw).component.anchor(&params)
        })
    }
    extern "C" fn penalty<T: Regularizer>(
        raw: *mut c_void,
        names: *const *const c_char,
        params: *const FfiTensorHandle,
        n: usize,
        out: *mut FfiTensorHandle,
    ) -> i32 {
        guarded("penalty", || {
            let params = named(names, params, n)?;
            let penalty = state::<T>(raw).component.penalty(&params)?;
            tensor_out(&penalty, out);
            Ok(())
        })
    }
    extern "C" fn fisher_request<T: Regularizer>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("fisher_request", || {
            let state = state::<T>(raw);
            let request = state.component.fisher_request();
            json_out(state, &request, out)
        })
    }
    #[allow(clippy::too_many_arguments)] // a C signature: two named tensor lists and a flag
    extern "C" fn end_task<T: Regularizer>(
        raw: *mut c_void,
        names: *const *const c_char,
        params: *const FfiTensorHandle,
        n: usize,
        has_fisher: bool,
        fisher_names: *const *const c_char,
        fisher: *const FfiTensorHandle,
        n_fisher: usize,
    ) -> i32 {
        guarded("end_task", || {
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
