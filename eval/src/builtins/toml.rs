//! `fromTOML`: a TOML 1.0 document as a Nix value, with the results and
//! messages of CppNix, which reads TOML with toml11 (v4, in TOML 1.0
//! mode).
//!
//! The `toml` crate parses TOML 1.1, a superset of 1.0. What 1.1 added —
//! newlines and a trailing comma in inline tables, the `\e` and `\xHH`
//! escapes, times without seconds — is rejected here, as toml11 rejects
//! it. The parser keeps integers as text, so an integer that does not fit
//! 64 bits gets toml11's message. Parse errors are laid out as toml11 lays
//! them out (`[error] …`, ` --> fromTOML`, the line with a caret), since
//! CppNix prints them as they are; when several are found, the first in
//! the document is reported, as a parser reading front to back would.
//!
//! Dates and times are an error unless the `parse-toml-timestamps`
//! experimental feature is on; then they become
//! `{ _type = "timestamp"; value = "…"; }`.
//!
//! The document is converted with an explicit stack. The `toml` crate
//! bounds its own recursion: documents nested deeper than 80 levels are
//! refused ("recursion limit"), where CppNix accepts them.

use std::fmt::Write;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml_datetime::{Datetime, Offset};
use toml_parser::lexer::TokenKind;
use tvix_eval_builtin_macros::builtins;

use super::context::string_without_context;
use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixString, Value};
use crate::vm::generators::Co;

pub(super) use impls::builtins;

/// The experimental feature that turns dates and times into values.
const TIMESTAMPS_FEATURE: &str = "parse-toml-timestamps";

/// The "file name" CppNix gives toml11, shown in messages.
const SOURCE_NAME: &str = "fromTOML";

/// How many bytes toml11 shows on each side of the place an error points
/// at before it cuts the line with `...`.
const CONTEXT_BYTES: usize = 30;

/// A syntax error, as toml11 would report it.
#[derive(Debug, PartialEq)]
struct SyntaxError {
    /// Where the caret points, in bytes from the start of the document.
    offset: usize,
    title: String,
    /// What the caret line says.
    label: &'static str,
    hints: &'static [&'static str],
}

impl SyntaxError {
    fn new(offset: usize, title: impl Into<String>, label: &'static str) -> Self {
        SyntaxError {
            offset,
            title: title.into(),
            label,
            hints: &[],
        }
    }

    /// The message in toml11's layout, for example:
    ///
    /// ```text
    /// [error] toml::parse_dec_integer: too large integer: current max digits = 2^63
    ///  --> fromTOML
    ///    |
    ///  1 | attr = 9223372036854775808
    ///    |                           ^-- must be < 2^63
    /// ```
    fn report(&self, text: &str) -> String {
        let bytes = text.as_bytes();
        let offset = self.offset.min(bytes.len());
        let before = bytes.get(..offset).unwrap_or_default();
        let line_number = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line_end = bytes
            .get(offset..)
            .unwrap_or_default()
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| offset + i);
        // toml11 shows at most `CONTEXT_BYTES` on either side.
        let shown_start = line_start.max(offset.saturating_sub(CONTEXT_BYTES));
        let shown_end = line_end.min(offset + 1 + CONTEXT_BYTES);
        let mut shown = String::new();
        if shown_start > line_start {
            shown.push_str("... ");
        }
        let caret_column = shown.len() + (offset - shown_start);
        shown.push_str(&String::from_utf8_lossy(
            bytes.get(shown_start..shown_end).unwrap_or_default(),
        ));
        if shown_end < line_end {
            shown.push_str(" ...");
        }
        let number = line_number.to_string();
        let pad = " ".repeat(number.len());
        let mut out = format!(
            "[error] {}\n --> {SOURCE_NAME}\n {pad} |\n {number} | {shown}\n {pad} | {}^-- {}\n",
            self.title,
            " ".repeat(caret_column),
            self.label
        );
        for hint in self.hints {
            out.push_str(hint);
            out.push('\n');
        }
        out
    }
}

