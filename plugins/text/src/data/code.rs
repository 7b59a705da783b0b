//! Python-like programs from a small grammar: functions with parameters, loops, conditionals,
//! assignments, arithmetic, calls and returns.
//!
//! How a document is drawn: one to `max_functions` function definitions, then a line that prints a call
//! of the last one.
//! A function body is a block; a block is one to `max_statements` statements followed, in a function
//! body, by a `return`.
//! A statement is an assignment, an augmented assignment, a list append, a print, or (while the block
//! is shallower than `max_depth`) an `if`/`elif`/`else`, a `for` over a `range` or a list, or a
//! counting `while` loop whose body ends by decrementing its counter.
//!
//! The programs are valid Python, meant to be read rather than run: a name is read only after it is
//! bound on every path to that point (names bound inside a nested block are forgotten when the block
//! ends), calls only reach functions defined earlier with their exact number of arguments, every
//! `while` counts down to zero, and division and modulo only divide by non-zero literals.
//! (A `range` bound is any computed value, so a program may still run for a long time.)
//! A line budget (`max_lines`) bounds every document: compound statements are only started when their
//! shortest form still fits, so a document never exceeds it.

use crate::data::rng::{Draw, Rng};
use crate::data::Example;

/// The most documents one call may ask for.
pub const MAX_COUNT: usize = 1_000_000;
/// The deepest nesting of blocks allowed.
pub const MAX_DEPTH: usize = 6;
/// The most statements per block allowed.
pub const MAX_STATEMENTS: usize = 8;
/// The most functions per document allowed.
pub const MAX_FUNCTIONS: usize = 8;
/// The smallest line budget: a two-line function and the final print line.
pub const MIN_LINES: usize = 3;
/// The largest line budget.
pub const MAX_LINES: usize = 1000;

const FUNCTION_VERBS: [&str; 12] = [
    "compute", "update", "find", "scale", "count", "merge", "check", "build", "sum", "clamp",
    "score", "measure",
];
const FUNCTION_NOUNS: [&str; 12] = [
    "total", "values", "limit", "average", "offset", "steps", "weights", "range", "delta",
    "balance", "index", "window",
];
const VARIABLES: [&str; 16] = [
    "total", "count", "value", "result", "delta", "offset", "limit", "score", "width", "height",
    "step", "acc", "size", "left", "right", "best",
];
const LIST_VARIABLES: [&str; 4] = ["items", "values", "seen", "queue"];
const LOOP_VARIABLES: [&str; 5] = ["i", "j", "k", "n", "item"];
const WHILE_COUNTERS: [&str; 3] = ["remaining", "budget", "tries"];
const COMPARISONS: [&str; 6] = ["<", "<=", ">", ">=", "==", "!="];
const OPERATORS: [&str; 3] = ["+", "-", "*"];
const AUGMENTED: [&str; 3] = ["+=", "-=", "*="];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of documents, 1..=`MAX_COUNT`. Default 1000.
    pub count: usize,
    /// Deepest nesting of blocks, 1..=`MAX_DEPTH` (1: function bodies hold no compound statements).
    /// Default 3.
    pub max_depth: usize,
    /// Most statements in a block (before a function's `return`), 1..=`MAX_STATEMENTS`. Default 4.
    pub max_statements: usize,
    /// Most functions in a document, 1..=`MAX_FUNCTIONS`. Default 3.
    pub max_functions: usize,
    /// Most lines in a document, `MIN_LINES..=MAX_LINES`. Default 40.
    pub max_lines: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            count: 1000,
            max_depth: 3,
            max_statements: 4,
            max_functions: 3,
            max_lines: 40,
        }
    }
}

impl Config {
    /// Checks every parameter; the error names the parameter and its allowed range.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            ("count", self.count, 1, MAX_COUNT),
            ("max_depth", self.max_depth, 1, MAX_DEPTH),
            ("max_statements", self.max_statements, 1, MAX_STATEMENTS),
            ("max_functions", self.max_functions, 1, MAX_FUNCTIONS),
            ("max_lines", self.max_lines, MIN_LINES, MAX_LINES),
        ];
        for (parameter, value, low, high) in checks {
            if !(low..=high).contains(&value) {
                return Err(format!(
                    "{parameter} = {value} is out of range; allowed: {low}..={high}"
                ));
            }
        }
        Ok(())
    }
}

