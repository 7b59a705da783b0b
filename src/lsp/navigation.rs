//! Definitions and their uses: go to definition (names, lets, templates, imports, into the
//! stdlib too), document symbols, and renaming a definition.

use std::path::{Path, PathBuf};

use exp_diag::{FileId, Span};
use exp_syntax::ast::{self, DefBody, ExprKind, Item};
use lsp_types::{DocumentSymbol, Location, Range, SymbolKind, TextEdit};

use crate::lsp::analysis::Analysis;
use crate::lsp::context::{self, TokenKind, DEF_KEYWORDS};
use crate::lsp::line_index::LineIndex;
use crate::lsp::uri;
use crate::world::STDLIB;

/// A name the file defines.
#[derive(Debug, Clone)]
pub struct Definition {
    /// `train`, `let`, `template`, `use` and so on.
    pub keyword: String,
    pub name: String,
    /// The name's span.
    pub span: Span,
}

/// The names a text defines, read from its tokens (so also while it does not parse): a
/// definition keyword, `let`, `template` or `use` at the start of a line, and the name after it.
pub fn definitions_in(text: &str) -> Vec<Definition> {
    let tokens = context::tokens(text);
    let mut found = Vec::new();
    for (at, pair) in tokens.windows(2).enumerate() {
        let (keyword, name) = (&pair[0], &pair[1]);
        let starts_line = at == 0 || tokens[at - 1].line < keyword.line;
        let defines = DEF_KEYWORDS.contains(&keyword.text)
            || matches!(keyword.text, "let" | "template" | "use");
        if !(starts_line && defines && keyword.line == name.line) {
            continue;
        }
        let (name_text, start, end) = match name.kind {
            TokenKind::Ident => (name.text.to_string(), name.start, name.end),
            TokenKind::Str => (
                name.text.trim_matches('"').to_string(),
                name.start + 1,
                name.end.saturating_sub(1),
            ),
            _ => continue,
        };
        found.push(Definition {
            keyword: keyword.text.to_string(),
            name: name_text,
            span: Span::new(FileId(0), start, end),
        });
    }
    found
}

pub fn definitions(analysis: &Analysis) -> Vec<Definition> {
    definitions_in(&analysis.text)
}

/// A stdlib module written to a file, so an editor can open it: under the user's cache, one
/// folder per exp version, rewritten when it differs.
fn stdlib_file(module: &str) -> Option<PathBuf> {
    let (_, text) = STDLIB.iter().find(|(name, _)| *name == module)?;
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    let path = base
        .join("exp")
        .join("stdlib")
        .join(env!("CARGO_PKG_VERSION"))
        .join(format!("{module}.exp"));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(*text) {
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::write(&path, text).ok()?;
    }
    Some(path)
}

/// The file an import names: a stdlib module, or a file beside the experiment.
fn module_file(base: &Path, path: &[String]) -> Option<PathBuf> {
    match path {
        [root, rest @ ..] if root == "std" && !rest.is_empty() => stdlib_file(&rest.join("/")),
        [] => None,
        parts => {
            let mut file = base.to_path_buf();
            for part in parts {
                file.push(part);
            }
            file.set_extension("exp");
            file.is_file().then_some(file)
        }
    }
}

/// The import lines of a text, read from its tokens: the dotted path and its byte range.
fn imports(text: &str) -> Vec<(Vec<String>, usize, usize)> {
    let tokens = context::tokens(text);
    let mut found = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        if token.text != "import" {
            continue;
        }
        let path: Vec<&context::Token<'_>> = tokens[at + 1..]
            .iter()
            .take_while(|next| next.line == token.line)
            .filter(|next| next.kind == TokenKind::Ident)
            .collect();
        if let (Some(first), Some(last)) = (path.first(), path.last()) {
            let names = path.iter().map(|part| part.text.to_string()).collect();
            found.push((names, first.start, last.end));
        }
    }
    found
}

