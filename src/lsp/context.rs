//! Where in the language a position is, from the text alone: completion must work while the
//! file does not parse (it rarely does halfway through a word), so this reads tokens up to the
//! position and keeps a stack of the brackets still open.
//!
//! Each `{` is classified by what precedes it: `train NAME {` opens the block of a definition,
//! `NAME {` after `=`, `:`, `[`, `,` or `(` the parameters of a component, `key: {` a record,
//! and a `{` in a `sweep` or `template` line a body of definitions. Inside a block, a position
//! right after `key:` (or inside `key: [..]`) is a value of that key; one at the start of a
//! line, or after `{` or `,`, is a key.

/// A token: its text and byte range.
#[derive(Debug, Clone, PartialEq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
    /// The line it ends on (0-based).
    pub line: usize,
    pub kind: TokenKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Ident,
    Str,
    Number,
    Punct,
}

fn is_ident_start(character: char) -> bool {
    character.is_ascii_alphabetic() || character == '_'
}

fn is_ident_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || character == '_'
}

/// The tokens of `text`, comments skipped. An unterminated string or comment runs to the end.
pub fn tokens(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    let mut line = 0;
    let mut counted = 0;
    while at < bytes.len() {
        line += bytes[counted..at]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count();
        counted = at;
        let character = text[at..].chars().next().unwrap_or(' ');
        let start = at;
        if character.is_whitespace() {
            at += character.len_utf8();
            continue;
        }
        if text[at..].starts_with("//") {
            at = text[at..].find('\n').map_or(text.len(), |end| at + end);
            continue;
        }
        if text[at..].starts_with("/*") {
            at = text[at + 2..]
                .find("*/")
                .map_or(text.len(), |end| at + 2 + end + 2);
            continue;
        }
        let kind = if character == '"' {
            at += 1;
            while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                at += if bytes[at] == b'\\' { 2 } else { 1 };
            }
            at = (at + 1).min(bytes.len());
            TokenKind::Str
        } else if is_ident_start(character) {
            while at < bytes.len() && is_ident_char(bytes[at] as char) {
                at += 1;
            }
            TokenKind::Ident
        } else if character.is_ascii_digit() {
            while at < bytes.len()
                && (bytes[at].is_ascii_alphanumeric() || matches!(bytes[at], b'.' | b'_'))
            {
                at += 1;
            }
            TokenKind::Number
        } else {
            at += character.len_utf8();
            TokenKind::Punct
        };
        let end = at.min(text.len());
        line += bytes[counted..end]
            .iter()
            .filter(|byte| **byte == b'\n')
            .count();
        counted = end;
        out.push(Token {
            text: &text[start..end],
            start,
            end,
            line,
            kind,
        });
    }
    out
}

/// What a `{` opened.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The block of a definition: `train a {` (the keyword).
    Block(String),
    /// The parameters of a component: `adamw {`.
    Component(String),
    /// A record written as a key's value: `replay: {` (the key).
    Record(String),
    /// A body of definitions: a sweep's or a template's.
    Body,
    /// A `[` list, the value of a key when one precedes it.
    List(Option<String>),
    /// A `(`.
    Paren,
}

/// Where a position is.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// Where a key of this frame goes.
    Key(Frame),
    /// A value of `key` in this frame (inside `key: [..]` too).
    Value(Frame, String),
    /// The component of a definition: after `model NAME =` (the keyword).
    DefComponent(String),
    /// At the start of a top-level line, or of a line in a sweep's or template's body.
    Statement,
    /// After `import `.
    Import,
    Other,
}

/// The definition keywords.
pub const DEF_KEYWORDS: &[&str] = &[
    "dataset",
    "model",
    "tokenizer",
    "train",
    "merge",
    "evaluate",
    "report",
    "sequence",
    "export",
];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count()
}

