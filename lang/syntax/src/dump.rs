//! `dump`: a compact, stable text form of an AST for snapshot tests and `exp` debugging.
//!
//! Each item is one line with its byte range; each field of a block is an indented line.
//! Values are written back in `.exp` syntax.

use std::fmt::Write as _;

use crate::ast::{Block, Component, DefBody, DurationUnit, Expr, ExprKind, File, Item};

pub fn dump(file: &File) -> String {
    let mut out = String::new();
    dump_items(&file.items, "", &mut out);
    out
}

/// Items one per line; the items of a sweep or template follow it, indented.
fn dump_items(items: &[Item], indent: &str, out: &mut String) {
    for item in items {
        out.push_str(indent);
        match item {
            Item::Sweep(sweep) => {
                let _ = writeln!(out, "{} @{}", sweep.header(expr_text), range(sweep.span));
                dump_items(&sweep.items, &format!("{indent}  "), out);
            }
            Item::Template(template) => {
                let params: Vec<&str> = template
                    .params
                    .iter()
                    .map(|param| param.name.as_str())
                    .collect();
                let _ = writeln!(
                    out,
                    "template {}({}) @{}",
                    template.name.name,
                    params.join(", "),
                    range(template.span)
                );
                dump_items(&template.items, &format!("{indent}  "), out);
            }
            Item::Use(use_) => {
                let args: Vec<String> = use_
                    .args
                    .iter()
                    .map(|arg| match &arg.key {
                        Some(key) => format!("{}: {}", key.name, expr_text(&arg.value)),
                        None => expr_text(&arg.value),
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "use {} = {}({}) @{}",
                    use_.name.name,
                    use_.template.name,
                    args.join(", "),
                    range(use_.span)
                );
            }
            Item::Import(import) => {
                let _ = writeln!(out, "import {} @{}", import.dotted(), range(import.span));
            }
            Item::Plugin(plugin) => {
                let _ = writeln!(out, "plugin {:?} @{}", plugin.path, range(plugin.span));
            }
            Item::Seed(seed) => {
                let _ = writeln!(out, "seed {} @{}", seed.value, range(seed.span));
            }
            Item::Policy(policy) => {
                dump_block_item("policy", &policy.block, policy.span, indent, out);
            }
            Item::Resources(resources) => {
                dump_block_item("resources", &resources.block, resources.span, indent, out);
            }
            Item::Let(binding) => {
                let _ = writeln!(
                    out,
                    "let {} = {} @{}",
                    binding.name.name,
                    expr_text(&binding.value),
                    range(binding.span)
                );
            }
            Item::Def(def) => {
                let head = if def.quoted {
                    format!("{} {:?}", def.kind.keyword(), def.name.name)
                } else {
                    format!("{} {}", def.kind.keyword(), def.name.name)
                };
                match &def.body {
                    DefBody::Component(component) => {
                        let _ = writeln!(
                            out,
                            "{head} = {} @{}",
                            component_text(component),
                            range(def.span)
                        );
                    }
                    DefBody::Call {
                        component: merger,
                        inputs,
                        params,
                        ..
                    } => {
                        let names: Vec<&str> =
                            inputs.iter().map(|input| input.name.as_str()).collect();
                        let params = params
                            .as_ref()
                            .map(|block| format!(" {}", block_text(block)));
                        let _ = writeln!(
                            out,
                            "{head} = {}({}){} @{}",
                            merger.name,
                            names.join(", "),
                            params.unwrap_or_default(),
                            range(def.span)
                        );
                    }
                    DefBody::Block(block) => dump_block_item(&head, block, def.span, indent, out),
                }
            }
        }
    }
}

/// An item that is a head and `{ fields }` (`policy`, `resources`, a definition's block): the
/// head, then a field a line.
fn dump_block_item(
    head: &str,
    block: &Block,
    span: exp_diag::Span,
    indent: &str,
    out: &mut String,
) {
    let _ = writeln!(out, "{head} @{}", range(span));
    for field in &block.fields {
        let _ = writeln!(
            out,
            "{indent}  {}: {}",
            field.key.name,
            expr_text(&field.value)
        );
    }
}

fn range(span: exp_diag::Span) -> String {
    format!("{}..{}", span.start, span.end)
}

fn component_text(component: &Component) -> String {
    match &component.params {
        Some(block) => format!("{} {}", component.name.name, block_text(block)),
        None => component.name.name.clone(),
    }
}

fn block_text(block: &Block) -> String {
    if block.fields.is_empty() {
        return "{}".to_string();
    }
    let fields: Vec<String> = block
        .fields
        .iter()
        .map(|field| format!("{}: {}", field.key.name, expr_text(&field.value)))
        .collect();
    format!("{{ {} }}", fields.join(", "))
}

fn expr_text(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Int(value) => value.to_string(),
        ExprKind::Float(value) => format!("{value:?}"),
        ExprKind::Bool(value) => value.to_string(),
        ExprKind::Str(value) => format!("{value:?}"),
        ExprKind::Duration(duration) => match duration.unit {
            DurationUnit::Steps => format!("{} steps", duration.amount),
            DurationUnit::Epochs => format!("{} epochs", duration.amount),
            DurationUnit::Tokens => format!("{} tokens", duration.amount),
            DurationUnit::Fraction => format!("{}%", duration.amount * 100.0),
        },
        ExprKind::Quantity(quantity) => format!("{} {}", quantity.amount, quantity.unit.symbol()),
        ExprKind::List(items) => {
            let items: Vec<String> = items.iter().map(expr_text).collect();
            format!("[{}]", items.join(", "))
        }
        ExprKind::Record(block) => block_text(block),
        ExprKind::Component(component) => component_text(component),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", expr_text(lhs), op.symbol(), expr_text(rhs))
        }
        ExprKind::Neg(inner) => format!("(-{})", expr_text(inner)),
        ExprKind::Paren(inner) => format!("paren{}", expr_text(inner)),
    }
}