fn location(path: &Path, text: &str, span: Span) -> Option<Location> {
    let index = LineIndex::new(text);
    Some(Location::new(
        uri::from_path(path)?,
        index.range(text, span.start as usize, span.end as usize),
    ))
}

/// Where the word at a byte offset is defined: an import's module, a definition of this file,
/// or one of a module it imports.
pub fn definition(analysis: &Analysis, offset: usize) -> Option<Location> {
    let text = &analysis.text;
    let base = analysis.path.parent().unwrap_or(Path::new("."));
    for (path, start, end) in imports(text) {
        if (start..=end).contains(&offset) {
            let file = module_file(base, &path)?;
            return Some(Location::new(uri::from_path(&file)?, Range::default()));
        }
    }
    let (start, end) = context::word_at(text, offset)?;
    let word = &text[start..end];
    if let Some(found) = definitions_in(text)
        .into_iter()
        .find(|definition| definition.name == word)
    {
        return location(&analysis.path, text, found.span);
    }
    for (path, _, _) in imports(text) {
        let Some(file) = module_file(base, &path) else {
            continue;
        };
        let Ok(module) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(found) = definitions_in(&module)
            .into_iter()
            .find(|definition| definition.name == word)
        {
            return location(&file, &module, found.span);
        }
    }
    None
}

fn symbol_kind(keyword: &str) -> SymbolKind {
    match keyword {
        "dataset" => SymbolKind::STRUCT,
        "model" => SymbolKind::CLASS,
        "tokenizer" => SymbolKind::ENUM,
        "train" | "sequence" => SymbolKind::FUNCTION,
        "merge" => SymbolKind::OPERATOR,
        "evaluate" => SymbolKind::EVENT,
        "report" => SymbolKind::OBJECT,
        "export" => SymbolKind::PACKAGE,
        "let" => SymbolKind::VARIABLE,
        "template" => SymbolKind::INTERFACE,
        "use" => SymbolKind::OBJECT,
        "import" => SymbolKind::MODULE,
        _ => SymbolKind::NAMESPACE,
    }
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written, though no one reads it.
fn symbol(
    analysis: &Analysis,
    name: String,
    detail: &str,
    span: Span,
    name_span: Span,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        name,
        detail: Some(detail.to_string()),
        kind: symbol_kind(detail),
        tags: None,
        deprecated: None,
        range: analysis.range(span),
        selection_range: analysis.range(name_span),
        children: (!children.is_empty()).then_some(children),
    }
}

fn item_symbols(analysis: &Analysis, items: &[Item]) -> Vec<DocumentSymbol> {
    items
        .iter()
        .filter_map(|item| match item {
            Item::Import(import) => Some(symbol(
                analysis,
                import.dotted(),
                "import",
                import.span,
                import.path_span(),
                Vec::new(),
            )),
            Item::Let(def) => Some(symbol(
                analysis,
                def.name.name.clone(),
                "let",
                def.span,
                def.name.span,
                Vec::new(),
            )),
            Item::Def(def) => Some(symbol(
                analysis,
                def.name.name.clone(),
                def.kind.keyword(),
                def.span,
                def.name.span,
                Vec::new(),
            )),
            Item::Template(template) => Some(symbol(
                analysis,
                template.name.name.clone(),
                "template",
                template.span,
                template.name.span,
                item_symbols(analysis, &template.items),
            )),
            Item::Use(use_) => Some(symbol(
                analysis,
                use_.name.name.clone(),
                "use",
                use_.span,
                use_.name.span,
                Vec::new(),
            )),
            Item::Sweep(sweep) => Some(symbol(
                analysis,
                sweep.header(|expr| {
                    analysis.text[expr.span.start as usize..expr.span.end as usize].to_string()
                }),
                "sweep",
                sweep.span,
                sweep.header_span,
                item_symbols(analysis, &sweep.items),
            )),
            Item::Policy(policy) => Some(symbol(
                analysis,
                "policy".to_string(),
                "policy",
                policy.span,
                policy.span,
                Vec::new(),
            )),
            Item::Resources(resources) => Some(symbol(
                analysis,
                "resources".to_string(),
                "resources",
                resources.span,
                resources.span,
                Vec::new(),
            )),
            Item::Plugin(_) | Item::Seed(_) => None,
        })
        .collect()
}

