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

/// Where the bytes of a source file that are not UTF-8 are kept in its
/// text: byte `b` is the character `NON_UTF8_BASE + b`, in the last
/// private-use plane, which real code has no use for. The parser works on
/// text; string literals get their bytes back (`literal_bytes`), as CppNix,
/// which reads source as bytes, keeps them.
const NON_UTF8_BASE: u32 = 0x10_FF00;

/// The text of a source file, with the bytes that are not UTF-8 escaped
/// (see `NON_UTF8_BASE`).
pub fn decode_source(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let bytes = e.into_bytes();
            let mut out = String::with_capacity(bytes.len() + 16);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for b in chunk.invalid() {
                    out.extend(char::from_u32(NON_UTF8_BASE + u32::from(*b)));
                }
            }
            out
        }
    }
}

/// The bytes of a string literal's text: escaped bytes back as they were.
pub fn literal_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match u32::from(c).checked_sub(NON_UTF8_BASE) {
            Some(b) if b < 0x100 => out.push(b as u8),
            _ => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
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

    /// The line and column of `span`'s start. Lines end at `\n`, `\r\n`
    /// or a lone `\r`, as CppNix's lexer counts them.
    pub fn location(&self, span: Span) -> Location {
        let text = self.text(span.file);
        let offset = (span.start as usize).min(text.len());
        let (mut line, mut line_start) = (1, 0);
        for (start, _) in lines(&text) {
            if start > offset {
                break;
            }
            (line, line_start) = (line + usize::from(start > 0), start);
        }
        Location {
            file: self.name(span.file),
            line,
            column: offset - line_start + 1,
        }
    }

    /// CppNix's description of a position: `at FILE:LINE:COL:` and the
    /// code around it, the line before and after the one with a caret
    /// under the column, each numbered in five columns:
    ///
    /// ```text
    /// at f.nix:2:3:
    ///     1| let
    ///     2|   x = y;
    ///      |   ^
    ///     3| in x
    /// ```
    ///
    /// Trailing whitespace is the caller's to strip, as CppNix does.
    pub fn snippet(&self, span: Span) -> String {
        let loc = self.location(span);
        let text = self.text(span.file);
        let mut out = format!("at {}:{}:{}:", loc.file, loc.line, loc.column);
        let code = |n: usize| {
            lines(&text)
                .nth(n.wrapping_sub(1))
                .map(|(start, end)| text.get(start..end).unwrap_or(""))
        };
        if loc.line > 1
            && let Some(prev) = code(loc.line - 1)
        {
            out.push_str(&format!("\n {:>5}| {prev}", loc.line - 1));
        }
        if let Some(line) = code(loc.line) {
            out.push_str(&format!("\n {:>5}| {line}", loc.line));
            out.push_str(&format!("\n      |{}^", " ".repeat(loc.column)));
            if let Some(next) = code(loc.line + 1) {
                out.push_str(&format!("\n {:>5}| {next}", loc.line + 1));
            }
        }
        out.push('\n');
        out
    }
}

/// The (start, end) byte ranges of the lines of `text`, without their
/// terminators (`\n`, `\r\n` or `\r`); text after the last terminator,
/// even none, is a line too.
fn lines(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        let rest = bytes.get(from..).unwrap_or_default();
        match rest.iter().position(|b| matches!(b, b'\n' | b'\r')) {
            Some(i) => {
                let end = from + i;
                let crlf = bytes.get(end) == Some(&b'\r') && bytes.get(end + 1) == Some(&b'\n');
                start = Some(end + 1 + usize::from(crlf));
                Some((from, end))
            }
            None => {
                start = None;
                Some((from, bytes.len()))
            }
        }
    })
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
    #[case::lone_cr_ends_a_line(10, 4, 2)]
    #[case::crlf_is_one_line_end(13, 5, 1)]
    fn locations(#[case] offset: u32, #[case] line: usize, #[case] column: usize) {
        let map = SourceMap::default();
        let file = map.add("f.nix", "abc\nde\nf\rgh\r\nij");
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

    // The layouts of `nix-instantiate --eval -E` errors with CppNix 2.34
    // (see `.err.exp` of the lang suite), before the indentation that
    // `Error::render` adds.
    #[rstest]
    #[case::first_line_with_next(
        "x y\nz\n",
        2,
        "at f.nix:1:3:\n     1| x y\n      |   ^\n     2| z\n"
    )]
    #[case::middle_line(
        "a\nbc\nd",
        3,
        "at f.nix:2:2:\n     1| a\n     2| bc\n      |  ^\n     3| d\n"
    )]
    #[case::empty_line_after("a\n", 0, "at f.nix:1:1:\n     1| a\n      | ^\n     2| \n")]
    #[case::last_line("a\nb", 2, "at f.nix:2:1:\n     1| a\n     2| b\n      | ^\n")]
    #[case::wide_numbers(
        "\n\n\n\n\n\n\n\n\nx\ny",
        9,
        "at f.nix:10:1:\n     9| \n    10| x\n      | ^\n    11| y\n"
    )]
    fn snippets(#[case] text: &str, #[case] offset: u32, #[case] expected: &str) {
        let map = SourceMap::default();
        let file = map.add("f.nix", text);
        let span = Span {
            file,
            start: offset,
            end: offset,
        };
        assert_eq!(map.snippet(span), expected);
    }

    /// Bytes that are not UTF-8 survive the parser's text and come back in
    /// string literals.
    #[rstest]
    #[case::utf8(b"\"\xc3\xa9\"")]
    #[case::lone_byte(b"\"a\xff b\"")]
    #[case::truncated_sequence(b"\"\xe2\x82\"")]
    fn non_utf8_bytes_round_trip(#[case] bytes: &[u8]) {
        let text = decode_source(bytes.to_vec());
        assert_eq!(literal_bytes(&text), bytes);
    }
}
