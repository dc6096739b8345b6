//! Printing values, in CppNix's three styles:
//!
//! - `print_value`: what `nix-instantiate --eval` prints. Unforced thunks
//!   are `<CODE>` (only seen without `--strict`), functions `<LAMBDA>`,
//!   `<PRIMOP>` and `<PRIMOP-APP>`.
//! - `print_diagnostic`: what `builtins.trace` prints; nothing is forced,
//!   so thunks are `«thunk»` (`«potential infinite recursion»` while being
//!   forced), functions `«lambda @ file:line:col»` and `«primop name»`.
//! - `print_error_value`: the value an error message shows, as the trace
//!   style but at most 10 levels, 10 attributes or items per level and
//!   1024 bytes per string, with `type` and `_type` first.
//!
//! In all of them a non-empty set or list printed once before prints as
//! `«repeated»`, which also keeps cyclic values finite. CppNix identifies
//! sets by their storage but lists by the *value slot* holding them, so a
//! list counts as seen only when reached through the same thunk.

use std::collections::HashSet;

use super::{Value, write_escaped};
use crate::source::SourceMap;

/// How one of the styles prints what differs between them.
#[derive(Clone, Copy)]
struct Style {
    /// `nix-instantiate` style (`<CODE>`, `<LAMBDA>`) rather than
    /// the diagnostic one (`«thunk»`, `«lambda @ …»`).
    eval: bool,
    max_depth: usize,
    max_items: usize,
    max_string: usize,
    /// `type` and `_type` before the other attributes.
    important_first: bool,
}

const EVAL: Style = Style {
    eval: true,
    max_depth: usize::MAX,
    max_items: usize::MAX,
    max_string: usize::MAX,
    important_first: false,
};

const TRACE: Style = Style {
    eval: false,
    ..EVAL
};

const ERROR: Style = Style {
    eval: false,
    max_depth: 10,
    max_items: 10,
    max_string: 1024,
    important_first: true,
};

thread_local! {
    /// The sources of the evaluation running on this thread, for the
    /// positions of lambdas in diagnostics and error messages, which are
    /// rendered where no `SourceMap` is at hand.
    static SOURCES: std::cell::RefCell<Option<SourceMap>> = const { std::cell::RefCell::new(None) };
}

/// Makes `sources` the ones positions are resolved in on this thread.
pub fn set_sources(sources: &SourceMap) {
    SOURCES.with(|s| *s.borrow_mut() = Some(sources.clone()));
}

fn position(span: crate::source::Span) -> String {
    SOURCES.with(|s| match &*s.borrow() {
        Some(map) => {
            let loc = map.location(span);
            format!("{}:{}:{}", loc.file, loc.line, loc.column)
        }
        None => "«unknown»".into(),
    })
}

pub fn print_value(v: &Value) -> String {
    print_with(v, EVAL)
}

/// `builtins.trace`'s rendering of a value.
pub fn print_diagnostic(v: &Value) -> String {
    print_with(v, TRACE)
}

/// An error message's rendering of a value.
pub fn print_error_value(v: &Value) -> String {
    print_with(v, ERROR)
}

fn print_with(v: &Value, style: Style) -> String {
    let mut out = String::new();
    let mut seen = HashSet::new();
    print(&mut out, v, &mut seen, style);
    out
}
/// CppNix's rule for printing a name bare: `[a-zA-Z_][a-zA-Z0-9_'-]*`.
pub fn is_identifier(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'\'' | b'-'))
        }
        None => false,
    }
}

pub fn write_attr_name(out: &mut String, name: &[u8]) {
    if is_identifier(name) {
        out.push_str(&String::from_utf8_lossy(name));
    } else {
        write_escaped(out, name);
    }
}

/// Work items of the printer, which uses an explicit stack so that deeply
/// nested values cannot overflow the native stack.
enum Item {
    Value(Value, Option<*const ()>, usize),
    /// The entries of a set from `next` on; `printed` of them were
    /// printed, the last one just now if `after_entry`.
    Attrs {
        entries: Vec<(super::NixString, Value)>,
        next: usize,
        depth: usize,
        after_entry: bool,
    },
    /// The same for a list.
    List {
        list: super::NixList,
        next: usize,
        depth: usize,
        after_item: bool,
    },
}

/// Whether an attribute name goes first in the error style.
fn important(name: &[u8]) -> bool {
    name == b"type" || name == b"_type"
}

