//! The parser: runs the pest grammar in `grammar.pest` and builds the AST from its pairs.
//!
//! pest stays inside this module (STYLE L4): pest spans become `exp_diag::Span`s while the AST
//! is built, and a pest error becomes a `ParseError::Syntax` whose expected items are the rule
//! names mapped to words by `rule_word` (pest reports rules, not literals, so punctuation worth
//! naming has a rule of its own in the grammar).
//! The grammar has no error recovery, so a syntax error yields an empty file and one
//! diagnostic; errors inside literals (numbers, escapes) are reported and parsing goes on.
//! A string left open swallows the rest of its line, and a `/*` comment left open the rest of
//! the file, which usually causes the syntax error; so when one precedes the error, the
//! unterminated string or comment is reported instead.
//! Before the grammar runs, one pass over the text bounds how deep brackets nest (pest recurses
//! once per level); the builder bounds how deep an expression's operators nest.

use exp_diag::{Diagnostic, FileId, Span};
use pest::error::{Error as PestError, ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

use crate::ast::{
    Arg, Axis, BinOp, Block, Component, Def, DefBody, DefKind, Duration, DurationUnit, Expr,
    ExprKind, Field, File, Ident, Import, Item, Let, Plugin, Policy, Quantity, QuantityUnit,
    Resources, Seed, Sweep, Template, Use,
};
use crate::parse_error::ParseError;

#[derive(Parser)]
#[grammar = "grammar.pest"]
struct ExpParser;

/// How deep brackets, parentheses, blocks and minus signs may nest. pest and the AST builder
/// recurse once per level (several frames each), so without a bound a file of a million `[`
/// would overflow the stack; no experiment comes near this.
const MAX_NESTING: usize = 256;

/// How deep one expression's tree of operators may grow. `a + a + ..` is flat for pest but
/// left-nested in the AST, which every later pass walks recursively.
const MAX_EXPRESSION_DEPTH: usize = 1024;

/// Parses one file. On a syntax error the file has no items and the diagnostics say why.
pub fn parse(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    let mut builder = Builder {
        file,
        errors: Vec::new(),
    };
    let scan = scan(text);
    if let Some(start) = scan.too_deep {
        // Checked before pest runs: the grammar itself recurses once per level.
        let error = ParseError::TooDeep {
            span: Span::new(file, start, start + 1),
            limit: MAX_NESTING,
            operators: false,
        };
        return (
            File {
                file,
                items: Vec::new(),
            },
            vec![error.to_diagnostic()],
        );
    }
    let items = match ExpParser::parse(Rule::file, text) {
        Ok(mut pairs) => match pairs.next() {
            Some(file_pair) => builder.items(file_pair.into_inner()),
            None => Vec::new(),
        },
        Err(error) => {
            let syntax = syntax_error(file, text, &error);
            let error_start = match &syntax {
                ParseError::Syntax { span, .. } => span.start as usize,
                _ => text.len(),
            };
            // A string or comment left open swallows what follows it, which is what made the
            // grammar fail: say that instead.
            let unterminated = scan
                .unterminated
                .filter(|open| open.start <= error_start)
                .map(|open| {
                    let span = Span::new(file, open.start, open.end);
                    if open.comment {
                        ParseError::UnterminatedComment { span }
                    } else {
                        ParseError::UnterminatedString { span }
                    }
                });
            builder.errors.push(unterminated.unwrap_or(syntax));
            Vec::new()
        }
    };
    let diagnostics = builder
        .errors
        .iter()
        .map(ParseError::to_diagnostic)
        .collect();
    (File { file, items }, diagnostics)
}

/// What a grammar rule is called in an error message; `None` for rules never worth naming.
fn rule_word(rule: Rule) -> Option<&'static str> {
    let word = match rule {
        // pest names the whole file when nothing at its very start fits.
        Rule::item | Rule::file => "a definition",
        Rule::import | Rule::kw_import => "`import`",
        Rule::module_path => "a module path",
        Rule::plugin | Rule::kw_plugin => "`plugin`",
        Rule::seed | Rule::kw_seed => "`seed`",
        Rule::policy | Rule::kw_policy => "`policy`",
        Rule::resources | Rule::kw_resources => "`resources`",
        Rule::let_def | Rule::kw_let => "`let`",
        Rule::kw_dataset | Rule::dataset_def => "`dataset`",
        Rule::kw_model | Rule::model_def => "`model`",
        Rule::kw_tokenizer | Rule::tokenizer_def => "`tokenizer`",
        Rule::kw_export | Rule::export_def => "`export`",
        Rule::kw_train | Rule::train_def => "`train`",
        Rule::kw_merge | Rule::merge_def => "`merge`",
        Rule::kw_evaluate | Rule::evaluate_def => "`evaluate`",
        Rule::kw_report | Rule::report_def => "`report`",
        Rule::kw_sequence | Rule::sequence_def => "`sequence`",
        Rule::kw_sweep | Rule::sweep_def => "`sweep`",
        Rule::kw_template | Rule::template_def => "`template`",
        Rule::kw_use | Rule::use_def => "`use`",
        Rule::kw_in => "`in`",
        Rule::kw_zip => "`zip`",
        Rule::kw_seeds | Rule::seeds_axis => "`seeds`",
        Rule::axis => "a sweep axis (`name in [..]` or `seeds N`)",
        Rule::arg => "an argument",
        Rule::call_args | Rule::use_args => "`(`",
        Rule::block => "`{`",
        Rule::field | Rule::key => "a field",
        Rule::duration
        | Rule::quantity
        | Rule::float
        | Rule::integer
        | Rule::boolean
        | Rule::string
        | Rule::bad_string
        | Rule::list
        | Rule::component
        | Rule::expr
        | Rule::product
        | Rule::unary
        | Rule::paren
        | Rule::neg => "a value",
        Rule::unit => "`steps`, `epochs` or `tokens`",
        Rule::percent => "`%`",
        Rule::quantity_unit => "a unit of memory (`MB`, `GB`, `TB`) or of time (`s`, `min`, `h`)",
        Rule::name | Rule::ident | Rule::reference | Rule::def_name | Rule::call => "a name",
        Rule::point => "a sweep point (`[lr=0.001,seed=0]`)",
        Rule::EOI => "end of file",
        Rule::equals => "`=`",
        Rule::rparen => "`)`",
        Rule::rbrace => "`}`",
        Rule::rbracket => "`]`",
        Rule::string_inner
        | Rule::keyword
        | Rule::WHITESPACE
        | Rule::COMMENT
        | Rule::ident_char
        | Rule::value
        | Rule::add_op
        | Rule::mul_op
        | Rule::exponent => return None,
    };
    Some(word)
}