/// A function defined earlier in the document, callable from later ones.
struct Signature {
    name: String,
    arity: usize,
}

/// Builds one document line by line.
struct Writer<'a> {
    config: &'a Config,
    rng: &'a mut Rng,
    lines: Vec<String>,
    /// Lines still available to the document.
    budget: usize,
    /// Functions defined so far.
    functions: Vec<Signature>,
    /// Integer names bound in the enclosing scopes, innermost last.
    scope: Vec<String>,
    /// List names bound in the enclosing scopes.
    lists: Vec<String>,
}

impl Writer<'_> {
    fn emit(&mut self, depth: usize, line: String) {
        debug_assert!(self.budget > 0, "the line budget was overrun");
        self.budget -= 1;
        self.lines.push(format!("{}{line}", "    ".repeat(depth)));
    }

    fn literal(&mut self) -> String {
        self.rng.range_inclusive(0, 12).to_string()
    }

    /// A readable integer: a bound name or a small literal.
    fn atom(&mut self) -> String {
        if !self.scope.is_empty() && self.rng.chance(3, 4) {
            self.rng.choose(&self.scope).clone()
        } else {
            self.literal()
        }
    }

    /// An integer expression of at most `depth` levels of operators.
    fn expression(&mut self, depth: usize) -> String {
        match self.rng.below(10) {
            0..=3 if depth > 0 => {
                let left = self.expression(depth - 1);
                let right = self.expression(depth - 1);
                let operator = *self.rng.choose(&OPERATORS);
                if self.rng.chance(1, 3) {
                    format!("({left} {operator} {right})")
                } else {
                    format!("{left} {operator} {right}")
                }
            }
            4 if depth > 0 => {
                let left = self.atom();
                let operator = if self.rng.chance(1, 2) { "//" } else { "%" };
                let divisor = self.rng.range_inclusive(2, 9);
                format!("{left} {operator} {divisor}")
            }
            5 if !self.functions.is_empty() => {
                let function = self.rng.index(self.functions.len());
                let arity = self.functions[function].arity;
                let arguments: Vec<String> = (0..arity).map(|_| self.atom()).collect();
                format!(
                    "{}({})",
                    self.functions[function].name,
                    arguments.join(", ")
                )
            }
            6 => {
                let (first, second) = (self.atom(), self.atom());
                let builtin = *self.rng.choose(&["min", "max"]);
                format!("{builtin}({first}, {second})")
            }
            7 if !self.lists.is_empty() => format!("len({})", self.rng.choose(&self.lists)),
            8 => format!("abs({})", self.atom()),
            _ => self.atom(),
        }
    }

    fn condition(&mut self) -> String {
        let comparison = |writer: &mut Self| {
            let left = writer.atom();
            let right = writer.expression(1);
            let operator = *writer.rng.choose(&COMPARISONS);
            format!("{left} {operator} {right}")
        };
        match self.rng.below(6) {
            0 => {
                let (first, second) = (comparison(self), comparison(self));
                let joiner = if self.rng.chance(1, 2) { "and" } else { "or" };
                format!("{first} {joiner} {second}")
            }
            1 => format!("{} % 2 == 0", self.atom()),
            2 => format!("not {}", comparison(self)),
            _ => comparison(self),
        }
    }

    /// Binds a new or existing integer name to an expression.
    fn assignment(&mut self, depth: usize) {
        let expression = self.expression(2);
        let name = self.rng.choose(&VARIABLES).to_string();
        self.emit(depth, format!("{name} = {expression}"));
        if !self.scope.contains(&name) {
            self.scope.push(name);
        }
    }

    /// Bound names a statement may change: all but `while` counters, which only their loop's final
    /// decrement changes, so every loop terminates.
    fn assignable(&self) -> Vec<String> {
        self.scope
            .iter()
            .filter(|name| !WHILE_COUNTERS.contains(&name.as_str()))
            .cloned()
            .collect()
    }

    /// One simple statement (one line).
    fn simple_statement(&mut self, depth: usize) {
        match self.rng.below(10) {
            0..=3 => self.assignment(depth),
            4..=5 if !self.assignable().is_empty() => {
                let targets = self.assignable();
                let name = self.rng.choose(&targets).clone();
                let operator = *self.rng.choose(&AUGMENTED);
                let expression = self.expression(1);
                self.emit(depth, format!("{name} {operator} {expression}"));
            }
            6 if !self.lists.is_empty() => {
                let list = self.rng.choose(&self.lists).clone();
                let value = self.expression(1);
                self.emit(depth, format!("{list}.append({value})"));
            }
            7 => {
                let list = self.rng.choose(&LIST_VARIABLES).to_string();
                let elements: Vec<String> = (0..self.rng.range_inclusive(0, 3))
                    .map(|_| self.atom())
                    .collect();
                self.emit(depth, format!("{list} = [{}]", elements.join(", ")));
                if !self.lists.contains(&list) {
                    self.lists.push(list);
                }
            }
            8 => {
                let value = self.expression(1);
                self.emit(depth, format!("print({value})"));
            }
            _ => self.assignment(depth),
        }
    }

    /// A block of statements at `depth`, using at most `budget` lines (at least 1).
    /// Returns after forgetting the names the block bound.
    fn block(&mut self, depth: usize, budget: usize) {
        let (scope_len, lists_len) = (self.scope.len(), self.lists.len());
        let statements =
            self.rng
                .range_inclusive(1, self.config.max_statements as u64) as usize;
        let start_budget = self.budget;
        for statement in 0..statements {
            let used = start_budget - self.budget;
            let left = budget - used;
            if left == 0 {
                break;
            }
            // A compound statement needs a header, at least one body line, and for `while` a
            // counter line and the decrement: 4 lines covers every kind.
            let compound = depth < self.config.max_depth && left >= 4 && self.rng.chance(1, 3);
            if compound {
                self.compound_statement(depth, left);
            } else if statement == 0 || self.rng.chance(4, 5) {
                self.simple_statement(depth);
            }
        }
        self.scope.truncate(scope_len);
        self.lists.truncate(lists_len);
    }

    /// An `if`, `for` or `while` at `depth`, using at most `budget` lines (at least 4).
    fn compound_statement(&mut self, depth: usize, budget: usize) {
        let start_budget = self.budget;
        let body_budget =
            |writer: &Self, reserve: usize| budget - (start_budget - writer.budget) - reserve;
        // A nested `while` needs a counter that no enclosing `while` uses; without one, it becomes an `if`.
        let free_counters: Vec<&str> = WHILE_COUNTERS
            .into_iter()
            .filter(|counter| !self.scope.iter().any(|name| name == counter))
            .collect();
        let kind = match self.rng.below(3) {
            2 if free_counters.is_empty() => 0,
            kind => kind,
        };
        match kind {
            0 => {
                let condition = self.condition();
                self.emit(depth, format!("if {condition}:"));
                // Keep room for a possible `else:` and its one-line body.
                let room = body_budget(self, 0);
                let reserve = if room >= 3 { 2 } else { 0 };
                self.block(depth + 1, body_budget(self, reserve).min(room));
                if body_budget(self, 0) >= 3 && self.rng.chance(1, 3) {
                    let condition = self.condition();
                    self.emit(depth, format!("elif {condition}:"));
                    let room = body_budget(self, 2);
                    self.block(depth + 1, room.max(1));
                }
                if body_budget(self, 0) >= 2 && self.rng.chance(1, 2) {
                    self.emit(depth, "else:".to_string());
                    let room = body_budget(self, 0);
                    self.block(depth + 1, room);
                }
            }
            1 => {
                let variable = self.rng.choose(&LOOP_VARIABLES).to_string();
                let iterable = if !self.lists.is_empty() && self.rng.chance(1, 3) {
                    self.rng.choose(&self.lists).clone()
                } else {
                    match self.rng.below(3) {
                        0 => format!("range({})", self.atom()),
                        1 => format!("range({}, {})", self.literal(), self.expression(1)),
                        _ => format!("range(len({}))", self.list_or_literal()),
                    }
                };
                self.emit(depth, format!("for {variable} in {iterable}:"));
                let shadowed = self.scope.contains(&variable);
                if !shadowed {
                    self.scope.push(variable.clone());
                }
                let room = body_budget(self, 0);
                self.block(depth + 1, room);
                if !shadowed {
                    self.scope.retain(|name| *name != variable);
                }
            }
            _ => {
                let counter = self.rng.choose(&free_counters).to_string();
                let start = self.rng.range_inclusive(1, 10);
                self.emit(depth, format!("{counter} = {start}"));
                self.emit(depth, format!("while {counter} > 0:"));
                self.scope.push(counter.clone());
                // The body ends with the decrement, so it always terminates.
                let room = body_budget(self, 1);
                self.block(depth + 1, room);
                self.emit(depth + 1, format!("{counter} -= 1"));
                self.scope.retain(|name| *name != counter);
            }
        }
    }

    /// The name of a bound list, or a list literal, for `len(...)`.
    fn list_or_literal(&mut self) -> String {
        if !self.lists.is_empty() && self.rng.chance(1, 2) {
            self.rng.choose(&self.lists).clone()
        } else {
            let elements: Vec<String> = (0..self.rng.range_inclusive(1, 4))
                .map(|_| self.literal())
                .collect();
            format!("[{}]", elements.join(", "))
        }
    }

    fn function_name(&mut self) -> String {
        loop {
            let name = format!(
                "{}_{}",
                self.rng.choose(&FUNCTION_VERBS),
                self.rng.choose(&FUNCTION_NOUNS)
            );
            if !self.functions.iter().any(|function| function.name == name) {
                return name;
            }
        }
    }

    /// A function definition using at most `budget` lines (at least 2: header and return).
    fn function(&mut self, budget: usize) {
        let name = self.function_name();
        let arity = self.rng.range_inclusive(0, 3) as usize;
        let mut parameters: Vec<String> = Vec::new();
        while parameters.len() < arity {
            let parameter = self.rng.choose(&VARIABLES).to_string();
            if !parameters.contains(&parameter) {
                parameters.push(parameter);
            }
        }
        self.emit(0, format!("def {name}({}):", parameters.join(", ")));
        self.scope = parameters;
        self.lists.clear();
        // Every name bound directly in the body stays bound for the return.
        let body_budget = budget - 2;
        if body_budget > 0 {
            let (start_budget, statements) = (
                self.budget,
                self.rng
                    .range_inclusive(1, self.config.max_statements as u64),
            );
            for _ in 0..statements {
                let left = body_budget - (start_budget - self.budget);
                if left == 0 {
                    break;
                }
                if self.config.max_depth > 1 && left >= 4 && self.rng.chance(1, 3) {
                    self.compound_statement(1, left);
                } else {
                    self.simple_statement(1);
                }
            }
        }
        let value = self.expression(2);
        self.emit(1, format!("return {value}"));
        self.scope.clear();
        self.lists.clear();
        self.functions.push(Signature { name, arity });
    }
}

