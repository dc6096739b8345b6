//! String builtins: `substring`, `concatStringsSep`, `replaceStrings`,
//! versions, `toJSON`, …

use super::builtin;
use crate::errors::{Error, ErrorKind};
use crate::value::{NixAttrs, NixContext, NixString, Value};
use crate::vm::generators::{BuiltinFn, Co, FastFn, Shortcut};
use crate::vm::ops::{self, Coercion};

pub(super) const BUILTINS: [(&str, usize, BuiltinFn); 14] = [
    ("stringLength", 1, string_length),
    ("substring", 3, substring),
    ("concatStringsSep", 2, concat_strings_sep),
    ("replaceStrings", 3, replace_strings),
    ("splitVersion", 1, split_version),
    ("compareVersions", 2, compare_versions),
    ("parseDrvName", 1, parse_drv_name),
    ("baseNameOf", 1, base_name_of),
    ("dirOf", 1, dir_of),
    ("toJSON", 1, to_json),
    ("hasContext", 1, has_context),
    ("unsafeDiscardStringContext", 1, discard_context),
    ("stringToCharacters", 1, string_to_characters),
    ("toXML", 1, to_xml),
];

async fn coerce(co: &Co, v: Value) -> Result<NixString, Error> {
    ops::coerce_to_string(co, v, Coercion::Interpolation).await
}

/// Fast paths (see `FastFn`).
pub(super) const FAST_PATHS: [(&str, FastFn); 1] = [("stringLength", string_length_now)];

fn string_length_now(args: &[Value]) -> Option<Shortcut> {
    match args.first()?.resolved() {
        Value::String(s) => Some(Shortcut::Value(Value::Int(s.len() as i64))),
        _ => None,
    }
}

builtin!(string_length, co, [s], {
    Ok(Value::Int(coerce(co, s).await?.len() as i64))
});

builtin!(substring, co, [start, len, s], {
    let start = co.force(start).await?.as_int()?;
    let len = co.force(len).await?.as_int()?;
    let s = coerce(co, s).await?;
    if start < 0 {
        return Err(ErrorKind::Builtin("negative start position in 'substring'".into()).into());
    }
    let bytes = s.as_bytes();
    let from = (start as usize).min(bytes.len());
    let to = if len < 0 {
        bytes.len()
    } else {
        from.saturating_add(len as usize).min(bytes.len())
    };
    Ok(Value::String(
        s.with_same_context(bytes.get(from..to).unwrap_or(&[])),
    ))
});

builtin!(concat_strings_sep, co, [sep, xs], {
    let sep = coerce(co, sep).await?;
    let xs = co.force(xs).await?.as_list()?;
    let mut parts = Vec::with_capacity(2 * xs.len());
    for (i, x) in xs.iter().enumerate() {
        if i > 0 {
            parts.push(sep.clone());
        }
        parts.push(coerce(co, x.clone()).await?);
    }
    Ok(Value::String(NixString::concat(parts.iter())))
});

builtin!(replace_strings, co, [from, to, s], {
    let from = co.force(from).await?.as_list()?;
    let to = co.force(to).await?.as_list()?;
    if from.len() != to.len() {
        return Err(ErrorKind::Builtin(
            "'from' and 'to' arguments passed to builtins.replaceStrings have different lengths"
                .into(),
        )
        .into());
    }
    let mut patterns = Vec::with_capacity(from.len());
    for f in from.iter() {
        patterns.push(coerce(co, f.clone()).await?);
    }
    let s = coerce(co, s).await?;
    let mut replacements: Vec<Option<NixString>> = vec![None; to.len()];
    let input = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    let mut context = NixContext::new();
    if let Some(c) = s.context() {
        context.extend(c.iter().cloned());
    }
    let mut i = 0;
    while i <= input.len() {
        let mut matched = false;
        for (k, p) in patterns.iter().enumerate() {
            let p = p.as_bytes();
            if input.get(i..).is_some_and(|rest| rest.starts_with(p)) {
                let r = match &replacements[k] {
                    Some(r) => r.clone(),
                    None => {
                        let r = coerce(co, to[k].clone()).await?;
                        replacements[k] = Some(r.clone());
                        r
                    }
                };
                out.extend_from_slice(r.as_bytes());
                if let Some(c) = r.context() {
                    context.extend(c.iter().cloned());
                }
                if p.is_empty() {
                    if let Some(b) = input.get(i) {
                        out.push(*b);
                    }
                    i += 1;
                } else {
                    i += p.len();
                }
                matched = true;
                break;
            }
        }
        if !matched {
            if let Some(b) = input.get(i) {
                out.push(*b);
            }
            i += 1;
        }
    }
    Ok(Value::String(NixString::new(out, context)))
});

/// Splits a version like CppNix's `nextComponent`: runs of digits, runs of
/// other non-separator characters; `.` and `-` separate.
fn version_components(v: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if matches!(v[i], b'.' | b'-') {
            i += 1;
            continue;
        }
        let start = i;
        let digits = v[i].is_ascii_digit();
        while i < v.len() && !matches!(v[i], b'.' | b'-') && v[i].is_ascii_digit() == digits {
            i += 1;
        }
        out.push(&v[start..i]);
    }
    out
}

fn compare_components(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let num = |s: &[u8]| -> Option<u128> {
        if !s.is_empty() && s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ if a.is_empty() && num(b).is_some() => Less,
        _ if b.is_empty() && num(a).is_some() => Greater,
        _ if a == b"pre" && b != b"pre" => Less,
        _ if b == b"pre" && a != b"pre" => Greater,
        (Some(_), None) => Greater,
        (None, Some(_)) => Less,
        (None, None) => a.cmp(b),
    }
}

