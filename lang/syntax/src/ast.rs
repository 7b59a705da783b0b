//! The abstract syntax tree of one `.exp` file, as written: nothing is resolved yet.
//!
//! Every node carries the `Span` it was parsed from so that later phases can point at it.
//! Component expressions and references look the same here (`name` or `name { .. }`);
//! the checker decides from the context which one a field expects.

use exp_diag::{FileId, Span};

/// One parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub file: FileId,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `import std.digits`
    Import(Import),
    /// `plugin "path/to/lib.so"`
    Plugin(Plugin),
    /// `seed 7`
    Seed(Seed),
    /// `policy { licenses: [..] }`
    Policy(Policy),
    /// `resources { default: { cpus: 2 }, train: { gpus: 1 } }`
    Resources(Resources),
    /// `let base_lr = 1e-3`
    Let(Let),
    /// `dataset`, `model`, `tokenizer`, `train`, `merge`, `evaluate`, `report`, `sequence` or
    /// `export`.
    Def(Def),
    /// `sweep lr in [1e-3, 3e-3], seeds 3 { items }`
    Sweep(Sweep),
    /// `template finetune(net, data) { items }`
    Template(Template),
    /// `use run = finetune(net, digits)`
    Use(Use),
}

/// `sweep [zip] AXIS, AXIS.. { items }`: the items, once per point.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    /// Pair the axes' lists element by element instead of taking their grid.
    pub zip: bool,
    pub axes: Vec<Axis>,
    pub items: Vec<Item>,
    /// `sweep` to the last axis.
    pub header_span: Span,
    pub span: Span,
}

impl Sweep {
    /// The header as written, `sweep zip a in [..], seeds 3`, with each axis's values printed
    /// by `value` (the formatter copies literals from the source, `dump` normalises them).
    pub fn header(&self, value: impl Fn(&Expr) -> String) -> String {
        let axes: Vec<String> = self
            .axes
            .iter()
            .map(|axis| {
                if axis.seeds {
                    format!("seeds {}", value(&axis.values))
                } else {
                    format!("{} in {}", axis.name.name, value(&axis.values))
                }
            })
            .collect();
        let zip = if self.zip { "zip " } else { "" };
        format!("sweep {zip}{}", axes.join(", "))
    }
}

/// `lr in [1e-3, 3e-3]`, or `seeds 3` / `seeds [1, 2]` (an axis called `seed`).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: Ident,
    pub values: Expr,
    /// Written `seeds N` or `seeds [..]`.
    pub seeds: bool,
    pub span: Span,
}

/// `template NAME(PARAM, ..) { items }`
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub items: Vec<Item>,
    pub span: Span,
}

/// `use NAME = TEMPLATE(ARG, ..)`
#[derive(Debug, Clone, PartialEq)]
pub struct Use {
    pub name: Ident,
    pub template: Ident,
    pub args: Vec<Arg>,
    /// The parenthesised argument list.
    pub args_span: Span,
    pub span: Span,
}

/// A template argument, by position or `name: value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub key: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Import {
    /// The dotted path, one identifier per segment.
    pub path: Vec<Ident>,
    pub span: Span,
}

impl Import {
    pub fn path_strings(&self) -> Vec<String> {
        self.path
            .iter()
            .map(|segment| segment.name.clone())
            .collect()
    }

    /// The path as written, `std.digits`.
    pub fn dotted(&self) -> String {
        self.path_strings().join(".")
    }

    /// The span of the path alone.
    pub fn path_span(&self) -> Span {
        match (self.path.first(), self.path.last()) {
            (Some(first), Some(last)) => first.span.to(last.span),
            _ => self.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plugin {
    pub path: String,
    /// The span of the string literal.
    pub path_span: Span,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Seed {
    pub value: i64,
    pub value_span: Span,
    pub span: Span,
}

/// `policy { fields }`: rules the whole run must keep, such as the licences it may read.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub block: Block,
    pub span: Span,
}

/// `resources { KEY: { fields }, .. }`: what the nodes ask a cluster's scheduler for; each key
/// is `default`, a definition keyword or a definition's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    pub block: Block,
    pub span: Span,
}

/// `let NAME = EXPR`: a named value, usable wherever a value is expected.
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub value: Expr,
    /// The whole line, `let` to the end of the value.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    Dataset,
    Model,
    Tokenizer,
    Train,
    Merge,
    Evaluate,
    Report,
    Sequence,
    Export,
}

impl DefKind {
    /// The keyword that introduces the definition.
    pub fn keyword(self) -> &'static str {
        match self {
            DefKind::Dataset => "dataset",
            DefKind::Model => "model",
            DefKind::Tokenizer => "tokenizer",
            DefKind::Train => "train",
            DefKind::Merge => "merge",
            DefKind::Evaluate => "evaluate",
            DefKind::Report => "report",
            DefKind::Sequence => "sequence",
            DefKind::Export => "export",
        }
    }
}