fn syntax_error(file: FileId, text: &str, error: &PestError<Rule>) -> ParseError {
    let position = match error.location {
        InputLocation::Pos(position) => position,
        InputLocation::Span((start, _)) => start,
    };
    let mut expected: Vec<String> = Vec::new();
    let mut add = |word: String| {
        if !expected.contains(&word) {
            expected.push(word);
        }
    };
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            if let Some(word) = rule_word(*rule) {
                add(word.to_string());
            }
        }
    }
    // Names first, punctuation after: "a field or `}`".
    expected.sort_by_key(|word| word.starts_with('`'));
    let (found, end) = found_at(text, position);
    ParseError::Syntax {
        expected,
        found,
        span: Span::new(file, position, end),
    }
}

/// What one pass over the raw text finds before (or instead of) the grammar.
struct Scan {
    /// The first string not closed on its line, or block comment never closed.
    unterminated: Option<Unterminated>,
    /// Where nesting first goes past `MAX_NESTING`.
    too_deep: Option<usize>,
}

#[derive(Clone, Copy)]
struct Unterminated {
    start: usize,
    end: usize,
    comment: bool,
}

/// Walks the text once, skipping comments and strings, to find the first string or block
/// comment left open and the first place nesting goes past `MAX_NESTING`. Brackets,
/// parentheses and braces count a level each, and so does each `-` of a run (`- - -x`), which
/// the grammar reads as nested negations.
fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut found = Scan {
        unterminated: None,
        too_deep: None,
    };
    let mut depth = 0usize;
    let mut minus_run = 0usize;
    let mut idx = 0;
    let open = |found: &mut Scan, start: usize, end: usize, comment: bool| {
        if found.unterminated.is_none() {
            found.unterminated = Some(Unterminated {
                start,
                end,
                comment,
            });
        }
    };
    while idx < bytes.len() {
        match bytes[idx] {
            b'/' if bytes.get(idx + 1) == Some(&b'/') => {
                idx = text[idx..]
                    .find('\n')
                    .map_or(bytes.len(), |offset| idx + offset);
            }
            b'/' if bytes.get(idx + 1) == Some(&b'*') => match text[idx + 2..].find("*/") {
                Some(offset) => idx += 2 + offset + 2,
                None => {
                    open(&mut found, idx, idx + 2, true);
                    idx = bytes.len();
                }
            },
            b'"' => {
                minus_run = 0;
                let start = idx;
                idx += 1;
                loop {
                    match bytes.get(idx) {
                        None | Some(b'\n') => {
                            open(&mut found, start, idx, false);
                            break;
                        }
                        Some(b'"') => {
                            idx += 1;
                            break;
                        }
                        Some(b'\\') if bytes.get(idx + 1).is_some_and(|b| *b != b'\n') => idx += 2,
                        Some(_) => idx += 1,
                    }
                }
            }
            byte => {
                match byte {
                    b'(' | b'[' | b'{' => {
                        minus_run = 0;
                        depth += 1;
                    }
                    b')' | b']' | b'}' => {
                        minus_run = 0;
                        depth = depth.saturating_sub(1);
                    }
                    b'-' => minus_run += 1,
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    _ => minus_run = 0,
                }
                if depth + minus_run > MAX_NESTING && found.too_deep.is_none() {
                    found.too_deep = Some(idx);
                }
                idx += 1;
            }
        }
    }
    found
}

