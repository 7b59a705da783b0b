//! The rules of text: a model of token sequences is built on a tokenizer (`gpt(tok)`), a
//! tokenizer that learns is built on the text datasets it learns from (`bpe(corpus)`), an
//! export writes one model (`huggingface(lm)`); text reaches only models of tokens, and models
//! of tokens read only text. Paths in components' parameters are resolved here too, relative
//! to the file that wrote them.

use std::collections::BTreeMap;

use exp_diag::{FileId, Span};
use exp_ir::{ComponentKind, ComponentRef, ComponentSchema, Value};
use exp_syntax::ast::{self, DefBody, ExprKind};

use super::Checker;
use crate::check_error::{CheckError, Expect};
use crate::program::{Body, DefId, Stages};

/// A definition's component and, when it is written as a call (`gpt(tok)`), its inputs.
struct Called<'a> {
    component: ComponentRef,
    inputs: Option<(&'a [ast::Ident], Span)>,
    /// The component's name as written.
    name_span: Span,
}

impl<'a> Checker<'a> {
    /// The component of a call, `name(..) { params }`, checked like any other.
    pub(super) fn call_component(
        &mut self,
        name: &ast::Ident,
        params: &Option<ast::Block>,
        kind: ComponentKind,
    ) -> Option<ComponentRef> {
        let span = params
            .as_ref()
            .map_or(name.span, |block| name.span.to(block.span));
        let expression = ast::Component {
            name: name.clone(),
            params: params.clone(),
            span,
        };
        self.component(&expression, kind)
    }

    fn called(&mut self, def: &'a ast::Def, kind: ComponentKind) -> Option<Called<'a>> {
        match &def.body {
            DefBody::Component(component) => Some(Called {
                component: self.component(component, kind)?,
                inputs: None,
                name_span: component.name.span,
            }),
            DefBody::Call {
                component,
                inputs,
                params,
                inputs_span,
            } => Some(Called {
                component: self.call_component(component, params, kind)?,
                inputs: Some((inputs.as_slice(), *inputs_span)),
                name_span: component.span,
            }),
            DefBody::Block(_) => None,
        }
    }

    fn schema(&self, kind: ComponentKind, name: &str) -> Option<&'a ComponentSchema> {
        self.catalog.component(kind, name)
    }

    /// `model NAME = COMPONENT { .. }`, or `COMPONENT(tok) { .. }` for a model of tokens.
    pub(super) fn model(&mut self, def: &'a ast::Def) -> Option<Body> {
        let called = self.called(def, ComponentKind::Model)?;
        let name = called.component.name.clone();
        let reads_tokens = self
            .schema(ComponentKind::Model, &name)?
            .sequence_length()
            .map(|param| param.name.clone());
        match (called.inputs, reads_tokens) {
            (None, None) => Some(Body::Model {
                component: called.component,
                tokenizer: None,
            }),
            (None, Some(length)) => {
                self.errors.push(CheckError::TextPairing {
                    message: format!(
                        "`{name}` reads windows of tokens (`{length}` long), so it is built on a \
                         tokenizer"
                    ),
                    label: "no tokenizer".to_string(),
                    help: format!(
                        "define a tokenizer and build the model on it: `tokenizer tok = \
                         bpe(corpus) {{ vocab_size: 4096 }}` and `model {} = {name}(tok) {{ .. }}`",
                        def.name.name
                    ),
                    span: called.name_span,
                    other: None,
                });
                None
            }
            (Some((_, span)), None) => {
                self.errors.push(CheckError::Inputs {
                    message: format!(
                        "`{name}` reads inputs of a fixed shape, so it is built on nothing"
                    ),
                    label: "not taken".to_string(),
                    help: format!(
                        "write `model {} = {name} {{ .. }}`: only a model of token sequences \
                         (one with a window length such as `context`) is built on a tokenizer",
                        def.name.name
                    ),
                    span,
                });
                None
            }
            (Some((inputs, span)), Some(_)) => {
                let [tokenizer] = inputs else {
                    self.errors.push(CheckError::Inputs {
                        message: format!(
                            "`{name}` is built on one tokenizer, but {} are given",
                            inputs.len()
                        ),
                        label: "one tokenizer".to_string(),
                        help: format!("write `model {} = {name}(tok)`", def.name.name),
                        span,
                    });
                    return None;
                };
                let tokenizer = self.reference(tokenizer, Expect::Tokenizer)?;
                Some(Body::Model {
                    component: called.component,
                    tokenizer: Some(tokenizer),
                })
            }
        }
    }

