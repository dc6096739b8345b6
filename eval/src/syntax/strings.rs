//! String literals as CppNix's lexer and parser build them.
//!
//! A `"…"` string has its escapes decoded, and a CR LF or lone CR in it
//! reads as LF. An indented string `''…''` is cut by CppNix's lexer into
//! tokens: each escape (`''$`, `'''`, `''\x`) and each `$` or `'` that
//! starts no escape or interpolation is a token of its own. Their common
//! indentation is stripped token by token, and the tokens stay separate
//! parts of the result, which `--parse` shows: `''a''$b''` is
//! `("a" + "$" + "b")`. CRs in indented strings are kept.
//!
//! rnix gives one content token between interpolations; it is cut again
//! here as CppNix's lexer would.

use rnix::SyntaxKind;
use rnix::ast::{self, InterpolPart};
use rowan::NodeOrToken;
use rowan::ast::AstNode;

/// A part of a string: decoded text or an interpolated expression. A
/// string is a plain string exactly when it has no part or a single
/// literal part; otherwise CppNix concatenates its parts.
pub(crate) type Part = InterpolPart<String>;

/// The parts of a string literal.
pub(crate) fn parts(s: &ast::Str) -> Vec<Part> {
    let indented = is_indented(s);
    let children = s.syntax().children_with_tokens().skip(1);
    let mut tokens = Vec::new();
    let mut first = true;
    for child in children {
        match child {
            NodeOrToken::Token(t) if t.kind() == SyntaxKind::TOKEN_STRING_CONTENT => {
                if indented {
                    let mut text = t.text();
                    if first {
                        // The opening `''` takes the spaces and newline
                        // that end its line.
                        text = skip_first_line(text);
                    }
                    lex_indented(text, &mut tokens);
                } else {
                    tokens.push(Token::Text {
                        text: unescape(t.text(), true),
                        indented: false,
                    });
                }
            }
            NodeOrToken::Node(n) => {
                if let Some(i) = ast::Interpol::cast(n) {
                    tokens.push(Token::Interpolation(i));
                }
            }
            NodeOrToken::Token(_) => {}
        }
        first = false;
    }
    if indented {
        strip_indentation(tokens)
    } else {
        tokens.into_iter().map(Token::into_part).collect()
    }
}

/// The text of the first token of a string literal that holds a NUL,
/// which CppNix's lexer refuses, and where the token starts: the decoded
/// text of a `"…"` string's token, the raw text of an indented string's.
pub(crate) fn nul_token(s: &ast::Str) -> Option<(String, rowan::TextSize)> {
    let indented = is_indented(s);
    let children = s.syntax().children_with_tokens().skip(1);
    let mut first = true;
    for child in children {
        let NodeOrToken::Token(t) = child else {
            first = false;
            continue;
        };
        if t.kind() != SyntaxKind::TOKEN_STRING_CONTENT || !t.text().contains('\0') {
            first = false;
            continue;
        }
        let text = t.text();
        let body = if indented && first {
            skip_first_line(text)
        } else {
            text
        };
        let start = t.text_range().start() + rowan::TextSize::of(&text[..text.len() - body.len()]);
        if !indented {
            return Some((unescape(body, true), start));
        }
        let mut tokens = Vec::new();
        lex_indented(body, &mut tokens);
        return tokens.into_iter().find_map(|t| match t {
            Token::Text { text, .. } if text.contains('\0') => Some((text, start)),
            _ => None,
        });
    }
    None
}

