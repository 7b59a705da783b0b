//! The function tables of the kinds that deal in text: text datasets (documents instead of
//! tensor batches), tokenizers, and exporters (which write a model with its tokenizer).

use std::ffi::{c_char, c_void, CString};
use std::path::Path;

use super::tables::split_in;
use super::{
    guarded, json_out, names_in, read_json, read_value, state, static_vtable, str_in, tensors_in,
    value_ref,
};
use crate::abi::types::{
    FfiDatasetVTable, FfiExporterVTable, FfiSplit, FfiTensorHandle, FfiTokenizerVTable, FfiValue,
};
use crate::sdk::config::Params;
use crate::sdk::{
    DataInfo, DescribedVocabulary, ExportedModel, Exporter, PluginError, TextDataset, Tokenizer,
};

pub(crate) fn text_dataset_vtable<T: TextDataset>() -> *const c_void {
    extern "C" fn info<T: TextDataset>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("info", || {
            let state = state::<T>(raw);
            let info = state.component.info();
            json_out(state, &info, out)
        })
    }
    extern "C" fn documents<T: TextDataset>(
        raw: *mut c_void,
        split: FfiSplit,
        out: *mut *const c_char,
    ) -> i32 {
        guarded("documents", || {
            let state = state::<T>(raw);
            let documents = state.component.documents(split_in(split))?;
            json_out(state, &documents, out)
        })
    }
    static_vtable::<T, _>(|| FfiDatasetVTable {
        info: info::<T>,
        batch: None,
        documents: Some(documents::<T>),
    })
}

/// The ids and offsets of the last `encode`, owned by the object until its next call.
#[derive(Default)]
pub(crate) struct Encoded {
    ids: Vec<u32>,
    offsets: Vec<usize>,
}

pub(crate) fn tokenizer_vtable<T: Tokenizer>() -> *const c_void {
    extern "C" fn train<T: Tokenizer>(
        raw: *mut c_void,
        texts: *const *const c_char,
        n: usize,
    ) -> i32 {
        guarded("train", || {
            let texts = names_in(texts, n)?;
            state::<T>(raw).component.train(&texts)
        })
    }
    extern "C" fn to_json<T: Tokenizer>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("to_json", || {
            let state = state::<T>(raw);
            let json = state.component.to_json()?;
            state.text = CString::new(json)
                .map_err(|_| PluginError::new("the tokenizer's JSON holds a NUL byte"))?;
            // SAFETY: `out` is valid for this call; the string lives in the state.
            unsafe { *out = state.text.as_ptr() };
            Ok(())
        })
    }
    extern "C" fn load_json<T: Tokenizer>(raw: *mut c_void, json: *const c_char) -> i32 {
        guarded("load_json", || {
            let json = str_in(json)?;
            state::<T>(raw).component.load_json(json)
        })
    }
    extern "C" fn describe<T: Tokenizer>(raw: *mut c_void, out: *mut *const c_char) -> i32 {
        guarded("vocabulary", || {
            let state = state::<T>(raw);
            let described = DescribedVocabulary {
                vocabulary: state.component.vocabulary(),
                bound: state.component.vocabulary_bound(),
            };
            json_out(state, &described, out)
        })
    }
    extern "C" fn encode<T: Tokenizer>(
        raw: *mut c_void,
        texts: *const *const c_char,
        n: usize,
        out_ids: *mut *const u32,
        out_offsets: *mut *const usize,
    ) -> i32 {
        guarded("encode", || {
            let texts = names_in(texts, n)?;
            let state = state::<T>(raw);
            let encoded = state.component.encode(&texts)?;
            if encoded.len() != texts.len() {
                return Err(PluginError::new(format!(
                    "encode returned {} id lists for {} texts",
                    encoded.len(),
                    texts.len()
                )));
            }
            let mut offsets = Vec::with_capacity(encoded.len() + 1);
            offsets.push(0);
            let mut ids = Vec::with_capacity(encoded.iter().map(Vec::len).sum());
            for text_ids in encoded {
                ids.extend(text_ids);
                offsets.push(ids.len());
            }
            state.encoded = Encoded { ids, offsets };
            // SAFETY: the out pointers are valid for this call; the buffers live in the state
            // until its next call.
            unsafe {
                *out_ids = state.encoded.ids.as_ptr();
                *out_offsets = state.encoded.offsets.as_ptr();
            }
            Ok(())
        })
    }
    extern "C" fn decode<T: Tokenizer>(
        raw: *mut c_void,
        ids: *const u32,
        n: usize,
        out: *mut *const c_char,
    ) -> i32 {
        guarded("decode", || {
            let ids = if n == 0 {
                &[][..]
            } else {
                // SAFETY: the host passes `n` ids for the duration of the call.
                unsafe { std::slice::from_raw_parts(ids, n) }
            };
            let state = state::<T>(raw);
            let text = state.component.decode(ids)?;
            state.text = CString::new(text.replace('\0', ""))
                .map_err(|_| PluginError::new("decoded text holds a NUL byte"))?;
            // SAFETY: `out` is valid for this call; the string lives in the state.
            unsafe { *out = state.text.as_ptr() };
            Ok(())
        })
    }
    static_vtable::<T, _>(|| FfiTokenizerVTable {
        train: train::<T>,
        to_json: to_json::<T>,
        load_json: load_json::<T>,
        describe: describe::<T>,
        encode: encode::<T>,
        decode: decode::<T>,
    })
}

pub(crate) fn exporter_vtable<T: Exporter>() -> *const c_void {
    #[allow(clippy::too_many_arguments)] // a C signature: a model in parts and where to write it
    extern "C" fn export<T: Exporter>(
        raw: *mut c_void,
        model: *const c_char,
        params: *const FfiValue,
        data: *const FfiValue,
        names: *const *const c_char,
        tensors: *const FfiTensorHandle,
        n: usize,
        tokenizer_json: *const c_char,
        dir: *const c_char,
        out: *mut *const c_char,
    ) -> i32 {
        guarded("export", || {
            let exp_ir::Value::Record(params) = read_value(value_ref(params)?)? else {
                return Err(PluginError::new("the model's parameters are not a record"));
            };
            let data: DataInfo = serde_json::from_value(read_json(value_ref(data)?)?)
                .map_err(|error| PluginError::new(format!("bad dataset info: {error}")))?;
            let names = names_in(names, n)?;
            let tensors = tensors_in(tensors, n)?;
            let exported = ExportedModel {
                architecture: str_in(model)?.to_string(),
                params: Params::new(params),
                data,
                tensors: names.into_iter().map(str::to_string).zip(tensors).collect(),
                tokenizer_json: if tokenizer_json.is_null() {
                    None
                } else {
                    Some(str_in(tokenizer_json)?.to_string())
                },
            };
            let dir = Path::new(str_in(dir)?);
            let state = state::<T>(raw);
            let files = state.component.export(&exported, dir)?;
            json_out(state, &files, out)
        })
    }
    static_vtable::<T, _>(|| FfiExporterVTable { write: export::<T> })
}