/// The token that starts at `position`: a word, or one character; `None` at the end of input.
fn found_at(text: &str, position: usize) -> (Option<String>, usize) {
    let position = position.min(text.len());
    let rest = &text[position..];
    let word_len = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(rest.len(), |(idx, _)| idx);
    let len = if word_len > 0 {
        word_len
    } else {
        match rest.chars().next() {
            // Shown escaped: a blank, a control character or an invisible one (a zero-width
            // space, a byte-order mark in mid-file) would read as nothing between the backticks.
            Some(c) if c.is_whitespace() || c.is_control() || is_invisible(c) => {
                return (
                    Some(c.escape_unicode().to_string()),
                    position + c.len_utf8(),
                )
            }
            Some(c) => c.len_utf8(),
            None => return (None, position),
        }
    };
    (Some(rest[..len].to_string()), position + len)
}

/// Format characters that take no room when printed (Unicode category Cf, the common ones).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

struct Builder {
    file: FileId,
    errors: Vec<ParseError>,
}

impl Builder {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let pest_span = pair.as_span();
        Span::new(self.file, pest_span.start(), pest_span.end())
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    /// A definition's name: a word, or a string to be interpolated (`quoted`).
    fn def_name(&mut self, pair: Pair<'_, Rule>) -> (Ident, bool) {
        let span = self.span(&pair);
        match pair.into_inner().next() {
            Some(inner) if inner.as_rule() == Rule::name => (self.ident(&inner), false),
            Some(inner) => {
                let span = self.span(&inner);
                (
                    Ident {
                        name: self.string(inner),
                        span,
                    },
                    true,
                )
            }
            None => (
                Ident {
                    name: String::new(),
                    span,
                },
                false,
            ),
        }
    }

