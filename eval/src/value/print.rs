//! Printing values the way `nix-instantiate --eval` does.
//!
//! Unforced thunks print as `<CODE>` (only seen without `--strict`), and a
//! non-empty set or list that was already printed once prints as
//! `«repeated»`, which also keeps cyclic values finite. CppNix identifies
//! sets by their storage but lists by the *value slot* holding them, so a
//! list counts as seen only when reached through the same thunk.

use std::collections::HashSet;

use super::{Value, write_escaped};

pub fn print_value(v: &Value) -> String {
    let mut out = String::new();
    let mut seen = HashSet::new();
    print(&mut out, v, &mut seen, None);
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
    Value(Value, Option<*const ()>),
    Text(&'static str),
    Name(super::NixString),
}

fn print(out: &mut String, v: &Value, seen: &mut HashSet<*const ()>, slot: Option<*const ()>) {
    let mut work = vec![Item::Value(v.clone(), slot)];
    while let Some(item) = work.pop() {
        let (v, slot) = match item {
            Item::Text(t) => {
                out.push_str(t);
                continue;
            }
            Item::Name(n) => {
                write_attr_name(out, n.as_bytes());
                continue;
            }
            Item::Value(v, slot) => (v, slot),
        };
        match &v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&format_float(*f)),
            Value::String(s) => write_escaped(out, s.as_bytes()),
            Value::Path(p) => out.push_str(&p.to_string_lossy()),
            Value::Attrs(a) => {
                if a.is_empty() {
                    out.push_str("{ }");
                } else if !seen.insert(a.ptr()) {
                    out.push_str("«repeated»");
                } else {
                    out.push_str("{ ");
                    work.push(Item::Text("}"));
                    for (k, v) in a.iter().rev() {
                        work.push(Item::Text("; "));
                        work.push(Item::Value(v.clone(), None));
                        work.push(Item::Text(" = "));
                        work.push(Item::Name(k.clone()));
                    }
                }
            }
            Value::List(l) => {
                if l.is_empty() {
                    out.push_str("[ ]");
                } else if slot.is_some_and(|s| !seen.insert(s)) {
                    out.push_str("«repeated»");
                } else {
                    out.push_str("[ ");
                    work.push(Item::Text("]"));
                    for item in l.iter().rev() {
                        work.push(Item::Text(" "));
                        work.push(Item::Value(item.clone(), None));
                    }
                }
            }
            Value::Closure(_) => out.push_str("<LAMBDA>"),
            Value::Builtin(b) => out.push_str(if b.partial.is_empty() {
                "<PRIMOP>"
            } else {
                "<PRIMOP-APP>"
            }),
            Value::Thunk(t) => match t.value() {
                Some(inner) => work.push(Item::Value(inner, Some(t.ptr()))),
                None => out.push_str("<CODE>"),
            },
        }
    }
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