/// Where `text` uses syntax that TOML 1.1 added, judged from its tokens:
/// the `toml` crate accepts it, toml11 does not. An inline table broken
/// across lines is reported once.
fn toml_1_1_syntax(text: &str) -> Vec<SyntaxError> {
    let tokens = toml_parser::Source::new(text).lex().into_vec();
    let mut found = Vec::new();
    // The brackets open at each token, and whether an inline table was
    // already reported; only the innermost matters.
    let mut open: Vec<(TokenKind, bool)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let start = token.span().start();
        let innermost = open.last_mut();
        let in_inline_table = matches!(innermost, Some((TokenKind::LeftCurlyBracket, _)));
        match token.kind() {
            kind @ (TokenKind::LeftCurlyBracket | TokenKind::LeftSquareBracket) => {
                open.push((kind, false))
            }
            TokenKind::RightCurlyBracket | TokenKind::RightSquareBracket => {
                open.pop();
            }
            TokenKind::Newline => {
                if let Some((TokenKind::LeftCurlyBracket, reported @ false)) = innermost {
                    *reported = true;
                    found.push(SyntaxError::new(
                        start,
                        "toml::parse_inline_table: missing closing bracket `}`",
                        "expected `}`, reached line end",
                    ));
                }
            }
            TokenKind::Comma if in_inline_table => {
                let next = tokens
                    .get(i + 1..)
                    .unwrap_or_default()
                    .iter()
                    .find(|t| t.kind() != TokenKind::Whitespace);
                if let Some(next) = next.filter(|t| t.kind() == TokenKind::RightCurlyBracket) {
                    found.push(SyntaxError::new(
                        next.span().start(),
                        "toml::parse_inline_table: trailing comma is not allowed in TOML-v1.0.0)",
                        "here",
                    ));
                }
            }
            TokenKind::BasicString | TokenKind::MlBasicString => {
                let raw = text
                    .as_bytes()
                    .get(start..token.span().end())
                    .unwrap_or_default();
                if let Some(at) = escape_added_in_1_1(raw) {
                    found.push(SyntaxError::new(
                        start + at,
                        "toml::parse_escape_sequence: unknown escape sequence appeared.",
                        "escape sequence is one of \\, \", b, t, n, f, r, uxxxx, Uxxxxxxxx",
                    ));
                }
            }
            _ => {}
        }
    }
    found
}