    fn def(&mut self, kind: DefKind, name: (Ident, bool), body: DefBody, span: Span) -> Item {
        // A body without a closing block (`dataset d = digits`) lets the pair take in the
        // whitespace and comments after it, where pest looked for the optional block: the
        // definition ends where its last token does.
        let last = match &body {
            DefBody::Component(component) => component
                .params
                .as_ref()
                .map_or(component.name.span, |block| block.span),
            DefBody::Call {
                params,
                inputs_span,
                ..
            } => params.as_ref().map_or(*inputs_span, |block| block.span),
            DefBody::Block(block) => block.span,
        };
        let span = Span::new(
            self.file,
            span.start as usize,
            last.end.max(span.start) as usize,
        );
        Item::Def(Def {
            kind,
            name: name.0,
            quoted: name.1,
            body,
            span,
            expansion: None,
        })
    }

    fn items<'i>(&mut self, pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Vec<Item> {
        pairs
            .filter(|pair| pair.as_rule() == Rule::item)
            .filter_map(|pair| self.item(pair))
            .collect()
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let inner = pair.into_inner().next()?;
        let span = self.span(&inner);
        let rule = inner.as_rule();
        let mut parts = children(inner);
        let item = match rule {
            Rule::import => {
                let path = children(parts.next()?)
                    .map(|segment| self.ident(&segment))
                    .collect();
                Item::Import(Import { path, span })
            }
            Rule::plugin => {
                let literal = parts.next()?;
                let path_span = self.span(&literal);
                let path = self.string(literal);
                Item::Plugin(Plugin {
                    path,
                    path_span,
                    span,
                })
            }
            Rule::seed => {
                let literal = parts.next()?;
                let value_span = self.span(&literal);
                let value = self.integer(&literal);
                Item::Seed(Seed {
                    value,
                    value_span,
                    span,
                })
            }
            Rule::policy => {
                let block = self.block(parts.next()?);
                Item::Policy(Policy { block, span })
            }
            Rule::resources => {
                let block = self.block(parts.next()?);
                Item::Resources(Resources { block, span })
            }
            Rule::let_def => {
                let name = self.ident(&parts.next()?);
                let value = self.expr(parts.next()?);
                // The pair may take in whitespace after the value; the line ends with the value.
                let span = Span::new(self.file, span.start as usize, value.span.end as usize);
                Item::Let(Let { name, value, span })
            }
            Rule::dataset_def | Rule::model_def | Rule::tokenizer_def => {
                let kind = match rule {
                    Rule::dataset_def => DefKind::Dataset,
                    Rule::model_def => DefKind::Model,
                    _ => DefKind::Tokenizer,
                };
                let name = self.def_name(parts.next()?);
                let value = parts.next()?;
                let body = if value.as_rule() == Rule::call {
                    self.call(value)?
                } else {
                    DefBody::Component(self.component(value))
                };
                self.def(kind, name, body, span)
            }
            Rule::train_def | Rule::evaluate_def | Rule::report_def | Rule::sequence_def => {
                let kind = match rule {
                    Rule::train_def => DefKind::Train,
                    Rule::evaluate_def => DefKind::Evaluate,
                    Rule::sequence_def => DefKind::Sequence,
                    _ => DefKind::Report,
                };
                let name = self.def_name(parts.next()?);
                let block = self.block(parts.next()?);
                self.def(kind, name, DefBody::Block(block), span)
            }
            Rule::sweep_def => {
                let mut zip = false;
                let mut axes = Vec::new();
                let mut items = Vec::new();
                for part in parts {
                    match part.as_rule() {
                        Rule::kw_zip => zip = true,
                        Rule::axis => axes.push(self.axis(part)?),
                        Rule::item => items.extend(self.item(part)),
                        _ => {}
                    }
                }
                let header_end = axes.last().map_or(span.start, |axis: &Axis| axis.span.end);
                Item::Sweep(Sweep {
                    zip,
                    axes,
                    items,
                    header_span: Span::new(self.file, span.start as usize, header_end as usize),
                    span,
                })
            }
            Rule::template_def => {
                let name = self.ident(&parts.next()?);
                let mut params = Vec::new();
                let mut body = Vec::new();
                for part in parts {
                    match part.as_rule() {
                        Rule::name => params.push(self.ident(&part)),
                        Rule::item => body.push(part),
                        _ => {}
                    }
                }
                let items = self.items(body.into_iter());
                Item::Template(Template {
                    name,
                    params,
                    items,
                    span,
                })
            }
            Rule::use_def => {
                let name = self.ident(&parts.next()?);
                let template = self.ident(&parts.next()?);
                let args_pair = parts.next()?;
                let args_span = self.span(&args_pair);
                let args = children(args_pair)
                    .filter_map(|arg| {
                        let mut pieces: Vec<Pair<'_, Rule>> = children(arg).collect();
                        let value = self.expr(pieces.pop()?);
                        let key = pieces.first().map(|key| self.ident(key));
                        Some(Arg { key, value })
                    })
                    .collect();
                Item::Use(Use {
                    name,
                    template,
                    args,
                    args_span,
                    span,
                })
            }
            Rule::merge_def | Rule::export_def => {
                let kind = if rule == Rule::merge_def {
                    DefKind::Merge
                } else {
                    DefKind::Export
                };
                let name = self.def_name(parts.next()?);
                let body = self.call(parts.next()?)?;
                self.def(kind, name, body, span)
            }
            _ => return None,
        };
        Some(item)
    }

    /// `component(a, b) { .. }`: a component built on other definitions.
    fn call(&mut self, pair: Pair<'_, Rule>) -> Option<DefBody> {
        let mut parts = children(pair);
        let component = self.ident(&parts.next()?);
        let args = parts.next()?;
        let inputs_span = self.span(&args);
        let inputs = children(args).map(|arg| self.ident(&arg)).collect();
        let params = parts.next().map(|block| self.block(block));
        Some(DefBody::Call {
            component,
            inputs,
            params,
            inputs_span,
        })
    }

    fn axis(&mut self, pair: Pair<'_, Rule>) -> Option<Axis> {
        let span = self.span(&pair);
        let inner: Vec<Pair<'_, Rule>> = children(pair).collect();
        match inner.as_slice() {
            [seeds] if seeds.as_rule() == Rule::seeds_axis => {
                let seeds_span = self.span(seeds);
                let value = self.expr(children(seeds.clone()).next()?);
                Some(Axis {
                    name: Ident {
                        name: "seed".to_string(),
                        span: Span::new(
                            self.file,
                            seeds_span.start as usize,
                            seeds_span.start as usize + 5,
                        ),
                    },
                    span: Span::new(self.file, span.start as usize, value.span.end as usize),
                    values: value,
                    seeds: true,
                })
            }
            [name, values] => {
                let name = self.ident(name);
                let values = self.expr(values.clone());
                Some(Axis {
                    span: Span::new(self.file, span.start as usize, values.span.end as usize),
                    name,
                    values,
                    seeds: false,
                })
            }
            _ => None,
        }
    }

    fn component(&mut self, pair: Pair<'_, Rule>) -> Component {
        let span = self.span(&pair);
        let mut parts = children(pair);
        let name = match parts.next() {
            Some(ident) => self.ident(&ident),
            None => Ident {
                name: String::new(),
                span,
            },
        };
        let params = parts.next().map(|block| self.block(block));
        // Without a block, the pair takes in the whitespace after the name; the span does not.
        let span = match &params {
            Some(block) => Span::new(self.file, span.start as usize, block.span.end as usize),
            None => Span::new(self.file, span.start as usize, name.span.end as usize),
        };
        Component { name, params, span }
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        let fields = children(pair)
            .filter_map(|field| {
                let field_span = self.span(&field);
                let mut parts = children(field);
                let key = self.ident(&parts.next()?);
                let value = self.expr(parts.next()?);
                Some(Field {
                    key,
                    span: Span::new(
                        self.file,
                        field_span.start as usize,
                        value.span.end as usize,
                    ),
                    value,
                })
            })
            .collect();
        Block { fields, span }
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::expr | Rule::product => {
                let mut parts = children(pair);
                let Some(first) = parts.next() else {
                    return Expr {
                        kind: ExprKind::Int(0),
                        span,
                    };
                };
                let mut lhs = self.expr(first);
                let mut depth = expr_depth(&lhs);
                while let (Some(op), Some(operand)) = (parts.next(), parts.next()) {
                    let op_span = self.span(&op);
                    let op = match op.as_str() {
                        "+" => BinOp::Add,
                        "-" => BinOp::Sub,
                        "*" => BinOp::Mul,
                        _ => BinOp::Div,
                    };
                    let rhs = self.expr(operand);
                    depth = depth.max(expr_depth(&rhs)) + 1;
                    if depth > MAX_EXPRESSION_DEPTH {
                        // The rest of the chain is dropped: the tree stays shallow enough for
                        // the passes after this one, and the error stops them anyway.
                        self.errors.push(ParseError::TooDeep {
                            span: op_span,
                            limit: MAX_EXPRESSION_DEPTH,
                            operators: true,
                        });
                        break;
                    }
                    lhs = Expr {
                        span: lhs.span.to(rhs.span),
                        kind: ExprKind::Binary {
                            op,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                    };
                }
                return lhs;
            }
            Rule::unary => {
                let mut parts = children(pair);
                return match (parts.next(), parts.next()) {
                    (Some(neg), Some(operand)) if neg.as_rule() == Rule::neg => {
                        let operand = self.expr(operand);
                        Expr {
                            span: Span::new(
                                self.file,
                                span.start as usize,
                                operand.span.end as usize,
                            ),
                            kind: ExprKind::Neg(Box::new(operand)),
                        }
                    }
                    (Some(value), _) => self.expr(value),
                    (None, _) => Expr {
                        kind: ExprKind::Int(0),
                        span,
                    },
                };
            }
            Rule::paren => match children(pair).next() {
                Some(inner) => ExprKind::Paren(Box::new(self.expr(inner))),
                None => ExprKind::Int(0),
            },
            Rule::integer => ExprKind::Int(self.integer(&pair)),
            Rule::float => ExprKind::Float(self.float(&pair)),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::string | Rule::bad_string => ExprKind::Str(self.string(pair)),
            Rule::duration => {
                let mut parts = children(pair);
                let amount = self.amount(parts.next());
                let unit_text = parts.next().map_or("", |unit| unit.as_str());
                let duration = match unit_text {
                    "%" => Duration {
                        amount: amount / 100.0,
                        unit: DurationUnit::Fraction,
                    },
                    "epoch" | "epochs" => Duration {
                        amount,
                        unit: DurationUnit::Epochs,
                    },
                    "token" | "tokens" => Duration {
                        amount,
                        unit: DurationUnit::Tokens,
                    },
                    _ => Duration {
                        amount,
                        unit: DurationUnit::Steps,
                    },
                };
                ExprKind::Duration(duration)
            }
            Rule::quantity => {
                let mut parts = children(pair);
                let amount = self.amount(parts.next());
                let unit = match parts.next().map_or("", |unit| unit.as_str()) {
                    "MB" | "MiB" => QuantityUnit::Megabytes,
                    "GB" | "GiB" => QuantityUnit::Gigabytes,
                    "TB" | "TiB" => QuantityUnit::Terabytes,
                    "s" => QuantityUnit::Seconds,
                    "min" => QuantityUnit::Minutes,
                    _ => QuantityUnit::Hours,
                };
                ExprKind::Quantity(Quantity { amount, unit })
            }
            Rule::list => ExprKind::List(children(pair).map(|item| self.expr(item)).collect()),
            Rule::block => ExprKind::Record(self.block(pair)),
            _ => {
                let component = self.component(pair);
                return Expr {
                    span: component.span,
                    kind: ExprKind::Component(component),
                };
            }
        };
        Expr { kind, span }
    }

    /// The number before a unit (`10` of `10 steps`, `1.5` of `1.5 GB`).
    fn amount(&mut self, number: Option<Pair<'_, Rule>>) -> f64 {
        match number {
            Some(number) if number.as_rule() == Rule::integer => self.integer(&number) as f64,
            Some(number) => self.float(&number),
            None => 0.0,
        }
    }

    fn integer(&mut self, pair: &Pair<'_, Rule>) -> i64 {
        pair.as_str().parse().unwrap_or_else(|_| {
            self.errors.push(ParseError::InvalidNumber {
                text: pair.as_str().to_string(),
                span: self.span(pair),
            });
            0
        })
    }

    fn float(&mut self, pair: &Pair<'_, Rule>) -> f64 {
        match pair.as_str().parse::<f64>() {
            Ok(value) if value.is_finite() => value,
            _ => {
                self.errors.push(ParseError::InvalidNumber {
                    text: pair.as_str().to_string(),
                    span: self.span(pair),
                });
                0.0
            }
        }
    }

    /// The contents of a string literal with escapes resolved. An unterminated string is
    /// reported here and its contents kept, so the rest of the file is still checked.
    fn string(&mut self, pair: Pair<'_, Rule>) -> String {
        let span = self.span(&pair);
        let raw = pair.as_str();
        let (body, body_start) = if pair.as_rule() == Rule::bad_string {
            self.errors.push(ParseError::UnterminatedString { span });
            (&raw[1..], span.start as usize + 1)
        } else {
            (&raw[1..raw.len() - 1], span.start as usize + 1)
        };
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((idx, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, escaped)) = chars.next() else {
                break;
            };
            match escaped {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                other => {
                    let start = body_start + idx;
                    self.errors.push(ParseError::InvalidEscape {
                        escape: format!("\\{other}"),
                        span: Span::new(self.file, start, start + 1 + other.len_utf8()),
                    });
                }
            }
        }
        out
    }
}