/// The outline of the file, nested as sweeps and templates nest; from the text's tokens when it
/// does not parse.
pub fn symbols(analysis: &Analysis) -> Vec<DocumentSymbol> {
    match &analysis.ast {
        Some(file) => item_symbols(analysis, &file.items),
        None => definitions(analysis)
            .into_iter()
            .map(|definition| {
                let span = definition.span;
                symbol(
                    analysis,
                    definition.name,
                    &definition.keyword,
                    span,
                    span,
                    Vec::new(),
                )
            })
            .collect(),
    }
}

/// Every place a name is defined or referred to in the file's items: definition names,
/// references (a bare name where a value or list item goes, a call's inputs, a `use`'s
/// template), sweep axes and template parameters. Field keys and components' names with a
/// parameter block are not references.
fn name_spans(items: &[Item], name: &str, out: &mut Vec<Span>) {
    let ident = |ident: &ast::Ident, out: &mut Vec<Span>| {
        if ident.name == name {
            out.push(ident.span);
        }
    };
    for item in items {
        match item {
            Item::Let(def) => {
                ident(&def.name, out);
                expr_spans(&def.value, name, out);
            }
            Item::Def(def) => {
                if !def.quoted {
                    ident(&def.name, out);
                }
                match &def.body {
                    DefBody::Component(component) => component_spans(component, name, out),
                    DefBody::Call { inputs, params, .. } => {
                        for input in inputs {
                            ident(input, out);
                        }
                        if let Some(block) = params {
                            block_spans(block, name, out);
                        }
                    }
                    DefBody::Block(block) => block_spans(block, name, out),
                }
            }
            Item::Sweep(sweep) => {
                for axis in &sweep.axes {
                    if !axis.seeds {
                        ident(&axis.name, out);
                    }
                    expr_spans(&axis.values, name, out);
                }
                name_spans(&sweep.items, name, out);
            }
            Item::Template(template) => {
                ident(&template.name, out);
                for param in &template.params {
                    ident(param, out);
                }
                name_spans(&template.items, name, out);
            }
            Item::Use(use_) => {
                ident(&use_.name, out);
                ident(&use_.template, out);
                for arg in &use_.args {
                    expr_spans(&arg.value, name, out);
                }
            }
            Item::Policy(policy) => block_spans(&policy.block, name, out),
            // A key may name a definition (`ft: { gpus: 1 }`); `default` never does.
            Item::Resources(resources) => {
                for field in &resources.block.fields {
                    if field.key.name != "default" {
                        ident(&field.key, out);
                    }
                }
            }
            Item::Import(_) | Item::Plugin(_) | Item::Seed(_) => {}
        }
    }
}

fn block_spans(block: &ast::Block, name: &str, out: &mut Vec<Span>) {
    for field in &block.fields {
        expr_spans(&field.value, name, out);
    }
}

fn component_spans(component: &ast::Component, name: &str, out: &mut Vec<Span>) {
    match &component.params {
        None if component.name.name == name => out.push(component.name.span),
        None => {}
        Some(block) => block_spans(block, name, out),
    }
}

fn expr_spans(expr: &ast::Expr, name: &str, out: &mut Vec<Span>) {
    match &expr.kind {
        ExprKind::List(items) => items.iter().for_each(|item| expr_spans(item, name, out)),
        ExprKind::Record(block) => block_spans(block, name, out),
        ExprKind::Component(component) => component_spans(component, name, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            expr_spans(lhs, name, out);
            expr_spans(rhs, name, out);
        }
        ExprKind::Neg(inner) | ExprKind::Paren(inner) => expr_spans(inner, name, out),
        _ => {}
    }
}

