//! `let` bindings and arithmetic, resolved before the definitions are checked.
//!
//! Every `let` of every file (imported modules and the experiment file share one namespace with
//! the definitions) is evaluated to a literal value, in any order: a let may refer to lets
//! written after it, and a cycle among them is an error. Then every value in the definitions'
//! bodies is rewritten in place: an arithmetic expression becomes the literal it evaluates to,
//! and a bare name that names a let becomes the let's value, with the span of the place it is
//! written. The checker then validates those values exactly as if they had been written out.
//! A definition whose values could not be evaluated is marked, and its body is not checked, so
//! one mistake is reported once.

use exp_diag::Span;
use exp_syntax::ast::{self, BinOp, DefBody, DefKind, Duration, Expr, ExprKind, Item};

use crate::check_error::{CheckError, Expect};
use crate::hash::{HashMap, HashSet};

/// What resolving the lets found.
pub(super) struct Resolved {
    pub errors: Vec<CheckError>,
    /// The definitions (by the span of the whole definition) whose bodies hold an error already
    /// reported here.
    pub poisoned: HashSet<Span>,
}

enum State {
    Todo,
    Busy,
    Done(Option<ExprKind>),
}

struct Binding {
    name: ast::Ident,
    value: Expr,
    state: State,
    used: bool,
}

struct Resolver {
    lets: Vec<Binding>,
    names: HashMap<String, usize>,
    defs: HashMap<String, (DefKind, Span)>,
    errors: Vec<CheckError>,
    /// The lets being evaluated, innermost last, with the span of the reference to the next.
    stack: Vec<(usize, Span)>,
}

/// Evaluates the lets of `files` and rewrites their definitions' values (see the module docs).
pub(super) fn resolve(files: &mut [&mut ast::File], used_elsewhere: &HashSet<String>) -> Resolved {
    let mut resolver = Resolver {
        lets: Vec::new(),
        names: HashMap::default(),
        defs: HashMap::default(),
        errors: Vec::new(),
        stack: Vec::new(),
    };
    for file in files.iter() {
        for item in &file.items {
            if let Item::Def(def) = item {
                resolver
                    .defs
                    .entry(def.name.name.clone())
                    .or_insert((def.kind, def.name.span));
            }
        }
    }
    for file in files.iter() {
        for item in &file.items {
            let Item::Let(binding) = item else {
                continue;
            };
            let name = &binding.name.name;
            let first = match (resolver.names.get(name), resolver.defs.get(name)) {
                (Some(&first), _) => Some(resolver.lets[first].name.span),
                (None, Some((_, def_span))) => Some(*def_span),
                (None, None) => None,
            };
            if let Some(first) = first {
                resolver.errors.push(CheckError::DuplicateDefinition {
                    name: name.clone(),
                    span: binding.name.span,
                    first,
                });
                continue;
            }
            resolver.names.insert(name.clone(), resolver.lets.len());
            resolver.lets.push(Binding {
                name: binding.name.clone(),
                value: binding.value.clone(),
                state: State::Todo,
                used: false,
            });
        }
    }
    for idx in 0..resolver.lets.len() {
        resolver.evaluate_let(idx);
    }

    let mut poisoned = HashSet::default();
    for file in files.iter_mut() {
        for item in &mut file.items {
            let Item::Def(def) = item else {
                continue;
            };
            let errors_before = resolver.errors.len();
            let mut ok = true;
            match &mut def.body {
                DefBody::Component(component) => {
                    if let Some(block) = &mut component.params {
                        ok &= resolver.rewrite_block(block);
                    }
                }
                DefBody::Call { params, .. } => {
                    if let Some(block) = params {
                        ok &= resolver.rewrite_block(block);
                    }
                }
                DefBody::Block(block) => ok &= resolver.rewrite_block(block),
            }
            if !ok || resolver.errors.len() > errors_before {
                poisoned.insert(def.span);
            }
        }
    }

    for binding in &resolver.lets {
        if !binding.used && !used_elsewhere.contains(&binding.name.name) {
            resolver.errors.push(CheckError::UnusedLet {
                name: binding.name.name.clone(),
                span: binding.name.span,
            });
        }
    }
    Resolved {
        errors: resolver.errors,
        poisoned,
    }
}

impl Resolver {
    /// The value of the let `idx`, evaluating it first if need be; `None` after an error.
    fn evaluate_let(&mut self, idx: usize) -> Option<ExprKind> {
        match &self.lets[idx].state {
            State::Done(value) => return value.clone(),
            State::Busy => return None,
            State::Todo => {}
        }
        self.lets[idx].state = State::Busy;
        let value = self.lets[idx].value.clone();
        let result = self.eval_value(&value).map(|expr| expr.kind);
        self.lets[idx].state = State::Done(result.clone());
        result
    }