/// Where a basic string uses `\e` or `\xHH`, which TOML 1.1 added.
fn escape_added_in_1_1(raw: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'\\' {
            if matches!(raw.get(i + 1), Some(b'e' | b'x')) {
                return Some(i);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

/// A date or time as CppNix (since 2.34) prints it: `T` between date and
/// time, seconds always, the fraction in milli-, micro- or nanoseconds as
/// far as it is not zero, `Z` for a zero offset.
fn format_datetime(dt: &Datetime) -> String {
    let mut out = String::new();
    if let Some(d) = &dt.date {
        let _ = write!(out, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
    }
    if let Some(t) = &dt.time {
        if dt.date.is_some() {
            out.push('T');
        }
        let second = t.second.unwrap_or(0);
        let _ = write!(out, "{:02}:{:02}:{second:02}", t.hour, t.minute);
        let ns = t.nanosecond.unwrap_or(0);
        if ns != 0 {
            let _ = write!(out, ".{:03}", ns / 1_000_000);
            if ns % 1_000_000 != 0 {
                let _ = write!(out, "{:03}", ns / 1_000 % 1_000);
                if ns % 1_000 != 0 {
                    let _ = write!(out, "{:03}", ns % 1_000);
                }
            }
        }
    }
    match dt.offset {
        None => {}
        Some(Offset::Z) | Some(Offset::Custom { minutes: 0 }) => out.push('Z'),
        Some(Offset::Custom { minutes }) => {
            let sign = if minutes < 0 { '-' } else { '+' };
            let minutes = minutes.unsigned_abs();
            let _ = write!(out, "{sign}{:02}:{:02}", minutes / 60, minutes % 60);
        }
    }
    out
}

/// A TOML string as a Nix string, which cannot hold NUL.
fn nix_string(s: &str) -> Result<NixString, String> {
    if s.contains('\0') {
        return Err(format!(
            "error: {}",
            ErrorKind::NulInString(s.replace('\0', "␀"))
        ));
    }
    Ok(NixString::from(s))
}

/// Work items of the conversion.
enum Step<'a, 'i> {
    Visit(&'a Spanned<DeValue<'i>>),
    /// Collect the last `n` converted values into a list.
    List(usize),
    /// Collect the last values into a set with these (sorted) names.
    Attrs(Vec<NixString>),
}

/// Converts a parsed document. toml11 reads the whole document and
/// reports every syntax error it finds, so syntax errors found on the way
/// (integers that do not fit, times without seconds) are collected; an
/// error CppNix meets while converting (a date, a NUL) counts only if
/// there is none, and is the first one met.
struct Converter<'a, 'i> {
    steps: Vec<Step<'a, 'i>>,
    done: Vec<Value>,
    timestamps: bool,
    syntax: Vec<SyntaxError>,
    conversion: Option<String>,
}

impl<'a, 'i> Converter<'a, 'i> {
    fn fail(&mut self, message: String) -> Value {
        self.conversion.get_or_insert(message);
        Value::Null
    }

    fn string(&mut self, s: &str) -> NixString {
        nix_string(s).unwrap_or_else(|e| {
            self.fail(e);
            NixString::default()
        })
    }

    fn table(&mut self, table: &'a DeTable<'i>) {
        let names = table.keys().map(|k| self.string(k.get_ref())).collect();
        self.steps.push(Step::Attrs(names));
        self.steps.extend(table.values().rev().map(Step::Visit));
    }

    fn run(&mut self) {
        while let Some(step) = self.steps.pop() {
            match step {
                Step::Visit(v) => {
                    if let Some(scalar) = self.scalar(v) {
                        self.done.push(scalar);
                    }
                }
                Step::List(n) => {
                    let items = self.done.split_off(self.done.len().saturating_sub(n));
                    self.done.push(Value::list(items));
                }
                Step::Attrs(names) => {
                    let values = self
                        .done
                        .split_off(self.done.len().saturating_sub(names.len()));
                    // Once a conversion failed the document is refused, and
                    // the names may no longer be unique: keys with NULs all
                    // became the empty string.
                    let value = if self.conversion.is_some() {
                        Value::Null
                    } else {
                        let entries = names.into_iter().zip(values).collect();
                        Value::Attrs(NixAttrs::from_sorted_unique(entries))
                    };
                    self.done.push(value);
                }
            }
        }
    }

    /// The value of a scalar; arrays and tables are scheduled instead.
    fn scalar(&mut self, v: &'a Spanned<DeValue<'i>>) -> Option<Value> {
        let span = v.span();
        Some(match v.get_ref() {
            DeValue::String(s) => Value::String(self.string(s)),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Value::Int(n),
                Err(_) => {
                    self.syntax.push(integer_overflow(i.radix(), span));
                    Value::Null
                }
            },
            DeValue::Float(f) => {
                let raw = f.as_str();
                match raw.parse::<f64>() {
                    Ok(x) if x.is_finite() || raw.contains("inf") || raw.contains("nan") => {
                        Value::Float(x)
                    }
                    _ => {
                        self.syntax.push(SyntaxError::new(
                            span.start,
                            "toml::parse_floating: failed to read floating point value from stream",
                            "here",
                        ));
                        Value::Null
                    }
                }
            }
            DeValue::Datetime(dt) => {
                if dt.time.is_some_and(|t| t.second.is_none()) {
                    self.syntax.push(SyntaxError {
                        hints: if dt.date.is_some() {
                            &[
                                "Hint: valid  : 1979-05-27T07:32:00, 1979-05-27 07:32:00.999999",
                                "Hint: invalid: 1979-05-27T7:32:00, 1979-05-27 17:32",
                            ]
                        } else {
                            &[]
                        },
                        ..SyntaxError::new(
                            span.end,
                            "bad time: must be HH:MM:SS.subsec",
                            "expected :",
                        )
                    });
                }
                if !self.timestamps {
                    return Some(self.fail("Dates and times are not supported".into()));
                }
                Value::Attrs(NixAttrs::from_sorted_unique(vec![
                    (NixString::from("_type"), Value::string("timestamp")),
                    (NixString::from("value"), Value::string(format_datetime(dt))),
                ]))
            }
            DeValue::Array(items) => {
                self.steps.push(Step::List(items.len()));
                self.steps.extend(items.iter().rev().map(Step::Visit));
                return None;
            }
            DeValue::Table(table) => {
                self.table(table);
                return None;
            }
        })
    }
}

/// toml11's error for an integer that does not fit in 64 bits.
fn integer_overflow(radix: u32, span: Range<usize>) -> SyntaxError {
    let title = match radix {
        16 => "toml::parse_hex_integer: too large integer: current max value = 2^63",
        8 => "toml::parse_oct_integer: too large integer: current max value = 2^63",
        2 => "toml::parse_bin_integer: too large integer: current max value = 2^63",
        _ => "toml::parse_dec_integer: too large integer: current max digits = 2^63",
    };
    SyntaxError::new(span.end, title, "must be < 2^63")
}

/// Parses a TOML document; the error is the message CppNix puts after
/// "while parsing TOML: ".
fn from_toml(text: &str, timestamps: bool) -> Result<Value, String> {
    let mut syntax = toml_1_1_syntax(text);
    let (document, errors) = DeTable::parse_recoverable(text);
    syntax.extend(
        errors
            .iter()
            .map(|e| SyntaxError::new(e.span().map_or(0, |s| s.start), e.message(), "here")),
    );
    let mut converter = Converter {
        steps: Vec::new(),
        done: Vec::new(),
        timestamps,
        syntax,
        conversion: None,
    };
    converter.table(document.get_ref());
    converter.run();
    let mut syntax = converter.syntax;
    if !syntax.is_empty() {
        syntax.sort_by_key(|e| e.offset);
        return Err(syntax.iter().map(|e| e.report(text)).collect());
    }
    if let Some(message) = converter.conversion {
        return Err(message);
    }
    converter
        .done
        .pop()
        .ok_or_else(|| "the document has no value".to_string())
}

#[builtins]
mod impls {
    use super::*;

    /// Parses a TOML 1.0 document into a set: tables become sets, arrays
    /// lists, integers (64 bits) and floats (`inf` and `nan` too) numbers.
    /// Dates and times need the `parse-toml-timestamps` experimental
    /// feature and become `{ _type = "timestamp"; value = "…"; }`.
    #[builtin("fromTOML")]
    async fn builtin_from_toml(co: &Co, toml: Value) -> Result<Value, Error> {
        let text = string_without_context(&toml)?;
        let text = String::from_utf8_lossy(text.as_bytes());
        let timestamps = co.context().options.has_feature(TIMESTAMPS_FEATURE);
        from_toml(&text, timestamps)
            .map_err(|message| ErrorKind::Builtin(format!("while parsing TOML: {message}")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::print::print_value;
    use rstest::rstest;

    /// Golden values from CppNix: `/work/shared/tools/modern-nix
    /// nix-instantiate --eval --strict -E 'builtins.fromTOML "<toml>"'`
    /// (2.26), with the timestamp formats of the lang suite's
    /// eval-okay-fromTOML-timestamps.exp (2.34).
    #[rstest]
    #[case::empty("", "{ }")]
    #[case::mixed_array(
        r#"a = [1, "x", [true], {b = 1.5}]"#,
        r#"{ a = [ 1 "x" [ true ] { b = 1.5; } ]; }"#
    )]
    #[case::special_floats(
        "a = [nan, -nan, +nan, +inf, -inf, -0.0, +0.0]",
        "{ a = [ nan -nan nan inf -inf -0 0 ]; }"
    )]
    #[case::float_underflow("a = 1e-400", "{ a = 0; }")]
    #[case::float_digits("a = 123456789.123", "{ a = 1.23457e+08; }")]
    #[case::radixes(
        "a = [0xDEAD_beef, 0o755, 0b11010110, +99, -17, 1_000]",
        "{ a = [ 3735928559 493 214 99 -17 1000 ]; }"
    )]
    #[case::extreme_integers(
        "a = [9223372036854775807, -9223372036854775808]",
        "{ a = [ 9223372036854775807 -9223372036854775808 ]; }"
    )]
    #[case::arrays_of_tables(
        "[[a.b]]\nc = 1\n[[a.b]]\n[a]\nd = 2",
        "{ a = { b = [ { c = 1; } { } ]; d = 2; }; }"
    )]
    #[case::multiline_literal("a = '''\nx\n'''", r#"{ a = "x\n"; }"#)]
    #[case::line_continuation("a = \"\"\"\\\n  x\"\"\"", r#"{ a = "x"; }"#)]
    #[case::array_across_lines_in_inline_table("a = { b = [1,\n2] }", "{ a = { b = [ 1 2 ]; }; }")]
    #[case::quoted_keys(r#""a.b" = 1"#, r#"{ "a.b" = 1; }"#)]
    fn parses(#[case] toml: &str, #[case] expected: &str) {
        let value = from_toml(toml, false).expect("valid TOML");
        assert_eq!(print_value(&value), expected);
    }

    // `... --extra-experimental-features parse-toml-timestamps`; the
    // fractions as eval-okay-fromTOML-timestamps.exp has them.
    #[rstest]
    #[case::offset_zero("1979-05-27T07:32:00Z", "1979-05-27T07:32:00Z")]
    #[case::offset_plus_zero("1979-05-27T07:32:00+00:00", "1979-05-27T07:32:00Z")]
    #[case::offset_minus_zero("1979-05-27T07:32:00-00:00", "1979-05-27T07:32:00Z")]
    #[case::offset_negative("1979-05-27T00:32:00.999999-07:00", "1979-05-27T00:32:00.999999-07:00")]
    #[case::offset_half_hour(
        "1979-05-27T07:32:00.000001+05:30",
        "1979-05-27T07:32:00.000001+05:30"
    )]
    #[case::space_separator("1979-05-27 07:32:00.1Z", "1979-05-27T07:32:00.100Z")]
    #[case::micro("1979-05-27t00:32:00.1234", "1979-05-27T00:32:00.123400")]
    #[case::nano("00:32:00.1234567", "00:32:00.123456700")]
    #[case::beyond_nano("00:32:00.1234567891", "00:32:00.123456789")]
    #[case::date("0001-01-01", "0001-01-01")]
    fn timestamps(#[case] toml: &str, #[case] expected: &str) {
        let value = from_toml(&format!("a = {toml}"), true).expect("valid TOML");
        assert_eq!(
            print_value(&value),
            format!(r#"{{ a = {{ _type = "timestamp"; value = "{expected}"; }}; }}"#)
        );
    }

    // The messages of `builtins.fromTOML "<toml>"` after "while parsing
    // TOML: ", from CppNix 2.26 (the lang suite's eval-fail-fromTOML-*
    // for the first two).
    #[rstest]
    #[case::overflow(
        "attr = 9223372036854775808",
        "[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n --> fromTOML\n   |\n 1 | attr = 9223372036854775808\n   |                           ^-- must be < 2^63\n"
    )]
    #[case::underflow_line_11(
        "x = 1\n\n\n\n\n\n\n\n\n\nattr = -9223372036854775809",
        "[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n --> fromTOML\n    |\n 11 | attr = -9223372036854775809\n    |                            ^-- must be < 2^63\n"
    )]
    #[case::hex_overflow(
        "a = 0x8000000000000000",
        "[error] toml::parse_hex_integer: too large integer: current max value = 2^63\n --> fromTOML\n   |\n 1 | a = 0x8000000000000000\n   |                       ^-- must be < 2^63\n"
    )]
    #[case::long_line_cut(
        "a = 0b1000000000000000000000000000000000000000000000000000000000000000",
        "[error] toml::parse_bin_integer: too large integer: current max value = 2^63\n --> fromTOML\n   |\n 1 | ... 000000000000000000000000000000\n   |                                   ^-- must be < 2^63\n"
    )]
    #[case::trailing_comma(
        "a = {b = 1, }",
        "[error] toml::parse_inline_table: trailing comma is not allowed in TOML-v1.0.0)\n --> fromTOML\n   |\n 1 | a = {b = 1, }\n   |             ^-- here\n"
    )]
    #[case::time_without_seconds(
        "a = 1979-05-27T07:32",
        "[error] bad time: must be HH:MM:SS.subsec\n --> fromTOML\n   |\n 1 | a = 1979-05-27T07:32\n   |                     ^-- expected :\nHint: valid  : 1979-05-27T07:32:00, 1979-05-27 07:32:00.999999\nHint: invalid: 1979-05-27T7:32:00, 1979-05-27 17:32\n"
    )]
    #[case::every_syntax_error(
        "a = {b = 1, }\nc = 9223372036854775808",
        "[error] toml::parse_inline_table: trailing comma is not allowed in TOML-v1.0.0)\n --> fromTOML\n   |\n 1 | a = {b = 1, }\n   |             ^-- here\n[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n --> fromTOML\n   |\n 2 | c = 9223372036854775808\n   |                        ^-- must be < 2^63\n"
    )]
    #[case::syntax_error_before_date(
        "c = 9223372036854775808\na = 1979-05-27",
        "[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n --> fromTOML\n   |\n 1 | c = 9223372036854775808\n   |                        ^-- must be < 2^63\n"
    )]
    #[case::timestamps_disabled("a = 1979-05-27", "Dates and times are not supported")]
    #[case::nul_in_value(
        r#"k = "a\u0000b""#,
        "error: input string 'a␀b' cannot be represented as Nix string because it contains null bytes"
    )]
    #[case::nul_in_key(
        r#""a\u0000b" = 1"#,
        "error: input string 'a␀b' cannot be represented as Nix string because it contains null bytes"
    )]
    fn rejects(#[case] toml: &str, #[case] expected: &str) {
        assert_eq!(from_toml(toml, false).err().as_deref(), Some(expected));
    }

    /// TOML 1.1 syntax that toml11 refuses in TOML 1.0 mode is refused
    /// (where the message differs from toml11's, the test says only that
    /// the first error is found at the right place).
    #[rstest]
    #[case::newline_in_inline_table("a = {b = 1,\n c = 2}", 11)]
    #[case::escape_e(r#"a = "\e""#, 5)]
    #[case::escape_x(r#"a = "x\x41""#, 6)]
    #[case::escaped_backslash_is_fine_then_x(r#"a = "\\\x41""#, 7)]
    fn rejects_toml_1_1(#[case] toml: &str, #[case] offset: usize) {
        let first = toml_1_1_syntax(toml).into_iter().map(|e| e.offset).min();
        assert_eq!(first, Some(offset));
        assert!(from_toml(toml, false).is_err());
    }

    /// Nesting is converted without native recursion; the `toml` crate
    /// refuses documents nested deeper than 80 levels (CppNix accepts
    /// them), with an error, not a crash.
    #[rstest]
    #[case::within_limit(70, true)]
    #[case::far_beyond_limit(100_000, false)]
    fn deep_table_headers(#[case] depth: usize, #[case] accepted: bool) {
        let toml = format!("[{}]\nx = 1", vec!["a"; depth].join("."));
        match from_toml(&toml, false) {
            Ok(mut v) => {
                for _ in 0..depth {
                    v = v.as_attrs().expect("a set").get(b"a").cloned().expect("a");
                }
                assert_eq!((print_value(&v).as_str(), accepted), ("{ x = 1; }", true));
            }
            Err(e) => assert_eq!(
                (e.lines().next(), accepted),
                (Some("[error] recursion limit"), false)
            ),
        }
    }
}