    /// `tokenizer NAME = bpe(data, ..) { .. }`, or `COMPONENT { .. }` for one that learns
    /// nothing from data.
    pub(super) fn tokenizer(&mut self, def: &'a ast::Def) -> Option<Body> {
        let called = self.called(def, ComponentKind::Tokenizer)?;
        let name = called.component.name.clone();
        let trained = self.schema(ComponentKind::Tokenizer, &name)?.trained;
        let inputs = called.inputs.filter(|(inputs, _)| !inputs.is_empty());
        match (inputs, trained) {
            (None, true) => {
                self.errors.push(CheckError::Inputs {
                    message: format!(
                        "`{name}` learns its vocabulary from datasets, and none are given"
                    ),
                    label: "learns from nothing".to_string(),
                    help: format!(
                        "build it on the text it should fit: `tokenizer {} = {name}(corpus) \
                         {{ .. }}`",
                        def.name.name
                    ),
                    span: called.inputs.map_or(called.name_span, |(_, span)| span),
                });
                None
            }
            (Some((_, span)), false) => {
                self.errors.push(CheckError::Inputs {
                    message: format!("`{name}` learns nothing from data, so it takes no datasets"),
                    label: "not taken".to_string(),
                    help: format!("write `tokenizer {} = {name}`", def.name.name),
                    span,
                });
                None
            }
            (inputs, _) => {
                let data: Vec<Option<DefId>> = inputs
                    .map_or(&[][..], |(inputs, _)| inputs)
                    .iter()
                    .map(|input| self.reference(input, Expect::Dataset))
                    .collect();
                Some(Body::Tokenizer {
                    component: called.component,
                    data: data.into_iter().collect::<Option<Vec<_>>>()?,
                })
            }
        }
    }

    /// `export NAME = EXPORTER(model) { .. }`.
    pub(super) fn export(&mut self, def: &'a ast::Def) -> Option<Body> {
        let called = self.called(def, ComponentKind::Exporter)?;
        let name = called.component.name.clone();
        let (inputs, span) = called.inputs.unwrap_or((&[], called.name_span));
        let [model] = inputs else {
            self.errors.push(CheckError::Inputs {
                message: format!(
                    "an export writes one model, but `{name}` is given {}",
                    exp_diag::count(inputs.len(), "input")
                ),
                label: "one model".to_string(),
                help: format!("write `export {} = {name}(lm)`", def.name.name),
                span,
            });
            return None;
        };
        Some(Body::Export {
            component: called.component,
            model: self.reference(model, Expect::Model)?,
        })
    }

    /// Resolves every parameter the schema marks as a path, relative to the file that wrote
    /// the component (`file`), through the `World`.
    pub(super) fn resolve_paths(
        &self,
        schema: &ComponentSchema,
        mut params: BTreeMap<String, Value>,
        file: FileId,
    ) -> BTreeMap<String, Value> {
        let Some(written_in) = self.file_names.get(&file) else {
            return params;
        };
        fn resolve(value: &mut Value, each: &dyn Fn(&str) -> String) {
            match value {
                Value::Str(path) => *path = each(path),
                Value::List(items) => items.iter_mut().for_each(|item| resolve(item, each)),
                _ => {}
            }
        }
        let each = |path: &str| self.world.resolve_path(written_in, path);
        for param in schema.params.iter().filter(|param| param.path) {
            if let Some(value) = params.get_mut(&param.name) {
                resolve(value, &each);
            }
        }
        params
    }