    /// A bare name in a value: a let's value, or an error.
    fn reference(&mut self, name: &ast::Ident, span: Span) -> Option<ExprKind> {
        if let Some(&idx) = self.names.get(&name.name) {
            self.lets[idx].used = true;
            if matches!(self.lets[idx].state, State::Busy) {
                self.cycle(idx, span);
                return None;
            }
            self.stack.push((idx, span));
            let value = self.evaluate_let(idx);
            self.stack.pop();
            return value;
        }
        if let Some((kind, definition)) = self.defs.get(&name.name) {
            self.errors.push(CheckError::NotAValue {
                found: format!("the {} `{}`", kind.keyword(), name.name),
                span,
                definition: Some(*definition),
            });
            return None;
        }
        let suggestion = exp_diag::did_you_mean(&name.name, self.names.keys().map(String::as_str))
            .map(str::to_string);
        self.errors.push(CheckError::UndefinedName {
            name: name.name.clone(),
            expected: Expect::Value,
            span,
            suggestion,
        });
        None
    }

    /// Reports the cycle that closes when the let `idx` is referred to at `span`.
    fn cycle(&mut self, idx: usize, span: Span) {
        // The stack holds (let, where the previous let refers to it). The cycle runs from just
        // after `idx`'s entry, or from the bottom when `idx` is the outermost let being
        // evaluated (it is then not on the stack).
        let from = self
            .stack
            .iter()
            .position(|(entry, _)| *entry == idx)
            .map_or(0, |start| start + 1);
        let mut names = vec![self.lets[idx].name.name.clone()];
        let mut uses = Vec::new();
        for (entry, use_span) in &self.stack[from..] {
            uses.push(*use_span);
            names.push(self.lets[*entry].name.name.clone());
        }
        uses.push(span);
        names.push(self.lets[idx].name.name.clone());
        self.errors.push(CheckError::LetCycle {
            names,
            uses,
            span: self.lets[idx].name.span,
        });
    }

    /// Evaluates a let's value: a literal, or, outside arithmetic, also a component, a
    /// parameter block or a name of a definition or component, kept as written (with the lets
    /// inside it evaluated) and checked where it is used.
    fn eval_value(&mut self, expr: &Expr) -> Option<Expr> {
        let kind = match &expr.kind {
            ExprKind::Component(component) if component.params.is_none() => {
                if self.names.contains_key(&component.name.name) {
                    return self.eval(expr);
                }
                expr.kind.clone()
            }
            ExprKind::Component(component) => {
                let mut component = component.clone();
                if let Some(block) = &mut component.params {
                    if !self.rewrite_block(block) {
                        return None;
                    }
                }
                ExprKind::Component(component)
            }
            ExprKind::Record(block) => {
                let mut block = block.clone();
                if !self.rewrite_block(&mut block) {
                    return None;
                }
                ExprKind::Record(block)
            }
            ExprKind::List(items) => {
                let items: Vec<Option<Expr>> =
                    items.iter().map(|item| self.eval_value(item)).collect();
                ExprKind::List(items.into_iter().collect::<Option<Vec<_>>>()?)
            }
            ExprKind::Paren(inner) => self.eval_value(inner)?.kind,
            _ => return self.eval(expr),
        };
        Some(Expr {
            kind,
            span: expr.span,
        })
    }

    /// Evaluates an expression in arithmetic to a literal.
    fn eval(&mut self, expr: &Expr) -> Option<Expr> {
        let kind = match &expr.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Duration(_)
            | ExprKind::Quantity(_) => expr.kind.clone(),
            ExprKind::List(items) => {
                let items: Vec<Option<Expr>> = items.iter().map(|item| self.eval(item)).collect();
                ExprKind::List(items.into_iter().collect::<Option<Vec<_>>>()?)
            }
            ExprKind::Paren(inner) => self.eval(inner)?.kind,
            ExprKind::Component(component) if component.params.is_none() => {
                self.reference(&component.name, expr.span)?
            }
            ExprKind::Component(_) | ExprKind::Record(_) => {
                self.errors.push(CheckError::NotAValue {
                    found: expr.kind.describe(),
                    span: expr.span,
                    definition: None,
                });
                return None;
            }
            ExprKind::Neg(inner) => {
                let value = self.eval(inner)?;
                match value.kind {
                    ExprKind::Int(value) => ExprKind::Int(value.wrapping_neg()),
                    ExprKind::Float(value) => ExprKind::Float(-value),
                    ExprKind::Duration(duration) => ExprKind::Duration(Duration {
                        amount: -duration.amount,
                        unit: duration.unit,
                    }),
                    other => {
                        self.errors.push(CheckError::ArithmeticType {
                            op: "-",
                            lhs: other.describe(),
                            rhs: None,
                            span: expr.span,
                        });
                        return None;
                    }
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let lhs = self.eval(lhs);
                let rhs = self.eval(rhs);
                self.binary(*op, lhs?.kind, rhs?.kind, expr.span)?
            }
        };
        Some(Expr {
            kind,
            span: expr.span,
        })
    }

