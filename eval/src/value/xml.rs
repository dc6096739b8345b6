//! XML output, as `nix-instantiate --eval --xml --no-location` and
//! `builtins.toXML` produce it. The value must already be forced deeply.

use std::collections::HashSet;

use super::print::format_float;
use super::{NixAttrs, Value};

pub fn to_xml(v: &Value, _sources: Option<&crate::source::SourceMap>) -> String {
    let mut out = String::from("<?xml version='1.0' encoding='utf-8'?>\n<expr>\n");
    write(&mut out, v, 1, &mut HashSet::new());
    out.push_str("</expr>\n");
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' => out.push_str("&#x9;"),
            c => out.push(c),
        }
    }
    out
}

fn empty(out: &mut String, depth: usize, name: &str, attrs: &[(&str, String)]) {
    out.push_str(&"  ".repeat(depth));
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        out.push_str(&format!(" {k}=\"{}\"", escape(v)));
    }
    out.push_str(" />\n");
}

fn open(out: &mut String, depth: usize, name: &str, attrs: &[(&str, String)]) {
    out.push_str(&"  ".repeat(depth));
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        out.push_str(&format!(" {k}=\"{}\"", escape(v)));
    }
    out.push_str(">\n");
}

fn close(out: &mut String, depth: usize, name: &str) {
    out.push_str(&"  ".repeat(depth));
    out.push_str(&format!("</{name}>\n"));
}

/// The string value of an attribute, if it is one.
fn string_attr(a: &NixAttrs, name: &str) -> Option<String> {
    match a.get(name.as_bytes())?.resolved() {
        Value::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The attributes of a set, each in an `attr` element.
fn write_attrs(out: &mut String, a: &NixAttrs, depth: usize, drvs_seen: &mut HashSet<String>) {
    for (k, v) in a.iter() {
        open(out, depth, "attr", &[("name", k.to_string())]);
        write(out, v, depth + 1, drvs_seen);
        close(out, depth, "attr");
    }
}

/// Writes a value; a derivation (a set whose `type` is "derivation") is a
/// `derivation` element carrying its paths, and its attributes are
/// written only the first time its `drvPath` is met, as in CppNix.
fn write(out: &mut String, v: &Value, depth: usize, drvs_seen: &mut HashSet<String>) {
    match v {
        Value::Null => empty(out, depth, "null", &[]),
        Value::Bool(b) => empty(out, depth, "bool", &[("value", b.to_string())]),
        Value::Int(i) => empty(out, depth, "int", &[("value", i.to_string())]),
        Value::Float(f) => empty(out, depth, "float", &[("value", format_float(*f))]),
        Value::String(s) => empty(out, depth, "string", &[("value", s.to_string())]),
        Value::Path(p) => empty(
            out,
            depth,
            "path",
            &[("value", p.to_string_lossy().to_string())],
        ),
        Value::Attrs(a) if string_attr(a, "type").as_deref() == Some("derivation") => {
            let drv_path = string_attr(a, "drvPath");
            let mut attrs = Vec::new();
            if let Some(p) = &drv_path {
                attrs.push(("drvPath", p.clone()));
            }
            if let Some(p) = string_attr(a, "outPath") {
                attrs.push(("outPath", p));
            }
            open(out, depth, "derivation", &attrs);
            let first_time = drv_path.is_some_and(|p| !p.is_empty() && drvs_seen.insert(p));
            if first_time {
                write_attrs(out, a, depth + 1, drvs_seen);
            } else {
                empty(out, depth + 1, "repeated", &[]);
            }
            close(out, depth, "derivation");
        }
        Value::Attrs(a) => {
            open(out, depth, "attrs", &[]);
            write_attrs(out, a, depth + 1, drvs_seen);
            close(out, depth, "attrs");
        }
        Value::List(l) => {
            open(out, depth, "list", &[]);
            for item in l.iter() {
                write(out, item, depth + 1, drvs_seen);
            }
            close(out, depth, "list");
        }
        Value::Closure(c) => {
            open(out, depth, "function", &[]);
            match &c.lambda.formals {
                Some(formals) => {
                    let mut attrs = Vec::new();
                    if formals.ellipsis {
                        attrs.push(("ellipsis", "1".to_string()));
                    }
                    if let Some(name) = &c.lambda.arg_name {
                        attrs.push(("name", name.clone()));
                    }
                    open(out, depth + 1, "attrspat", &attrs);
                    for (name, _) in &formals.names {
                        empty(out, depth + 2, "attr", &[("name", name.clone())]);
                    }
                    close(out, depth + 1, "attrspat");
                }
                None => empty(
                    out,
                    depth + 1,
                    "varpat",
                    &[("name", c.lambda.arg_name.clone().unwrap_or_default())],
                ),
            }
            close(out, depth, "function");
        }
        Value::Builtin(_) => empty(out, depth, "unevaluated", &[]),
        Value::Thunk(t) => match t.value() {
            Some(v) => write(out, &v, depth, drvs_seen),
            None => empty(out, depth, "unevaluated", &[]),
        },
    }
}