    /// Text reaches only models of tokens, and models of tokens read only text: in `train`,
    /// `evaluate` and `sequence`, and a tokenizer learns only from text. Run once every body is
    /// known, since a definition may refer to one written after it.
    pub(super) fn text_pairings(&mut self, bodies: &[Option<Body>]) {
        for (idx, body) in bodies.iter().enumerate() {
            let Some(body) = body else { continue };
            let def = self.defs[idx].0;
            match body {
                Body::Train { model, data, .. } => {
                    for data in data {
                        self.pairing(bodies, def, *model, *data, "data");
                    }
                }
                Body::Evaluate { model, data, .. } => {
                    self.pairing(bodies, def, *model, *data, "data")
                }
                Body::Sequence { tasks, stages, .. } => {
                    for (i, task) in tasks.iter().enumerate() {
                        let model = match stages {
                            Stages::Train { model, .. } => *model,
                            Stages::Given(models) => models[i],
                        };
                        self.pairing(bodies, def, model, *task, "tasks");
                    }
                }
                Body::Tokenizer { data, .. } => {
                    for data in data {
                        if is_text(self, bodies, *data) == Some(false) {
                            let name = &self.defs[data.0].0.name;
                            self.errors.push(CheckError::TextPairing {
                                message: format!(
                                    "a tokenizer learns from text, and `{}` is not text",
                                    name.name
                                ),
                                label: "not text".to_string(),
                                help: "build the tokenizer on text datasets, such as `corpus` \
                                       or `text_files { .. }`"
                                    .to_string(),
                                span: input_span(def, &name.name).unwrap_or(def.name.span),
                                other: Some((name.span, "defined here".to_string())),
                            });
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// One model read with one dataset: both text, or neither.
    fn pairing(
        &mut self,
        bodies: &[Option<Body>],
        def: &ast::Def,
        model: DefId,
        data: DefId,
        field: &str,
    ) {
        let (Some(base), Some(text)) = (model_base(bodies, model, 0), is_text(self, bodies, data))
        else {
            return;
        };
        let reads_tokens = matches!(
            bodies[base.0],
            Some(Body::Model {
                tokenizer: Some(_),
                ..
            })
        );
        if reads_tokens == text {
            return;
        }
        let data_name = self.defs[data.0].0.name.name.clone();
        let model_def = self.defs[base.0].0;
        let model_name = &model_def.name.name;
        let span = field_reference_span(def, field, &data_name).unwrap_or(def.name.span);
        let (message, label, help, other) = if reads_tokens {
            (
                format!("`{data_name}` is not text, but `{model_name}` reads tokens"),
                "not text",
                format!(
                    "give `{model_name}` text datasets, or use a model built on nothing (such as \
                     `mlp`) for `{data_name}`"
                ),
                "built on a tokenizer here",
            )
        } else {
            (
                format!("`{data_name}` is text, but `{model_name}` reads inputs of a fixed shape"),
                "text",
                format!(
                    "build a model of tokens on a tokenizer of this text: `tokenizer tok = \
                     bpe({data_name})` and `model lm = gpt(tok) {{ .. }}`"
                ),
                "a model of fixed-shape inputs",
            )
        };
        self.errors.push(CheckError::TextPairing {
            message,
            label: label.to_string(),
            help,
            span,
            other: Some((model_def.name.span, other.to_string())),
        });
    }
}

/// The `model` definition a model comes from: itself, or through the training, merges and
/// sequences that start from it (the first input of a merge).
fn model_base(bodies: &[Option<Body>], id: DefId, depth: usize) -> Option<DefId> {
    // Cycles are reported by the cycle check; this only must not loop.
    if depth > 64 {
        return None;
    }
    match bodies.get(id.0)?.as_ref()? {
        Body::Model { .. } => Some(id),
        Body::Train { model, .. }
        | Body::Sequence {
            stages: Stages::Train { model, .. },
            ..
        } => model_base(bodies, *model, depth + 1),
        Body::Sequence {
            stages: Stages::Given(models),
            ..
        } => model_base(bodies, *models.first()?, depth + 1),
        Body::Merge { inputs, .. } => model_base(bodies, *inputs.first()?, depth + 1),
        _ => None,
    }
}

/// Whether a dataset definition is text, as its component's schema says.
fn is_text(checker: &Checker, bodies: &[Option<Body>], id: DefId) -> Option<bool> {
    match bodies.get(id.0)?.as_ref()? {
        Body::Dataset { component } => checker
            .catalog
            .component(ComponentKind::Dataset, &component.name)
            .map(|schema| schema.text),
        _ => None,
    }
}

/// Where a block's field names `name`: the item of a list, or the field's whole value.
fn field_reference_span(def: &ast::Def, field: &str, name: &str) -> Option<Span> {
    let DefBody::Block(block) = &def.body else {
        return None;
    };
    let value = &block
        .fields
        .iter()
        .find(|candidate| candidate.key.name == field)?
        .value;
    let named = |expr: &ast::Expr| matches!(&expr.kind, ExprKind::Component(component) if component.name.name == name);
    match &value.kind {
        ExprKind::List(items) => items.iter().find(|item| named(item)).map(|item| item.span),
        _ => Some(value.span),
    }
}

/// Where a call's inputs name `name`.
fn input_span(def: &ast::Def, name: &str) -> Option<Span> {
    match &def.body {
        DefBody::Call { inputs, .. } => inputs
            .iter()
            .find(|input| input.name == name)
            .map(|input| input.span),
        _ => None,
    }
}
