//! Completion and hover: component names by the kind the place wants, parameters with their
//! docs, types, defaults and ranges from the schemas, a definition's fields, the names of the
//! file's definitions, keywords and modules.

use exp_ir::{ComponentKind, ComponentSchema, ParamSchema, ParamType};
use lsp_types::{
    CompletionItem, CompletionItemKind, Documentation, Hover, HoverContents, MarkupContent,
    MarkupKind,
};

use crate::cached_catalog::CachedCatalog;
use crate::lsp::analysis::Analysis;
use crate::lsp::context::{self, Frame, Place, DEF_KEYWORDS};
use crate::lsp::navigation::definitions;

/// The keywords that start a statement, in the order completion offers them: these, the
/// definitions' (`DEF_KEYWORDS`), then the sweep and template keywords.
const LEADING_KEYWORDS: &[&str] = &["import", "plugin", "seed", "policy", "resources", "let"];
const TRAILING_KEYWORDS: &[&str] = &["sweep", "template", "use"];

fn statement_keywords() -> impl Iterator<Item = &'static str> {
    LEADING_KEYWORDS
        .iter()
        .chain(DEF_KEYWORDS)
        .chain(TRAILING_KEYWORDS)
        .copied()
}

/// The kind of component a definition keyword's `=` wants.
fn def_kind(keyword: &str) -> Option<ComponentKind> {
    Some(match keyword {
        "dataset" => ComponentKind::Dataset,
        "model" => ComponentKind::Model,
        "tokenizer" => ComponentKind::Tokenizer,
        "merge" => ComponentKind::Merger,
        "export" => ComponentKind::Exporter,
        _ => return None,
    })
}

/// The kinds of component a field of a definition's block takes.
fn field_kinds(field: &str) -> &'static [ComponentKind] {
    match field {
        "optimizer" => &[ComponentKind::Optimizer],
        "schedule" => &[ComponentKind::Scheduler],
        "eval" | "metrics" => &[ComponentKind::Evaluator],
        "hooks" => &[ComponentKind::Regularizer, ComponentKind::Merger],
        "merge" => &[ComponentKind::Merger],
        "tokenizer" => &[ComponentKind::Tokenizer],
        _ => &[],
    }
}

/// The fields that name other definitions, with the keywords of the definitions they take.
fn reference_kinds(field: &str) -> Option<&'static [&'static str]> {
    Some(match field {
        "model" | "anchor" => &["model", "train", "merge", "sequence"],
        "models" => &["model", "train", "merge"],
        "data" | "tasks" => &["dataset"],
        "rows" => &["evaluate", "train", "sequence"],
        _ => return None,
    })
}

fn markdown(value: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    })
}

/// One parameter, in words: type, default, range and doc.
pub fn param_doc(param: &ParamSchema) -> String {
    let default = param
        .default
        .as_ref()
        .map_or("required".to_string(), |value| format!("default `{value}`"));
    let range = param.range();
    let range = if range.min.is_none() && range.max.is_none() {
        String::new()
    } else {
        format!("; {range}")
    };
    format!(
        "`{}`: {} ({default}{range})  \n{}",
        param.name,
        param.expected(),
        param.doc
    )
}

/// A component, in words: kind, name, plugin, doc and every parameter.
pub fn component_doc(plugin: &str, schema: &ComponentSchema) -> String {
    let mut text = format!(
        "**{} `{}`** (plugin `{plugin}`, version {})\n\n{}\n",
        schema.kind, schema.name, schema.version, schema.doc
    );
    if !schema.params.is_empty() {
        text.push_str("\nParameters:\n");
        for param in &schema.params {
            text.push_str(&format!("- {}\n", param_doc(param).replace("  \n", " — ")));
        }
    }
    text
}

fn component_item(plugin: &str, schema: &ComponentSchema) -> CompletionItem {
    CompletionItem {
        label: schema.name.clone(),
        kind: Some(CompletionItemKind::CLASS),
        detail: Some(format!("{} ({plugin})", schema.kind)),
        documentation: Some(markdown(component_doc(plugin, schema))),
        ..CompletionItem::default()
    }
}

fn components_of(catalog: &CachedCatalog, kinds: &[ComponentKind]) -> Vec<CompletionItem> {
    let mut seen = std::collections::BTreeSet::new();
    catalog
        .components()
        .filter(|(_, schema)| kinds.contains(&schema.kind))
        .filter(|(_, schema)| seen.insert((schema.kind, schema.name.clone())))
        .map(|(plugin, schema)| component_item(plugin, schema))
        .collect()
}

/// The first component of any kind with this name.
fn component_named<'c>(
    catalog: &'c CachedCatalog,
    name: &str,
) -> Option<(&'c str, &'c ComponentSchema)> {
    catalog.components().find(|(_, schema)| schema.name == name)
}

fn keyword_item(word: &str, kind: CompletionItemKind) -> CompletionItem {
    CompletionItem {
        label: word.to_string(),
        kind: Some(kind),
        ..CompletionItem::default()
    }
}

