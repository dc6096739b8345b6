//! Source files known to an evaluation, and positions inside them.
//!
//! Every opcode carries a `Span` so that errors can point at the code that
//! caused them; the `SourceMap` turns spans back into `file:line:col` and a
//! snippet.

use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId(u32);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub file: FileId,
    pub start: u32,
    pub end: u32,
}

/// Where an attribute was defined: the start of a span, in 8 bytes, so
/// that every entry of a set can carry one (`unsafeGetAttrPos`, `--xml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    file: u32,
    offset: u32,
}

impl Pos {
    /// No known position (sets built by builtins).
    pub const NONE: Pos = Pos {
        file: u32::MAX,
        offset: 0,
    };

    pub fn span(self) -> Option<Span> {
        (self != Pos::NONE).then_some(Span {
            file: FileId(self.file),
            start: self.offset,
            end: self.offset,
        })
    }
}

impl From<Span> for Pos {
    fn from(span: Span) -> Self {
        Pos {
            file: span.file.0,
            offset: span.start,
        }
    }
}

impl From<Option<Span>> for Pos {
    fn from(span: Option<Span>) -> Self {
        span.map_or(Pos::NONE, Pos::from)
    }
}

struct SourceFile {
    /// The name shown in messages: a path, or `«string»` for `-E`.
    name: String,
    text: Rc<str>,
}

/// All source files of an evaluation; shared by the compiler and the VM.
#[derive(Clone, Default)]
pub struct SourceMap {
    files: Rc<RefCell<Vec<SourceFile>>>,
}

/// A resolved position, 1-based like CppNix's.
#[derive(Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl SourceMap {
    pub fn add(&self, name: impl Into<String>, text: impl Into<Rc<str>>) -> FileId {
        let mut files = self.files.borrow_mut();
        files.push(SourceFile {
            name: name.into(),
            text: text.into(),
        });
        FileId(u32::try_from(files.len() - 1).unwrap_or(u32::MAX))
    }

    pub fn text(&self, file: FileId) -> Rc<str> {
        self.files
            .borrow()
            .get(file.0 as usize)
            .map(|f| f.text.clone())
            .unwrap_or_else(|| "".into())
    }

    pub fn name(&self, file: FileId) -> String {
        self.files
            .borrow()
            .get(file.0 as usize)
            .map(|f| f.name.clone())
            .unwrap_or_default()
    }

    pub fn location(&self, span: Span) -> Location {
        let text = self.text(span.file);
        let offset = (span.start as usize).min(text.len());
        let before = text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        Location {
            file: self.name(span.file),
            line,
            column,
        }
    }

    /// `at FILE:LINE:COL:` followed by the line with a caret, indented like
    /// CppNix's error output.
    pub fn snippet(&self, span: Span) -> String {
        let loc = self.location(span);
        let text = self.text(span.file);
        let mut out = format!("at {}:{}:{}:\n", loc.file, loc.line, loc.column);
        if let Some(line) = text.lines().nth(loc.line - 1) {
            let number = loc.line.to_string();
            out.push_str(&format!(
                "{:>w$}| {}\n",
                number,
                line,
                w = number.len() + 12
            ));
            out.push_str(&format!(
                "{:>w$}| {}^\n",
                "",
                " ".repeat(loc.column - 1),
                w = number.len() + 12
            ));
        }
        out
    }
}

impl Span {
    pub fn new(file: FileId, range: rowan::TextRange) -> Self {
        Span {
            file,
            start: range.start().into(),
            end: range.end().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::start(0, 1, 1)]
    #[case::same_line(2, 1, 3)]
    #[case::second_line(4, 2, 1)]
    #[case::after_second_newline(7, 3, 1)]
    fn locations(#[case] offset: u32, #[case] line: usize, #[case] column: usize) {
        let map = SourceMap::default();
        let file = map.add("f.nix", "abc\nde\nf");
        let loc = map.location(Span {
            file,
            start: offset,
            end: offset,
        });
        assert_eq!(
            loc,
            Location {
                file: "f.nix".into(),
                line,
                column
            }
        );
    }
}
