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

fn write(out: &mut String, v: &Value, depth: usize, sources: Option<&SourceMap>) {
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
        Value::Attrs(a) => {
            open(out, depth, "attrs", &[]);
            for entry in a.entries() {
                let mut attrs = location(sources, entry.pos.span());
                // XML attributes in alphabetical order, as CppNix writes them.
                attrs.insert(attrs.len().min(2), ("name", entry.name.to_string()));
                open(out, depth + 1, "attr", &attrs);
                write(out, &entry.value, depth + 2, sources);
                close(out, depth + 1, "attr");
            }
            close(out, depth, "attrs");
        }
        Value::List(l) => {
            open(out, depth, "list", &[]);
            for item in l.iter() {
                write(out, item, depth + 1, sources);
            }
            close(out, depth, "list");
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
            Some(v) => write(out, &v, depth, sources),
            None => empty(out, depth, "unevaluated", &[]),
        },
    }
}
