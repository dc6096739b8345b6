//! JSON: `toJSON` and `fromJSON`.
//!
//! Both work with explicit stacks, not native recursion: a document nested
//! a million levels deep parses, and a cyclic value given to `toJSON`
//! ends with CppNix's stack-overflow error at `max_call_depth` instead of
//! exhausting the native stack.

use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixContext, NixString, Value};
use crate::vm::generators::Co;
use crate::vm::ops::{self, Coercion};

pub(super) use impls::builtins;

/// Appends `s` as a JSON string literal, escaped as nlohmann::json does,
/// which refuses bytes that are not UTF-8.
fn json_escape(out: &mut Vec<u8>, s: &[u8]) -> Result<(), Error> {
    let text = std::str::from_utf8(s).map_err(|e| {
        let at = e.valid_up_to();
        ErrorKind::Builtin(format!(
            "JSON serialization error: [json.exception.type_error.316] invalid UTF-8 byte at index {at}: 0x{:02X}",
            s.get(at).copied().unwrap_or(0)
        ))
    })?;
    out.push(b'"');
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
    Ok(())
}

/// Work items of `toJSON`'s serialiser.
enum Emit {
    Value(Value, usize),
    Text(&'static [u8]),
    Key(NixString),
}

/// Serialises like `builtins.toJSON`, collecting the context of every
/// string it writes into `context` (also for `__structuredAttrs`, in
/// tvix-glue).
pub async fn to_json_string(co: &Co, v: Value, context: &mut NixContext) -> Result<Vec<u8>, Error> {
    let max_depth = co.context().options.max_call_depth;
    let mut out = Vec::new();
    let mut work = vec![Emit::Value(v, 0)];
    while let Some(item) = work.pop() {
        let (v, depth) = match item {
            Emit::Text(t) => {
                out.extend_from_slice(t);
                continue;
            }
            Emit::Key(k) => {
                json_escape(&mut out, k.as_bytes())?;
                out.push(b':');
                continue;
            }
            Emit::Value(v, depth) => (v, depth),
        };
        if depth > max_depth {
            return Err(ErrorKind::StackOverflow.into());
        }
        match co.force(v).await? {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            Value::Float(f) => out.extend_from_slice(json_float(f).as_bytes()),
            Value::String(s) => {
                if let Some(c) = s.context() {
                    context.extend(c.iter().cloned());
                }
                json_escape(&mut out, s.as_bytes())?;
            }
            Value::Path(p) => {
                let s = ops::coerce_to_string(co, Value::Path(p), Coercion::Interpolation).await?;
                if let Some(c) = s.context() {
                    context.extend(c.iter().cloned());
                }
                json_escape(&mut out, s.as_bytes())?;
            }
            Value::List(l) => {
                out.push(b'[');
                work.push(Emit::Text(b"]"));
                for (i, x) in l.iter().enumerate().rev() {
                    work.push(Emit::Value(x.clone(), depth + 1));
                    if i > 0 {
                        work.push(Emit::Text(b","));
                    }
                }
            }
            Value::Attrs(a) => {
                if a.contains(b"__toString") {
                    let s = ops::to_string_attribute(co, a).await?;
                    if let Some(c) = s.context() {
                        context.extend(c.iter().cloned());
                    }
                    json_escape(&mut out, s.as_bytes())?;
                    continue;
                }
                if let Some(p) = a.get(b"outPath") {
                    work.push(Emit::Value(p.clone(), depth + 1));
                    continue;
                }
                out.push(b'{');
                work.push(Emit::Text(b"}"));
                for (i, (k, x)) in a.iter().enumerate().rev() {
                    work.push(Emit::Value(x.clone(), depth + 1));
                    work.push(Emit::Key(k.clone()));
                    if i > 0 {
                        work.push(Emit::Text(b","));
                    }
                }
            }
            other => {
                return Err(ErrorKind::Builtin(format!(
                    "cannot convert {} to JSON",
                    other.describe()
                ))
                .into());
            }
        }
    }
    Ok(out)
}

/// nlohmann::json prints doubles with the shortest digits that round-trip
/// (Rust's `{:e}` finds the same), laid out by its `format_buffer`: plain
/// when the decimal point falls within 15 digits of the first one (and
/// at most 4 zeros after it), with a `.0` if integral, else as `1.5e+20`
/// with an exponent of at least two digits.
fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // Where the decimal point goes, counted from the first digit.
    let n = exp.parse::<i32>().unwrap_or(0) + 1;
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let body = if k <= n && n <= 15 {
        format!("{digits}{}.0", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 15 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -4 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let (first, rest) = digits.split_at(1);
        let e = n - 1;
        let point = if rest.is_empty() { "" } else { "." };
        let e_sign = if e < 0 { '-' } else { '+' };
        format!("{first}{point}{rest}e{e_sign}{:02}", e.abs())
    };
    format!("{sign}{body}")
}

/// A JSON syntax error, worded like nlohmann::json's (which CppNix shows).
fn syntax_error(text: &[u8], at: usize, what: &str) -> Error {
    let line = text[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    let column = at
        - text[..at.min(text.len())]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    ErrorKind::Builtin(format!(
        "[json.exception.parse_error.101] parse error at line {line}, column {column}: syntax error while parsing value - {what}"
    ))
    .into()
}

/// A container being parsed.
enum Open {
    List(Vec<Value>),
    /// The entries so far and the key of the value being parsed.
    Object(Vec<(NixString, Value)>, Option<NixString>),
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn error(&self, what: &str) -> Error {
        syntax_error(self.text, self.pos + 1, what)
    }

    fn expect_literal(&mut self, word: &[u8], value: Value) -> Result<Value, Error> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        if digits(self) == 0 {
            return Err(self.error("invalid number; expected digit"));
        }
        if self.text[int_start] == b'0' && self.pos - int_start > 1 {
            return Err(self.error("invalid number; leading zero"));
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            is_float = true;
            if digits(self) == 0 {
                return Err(self.error("invalid number; expected digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            is_float = true;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number; expected digit after exponent sign"));
            }
        }
        let text = std::str::from_utf8(&self.text[start..self.pos]).unwrap_or("0");
        if !is_float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Int(i));
            }
            // nlohmann reads non-negative integers as u64 first.
            if let Ok(u) = text.parse::<u64>() {
                return Err(ErrorKind::Builtin(format!(
                    "unsigned json number {u} outside of Nix integer range"
                ))
                .into());
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(ErrorKind::Builtin(format!(
                "[json.exception.out_of_range.406] number overflow parsing '{text}'"
            ))
            .into()),
        }
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or_else(|| self.error("invalid string: '\\u' must be followed by 4 hex digits"))?;
        self.pos += 4;
        Ok(digits)
    }

    fn string(&mut self) -> Result<NixString, Error> {
        // The opening quote is at `pos`.
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("invalid string: missing closing quote"));
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.peek() else {
                        return Err(self.error("invalid string: missing closing quote"));
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c) {
                                let low = if self.text[self.pos..].starts_with(b"\\u") {
                                    self.pos += 2;
                                    self.hex4()?
                                } else {
                                    0
                                };
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.error("invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF"));
                                }
                                c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
                            } else if (0xDC00..0xE000).contains(&c) {
                                return Err(self.error("invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF"));
                            }
                            let c = char::from_u32(c).unwrap_or('\u{FFFD}');
                            let mut buf = [0; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(
                                self.error("invalid string: forbidden character after backslash")
                            );
                        }
                    }
                }
                0..0x20 => {
                    return Err(self.error("invalid string: control character must be escaped"));
                }
                b => out.push(b),
            }
        }
        if out.contains(&0) {
            return Err(
                ErrorKind::NulInString(String::from_utf8_lossy(&out).replace('\0', "␀")).into(),
            );
        }
        Ok(NixString::from(out))
    }

    /// Parses one JSON document into a value.
    fn document(&mut self) -> Result<Value, Error> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // A value is expected here.
            self.skip_ws();
            let value = match self.peek() {
                Some(b'[') => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::list(Vec::new())
                    } else {
                        stack.push(Open::List(Vec::new()));
                        continue;
                    }
                }
                Some(b'{') => {
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Attrs(NixAttrs::empty())
                    } else {
                        let key = self.object_key()?;
                        stack.push(Open::Object(Vec::new(), Some(key)));
                        continue;
                    }
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b't') => self.expect_literal(b"true", Value::Bool(true))?,
                Some(b'f') => self.expect_literal(b"false", Value::Bool(false))?,
                Some(b'n') => self.expect_literal(b"null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b']') => {
                    return Err(self.error("unexpected ']'; expected '[', '{', or a literal"));
                }
                None => {
                    return Err(
                        self.error("unexpected end of input; expected '[', '{', or a literal")
                    );
                }
                Some(_) => return Err(self.error("invalid literal")),
            };
            // Close every container this value completes.
            let mut value = value;
            loop {
                let Some(top) = stack.last_mut() else {
                    self.skip_ws();
                    if self.pos < self.text.len() {
                        return Err(self.error("unexpected input; expected end of input"));
                    }
                    return Ok(value);
                };
                self.skip_ws();
                let sep = self.peek();
                match top {
                    Open::List(items) => {
                        items.push(value);
                        match sep {
                            Some(b',') => {
                                self.pos += 1;
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                let Some(Open::List(items)) = stack.pop() else {
                                    return Err(container_out_of_step());
                                };
                                value = Value::list(items);
                            }
                            _ => return Err(self.error("unexpected token; expected ']'")),
                        }
                    }
                    Open::Object(entries, key) => {
                        if let Some(k) = key.take() {
                            entries.push((k, value));
                        }
                        match sep {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                let k = self.object_key()?;
                                if let Some(Open::Object(_, key)) = stack.last_mut() {
                                    *key = Some(k);
                                }
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                let Some(Open::Object(entries, _)) = stack.pop() else {
                                    return Err(container_out_of_step());
                                };
                                value = Value::Attrs(NixAttrs::from_entries_last_wins(entries));
                            }
                            _ => return Err(self.error("unexpected token; expected '}'")),
                        }
                    }
                }
            }
        }
    }

    /// `"key" :` of an object member.
    fn object_key(&mut self) -> Result<NixString, Error> {
        if self.peek() != Some(b'"') {
            return Err(self.error("invalid literal; expected string literal"));
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.error("unexpected token; expected ':'"));
        }
        self.pos += 1;
        Ok(key)
    }
}

