//! `format`: prints a `.exp` file in its canonical layout (what `exp fmt` writes).
//!
//! The file is parsed first; a file with errors is not formatted and the parse diagnostics are
//! returned instead. The AST is then printed item by item, in the written order, and literals
//! (numbers, strings, the unit word of a duration) are copied from the source text through their
//! spans, so `3e-3` stays `3e-3`. GRAMMAR.md ("Formatting") states the layout in words.
//!
//! Comments are not in the AST. `scan_comments` finds them in the source (skipping string
//! literals) with their byte ranges, and the printer places them as it goes. The output is a
//! sequence of lines, each printed from a source range (a whole entry such as `lr: 3e-3`, or
//! the head of a broken block such as `optimizer: adamw {`). Before a line starts, every comment
//! not yet printed that starts before the line's range is printed on lines of its own
//! (a "leading" comment), and so is a `//` comment inside the range, which cannot stay inside
//! a line. After the line, block comments inside its range and comments that follow it on the
//! same source line go at its end, two spaces apart ("trailing"). Comments left before a
//! closing `}` or `]`, or at the end of the file, are printed on their own lines there.
//! A block or list with a comment inside its brackets is always broken onto several lines, so
//! that its comments have lines to sit on.
//!
//! Blank lines: exactly one between items, except between consecutive `import`, `plugin`,
//! `seed`, `let` or `use` lines of the same kind; none between fields. Around comments, one blank line is kept
//! where the author left at least one.
//!
//! As a safety net, `format` parses its own output and refuses (with an E0300 diagnostic that
//! calls itself a bug) when the AST, spans aside, or the set of comments would change.

use exp_diag::{Diagnostic, FileId};

use crate::ast::{Block, DefBody, Expr, ExprKind, File, Item};
use crate::{dump, parse};

/// The widest a line may be before a block or list on it is broken up.
const MAX_WIDTH: usize = 100;
const INDENT: usize = 2;

/// Formats a whole file; `Err` holds the parse diagnostics when the file does not parse.
pub fn format(text: &str) -> Result<String, Vec<Diagnostic>> {
    let (file, diagnostics) = parse(FileId(0), text);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(diagnostics);
    }
    let mut printer = Printer {
        src: text,
        comments: scan_comments(text),
        out: String::new(),
        last_end: 0,
    };
    printer.file(&file);
    let formatted = printer.out;
    verify(text, &file, &formatted)?;
    Ok(formatted)
}

/// Checks that `formatted` means what `original` means and keeps all its comments.
fn verify(original: &str, ast: &File, formatted: &str) -> Result<(), Vec<Diagnostic>> {
    let (reparsed, diagnostics) = parse(FileId(0), formatted);
    let same_ast = diagnostics.is_empty()
        && strip_spans(&dump(&reparsed)) == strip_spans(&dump(ast))
        && erase_spans(&reparsed) == erase_spans(ast);
    let comment_texts = |text: &str| {
        let mut texts: Vec<String> = scan_comments(text)
            .iter()
            .map(|comment| comment.text(text).to_string())
            .collect();
        texts.sort();
        texts
    };
    if same_ast && comment_texts(original) == comment_texts(formatted) {
        return Ok(());
    }
    Err(vec![Diagnostic::error(
        "E0300",
        "the formatter would change this file's meaning or lose a comment; this is a bug in exp",
    )
    .with_help(
        "the file was left as it is; please report this, with the file, to the exp issue tracker",
    )])
}