/// Why a rename cannot happen.
pub enum RenameRefused {
    NotADefinition,
    DoesNotParse,
    BadName(String),
}

/// The range of the definition name at a byte offset, if it can be renamed.
pub fn prepare_rename(analysis: &Analysis, offset: usize) -> Result<Range, RenameRefused> {
    let (start, end) =
        context::word_at(&analysis.text, offset).ok_or(RenameRefused::NotADefinition)?;
    let word = &analysis.text[start..end];
    if analysis.ast.is_none() {
        return Err(RenameRefused::DoesNotParse);
    }
    if !definitions(analysis)
        .iter()
        .any(|definition| definition.name == word)
    {
        return Err(RenameRefused::NotADefinition);
    }
    Ok(analysis.index.range(&analysis.text, start, end))
}

/// The edits that rename the definition at a byte offset, and every reference to it in the
/// file, to `new_name`.
pub fn rename(
    analysis: &Analysis,
    offset: usize,
    new_name: &str,
) -> Result<Vec<TextEdit>, RenameRefused> {
    prepare_rename(analysis, offset)?;
    let valid = new_name
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && new_name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    let keyword = crate::lsp::features::is_keyword(new_name);
    if !valid || keyword {
        return Err(RenameRefused::BadName(new_name.to_string()));
    }
    let (start, end) =
        context::word_at(&analysis.text, offset).ok_or(RenameRefused::NotADefinition)?;
    let word = analysis.text[start..end].to_string();
    let Some(file) = &analysis.ast else {
        return Err(RenameRefused::DoesNotParse);
    };
    let mut spans = Vec::new();
    name_spans(&file.items, &word, &mut spans);
    spans.sort_by_key(|span| span.start);
    spans.dedup();
    Ok(spans
        .into_iter()
        .map(|span| TextEdit::new(analysis.range(span), new_name.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use exp_diag::FileId;

    use super::{definition, rename, symbols};
    use crate::lsp::analysis::Analysis;
    use crate::lsp::line_index::LineIndex;

    fn analysis(text: &str) -> Analysis {
        let (ast, diagnostics) = exp_syntax::parse(FileId(0), text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        Analysis {
            path: PathBuf::from("/nowhere/study.exp"),
            text: text.to_string(),
            index: LineIndex::new(text),
            ast: Some(ast),
            diagnostics: Vec::new(),
        }
    }

    /// The block is a symbol; a key naming a definition goes to it and is renamed with it,
    /// `default` and kind keys are not.
    #[test]
    fn a_resources_key_names_its_definition() {
        let text = "resources {\n  default: { cpus: 1 }\n  model: { cpus: 2 }\n  net: { cpus: 4 }\n}\nmodel net = mlp\nmodel default = mlp\n";
        let analysis = analysis(text);
        let names: Vec<String> = symbols(&analysis)
            .into_iter()
            .map(|symbol| symbol.name)
            .collect();
        assert_eq!(names, ["resources", "net", "default"]);
        let key = text.find("net:").unwrap();
        let found = definition(&analysis, key + 1).expect("the definition of `net`");
        let defined = text.find("net = mlp").unwrap();
        assert_eq!(
            found.range,
            analysis.index.range(text, defined, defined + 3)
        );
        let edits = rename(&analysis, defined, "network")
            .ok()
            .expect("a rename");
        let starts: Vec<u32> = edits.iter().map(|edit| edit.range.start.line).collect();
        assert_eq!(starts, [3, 5], "the key and the definition");
        let defined = text.find("default = mlp").unwrap();
        let edits = rename(&analysis, defined, "base").ok().expect("a rename");
        let starts: Vec<u32> = edits.iter().map(|edit| edit.range.start.line).collect();
        assert_eq!(starts, [6], "`default:` is every node, not the definition");
    }
}