/// A named definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    pub kind: DefKind,
    pub name: Ident,
    /// The name was written as a string (`train "ft_{lr}" { .. }`).
    pub quoted: bool,
    pub body: DefBody,
    /// The whole definition, keyword to closing brace.
    pub span: Span,
    /// Set on the copies a sweep or a template makes; `None` as parsed.
    pub expansion: Option<Expansion>,
}

/// Where an expanded definition comes from: the name it was written with (prefixed by its
/// template instances) and its point in the enclosing sweeps, axis by axis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expansion {
    pub family: String,
    pub point: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DefBody {
    /// `dataset NAME = COMPONENT { .. }`, `model NAME = COMPONENT { .. }`, and
    /// `tokenizer NAME = COMPONENT { .. }`.
    Component(Component),
    /// A component built on other definitions: `merge NAME = MERGER(a, b) { .. }`,
    /// `model NAME = gpt(tok) { .. }`, `tokenizer NAME = bpe(corpus) { .. }`,
    /// `export NAME = huggingface(lm)`.
    Call {
        component: Ident,
        inputs: Vec<Ident>,
        params: Option<Block>,
        /// The span of the parenthesised input list.
        inputs_span: Span,
    },
    /// `train`, `evaluate`, `report` and `sequence`: a block of structural fields.
    Block(Block),
}

/// `name` or `name { params }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub name: Ident,
    pub params: Option<Block>,
    pub span: Span,
}

/// `{ key: value, .. }`
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// `300 steps`, `2 epochs`, `10%` (stored as the fraction 0.1).
    Duration(Duration),
    /// `4 GB`, `30 min`: a memory size or a wall-clock time.
    Quantity(Quantity),
    List(Vec<Expr>),
    /// A nested parameter block `{ k: v }`.
    Record(Block),
    /// A reference or a component: `net`, `adamw { lr: 1e-3 }`.
    Component(Component),
    /// `a + b`, `a - b`, `a * b`, `a / b`.
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `-a` (a negative number literal such as `-5` is an `Int` instead).
    Neg(Box<Expr>),
    /// `(a)`, kept so that the formatter prints the parentheses the author wrote.
    Paren(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

impl ExprKind {
    /// A word for what was written, for diagnostics ("found a string").
    pub fn describe(&self) -> String {
        match self {
            ExprKind::Int(_) => "an integer".to_string(),
            ExprKind::Float(_) => "a float".to_string(),
            ExprKind::Bool(_) => "a boolean".to_string(),
            ExprKind::Str(_) => "a string".to_string(),
            ExprKind::Duration(duration) => match duration.unit {
                DurationUnit::Steps => "a duration in steps".to_string(),
                DurationUnit::Epochs => "a duration in epochs".to_string(),
                DurationUnit::Tokens => "a duration in tokens".to_string(),
                DurationUnit::Fraction => "a percentage".to_string(),
            },
            ExprKind::Quantity(quantity) if quantity.unit.is_memory() => {
                "a memory size".to_string()
            }
            ExprKind::Quantity(_) => "a wall-clock time".to_string(),
            ExprKind::List(items) if items.is_empty() => "an empty list".to_string(),
            ExprKind::List(_) => "a list".to_string(),
            ExprKind::Record(_) => "a parameter block".to_string(),
            ExprKind::Component(component) if component.params.is_none() => {
                format!("the name `{}`", component.name.name)
            }
            ExprKind::Component(component) => format!("the component `{}`", component.name.name),
            ExprKind::Binary { .. } | ExprKind::Neg(_) => "an arithmetic expression".to_string(),
            ExprKind::Paren(inner) => inner.kind.describe(),
        }
    }
}

/// A duration as written. This mirrors `exp_ir::Duration` without depending on `exp-ir`,
/// which sits above this crate; the checker converts one to the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Duration {
    pub amount: f64,
    pub unit: DurationUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Steps,
    Epochs,
    Tokens,
    /// A percentage of the enclosing phase; `amount` is the fraction (`10%` is 0.1).
    Fraction,
}

/// An amount with a unit of memory or of wall-clock time, as written (`4 GB`, `30 min`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    pub amount: f64,
    pub unit: QuantityUnit,
}

/// The units of a `Quantity`. Sizes are binary, as Slurm counts them: `GB` and `GiB` are both
/// 1024 `MB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityUnit {
    Megabytes,
    Gigabytes,
    Terabytes,
    Seconds,
    Minutes,
    Hours,
}

impl QuantityUnit {
    /// The unit as `exp fmt --dump` and messages write it.
    pub fn symbol(self) -> &'static str {
        match self {
            QuantityUnit::Megabytes => "MB",
            QuantityUnit::Gigabytes => "GB",
            QuantityUnit::Terabytes => "TB",
            QuantityUnit::Seconds => "s",
            QuantityUnit::Minutes => "min",
            QuantityUnit::Hours => "h",
        }
    }

    /// A size of memory, rather than a time.
    pub fn is_memory(self) -> bool {
        matches!(
            self,
            QuantityUnit::Megabytes | QuantityUnit::Gigabytes | QuantityUnit::Terabytes
        )
    }
}
