//! XML output, as `nix-instantiate --eval --xml --no-location` and
//! `builtins.toXML` produce it. The value must already be forced deeply.

use super::Value;
use super::print::format_float;
use crate::source::{SourceMap, Span};

/// The XML document for a value; with `sources`, attributes and
/// functions carry the position they were defined at.
pub fn to_xml(v: &Value, sources: Option<&SourceMap>) -> String {
    let mut out = String::from("<?xml version='1.0' encoding='utf-8'?>\n<expr>\n");
    write(&mut out, v, 1, sources);
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

/// `column`, `line` and `path` of a position, as XML attributes.
fn location(sources: Option<&SourceMap>, span: Option<Span>) -> Vec<(&'static str, String)> {
    match (sources, span) {
        (Some(sources), Some(span)) => {
            let loc = sources.location(span);
            let mut attrs = vec![
                ("column", loc.column.to_string()),
                ("line", loc.line.to_string()),
            ];
            // Code from `-E` or standard input has no path.
            if !loc.file.starts_with('«') {
                attrs.push(("path", loc.file));
            }
            attrs
        }
        _ => Vec::new(),
    }
}

/// Work items of the writer, which uses an explicit stack so that deeply
/// nested values cannot overflow the native stack.
enum Item {
    Value(Value, usize),
    /// Text written as it is: the opening tag of an `attr` element.
    Text(String),
    Close(&'static str, usize),
}

/// The text of a string attribute of a derivation, if it is one.
fn string_attr(a: &super::NixAttrs, name: &str) -> Option<String> {
    match a.get(name.as_bytes()).map(Value::resolved) {
        Some(Value::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn write(out: &mut String, v: &Value, depth: usize, sources: Option<&SourceMap>) {
    let mut work = vec![Item::Value(v.clone(), depth)];
    // Derivations already written, by `drvPath`: written once, as CppNix
    // does.
    let mut derivations_seen = std::collections::HashSet::new();
    while let Some(item) = work.pop() {
        let (v, depth) = match item {
            Item::Close(name, depth) => {
                close(out, depth, name);
                continue;
            }
            Item::Text(text) => {
                out.push_str(&text);
                continue;
            }
            Item::Value(v, depth) => (v, depth),
        };
        match &v {
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
            Value::Attrs(a) => {
                let is_derivation = string_attr(a, "type").as_deref() == Some("derivation");
                let tag = if is_derivation {
                    let mut attrs = Vec::new();
                    let drv_path = string_attr(a, "drvPath");
                    if let Some(d) = &drv_path {
                        attrs.push(("drvPath", d.clone()));
                    }
                    if let Some(o) = string_attr(a, "outPath") {
                        attrs.push(("outPath", o));
                    }
                    open(out, depth, "derivation", &attrs);
                    // As in CppNix, a derivation without a (string) drvPath
                    // counts as seen.
                    if drv_path.is_none_or(|d| !derivations_seen.insert(d)) {
                        empty(out, depth + 1, "repeated", &[]);
                        close(out, depth, "derivation");
                        continue;
                    }
                    "derivation"
                } else {
                    open(out, depth, "attrs", &[]);
                    "attrs"
                };
                work.push(Item::Close(tag, depth));
                for entry in a.entries().rev() {
                    let mut attrs = location(sources, entry.pos.span());
                    // XML attributes in alphabetical order, as CppNix writes them.
                    attrs.insert(attrs.len().min(2), ("name", entry.name.to_string()));
                    let mut header = String::new();
                    open(&mut header, depth + 1, "attr", &attrs);
                    work.push(Item::Close("attr", depth + 1));
                    work.push(Item::Value(entry.value.clone(), depth + 2));
                    work.push(Item::Text(header));
                }
            }
            Value::List(l) => {
                open(out, depth, "list", &[]);
                work.push(Item::Close("list", depth));
                for item in l.iter().rev() {
                    work.push(Item::Value(item.clone(), depth + 1));
                }
            }
            Value::Closure(c) => {
                open(
                    out,
                    depth,
                    "function",
                    &location(sources, Some(c.lambda.span)),
                );
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
                        for formal in &formals.names {
                            empty(out, depth + 2, "attr", &[("name", formal.name.clone())]);
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
                Some(v) => work.push(Item::Value(v, depth)),
                None => empty(out, depth, "unevaluated", &[]),
            },
        }
    }
}