/// The completions at a byte offset of the document.
pub fn complete(
    analysis: &Analysis,
    catalog: &CachedCatalog,
    offset: usize,
) -> Vec<CompletionItem> {
    match context::place(&analysis.text, offset) {
        Place::DefComponent(keyword) => match def_kind(&keyword) {
            Some(kind) => components_of(catalog, &[kind]),
            None => Vec::new(),
        },
        Place::Key(Frame::Component(name)) => match component_named(catalog, &name) {
            Some((_, schema)) => schema
                .params
                .iter()
                .map(|param| CompletionItem {
                    label: param.name.clone(),
                    kind: Some(CompletionItemKind::FIELD),
                    detail: Some(param.expected()),
                    documentation: Some(markdown(param_doc(param))),
                    insert_text: Some(format!("{}: ", param.name)),
                    ..CompletionItem::default()
                })
                .collect(),
            None => Vec::new(),
        },
        Place::Value(Frame::Component(name), key) => {
            let param = component_named(catalog, &name).and_then(|(_, schema)| schema.param(&key));
            match param.map(|param| &param.ty) {
                Some(ParamType::Choice(words)) => words
                    .iter()
                    .map(|word| CompletionItem {
                        label: format!("\"{word}\""),
                        kind: Some(CompletionItemKind::ENUM_MEMBER),
                        ..CompletionItem::default()
                    })
                    .collect(),
                Some(ParamType::Bool) => ["true", "false"]
                    .iter()
                    .map(|word| keyword_item(word, CompletionItemKind::KEYWORD))
                    .collect(),
                _ => Vec::new(),
            }
        }
        Place::Key(Frame::Block(keyword)) => block_fields(&keyword),
        Place::Key(Frame::Record(key)) => exp_check::block_fields()
            .into_iter()
            .filter(|(block, _)| block.ends_with(&format!(" {key}")))
            .flat_map(|(_, fields)| fields)
            .map(|field| keyword_item(field, CompletionItemKind::FIELD))
            .collect(),
        Place::Value(Frame::Block(_), field) => {
            let kinds = field_kinds(&field);
            if !kinds.is_empty() {
                return components_of(catalog, kinds);
            }
            match reference_kinds(&field) {
                Some(keywords) => definitions(analysis)
                    .into_iter()
                    .filter(|definition| keywords.contains(&definition.keyword.as_str()))
                    .map(|definition| CompletionItem {
                        label: definition.name.clone(),
                        kind: Some(CompletionItemKind::REFERENCE),
                        detail: Some(definition.keyword.clone()),
                        ..CompletionItem::default()
                    })
                    .collect(),
                None => Vec::new(),
            }
        }
        Place::Statement => statement_keywords()
            .map(|word| keyword_item(word, CompletionItemKind::KEYWORD))
            .collect(),
        Place::Import => crate::world::STDLIB
            .iter()
            .map(|(module, _)| keyword_item(&format!("std.{module}"), CompletionItemKind::MODULE))
            .collect(),
        _ => Vec::new(),
    }
}

fn block_fields(keyword: &str) -> Vec<CompletionItem> {
    exp_check::block_fields()
        .into_iter()
        .filter(|(block, _)| *block == keyword)
        .flat_map(|(_, fields)| fields)
        .map(|field| CompletionItem {
            label: field.to_string(),
            kind: Some(CompletionItemKind::FIELD),
            insert_text: Some(format!("{field}: ")),
            ..CompletionItem::default()
        })
        .collect()
}

/// What hovering over the word at a byte offset shows: a parameter of the component whose
/// block it is in, a component, or a definition of the file.
pub fn hover(analysis: &Analysis, catalog: &CachedCatalog, offset: usize) -> Option<Hover> {
    let text = &analysis.text;
    let (start, end) = context::word_at(text, offset)?;
    let word = &text[start..end];
    let range = Some(analysis.index.range(text, start, end));
    let show = |value: String| Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range,
    };
    if context::next_char(text, end) == Some(':') {
        if let Place::Key(Frame::Component(component)) = context::place(text, start) {
            let (_, schema) = component_named(catalog, &component)?;
            let param = schema.param(word)?;
            return Some(show(format!(
                "parameter of {} `{}`\n\n{}",
                schema.kind,
                schema.name,
                param_doc(param)
            )));
        }
        return None;
    }
    let definition = definitions(analysis)
        .into_iter()
        .find(|definition| definition.name == word);
    let followed_by_block = matches!(context::next_char(text, end), Some('{' | '('));
    if let Some(definition) = definition.filter(|_| !followed_by_block) {
        let line = text[definition.span.start as usize..]
            .lines()
            .next()
            .unwrap_or_default()
            .trim_end();
        return Some(show(format!(
            "{} `{}`\n\n```exp\n{line}\n```",
            definition.keyword, definition.name
        )));
    }
    if DEF_KEYWORDS.contains(&word) {
        return None;
    }
    let (plugin, schema) = component_named(catalog, word)?;
    Some(show(component_doc(plugin, schema)))
}

/// The words that are keywords without starting a statement (sweep axes, booleans, units).
const INNER_KEYWORDS: &[&str] = &[
    "seeds", "zip", "in", "true", "false", "step", "steps", "epoch", "epochs", "token", "tokens",
];

/// The language's keywords, which cannot name a definition.
pub fn is_keyword(word: &str) -> bool {
    statement_keywords().any(|keyword| keyword == word) || INNER_KEYWORDS.contains(&word)
}
