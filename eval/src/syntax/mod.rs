//! Nix source as CppNix's parser reads it, on top of rnix's syntax tree.
//!
//! rnix keeps the surface syntax and is lenient; CppNix's parser (a bison
//! grammar) desugars while it parses and rejects more. This module is
//! where tvix follows CppNix's reading:
//! - `parse` runs rnix, words its first syntax error as bison does
//!   (`errors.rs`) and makes the checks CppNix's parser makes, in its
//!   order (`checks.rs`): repeated attributes and formals, dynamic
//!   attributes where they are not allowed, the pipe operators' feature
//!   flag, and the "cursed `or`" warnings;
//! - `attrs.rs` merges the bindings of a set or `let` as CppNix does;
//! - `strings.rs` splits string literals into the parts CppNix makes;
//! - `print.rs` shows an expression as `nix-instantiate --parse` does.
//!
//! Nothing here evaluates, and nothing recurses on the native stack over
//! the depth of the syntax tree except the merging of nested attribute
//! sets (bounded by the nesting of sets and attribute paths).

pub(crate) mod attrs;
mod checks;
mod errors;
pub(crate) mod print;
pub(crate) mod strings;

use std::borrow::Cow;

use rnix::SyntaxKind;

use crate::errors::{Diagnostic, Error};
use crate::source::{FileId, Span};

/// A source file being parsed: what positions and messages refer to.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    pub file: FileId,
    /// The name positions show (`«stdin»`, a path).
    pub name: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn span(&self, range: rowan::TextRange) -> Span {
        Span::new(self.file, range)
    }

    pub fn span_at(&self, offset: u32) -> Span {
        Span {
            file: self.file,
            start: offset,
            end: offset,
        }
    }

    /// `name:line:column` of a byte offset, as CppNix prints positions
    /// inside messages. A CR not followed by LF ends a line too.
    pub fn position(&self, offset: u32) -> String {
        let (line, column) = line_column(self.text, offset as usize);
        format!("{}:{line}:{column}", self.name)
    }
}

/// The 1-based line and byte column of `offset`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    let mut line = 1;
    let mut line_start = 0;
    for (i, &b) in before.iter().enumerate() {
        let ends_line = b == b'\n' || (b == b'\r' && before.get(i + 1) != Some(&b'\n'));
        if ends_line {
            line += 1;
            line_start = i + 1;
        }
    }
    (line, before.len() - line_start + 1)
}

/// What parsing depends on besides the text.
pub(crate) struct Options<'a> {
    /// The experimental feature `pipe-operators` (`|>`, `<|`) is enabled.
    pub pipe_operators: bool,
    /// Receives the parser's warnings.
    pub report: &'a dyn Fn(Diagnostic),
}

/// Parses `src` as CppNix would: its syntax errors, worded as CppNix words
/// them, and the errors and warnings of CppNix's parse-time checks.
pub(crate) fn parse(src: &Source, options: &Options) -> Result<rnix::Root, Error> {
    let text = end_comments_at_cr(src.text);
    let parsed = rnix::Root::parse(&text);
    let root = parsed.tree();
    if let Some(err) = parsed.errors().first() {
        let err = errors::syntax_error(err, &root, src);
        let limit = err.span.map_or(0, |s| s.start);
        checks::check(&root, src, options, Some(limit.into()))?;
        return Err(err);
    }
    checks::check(&root, src, options, None)?;
    Ok(root)
}

/// Parses text that `parse` accepted before, for printing.
pub(crate) fn reparse(text: &str) -> rnix::Root {
    rnix::Root::parse(&end_comments_at_cr(text)).tree()
}

/// CppNix ends a `#` comment at a CR as well as at an LF; rnix only at an
/// LF. Such CRs are made LFs, which leaves every offset as it was. Each
/// fix changes how the rest of the text is tokenised, so the text is
/// tokenised again after it; text without a CR is returned at once.
fn end_comments_at_cr(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    let mut text = text.to_string();
    loop {
        let mut offset = 0;
        let mut fix = None;
        for (kind, token) in rnix::tokenize(&text) {
            if kind == SyntaxKind::TOKEN_COMMENT && token.starts_with('#') {
                fix = token
                    .match_indices('\r')
                    .map(|(i, _)| offset + i)
                    .find(|&at| text.as_bytes().get(at + 1) != Some(&b'\n'));
                if fix.is_some() {
                    break;
                }
            }
            offset += token.len();
        }
        match fix {
            Some(at) => text.replace_range(at..at + 1, "\n"),
            None => return Cow::Owned(text),
        }
    }
}

#[cfg(test)]
mod tests;