    fn binary(&mut self, op: BinOp, lhs: ExprKind, rhs: ExprKind, span: Span) -> Option<ExprKind> {
        let number = |kind: &ExprKind| match kind {
            ExprKind::Int(value) => Some(*value as f64),
            ExprKind::Float(value) => Some(*value),
            _ => None,
        };
        let divisor_is_zero = op == BinOp::Div && number(&rhs) == Some(0.0);
        if divisor_is_zero {
            self.errors.push(CheckError::DivisionByZero { span });
            return None;
        }
        let result = match (&lhs, &rhs) {
            (ExprKind::Int(a), ExprKind::Int(b)) => match op {
                BinOp::Add => a.checked_add(*b).map(ExprKind::Int),
                BinOp::Sub => a.checked_sub(*b).map(ExprKind::Int),
                BinOp::Mul => a.checked_mul(*b).map(ExprKind::Int),
                BinOp::Div => Some(ExprKind::Float(*a as f64 / *b as f64)),
            },
            (ExprKind::Duration(a), ExprKind::Duration(b))
                if matches!(op, BinOp::Add | BinOp::Sub) =>
            {
                if a.unit != b.unit {
                    self.errors.push(CheckError::DurationUnitMismatch {
                        op: op.symbol(),
                        lhs: lhs.describe(),
                        rhs: rhs.describe(),
                        span,
                    });
                    return None;
                }
                let amount = if op == BinOp::Add {
                    a.amount + b.amount
                } else {
                    a.amount - b.amount
                };
                Some(ExprKind::Duration(Duration {
                    amount,
                    unit: a.unit,
                }))
            }
            (ExprKind::Duration(a), other) if matches!(op, BinOp::Mul | BinOp::Div) => {
                number(other).map(|factor| {
                    let amount = if op == BinOp::Mul {
                        a.amount * factor
                    } else {
                        a.amount / factor
                    };
                    ExprKind::Duration(Duration {
                        amount,
                        unit: a.unit,
                    })
                })
            }
            (other, ExprKind::Duration(b)) if op == BinOp::Mul => number(other).map(|factor| {
                ExprKind::Duration(Duration {
                    amount: factor * b.amount,
                    unit: b.unit,
                })
            }),
            (a, b) => match (number(a), number(b)) {
                (Some(a), Some(b)) => Some(ExprKind::Float(match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                })),
                _ => None,
            },
        };
        match result {
            Some(ExprKind::Float(value)) if value.is_finite() => Some(ExprKind::Float(value)),
            Some(result @ (ExprKind::Int(_) | ExprKind::Duration(_))) => Some(result),
            _ => {
                self.errors.push(CheckError::ArithmeticType {
                    op: op.symbol(),
                    lhs: lhs.describe(),
                    rhs: Some(rhs.describe()),
                    span,
                });
                None
            }
        }
    }

    /// Rewrites the values of a block in place; `false` when one could not be evaluated.
    fn rewrite_block(&mut self, block: &mut ast::Block) -> bool {
        let mut ok = true;
        for field in &mut block.fields {
            ok &= self.rewrite(&mut field.value);
        }
        ok
    }

    fn rewrite(&mut self, expr: &mut Expr) -> bool {
        match &mut expr.kind {
            ExprKind::Component(component) => match &mut component.params {
                Some(block) => self.rewrite_block(block),
                None if self.names.contains_key(&component.name.name) => {
                    let name = component.name.clone();
                    match self.reference(&name, expr.span) {
                        Some(kind) => {
                            expr.kind = kind;
                            true
                        }
                        None => false,
                    }
                }
                None => true,
            },
            ExprKind::Record(block) => self.rewrite_block(block),
            ExprKind::List(items) => {
                let mut ok = true;
                for item in items {
                    ok &= self.rewrite(item);
                }
                ok
            }
            ExprKind::Binary { .. } | ExprKind::Neg(_) | ExprKind::Paren(_) => {
                match self.eval(expr) {
                    Some(value) => {
                        *expr = value;
                        true
                    }
                    None => false,
                }
            }
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Duration(_)
            | ExprKind::Quantity(_) => true,
        }
    }
}