/// One document.
fn document(config: &Config, rng: &mut Rng) -> String {
    let mut writer = Writer {
        config,
        rng,
        lines: Vec::new(),
        budget: config.max_lines,
        functions: Vec::new(),
        scope: Vec::new(),
        lists: Vec::new(),
    };
    // Each function takes at least 3 lines (header, return, and the blank line or final print after
    // it), so the budget caps how many fit.
    let most_functions = config.max_functions.min(config.max_lines / 3);
    let functions = writer.rng.range_inclusive(1, most_functions as u64) as usize;
    for idx in 0..functions {
        if idx > 0 {
            writer.lines.push(String::new());
            writer.budget -= 1;
        }
        // Keep the final print line and 3 lines for each later function; share the rest evenly, so
        // the first function cannot starve the others.
        let later = functions - idx - 1;
        let available = writer.budget - 1 - 3 * later;
        let budget = if later == 0 {
            available
        } else {
            (available / (later + 1)).max(2)
        };
        writer.function(budget);
    }
    let last = writer
        .functions
        .last()
        .expect("a document has at least one function");
    let (name, arity) = (last.name.clone(), last.arity);
    let arguments: Vec<String> = (0..arity).map(|_| writer.literal()).collect();
    writer.emit(0, format!("print({name}({}))", arguments.join(", ")));
    writer.lines.join("\n") + "\n"
}

/// `config.count` programs, each one document.
pub fn generate(config: &Config, seed: u64) -> Result<Vec<Example>, String> {
    config.validate()?;
    let mut rng = Rng::new(seed);
    Ok((0..config.count)
        .map(|_| Example::document(document(config, &mut rng)))
        .collect())
}

#[cfg(test)]
mod tests;