/// `dump` writes a byte range after each item; the layout changes those, nothing else.
fn strip_spans(dump: &str) -> String {
    dump.lines()
        .map(|line| match line.rfind(" @") {
            Some(at)
                if line[at + 2..]
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.') =>
            {
                &line[..at]
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The AST's `Debug` text without its spans: `dump` leaves out some detail (field spans aside,
/// every value's variant), so the ASTs are compared this way as well.
fn erase_spans(file: &File) -> String {
    let text = format!("{:?}", file.items);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("Span {") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let close = after.find('}').map_or(after.len(), |idx| idx + 1);
        rest = &after[close..];
    }
    out.push_str(rest);
    out
}

/// A comment found in the source: `//` to the end of the line, or `/* .. */`.
#[derive(Debug, Clone, Copy)]
struct Comment {
    start: usize,
    end: usize,
    done: bool,
}

impl Comment {
    fn is_line(&self, src: &str) -> bool {
        src[self.start..].starts_with("//")
    }

    /// The text as printed: a line comment loses trailing whitespace, a block comment is verbatim.
    fn text<'s>(&self, src: &'s str) -> &'s str {
        let text = &src[self.start..self.end];
        if self.is_line(src) {
            text.trim_end()
        } else {
            text
        }
    }
}

/// Every comment outside string literals, in source order. The file is known to parse, so every
/// string is closed on its line.
fn scan_comments(src: &str) -> Vec<Comment> {
    let bytes = src.as_bytes();
    let mut comments = Vec::new();
    let mut idx = 0;
    while idx < bytes.len() {
        match bytes[idx] {
            b'/' if bytes.get(idx + 1) == Some(&b'/') => {
                let end = src[idx..]
                    .find('\n')
                    .map_or(bytes.len(), |offset| idx + offset);
                comments.push(Comment {
                    start: idx,
                    end,
                    done: false,
                });
                idx = end;
            }
            b'/' if bytes.get(idx + 1) == Some(&b'*') => {
                let end = src[idx + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |offset| idx + 2 + offset + 2);
                comments.push(Comment {
                    start: idx,
                    end,
                    done: false,
                });
                idx = end;
            }
            b'"' => {
                idx += 1;
                while idx < bytes.len() && bytes[idx] != b'"' && bytes[idx] != b'\n' {
                    idx += if bytes[idx] == b'\\' { 2 } else { 1 };
                }
                idx += 1;
            }
            _ => idx += 1,
        }
    }
    comments
}

/// What may follow the head of a line and be broken over several lines.
#[derive(Clone, Copy)]
enum Tail<'a> {
    None,
    /// A parameter or structural block; `span` is the block's, `{` to `}`.
    Block(&'a Block),
    /// A list; the span is the list's, `[` to `]`.
    List(&'a [Expr], exp_diag::Span),
    /// The items of a sweep or a template; the span is the body's, `{` to `}`.
    Items(&'a [Item], exp_diag::Span),
}

/// One entry to print: a head (`lr: `, `model net = mlp `), maybe a breakable tail, a suffix
/// (`,` in a broken list) and the source range the whole entry came from.
struct Entry<'a> {
    head: String,
    tail: Tail<'a>,
    suffix: &'static str,
    start: usize,
    end: usize,
    /// Structural blocks are broken even when they would fit.
    always_break: bool,
}

impl Entry<'_> {
    /// The same entry, taking its source range from a whole item (`let x = ..`).
    fn spanning(mut self, span: exp_diag::Span) -> Self {
        self.start = span.start as usize;
        self.end = span.end as usize;
        self
    }
}

/// Where an entry sits, for the blank lines before it.
#[derive(Clone, Copy)]
struct Placement {
    indent: usize,
    /// The layout wants one blank line before the entry (between items).
    blank_before: bool,
    /// Right after `{`, `[` or at the start of the file, where no blank line goes.
    first: bool,
}

struct Printer<'s> {
    src: &'s str,
    comments: Vec<Comment>,
    out: String,
    /// The source offset of the last thing printed, to find blank lines around comments.
    last_end: usize,
}

impl<'s> Printer<'s> {
    fn file(&mut self, file: &File) {
        self.items(&file.items, 0);
        let end = self.src.len();
        self.leading(
            end,
            end,
            Placement {
                indent: 0,
                blank_before: false,
                first: file.items.is_empty(),
            },
        );
    }