/// The container on the stack is the one just matched; reaching this is an
/// internal error, reported rather than panicking.
fn container_out_of_step() -> Error {
    ErrorKind::Builtin("JSON parser: container stack out of step".into()).into()
}

/// Parses a JSON document into a Nix value.
pub(crate) fn from_json(text: &[u8]) -> Result<Value, Error> {
    Parser { text, pos: 0 }.document()
}

#[builtins]
mod impls {
    use super::*;

    /// Serialises a value as JSON; sets with `__toString` or `outPath`
    /// become strings, keeping string context.
    #[builtin("toJSON")]
    async fn builtin_to_json(co: &Co, #[lazy] v: Value) -> Result<Value, Error> {
        let mut context = NixContext::new();
        let out = to_json_string(co, v, &mut context).await?;
        Ok(Value::String(NixString::new(out, context)))
    }

    /// Parses a JSON string: objects become sets, arrays lists, and
    /// numbers integers where they have neither fraction nor exponent.
    #[builtin("fromJSON")]
    async fn builtin_from_json(co: &Co, s: Value) -> Result<Value, Error> {
        let s = s.as_string()?;
        from_json(s.as_bytes()).map_err(|mut e| {
            if matches!(e.kind, ErrorKind::Builtin(ref m) if m.starts_with("[json")) {
                e.add_context("while decoding a JSON string");
            }
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(text: &str) -> Result<String, String> {
        from_json(text.as_bytes())
            .map(|v| crate::value::print::print_value(&v))
            .map_err(|e| e.kind.to_string())
    }

    #[rstest]
    #[case::int("42", "42")]
    #[case::negative("-7", "-7")]
    #[case::float("1.5", "1.5")]
    #[case::exponent("1e3", "1000")]
    #[case::big_negative("-9223372036854775809", "-9.22337e+18")]
    #[case::huge("18446744073709551616", "1.84467e+19")]
    #[case::nested(
        "{\"a\":[1,{\"b\":null}],\"c\":true}",
        "{ a = [ 1 { b = null; } ]; c = true; }"
    )]
    #[case::duplicate_keys("{\"a\":1,\"a\":2}", "{ a = 2; }")]
    #[case::surrogates("\"\\ud83d\\ude00\"", "\"😀\"")]
    #[case::escapes("\"a\\n\\t\\\"\\\\\\/\"", "\"a\\n\\t\\\"\\\\/\"")]
    #[case::whitespace(" [ 1 , 2 ] ", "[ 1 2 ]")]
    #[case::empty_containers("[[],{}]", "[ [ ] { } ]")]
    fn parses(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(parse(text).as_deref(), Ok(expected));
    }

    #[rstest]
    #[case::trailing_comma("[1,]")]
    #[case::leading_zero("01")]
    #[case::trailing_garbage("{\"a\": 1} x")]
    #[case::lone_surrogate("\"\\ud83d\"")]
    #[case::nul("\"\\u0000\"")]
    #[case::overflow("1e400")]
    #[case::unsigned_out_of_range("9223372036854775808")]
    #[case::unterminated("[1")]
    #[case::empty("")]
    fn rejects(#[case] text: &str) {
        assert!(parse(text).is_err());
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let depth = 200_000;
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(from_json(text.as_bytes()).is_ok());
    }
}