/// The value of a string that CppNix's parser makes a plain string: one
/// without interpolations, or an indented string whose only part is a
/// plain string interpolated (`''${"a"}''` is `"a"`). CppNix treats such
/// attribute names (`"a"`, `${"a"}`) as static.
pub(crate) fn literal(s: &ast::Str) -> Option<String> {
    let mut s = s.clone();
    loop {
        match parts(&s).as_slice() {
            [] => return Some(String::new()),
            [InterpolPart::Literal(text)] => return Some(text.clone()),
            [InterpolPart::Interpolation(i)] if is_indented(&s) => {
                match i.expr().map(super::attrs::strip_parens) {
                    Some(ast::Expr::Str(inner)) => s = inner,
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

fn is_indented(s: &ast::Str) -> bool {
    s.syntax().first_token().is_some_and(|t| t.text() == "''")
}

/// A token of CppNix's string lexer.
enum Token {
    Text {
        text: String,
        /// Plain text, whose leading spaces count as indentation; escapes
        /// end the indentation of their line.
        indented: bool,
    },
    Interpolation(ast::Interpol),
}

impl Token {
    fn into_part(self) -> Part {
        match self {
            Token::Text { text, .. } => InterpolPart::Literal(text),
            Token::Interpolation(i) => InterpolPart::Interpolation(i),
        }
    }
}

fn skip_first_line(text: &str) -> &str {
    let spaces = text.len() - text.trim_start_matches(' ').len();
    match text[spaces..].strip_prefix('\n') {
        Some(rest) => rest,
        None => text,
    }
}

/// Decodes `\n`, `\r`, `\t` and `\x` (which is `x`). In `"…"` strings
/// (`normalise_cr`), an unescaped CR LF or CR is read as LF.
fn unescape(text: &str, normalise_cr: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            },
            '\r' if normalise_cr => {
                out.push('\n');
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Cuts the text between interpolations of an indented string into
/// CppNix's tokens.
fn lex_indented(text: &str, tokens: &mut Vec<Token>) {
    let bytes = text.as_bytes();
    let mut run_start = 0;
    let mut i = 0;
    let flush = |tokens: &mut Vec<Token>, from: usize, to: usize| {
        if from < to {
            tokens.push(Token::Text {
                text: text[from..to].to_string(),
                indented: true,
            });
        }
    };
    let escaped = |text: &str| Token::Text {
        text: text.to_string(),
        indented: false,
    };
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'\'', Some(b'\''), Some(b'$')) => {
                flush(tokens, run_start, i);
                tokens.push(escaped("$"));
                i += 3;
            }
            (b'\'', Some(b'\''), Some(b'\'')) => {
                flush(tokens, run_start, i);
                tokens.push(escaped("''"));
                i += 3;
            }
            (b'\'', Some(b'\''), Some(b'\\')) => {
                flush(tokens, run_start, i);
                let rest = &text[i + 3..];
                let len = rest.chars().next().map_or(0, char::len_utf8);
                tokens.push(escaped(&unescape(&text[i + 2..i + 3 + len], false)));
                i += 3 + len;
            }
            // A `'` before `$` or at the end (before an interpolation),
            // and a `$` before `'` or at the end, are tokens of their own.
            (b'\'', None | Some(b'$'), _) => {
                flush(tokens, run_start, i);
                tokens.push(escaped("'"));
                i += 1;
            }
            (b'$', None | Some(b'\''), _) => {
                flush(tokens, run_start, i);
                tokens.push(escaped("$"));
                i += 1;
            }
            // `$x` is plain text, even `$$`.
            (b'$', Some(_), _) => {
                i += 2;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        run_start = i;
    }
    flush(tokens, run_start, bytes.len().max(run_start));
}

/// CppNix's `stripIndentation`: the smallest indentation of the lines
/// (lines of spaces only do not count, nor does a last line of spaces) is
/// removed from each line, empty text parts are dropped, and a last line
/// of spaces only is removed.
fn strip_indentation(tokens: Vec<Token>) -> Vec<Part> {
    let mut at_line_start = true;
    let mut min_indent = usize::MAX;
    let mut indent = 0;
    for token in &tokens {
        let Token::Text {
            text,
            indented: true,
        } = token
        else {
            if at_line_start {
                at_line_start = false;
                min_indent = min_indent.min(indent);
            }
            continue;
        };
        for b in text.bytes() {
            if at_line_start {
                match b {
                    b' ' => indent += 1,
                    b'\n' => indent = 0,
                    _ => {
                        at_line_start = false;
                        min_indent = min_indent.min(indent);
                    }
                }
            } else if b == b'\n' {
                at_line_start = true;
                indent = 0;
            }
        }
    }

    let mut parts = Vec::new();
    let mut at_line_start = true;
    let mut dropped = 0;
    let count = tokens.len();
    for (n, token) in tokens.into_iter().enumerate() {
        let text = match token {
            Token::Interpolation(i) => {
                at_line_start = false;
                dropped = 0;
                parts.push(InterpolPart::Interpolation(i));
                continue;
            }
            Token::Text { text, .. } => text,
        };
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if at_line_start {
                match c {
                    ' ' => {
                        if dropped >= min_indent {
                            out.push(c);
                        }
                        dropped += 1;
                    }
                    '\n' => {
                        dropped = 0;
                        out.push(c);
                    }
                    _ => {
                        at_line_start = false;
                        dropped = 0;
                        out.push(c);
                    }
                }
            } else {
                out.push(c);
                if c == '\n' {
                    at_line_start = true;
                }
            }
        }
        if n + 1 == count
            && let Some(nl) = out.rfind('\n')
            && out[nl + 1..].bytes().all(|b| b == b' ')
        {
            out.truncate(nl + 1);
        }
        if !out.is_empty() {
            parts.push(InterpolPart::Literal(out));
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The literal parts of the string the expression `text` is, with
    /// `${…}` for interpolations.
    fn shown_parts(text: &str) -> Vec<String> {
        let root = rnix::Root::parse(text).tree();
        let Some(ast::Expr::Str(s)) = root.expr() else {
            panic!("not a string: {text}");
        };
        parts(&s)
            .into_iter()
            .map(|p| match p {
                InterpolPart::Literal(t) => t,
                InterpolPart::Interpolation(_) => "${…}".into(),
            })
            .collect()
    }

    // The expected parts are those `nix-instantiate --parse` (CppNix 2.26)
    // shows, e.g. `printf "''a''\$b''" | nix-instantiate --parse -`.
    #[rstest]
    #[case::plain(r#""abc""#, &["abc"])]
    #[case::escapes(r#""a\nb\t\r\"\\\$${x}""#, &["a\nb\t\r\"\\$", "${…}"])]
    #[case::dollar_dollar(r#""$${a}""#, &["$${a}"])]
    #[case::crlf("\"a\r\nb\rc\"", &["a\nb\nc"])]
    #[case::escaped_cr("\"a\\\r\"", &["a\r"])]
    #[case::empty(r#""""#, &[])]
    #[case::ind_escapes("''a''$b'''c''\\nd${e}''", &["a", "$", "b", "''", "c", "\n", "d", "${…}"])]
    #[case::ind_strip("''\n  a\n   b\n  ''", &["a\n b\n"])]
    #[case::ind_spaces_around("'' ${a} ''", &["${…}", " "])]
    #[case::ind_empty("''''", &[])]
    #[case::ind_blank_last_line("''\n  ''", &[])]
    #[case::ind_trailing_dollar("''a$''", &["a", "$"])]
    #[case::ind_quote("''a'b''", &["a'b"])]
    #[case::ind_escape_starts_line("''\n  a\n ''\\ b\n  c''", &[" a\n", " ", "b\n c"])]
    #[case::ind_escaped_newline_restarts_line("''  a''\\n  b''", &["a", "\n", "b"])]
    #[case::ind_cr_kept("''\r\n  a\r\n''", &["\r\n  a\r\n"])]
    #[case::ind_quote_before_interpolation("''a'${b}''", &["a", "'", "${…}"])]
    fn string_parts(#[case] text: &str, #[case] expected: &[&str]) {
        assert_eq!(shown_parts(text), expected);
    }
}