    /// Items at one indentation, one blank line apart (see `same_header_kind`).
    fn items(&mut self, items: &[Item], indent: usize) {
        let mut previous: Option<&Item> = None;
        for item in items {
            let blank_before = previous.is_some_and(|previous| !same_header_kind(previous, item));
            let placement = Placement {
                indent,
                blank_before,
                first: previous.is_none(),
            };
            let entry = self.item_entry(item);
            self.entry(&entry, placement);
            previous = Some(item);
        }
    }

    /// The span of a body `{ items }` that ends its item: from the first `{` after `from`.
    fn body_span(&self, from: u32, item: exp_diag::Span) -> exp_diag::Span {
        let open = self.src[from as usize..item.end as usize]
            .find('{')
            .map_or(item.end as usize - 1, |offset| from as usize + offset);
        exp_diag::Span::new(item.file, open, item.end as usize)
    }

    fn item_entry<'a>(&self, item: &'a Item) -> Entry<'a> {
        // An item of one line, or a word and its `{ fields }` (`policy`, `resources`).
        let entry = |head: String, tail: Tail<'a>, span: exp_diag::Span| Entry {
            head,
            tail,
            suffix: "",
            start: span.start as usize,
            end: span.end as usize,
            always_break: false,
        };
        let simple = |head: String, span: exp_diag::Span| entry(head, Tail::None, span);
        match item {
            Item::Import(import) => simple(format!("import {}", import.dotted()), import.span),
            Item::Plugin(plugin) => simple(
                format!("plugin {}", self.slice(plugin.path_span)),
                plugin.span,
            ),
            Item::Seed(seed) => simple(format!("seed {}", self.slice(seed.value_span)), seed.span),
            Item::Policy(policy) => entry(
                "policy ".to_string(),
                Tail::Block(&policy.block),
                policy.span,
            ),
            Item::Resources(resources) => entry(
                "resources ".to_string(),
                Tail::Block(&resources.block),
                resources.span,
            ),
            Item::Let(binding) => self
                .value_entry(format!("let {} = ", binding.name.name), &binding.value, "")
                .spanning(binding.span),
            Item::Sweep(sweep) => Entry {
                head: format!("{} ", sweep.header(|value| self.flat_expr(value))),
                tail: Tail::Items(
                    &sweep.items,
                    self.body_span(sweep.header_span.end, sweep.span),
                ),
                suffix: "",
                start: sweep.span.start as usize,
                end: sweep.span.end as usize,
                always_break: true,
            },
            Item::Template(template) => {
                let params: Vec<&str> = template
                    .params
                    .iter()
                    .map(|param| param.name.as_str())
                    .collect();
                let after_params = self.src[template.name.span.end as usize..]
                    .find(')')
                    .map_or(template.name.span.end, |offset| {
                        template.name.span.end + offset as u32
                    });
                Entry {
                    head: format!("template {}({}) ", template.name.name, params.join(", ")),
                    tail: Tail::Items(&template.items, self.body_span(after_params, template.span)),
                    suffix: "",
                    start: template.span.start as usize,
                    end: template.span.end as usize,
                    always_break: true,
                }
            }
            Item::Use(use_) => {
                let args: Vec<String> = use_
                    .args
                    .iter()
                    .map(|arg| match &arg.key {
                        Some(key) => format!("{}: {}", key.name, self.flat_expr(&arg.value)),
                        None => self.flat_expr(&arg.value),
                    })
                    .collect();
                simple(
                    format!(
                        "use {} = {}({})",
                        use_.name.name,
                        use_.template.name,
                        args.join(", ")
                    ),
                    use_.span,
                )
            }
            Item::Def(def) => {
                let name = if def.quoted {
                    self.slice(def.name.span).to_string()
                } else {
                    def.name.name.clone()
                };
                let keyword_and_name = format!("{} {}", def.kind.keyword(), name);
                let (head, tail, always_break) = match &def.body {
                    DefBody::Component(component) => match &component.params {
                        Some(block) => (
                            format!("{keyword_and_name} = {} ", component.name.name),
                            Tail::Block(block),
                            false,
                        ),
                        None => (
                            format!("{keyword_and_name} = {}", component.name.name),
                            Tail::None,
                            false,
                        ),
                    },
                    DefBody::Call {
                        component: merger,
                        inputs,
                        params,
                        ..
                    } => {
                        let names: Vec<&str> =
                            inputs.iter().map(|input| input.name.as_str()).collect();
                        let call =
                            format!("{keyword_and_name} = {}({})", merger.name, names.join(", "));
                        match params {
                            Some(block) => (format!("{call} "), Tail::Block(block), false),
                            None => (call, Tail::None, false),
                        }
                    }
                    DefBody::Block(block) => {
                        (format!("{keyword_and_name} "), Tail::Block(block), true)
                    }
                };
                Entry {
                    head,
                    tail,
                    suffix: "",
                    start: def.span.start as usize,
                    end: def.span.end as usize,
                    always_break,
                }
            }
        }
    }

    /// The entry for a value after `prefix` (`lr: ` for a field, nothing for a list item).
    fn value_entry<'a>(&self, prefix: String, value: &'a Expr, suffix: &'static str) -> Entry<'a> {
        let (head, tail) = match &value.kind {
            ExprKind::Component(component) => match &component.params {
                Some(block) => (
                    format!("{prefix}{} ", component.name.name),
                    Tail::Block(block),
                ),
                None => (format!("{prefix}{}", component.name.name), Tail::None),
            },
            ExprKind::Record(block) => (prefix, Tail::Block(block)),
            ExprKind::List(items) => (prefix, Tail::List(items, value.span)),
            _ => (format!("{prefix}{}", self.flat_expr(value)), Tail::None),
        };
        Entry {
            head,
            tail,
            suffix,
            start: value.span.start as usize,
            end: value.span.end as usize,
            always_break: false,
        }
    }

    /// Prints one entry, on one line or broken, with the comments that belong to it.
    fn entry(&mut self, entry: &Entry<'_>, placement: Placement) {
        let end = self.token_end(entry.start, entry.end);
        let entry = &Entry {
            head: entry.head.clone(),
            end,
            ..*entry
        };
        let open = match entry.tail {
            Tail::None => None,
            Tail::Block(block) => Some((block.span, !block.fields.is_empty())),
            Tail::List(items, span) => Some((span, !items.is_empty())),
            Tail::Items(items, span) => Some((span, !items.is_empty())),
        };
        let broken = open.is_some_and(|(span, non_empty)| {
            let (start, end) = (span.start as usize, span.end as usize);
            (entry.always_break && non_empty)
                || self.has_comment_inside(start, end)
                || placement.indent
                    + entry.head.chars().count()
                    + self.flat_tail(entry.tail).chars().count()
                    + entry.suffix.len()
                    > MAX_WIDTH
        });
        let indent = " ".repeat(placement.indent);
        let Some((span, _)) = open.filter(|_| broken) else {
            self.leading(entry.start, entry.end, placement);
            let line = format!(
                "{indent}{}{}{}",
                entry.head,
                self.flat_tail(entry.tail),
                entry.suffix
            );
            self.out.push_str(&line);
            self.trailing(entry.start, entry.end);
            return;
        };
        let (open_at, close_at) = (span.start as usize, span.end as usize - 1);
        self.leading(entry.start, open_at + 1, placement);
        let bracket = if matches!(entry.tail, Tail::List(..)) {
            ('[', ']')
        } else {
            ('{', '}')
        };
        self.out
            .push_str(&format!("{indent}{}{}", entry.head, bracket.0));
        self.trailing(entry.start, open_at + 1);
        let inner = placement.indent + INDENT;
        if let Tail::Items(items, _) = entry.tail {
            self.items(items, inner);
        }
        let entries: Vec<Entry<'_>> = match entry.tail {
            Tail::Block(block) => block
                .fields
                .iter()
                .map(|field| {
                    let mut inner_entry =
                        self.value_entry(format!("{}: ", field.key.name), &field.value, "");
                    inner_entry.start = field.span.start as usize;
                    inner_entry
                })
                .collect(),
            Tail::List(items, _) => items
                .iter()
                .map(|item| self.value_entry(String::new(), item, ","))
                .collect(),
            Tail::None | Tail::Items(..) => Vec::new(),
        };
        for (idx, inner_entry) in entries.iter().enumerate() {
            self.entry(
                inner_entry,
                Placement {
                    indent: inner,
                    blank_before: false,
                    first: idx == 0,
                },
            );
        }
        self.leading(
            close_at,
            close_at,
            Placement {
                indent: inner,
                blank_before: false,
                first: entries.is_empty()
                    && !matches!(entry.tail, Tail::Items(items, _) if !items.is_empty()),
            },
        );
        self.out
            .push_str(&format!("{indent}{}{}", bracket.1, entry.suffix));
        self.trailing(close_at, entry.end.max(close_at + 1));
    }

    /// Prints, each on its own line, the comments before `start` and the `//` comments between
    /// `start` and `head_end` (they cannot stay inside the line), with the blank lines around
    /// them; then the blank line the entry wants, if any. Called with `start == head_end ==` a
    /// closing bracket or the end of the file, it prints the comments left over there.
    fn leading(&mut self, start: usize, head_end: usize, placement: Placement) {
        let indent = " ".repeat(placement.indent);
        let mut printed_any = false;
        for idx in 0..self.comments.len() {
            let comment = self.comments[idx];
            let takes = !comment.done
                && (comment.start < start
                    || (comment.start < head_end && comment.is_line(self.src)));
            if !takes {
                continue;
            }
            let blank = if printed_any {
                self.blank_between(self.last_end, comment.start)
            } else {
                placement.blank_before
                    || (!placement.first && self.blank_between(self.last_end, comment.start))
            };
            if blank {
                self.out.push('\n');
            }
            self.out.push_str(&indent);
            self.out.push_str(comment.text(self.src));
            self.out.push('\n');
            self.comments[idx].done = true;
            self.last_end = self.last_end.max(comment.end);
            printed_any = true;
        }
        let closing = start == head_end;
        let blank = if printed_any {
            !closing && self.blank_between(self.last_end, start)
        } else {
            placement.blank_before && !closing
        };
        if blank {
            self.out.push('\n');
        }
    }

    /// Ends the current line: the block comments inside `start..end`, then the comments that
    /// follow `end` on the same source line (separated by spaces, tabs or commas only).
    fn trailing(&mut self, start: usize, end: usize) {
        let mut taken = Vec::new();
        for (idx, comment) in self.comments.iter().enumerate() {
            if !comment.done && comment.start >= start && comment.start < end {
                // `leading` has already taken the `//` ones.
                taken.push(idx);
            }
        }
        let mut position = end;
        for (idx, comment) in self.comments.iter().enumerate() {
            if comment.done || comment.start < end {
                continue;
            }
            let gap = &self.src[position.min(comment.start)..comment.start];
            if !gap.chars().all(|c| matches!(c, ' ' | '\t' | ',')) {
                break;
            }
            taken.push(idx);
            position = comment.end;
            if comment.is_line(self.src) {
                break;
            }
        }
        for idx in taken {
            let comment = self.comments[idx];
            self.out.push_str("  ");
            self.out.push_str(comment.text(self.src));
            self.comments[idx].done = true;
            self.last_end = self.last_end.max(comment.end);
        }
        self.out.push('\n');
        self.last_end = self.last_end.max(end);
    }

    /// Where the last token before `end` ends. A span that ends in an optional part left out
    /// (`net` in `model: net`, a `merge` without a block) takes in the whitespace and comments
    /// pest skipped while looking for it.
    fn token_end(&self, start: usize, mut end: usize) -> usize {
        loop {
            let trimmed = start + self.src[start..end].trim_end().len();
            let inside_comment = self.comments.iter().find(|comment| {
                comment.start >= start && comment.start < trimmed && comment.end >= trimmed
            });
            match inside_comment {
                Some(comment) => end = comment.start,
                None => return trimmed,
            }
        }
    }

    fn has_comment_inside(&self, start: usize, end: usize) -> bool {
        self.comments
            .iter()
            .any(|comment| comment.start > start && comment.start < end)
    }

    /// Whether the source between two offsets holds an empty line.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        if from >= to {
            return false;
        }
        let mut newlines = 0;
        for c in self.src[from..to].chars() {
            match c {
                '\n' => {
                    newlines += 1;
                    if newlines == 2 {
                        return true;
                    }
                }
                ' ' | '\t' | '\r' => {}
                _ => newlines = 0,
            }
        }
        false
    }

    fn slice(&self, span: exp_diag::Span) -> &'s str {
        &self.src[span.range()]
    }

    fn flat_tail(&self, tail: Tail<'_>) -> String {
        match tail {
            Tail::None => String::new(),
            Tail::Block(block) => self.flat_block(block),
            Tail::List(items, _) => self.flat_list(items),
            Tail::Items([], _) => "{}".to_string(),
            // A body with items is always broken; this is only measured.
            Tail::Items(..) => "{ .. }".to_string(),
        }
    }

    fn flat_block(&self, block: &Block) -> String {
        if block.fields.is_empty() {
            return "{}".to_string();
        }
        let fields: Vec<String> = block
            .fields
            .iter()
            .map(|field| format!("{}: {}", field.key.name, self.flat_expr(&field.value)))
            .collect();
        format!("{{ {} }}", fields.join(", "))
    }

    fn flat_list(&self, items: &[Expr]) -> String {
        let items: Vec<String> = items.iter().map(|item| self.flat_expr(item)).collect();
        format!("[{}]", items.join(", "))
    }

    /// A value on one line, literals as written.
    fn flat_expr(&self, expr: &Expr) -> String {
        match &expr.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) | ExprKind::Str(_) => {
                self.slice(expr.span).to_string()
            }
            ExprKind::Duration(_) | ExprKind::Quantity(_) => duration_text(self.slice(expr.span)),
            ExprKind::List(items) => self.flat_list(items),
            ExprKind::Record(block) => self.flat_block(block),
            ExprKind::Component(component) => match &component.params {
                Some(block) => format!("{} {}", component.name.name, self.flat_block(block)),
                None => component.name.name.clone(),
            },
            ExprKind::Binary { op, lhs, rhs } => format!(
                "{} {} {}",
                self.flat_expr(lhs),
                op.symbol(),
                self.flat_expr(rhs)
            ),
            ExprKind::Neg(inner) => format!("-{}", self.flat_expr(inner)),
            ExprKind::Paren(inner) => format!("({})", self.flat_expr(inner)),
        }
    }
}

/// `10 steps`, `3 epochs`, `20%`: the number and the unit word as written, one space between
/// (none before `%`). The source text may hold whitespace or comments between the two.
fn duration_text(source: &str) -> String {
    let number_len = source
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')))
        .unwrap_or(source.len());
    let number = &source[..number_len];
    if source.ends_with('%') {
        return format!("{number}%");
    }
    let unit_start = source
        .rfind(|c: char| !c.is_ascii_alphabetic())
        .map_or(0, |idx| idx + 1);
    format!("{number} {}", &source[unit_start..])
}

fn same_header_kind(previous: &Item, item: &Item) -> bool {
    matches!(
        (previous, item),
        (Item::Import(_), Item::Import(_))
            | (Item::Plugin(_), Item::Plugin(_))
            | (Item::Seed(_), Item::Seed(_))
            | (Item::Let(_), Item::Let(_))
            | (Item::Use(_), Item::Use(_))
    )
}