/// Prints `v`. As in CppNix's printer, the limits on attributes and list
/// items count everything printed so far, not each set or list alone: a
/// nested value uses up the budget of the ones around it.
fn print(out: &mut String, v: &Value, seen: &mut HashSet<*const ()>, style: Style) {
    let mut work = vec![Item::Value(v.clone(), None, 0)];
    let (mut attrs_printed, mut items_printed) = (0, 0);
    while let Some(item) = work.pop() {
        let (v, slot, depth) = match item {
            Item::Attrs {
                entries,
                next,
                depth,
                after_entry,
            } => {
                if after_entry {
                    out.push(';');
                    attrs_printed += 1;
                }
                out.push(' ');
                if next == entries.len() {
                    out.push('}');
                } else if attrs_printed >= style.max_items {
                    let elided = entries.len() - next;
                    out.push_str(&format!("«{elided} attribute{} elided» }}", plural(elided)));
                } else if let Some((name, value)) = entries.get(next) {
                    write_attr_name(out, name.as_bytes());
                    out.push_str(" = ");
                    let value = value.clone();
                    work.push(Item::Attrs {
                        entries,
                        next: next + 1,
                        depth,
                        after_entry: true,
                    });
                    work.push(Item::Value(value, None, depth + 1));
                }
                continue;
            }
            Item::List {
                list,
                next,
                depth,
                after_item,
            } => {
                if after_item {
                    items_printed += 1;
                }
                out.push(' ');
                if next == list.len() {
                    out.push(']');
                } else if items_printed >= style.max_items {
                    let elided = list.len() - next;
                    out.push_str(&format!("«{elided} item{} elided» ]", plural(elided)));
                } else if let Some(value) = list.get(next) {
                    let value = value.clone();
                    work.push(Item::List {
                        list,
                        next: next + 1,
                        depth,
                        after_item: true,
                    });
                    work.push(Item::Value(value, None, depth + 1));
                }
                continue;
            }
            Item::Value(v, slot, depth) => (v, slot, depth),
        };
        match &v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&format_float(*f)),
            Value::String(s) if s.len() > style.max_string => {
                let bytes = s.as_bytes();
                // Cut at a character boundary.
                let mut cut = style.max_string;
                while cut > 0 && bytes.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
                    cut -= 1;
                }
                write_escaped(out, &bytes[..cut]);
                // The closing quote, then the ellipsis.
                out.pop();
                out.push_str(&format!("\" «{} bytes elided»", bytes.len() - cut));
            }
            Value::String(s) => write_escaped(out, s.as_bytes()),
            Value::Path(p) => out.push_str(&p.to_string_lossy()),
            Value::Attrs(a) => {
                if a.is_empty() {
                    out.push_str("{ }");
                } else if !seen.insert(a.ptr()) {
                    out.push_str("«repeated»");
                } else if depth >= style.max_depth {
                    out.push_str("{ ... }");
                } else {
                    out.push('{');
                    let mut entries: Vec<_> =
                        a.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    if style.important_first {
                        entries.sort_by_key(|(k, _)| !important(k.as_bytes()));
                    }
                    work.push(Item::Attrs {
                        entries,
                        next: 0,
                        depth,
                        after_entry: false,
                    });
                }
            }
            Value::List(l) => {
                if l.is_empty() {
                    out.push_str("[ ]");
                } else if slot.is_some_and(|s| !seen.insert(s)) {
                    out.push_str("«repeated»");
                } else if depth >= style.max_depth {
                    out.push_str("[ ... ]");
                } else {
                    out.push('[');
                    work.push(Item::List {
                        list: l.clone(),
                        next: 0,
                        depth,
                        after_item: false,
                    });
                }
            }
            Value::Closure(_) if style.eval => out.push_str("<LAMBDA>"),
            Value::Closure(c) => {
                let name = c
                    .lambda
                    .name
                    .as_ref()
                    .map(|n| format!("{n} "))
                    .unwrap_or_default();
                out.push_str(&format!("«lambda {name}@ {}»", position(c.lambda.span)));
            }
            Value::Builtin(b) => match (style.eval, b.partial.is_empty()) {
                (true, true) => out.push_str("<PRIMOP>"),
                (true, false) => out.push_str("<PRIMOP-APP>"),
                (false, true) => out.push_str(&format!("«primop {}»", b.name())),
                (false, false) => out.push_str(&format!("«partially applied primop {}»", b.name())),
            },
            Value::Thunk(t) => match t.value() {
                Some(inner) => work.push(Item::Value(inner, Some(t.ptr()), depth)),
                None if style.eval => out.push_str("<CODE>"),
                None if t.is_being_forced() => out.push_str("«potential infinite recursion»"),
                None => out.push_str("«thunk»"),
            },
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Formats a float like C++'s default stream output (`%g`, 6 significant
/// digits), which is what CppNix prints.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let sci = format!("{f:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (5 - exp).max(0) as usize;
    trim_zeros(&format!("{f:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::integral(1.0, "1")]
    #[case::simple(3.4, "3.4")]
    #[case::four_decimals(1.2345, "1.2345")]
    #[case::negative_small(-0.01, "-0.01")]
    #[case::big(5e22, "5e+22")]
    #[case::million(1e6, "1e+06")]
    #[case::rounded(9224617.445991227, "9.22462e+06")]
    #[case::tiny(6.626e-34, "6.626e-34")]
    #[case::six_digits(123456.0, "123456")]
    #[case::round_up(0.1 + 0.2, "0.3")]
    fn floats(#[case] f: f64, #[case] expected: &str) {
        assert_eq!(format_float(f), expected);
    }

    #[rstest]
    #[case::plain(b"abc", true)]
    #[case::dash_quote(b"a-b'c", true)]
    #[case::leading_digit(b"1a", false)]
    #[case::dot(b"a.b", false)]
    #[case::empty(b"", false)]
    fn identifiers(#[case] name: &[u8], #[case] expected: bool) {
        assert_eq!(is_identifier(name), expected);
    }
}