/// How many levels an expression's tree has, counted without recursion (the point is to find
/// trees too deep to recurse over).
fn expr_depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(expr, 1)];
    while let Some((expr, depth)) = pending.pop() {
        deepest = deepest.max(depth);
        let block = match &expr.kind {
            ExprKind::Record(block) => Some(block),
            ExprKind::Component(component) => component.params.as_ref(),
            _ => None,
        };
        if let Some(block) = block {
            pending.extend(block.fields.iter().map(|field| (&field.value, depth + 1)));
        }
        match &expr.kind {
            ExprKind::Binary { lhs, rhs, .. } => {
                pending.push((lhs, depth + 1));
                pending.push((rhs, depth + 1));
            }
            ExprKind::Neg(inner) | ExprKind::Paren(inner) => pending.push((inner, depth + 1)),
            ExprKind::List(items) => pending.extend(items.iter().map(|item| (item, depth + 1))),
            ExprKind::Record(_)
            | ExprKind::Component(_)
            | ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Duration(_)
            | ExprKind::Quantity(_) => {}
        }
    }
    deepest
}

/// The children of a pair that carry content: keywords and punctuation are dropped.
fn children<'i>(pair: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    pair.into_inner()
        .filter(|child| !is_token_rule(child.as_rule()))
}

fn is_token_rule(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::equals
            | Rule::rparen
            | Rule::rbrace
            | Rule::rbracket
            | Rule::kw_import
            | Rule::kw_plugin
            | Rule::kw_seed
            | Rule::kw_policy
            | Rule::kw_resources
            | Rule::kw_let
            | Rule::kw_dataset
            | Rule::kw_model
            | Rule::kw_tokenizer
            | Rule::kw_export
            | Rule::kw_train
            | Rule::kw_merge
            | Rule::kw_evaluate
            | Rule::kw_report
            | Rule::kw_sequence
            | Rule::kw_sweep
            | Rule::kw_in
            | Rule::kw_seeds
            | Rule::kw_template
            | Rule::kw_use
    )
}