/// Classifies the `{` at `tokens[at]`.
fn brace_frame(tokens: &[Token<'_>], at: usize) -> Frame {
    let before = |back: usize| at.checked_sub(back).map(|index| &tokens[index]);
    // A sweep or template line: its first token on the line of the `{` names it.
    let line = tokens[at].line;
    let mut start = at;
    while start > 0 && tokens[start - 1].line == line {
        start -= 1;
    }
    if matches!(tokens[start].text, "sweep" | "template") {
        return Frame::Body;
    }
    match (before(1), before(2)) {
        (Some(name), Some(keyword))
            if matches!(name.kind, TokenKind::Ident | TokenKind::Str)
                && DEF_KEYWORDS.contains(&keyword.text) =>
        {
            Frame::Block(keyword.text.to_string())
        }
        (Some(colon), Some(key)) if colon.text == ":" => Frame::Record(key.text.to_string()),
        (Some(name), _) if name.kind == TokenKind::Ident => Frame::Component(name.text.to_string()),
        (Some(close), _) if close.text == ")" => {
            // `average(a, b) {`: the component before the parenthesis.
            let mut depth = 0;
            for index in (0..at).rev() {
                match tokens[index].text {
                    ")" => depth += 1,
                    "(" => {
                        depth -= 1;
                        if depth == 0 {
                            return match index.checked_sub(1).map(|index| &tokens[index]) {
                                Some(name) if name.kind == TokenKind::Ident => {
                                    Frame::Component(name.text.to_string())
                                }
                                _ => Frame::Body,
                            };
                        }
                    }
                    _ => {}
                }
            }
            Frame::Body
        }
        _ => Frame::Body,
    }
}

/// The place of `offset` in `text`. A word being typed there (the identifier that ends at
/// `offset`) does not count.
pub fn place(text: &str, offset: usize) -> Place {
    let all = tokens(text);
    let tokens: Vec<Token<'_>> = all
        .into_iter()
        .filter(|token| {
            token.end < offset || (token.end == offset && token.kind != TokenKind::Ident)
        })
        .collect();
    let mut stack: Vec<(Frame, usize)> = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        match token.text {
            "{" => stack.push((brace_frame(&tokens, at), at)),
            "[" => {
                let key = (at >= 2 && tokens[at - 1].text == ":")
                    .then(|| tokens[at - 2].text.to_string());
                stack.push((Frame::List(key), at));
            }
            "(" => stack.push((Frame::Paren, at)),
            "}" | "]" | ")" => {
                stack.pop();
            }
            _ => {}
        }
    }
    // The innermost frame that is not a list or parenthesis holds the key of a list.
    let (frame, opened) = stack.last().cloned().unwrap_or((Frame::Body, usize::MAX));
    let since: &[Token<'_>] = if opened == usize::MAX {
        &tokens
    } else {
        &tokens[opened + 1..]
    };
    let cursor_line = line_of(text, offset);
    let last = since.last();
    let on_new_line = last.is_none_or(|token| token.line < cursor_line);
    match frame {
        Frame::List(key) => {
            let enclosing = stack
                .iter()
                .rev()
                .skip(1)
                .find(|(frame, _)| !matches!(frame, Frame::List(_) | Frame::Paren))
                .map_or(Frame::Body, |(frame, _)| frame.clone());
            match key {
                Some(key) => Place::Value(enclosing, key),
                None => Place::Other,
            }
        }
        Frame::Paren => Place::Other,
        Frame::Body => {
            let statement: Vec<&Token<'_>> = since
                .iter()
                .rev()
                .take_while(|token| token.line == cursor_line)
                .collect();
            match statement.as_slice() {
                [] => Place::Statement,
                [keyword] if keyword.text == "import" => Place::Import,
                [equals, _, keyword, ..]
                    if equals.text == "=" && DEF_KEYWORDS.contains(&keyword.text) =>
                {
                    Place::DefComponent(keyword.text.to_string())
                }
                _ if on_new_line => Place::Statement,
                _ => Place::Other,
            }
        }
        frame => match last {
            Some(colon) if colon.text == ":" => {
                let key = since
                    .len()
                    .checked_sub(2)
                    .map(|index| since[index].text.to_string())
                    .unwrap_or_default();
                Place::Value(frame, key)
            }
            None => Place::Key(frame),
            Some(token) if token.text == "," || on_new_line => Place::Key(frame),
            _ => Place::Other,
        },
    }
}

/// The identifier at `offset` (touching it on either side), with its byte range.
pub fn word_at(text: &str, offset: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let offset = offset.min(bytes.len());
    let mut start = offset;
    while start > 0 && is_ident_char(bytes[start - 1] as char) {
        start -= 1;
    }
    let mut end = offset;
    while end < bytes.len() && is_ident_char(bytes[end] as char) {
        end += 1;
    }
    (start < end && is_ident_start(bytes[start] as char)).then_some((start, end))
}

/// The first character after `offset` that is not a space or tab.
pub fn next_char(text: &str, offset: usize) -> Option<char> {
    text[offset.min(text.len())..]
        .chars()
        .find(|character| *character != ' ' && *character != '\t')
}

#[cfg(test)]
mod tests {
    use super::{place, Frame, Place};

    fn at(text: &str) -> Place {
        let offset = text.find('|').expect("a | marks the position");
        let text = text.replace('|', "");
        place(&text, offset)
    }

    #[test]
    fn positions_are_classified_while_the_text_does_not_parse() {
        assert_eq!(at("model net = m|"), Place::DefComponent("model".into()));
        assert_eq!(
            at("train a {\n  optimizer: ad|"),
            Place::Value(Frame::Block("train".into()), "optimizer".into())
        );
        assert_eq!(
            at("train a {\n  optimizer: adamw { l| }"),
            Place::Key(Frame::Component("adamw".into()))
        );
        assert_eq!(
            at("train a {\n  model: net\n  |"),
            Place::Key(Frame::Block("train".into()))
        );
        assert_eq!(
            at("train a {\n  eval: [accuracy, |"),
            Place::Value(Frame::Block("train".into()), "eval".into())
        );
        assert_eq!(
            at("model n = mlp { activation: | }"),
            Place::Value(Frame::Component("mlp".into()), "activation".into())
        );
        assert_eq!(at("import std.digits\n|"), Place::Statement);
        assert_eq!(at("import |"), Place::Import);
        assert_eq!(
            at("sweep lr in [1, 2] {\n  model m = |"),
            Place::DefComponent("model".into())
        );
        assert_eq!(
            at("merge soup = average(a, b) { w|"),
            Place::Key(Frame::Component("average".into()))
        );
        assert_eq!(
            at("// model x = \"{\"\nmodel y = |"),
            Place::DefComponent("model".into())
        );
    }
}