pub(crate) fn compare_version_strings(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let (ca, cb) = (version_components(a), version_components(b));
    let n = ca.len().max(cb.len());
    for i in 0..n {
        let x = ca.get(i).copied().unwrap_or(b"");
        let y = cb.get(i).copied().unwrap_or(b"");
        match compare_components(x, y) {
            std::cmp::Ordering::Equal => {}
            o => return o,
        }
    }
    std::cmp::Ordering::Equal
}

builtin!(split_version, co, [v], {
    let v = coerce(co, v).await?;
    Ok(Value::list(
        version_components(v.as_bytes())
            .into_iter()
            .map(|c| Value::String(c.into()))
            .collect(),
    ))
});

builtin!(compare_versions, co, [a, b], {
    let a = coerce(co, a).await?;
    let b = coerce(co, b).await?;
    Ok(Value::Int(
        match compare_version_strings(a.as_bytes(), b.as_bytes()) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        },
    ))
});

builtin!(parse_drv_name, co, [s], {
    let s = coerce(co, s).await?.to_string();
    // The name ends at the first dash followed by a non-letter.
    let bytes = s.as_bytes();
    let split = (0..bytes.len())
        .find(|&i| bytes[i] == b'-' && bytes.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic()));
    let (name, version) = match split {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s.as_str(), ""),
    };
    Ok(Value::Attrs(NixAttrs::from_entries_last_wins(vec![
        (NixString::from("name"), Value::string(name)),
        (NixString::from("version"), Value::string(version)),
    ])))
});

builtin!(base_name_of, co, [p], {
    let s = match co.force(p).await? {
        Value::Path(p) => NixString::from(p.to_string_lossy().to_string()),
        other => coerce(co, other).await?,
    };
    let bytes = s.as_bytes();
    let trimmed = bytes.strip_suffix(b"/").unwrap_or(bytes);
    let base = match trimmed.iter().rposition(|&c| c == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    Ok(Value::String(s.with_same_context(base)))
});

builtin!(dir_of, co, [p], {
    let v = co.force(p).await?;
    let is_path = matches!(v, Value::Path(_));
    let s = match v {
        Value::Path(p) => NixString::from(p.to_string_lossy().to_string()),
        other => coerce(co, other).await?,
    };
    let bytes = s.as_bytes();
    let dir: &[u8] = match bytes.iter().rposition(|&c| c == b'/') {
        Some(0) => b"/",
        Some(i) => &bytes[..i],
        None => b".",
    };
    if is_path {
        return Ok(Value::Path(
            std::path::PathBuf::from(String::from_utf8_lossy(dir).to_string()).into(),
        ));
    }
    Ok(Value::String(s.with_same_context(dir)))
});

builtin!(has_context, co, [s], {
    Ok(Value::Bool(co.force(s).await?.as_string()?.has_context()))
});
builtin!(discard_context, co, [s], {
    Ok(Value::String(coerce(co, s).await?.without_context()))
});

builtin!(string_to_characters, co, [s], {
    let s = coerce(co, s).await?;
    Ok(Value::list(
        s.to_str_lossy()
            .chars()
            .map(|c| Value::string(c.to_string()))
            .collect(),
    ))
});

fn json_escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// How deep `toJSON` recurses before reporting a stack overflow, like
/// CppNix. Each nesting level is one more boxed future in the chain the VM
/// polls, so the bound also keeps resumption cheap.
const MAX_JSON_DEPTH: usize = 1_000;

/// Serialises like `builtins.toJSON`.
pub(crate) fn to_json_string<'a>(
    co: &'a Co,
    v: Value,
    out: &'a mut String,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + 'a>> {
    to_json_at(co, v, out, 0)
}

fn to_json_at<'a>(
    co: &'a Co,
    v: Value,
    out: &'a mut String,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Error>> + 'a>> {
    Box::pin(async move {
        if depth > MAX_JSON_DEPTH {
            return Err(ErrorKind::StackOverflow.into());
        }
        match co.force(v).await? {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&json_float(f)),
            Value::String(s) => json_escape(out, &s.to_str_lossy()),
            Value::Path(p) => json_escape(out, &p.to_string_lossy()),
            Value::List(l) => {
                out.push('[');
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    to_json_at(co, x.clone(), out, depth + 1).await?;
                }
                out.push(']');
            }
            Value::Attrs(a) => {
                if a.contains(b"__toString") {
                    let s = coerce(co, Value::Attrs(a)).await?;
                    json_escape(out, &s.to_str_lossy());
                    return Ok(());
                }
                if let Some(p) = a.get(b"outPath") {
                    return to_json_at(co, p.clone(), out, depth + 1).await;
                }
                out.push('{');
                for (i, (k, x)) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_escape(out, &k.to_str_lossy());
                    out.push(':');
                    to_json_at(co, x.clone(), out, depth + 1).await?;
                }
                out.push('}');
            }
            other => {
                return Err(ErrorKind::Builtin(format!(
                    "cannot convert {} to JSON",
                    other.describe()
                ))
                .into());
            }
        }
        Ok(())
    })
}

/// nlohmann::json prints doubles with the shortest representation that
/// round-trips, as Rust's `{}` does.
fn json_float(f: f64) -> String {
    format!("{f}")
}

builtin!(to_json, co, [v], {
    let mut out = String::new();
    to_json_string(co, v, &mut out).await?;
    Ok(Value::string(out))
});

builtin!(to_xml, co, [v], {
    let v = co.deep_force(v).await?;
    Ok(Value::string(crate::value::xml::to_xml(&v)))
});
