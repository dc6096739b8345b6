//! `nix-instantiate --parse`: an expression shown as CppNix shows the
//! expression its parser built (`Expr::show`), which is also how
//! assertion failures quote their condition.
//!
//! CppNix shows its desugared tree, not the source: parentheses are
//! gone and every compound expression gets its own; `a - b`, `a * b`,
//! `a / b`, `a < b`, `-a` and `<p>` are calls of `__sub`, `__mul`,
//! `__div`, `__lessThan` and `__findFile`, and a call of a call is one
//! call (`(a - b) c` is `(__sub a b c)`); `a > b` swaps the operands of
//! `__lessThan`, `a <= b` negates it; `a |> f` is `(f a)`; sets show
//! their merged bindings sorted by name, `inherit`s first; relative and
//! home paths are absolute; a `let { … }` is `(rec { … }).body`; string
//! literals are re-escaped, and strings with interpolations are
//! concatenations of their parts (see `strings.rs`).
//!
//! The printer keeps its own stack of work, so deeply nested expressions
//! do not recurse on the native stack.

use std::path::Path;

use rnix::ast::{self, AstToken as _, BinOpKind, HasEntry as _, InterpolPart, UnaryOpKind};
use rowan::ast::AstNode;

use super::Source;
use super::attrs::{AttrName, AttrsDef, Entry, attr_name, strip_parens};
use super::strings;
use crate::value::print::{format_float, is_identifier};
use crate::value::write_escaped;

/// Where paths are resolved.
#[derive(Clone, Copy)]
pub(crate) struct Paths<'a> {
    /// The directory of the file (the current one for standard input and
    /// `-E`).
    pub dir: &'a Path,
    pub home: Option<&'a Path>,
}

/// The expression of a file as `--parse` shows it.
pub(crate) fn show(root: &rnix::Root, src: &Source, paths: Paths) -> String {
    match root.expr() {
        Some(expr) => show_expr(&expr, src, paths),
        None => String::new(),
    }
}

/// One expression as CppNix shows it.
pub(crate) fn show_expr(expr: &ast::Expr, src: &Source, paths: Paths) -> String {
    let mut printer = Printer {
        src,
        paths,
        out: String::new(),
        work: vec![Item::Expr(expr.clone())],
    };
    printer.run();
    printer.out
}

/// CppNix's `printIdentifier`: a name that is not an identifier, or is a
/// keyword, is quoted.
pub(crate) fn write_identifier(out: &mut String, name: &str) {
    const KEYWORDS: &[&str] = &[
        "if", "then", "else", "assert", "with", "let", "in", "rec", "inherit",
    ];
    if KEYWORDS.contains(&name) {
        out.push('"');
        out.push_str(name);
        out.push('"');
    } else if is_identifier(name.as_bytes()) {
        out.push_str(name);
    } else {
        write_escaped(out, name.as_bytes());
    }
}

/// Work items, done last first.
enum Item {
    Text(&'static str),
    Owned(String),
    Expr(ast::Expr),
    /// An attribute set definition: `rec { … }` or `{ … }`.
    Set(Box<AttrsDef>),
    /// The bindings of a set or `let`, as CppNix's `showBindings` prints
    /// them.
    Bindings(Box<AttrsDef>),
}

struct Printer<'a> {
    src: &'a Source<'a>,
    paths: Paths<'a>,
    out: String,
    work: Vec<Item>,
}

impl Printer<'_> {
    fn run(&mut self) {
        while let Some(item) = self.work.pop() {
            match item {
                Item::Text(t) => self.out.push_str(t),
                Item::Owned(t) => self.out.push_str(&t),
                Item::Expr(e) => {
                    let items = self.expr(e);
                    self.work.extend(items.into_iter().rev());
                }
                Item::Set(def) => {
                    let mut items = Vec::new();
                    if def.rec {
                        items.push(Item::Text("rec "));
                    }
                    items.push(Item::Text("{ "));
                    items.push(Item::Bindings(def));
                    items.push(Item::Text("}"));
                    self.work.extend(items.into_iter().rev());
                }
                Item::Bindings(def) => {
                    let items = self.bindings(*def);
                    self.work.extend(items.into_iter().rev());
                }
            }
        }
    }

    /// The items that show `expr`, in order.
    fn expr(&self, expr: ast::Expr) -> Vec<Item> {
        use Item::{Expr, Owned, Text};
        let expr = strip_parens(expr);
        let sub = |e: Option<ast::Expr>| match e {
            Some(e) => Expr(e),
            None => Text(""),
        };
        match &expr {
            ast::Expr::Root(r) => vec![sub(r.expr())],
            ast::Expr::Literal(l) => vec![Owned(literal(l))],
            ast::Expr::Ident(i) => vec![Owned(i.syntax().text().to_string())],
            ast::Expr::CurPos(_) => vec![Text("__curPos")],
            ast::Expr::Str(s) => match strings::literal(s) {
                Some(text) => {
                    let mut out = String::new();
                    write_escaped(&mut out, text.as_bytes());
                    vec![Owned(out)]
                }
                None => string_items(strings::parts(s)),
            },
            ast::Expr::PathAbs(_) | ast::Expr::PathRel(_) | ast::Expr::PathHome(_) => {
                self.path(&expr)
            }
            ast::Expr::List(l) => {
                let mut items = vec![Text("[ ")];
                for item in l.items() {
                    items.extend([Text("("), Expr(item), Text(") ")]);
                }
                items.push(Text("]"));
                items
            }
            ast::Expr::BinOp(b) => {
                let (lhs, rhs) = (sub(b.lhs()), sub(b.rhs()));
                let infix = match b.operator() {
                    Some(BinOpKind::Add) => " + ",
                    Some(BinOpKind::Concat) => " ++ ",
                    Some(BinOpKind::Update) => " // ",
                    Some(BinOpKind::Equal) => " == ",
                    Some(BinOpKind::NotEqual) => " != ",
                    Some(BinOpKind::And) => " && ",
                    Some(BinOpKind::Or) => " || ",
                    Some(BinOpKind::Implication) => " -> ",
                    Some(BinOpKind::LessOrEq) => {
                        return vec![Text("(! (__lessThan "), rhs, Text(" "), lhs, Text("))")];
                    }
                    Some(BinOpKind::MoreOrEq) => {
                        return vec![Text("(! (__lessThan "), lhs, Text(" "), rhs, Text("))")];
                    }
                    Some(
                        BinOpKind::Sub
                        | BinOpKind::Mul
                        | BinOpKind::Div
                        | BinOpKind::Less
                        | BinOpKind::More
                        | BinOpKind::PipeLeft
                        | BinOpKind::PipeRight,
                    ) => return self.call(&expr),
                    None => return Vec::new(),
                };
                vec![Text("("), lhs, Text(infix), rhs, Text(")")]
            }
            ast::Expr::UnaryOp(u) => match u.operator() {
                Some(UnaryOpKind::Invert) => vec![Text("(! "), sub(u.expr()), Text(")")],
                Some(UnaryOpKind::Negate) => self.call(&expr),
                None => Vec::new(),
            },
            ast::Expr::Apply(_) | ast::Expr::PathSearch(_) => self.call(&expr),
            ast::Expr::IfElse(i) => vec![
                Text("(if "),
                sub(i.condition()),
                Text(" then "),
                sub(i.body()),
                Text(" else "),
                sub(i.else_body()),
                Text(")"),
            ],
            ast::Expr::Assert(a) => vec![
                Text("assert "),
                sub(a.condition()),
                Text("; "),
                sub(a.body()),
            ],
            ast::Expr::With(w) => vec![
                Text("(with "),
                sub(w.namespace()),
                Text("; "),
                sub(w.body()),
                Text(")"),
            ],
            ast::Expr::Select(s) => {
                let mut items = vec![Text("("), sub(s.expr()), Text(").")];
                if let Some(path) = s.attrpath() {
                    items.extend(attr_path(path.attrs()));
                }
                if let Some(default) = s.default_expr() {
                    items.extend([Text(" or ("), Expr(default), Text(")")]);
                }
                items
            }
            ast::Expr::HasAttr(h) => {
                let mut items = vec![Text("(("), sub(h.expr()), Text(") ? ")];
                if let Some(path) = h.attrpath() {
                    items.extend(attr_path(path.attrs()));
                }
                items.push(Text(")"));
                items
            }
            ast::Expr::Lambda(l) => {
                let mut items = vec![Text("(")];
                match l.param() {
                    Some(ast::Param::IdentParam(p)) => {
                        let name = p.ident().map(|i| i.syntax().text().to_string());
                        items.push(Owned(name.unwrap_or_default()));
                    }
                    Some(ast::Param::Pattern(p)) => items.extend(pattern(&p)),
                    None => {}
                }
                items.extend([Text(": "), sub(l.body()), Text(")")]);
                items
            }
            ast::Expr::LetIn(l) => {
                let def = self.def(l.entries(), true);
                vec![
                    Text("(let "),
                    Item::Bindings(def),
                    Text("in "),
                    sub(l.body()),
                    Text(")"),
                ]
            }
            ast::Expr::LegacyLet(l) => {
                let def = self.def(l.entries(), true);
                vec![Text("("), Item::Set(def), Text(").body")]
            }
            ast::Expr::AttrSet(a) => {
                vec![Item::Set(self.def(a.entries(), a.rec_token().is_some()))]
            }
            ast::Expr::Paren(_) | ast::Expr::Error(_) => Vec::new(),
        }
    }

    fn def(&self, entries: impl Iterator<Item = ast::Entry>, rec: bool) -> Box<AttrsDef> {
        // The file was checked before it is shown: merging cannot fail.
        Box::new(AttrsDef::collect(entries, rec, self.src).unwrap_or_else(|_| AttrsDef::new(rec)))
    }

    /// CppNix's `showBindings`: plain `inherit`s, then each `inherit
    /// (e)`, then the other static names in order, then dynamic ones.
    fn bindings(&self, def: AttrsDef) -> Vec<Item> {
        use Item::{Expr, Owned, Text};
        let mut statics = def.statics;
        statics.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut items = Vec::new();
        let names = |pick: &dyn Fn(&Entry) -> bool| {
            let mut out = String::new();
            for (name, entry, _) in &statics {
                if pick(entry) {
                    out.push(' ');
                    write_identifier(&mut out, name);
                }
            }
            out
        };
        let inherited = names(&|e| matches!(e, Entry::Inherit { from: None }));
        let mut from_names = Vec::new();
        for i in 0..def.froms.len() {
            from_names.push(names(
                &|e| matches!(e, Entry::Inherit { from: Some(f) } if *f == i),
            ));
        }
        if !inherited.is_empty() {
            items.push(Owned(format!("inherit{inherited}; ")));
        }
        for (from, names) in def.froms.into_iter().zip(from_names) {
            if !names.is_empty() {
                items.extend([Text("inherit ("), Expr(from), Owned(format!("){names}; "))]);
            }
        }
        for (name, entry, _) in statics {
            let value = match entry {
                Entry::Inherit { .. } => continue,
                Entry::Expr(e) => Expr(e),
                Entry::Nested(def) => Item::Set(def),
            };
            let mut shown = String::new();
            write_identifier(&mut shown, &name);
            shown.push_str(" = ");
            items.extend([Owned(shown), value, Text("; ")]);
        }
        for (key, entry, _) in def.dynamics {
            let value = match entry {
                Entry::Expr(e) => Expr(e),
                Entry::Nested(def) => Item::Set(def),
                Entry::Inherit { .. } => continue,
            };
            items.extend([Text("\"${"), Expr(key), Text("}\" = "), value, Text("; ")]);
        }
        items
    }

    /// A call, with the calls it applies merged into it: CppNix adds the
    /// arguments of `f a` applied to `b` to the call `f a`.
    fn call(&self, expr: &ast::Expr) -> Vec<Item> {
        use Item::{Expr, Owned, Text};
        // Argument lists, outermost call first.
        let mut args: Vec<Vec<Item>> = Vec::new();
        let mut function = expr.clone();
        let head = loop {
            let opt = |e: Option<ast::Expr>| e.map_or(Text(""), Expr);
            match &function {
                ast::Expr::Apply(a) => {
                    args.push(vec![opt(a.argument())]);
                    match a.lambda() {
                        Some(f) => function = strip_parens(f),
                        None => break Text(""),
                    }
                }
                ast::Expr::BinOp(b) => match (b.operator(), b.lhs(), b.rhs()) {
                    (Some(BinOpKind::PipeRight), lhs, rhs) => {
                        args.push(vec![opt(lhs)]);
                        match rhs {
                            Some(f) => function = strip_parens(f),
                            None => break Text(""),
                        }
                    }
                    (Some(BinOpKind::PipeLeft), lhs, rhs) => {
                        args.push(vec![opt(rhs)]);
                        match lhs {
                            Some(f) => function = strip_parens(f),
                            None => break Text(""),
                        }
                    }
                    (Some(op), lhs, rhs) => {
                        let (name, swap) = match op {
                            BinOpKind::Sub => ("__sub", false),
                            BinOpKind::Mul => ("__mul", false),
                            BinOpKind::Div => ("__div", false),
                            BinOpKind::Less => ("__lessThan", false),
                            BinOpKind::More => ("__lessThan", true),
                            // Not a call.
                            _ => break Expr(function),
                        };
                        let (lhs, rhs) = (opt(lhs), opt(rhs));
                        args.push(if swap { vec![rhs, lhs] } else { vec![lhs, rhs] });
                        break Text(name);
                    }
                    _ => break Expr(function),
                },
                ast::Expr::UnaryOp(u) if u.operator() == Some(UnaryOpKind::Negate) => {
                    args.push(vec![Text("0"), opt(u.expr())]);
                    break Text("__sub");
                }
                ast::Expr::PathSearch(p) => {
                    let name = p.content().map(|c| c.syntax().text().to_string());
                    let name = name.as_deref().unwrap_or("<>");
                    let name = name.trim_start_matches('<').trim_end_matches('>');
                    let mut quoted = String::new();
                    write_escaped(&mut quoted, name.as_bytes());
                    args.push(vec![Text("__nixPath"), Owned(quoted)]);
                    break Text("__findFile");
                }
                _ => break Expr(function),
            }
        };
        let mut items = vec![Text("("), head];
        for arg in args.into_iter().rev().flatten() {
            items.push(Text(" "));
            items.push(arg);
        }
        items.push(Text(")"));
        items
    }

    /// A path literal: absolute, or the concatenation of its absolute
    /// first part (which keeps a trailing slash), interpolations and
    /// further parts as strings.
    fn path(&self, expr: &ast::Expr) -> Vec<Item> {
        use Item::{Expr, Owned, Text};
        let parts = match expr {
            ast::Expr::PathAbs(p) => p.parts(),
            ast::Expr::PathRel(p) => p.parts(),
            ast::Expr::PathHome(p) => p.parts(),
            _ => Vec::new(),
        };
        let absolute = |text: &str| {
            if let Some(rest) = text.strip_prefix('~') {
                let home = self.paths.home.map(|h| h.display().to_string());
                return format!("{}{rest}", home.unwrap_or_default());
            }
            let joined = self.paths.dir.join(text);
            let mut path = crate::value::normalise_path(&joined).display().to_string();
            if text.len() > 1 && text.ends_with('/') {
                path.push('/');
            }
            path
        };
        if let [InterpolPart::Literal(text)] = parts.as_slice() {
            return vec![Owned(absolute(text.syntax().text()))];
        }
        let mut items = vec![Text("(")];
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                items.push(Text(" + "));
            }
            match part {
                InterpolPart::Literal(text) if i == 0 => {
                    items.push(Owned(absolute(text.syntax().text())))
                }
                InterpolPart::Literal(text) => {
                    let mut quoted = String::new();
                    write_escaped(&mut quoted, text.syntax().text().as_bytes());
                    items.push(Owned(quoted));
                }
                InterpolPart::Interpolation(i) => items.push(i.expr().map_or(Text(""), Expr)),
            }
        }
        items.push(Text(")"));
        items
    }
}

fn literal(l: &ast::Literal) -> String {
    match l.kind() {
        ast::LiteralKind::Integer(i) => i
            .value()
            .map_or_else(|_| i.syntax().text().to_string(), |v| v.to_string()),
        ast::LiteralKind::Float(f) => f
            .value()
            .map_or_else(|_| f.syntax().text().to_string(), format_float),
        ast::LiteralKind::Uri(u) => {
            let mut out = String::new();
            write_escaped(&mut out, u.syntax().text().as_bytes());
            out
        }
    }
}

/// The concatenation of a string's parts.
fn string_items(parts: Vec<strings::Part>) -> Vec<Item> {
    let mut items = vec![Item::Text("(")];
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            items.push(Item::Text(" + "));
        }
        items.push(match part {
            InterpolPart::Literal(t) => {
                let mut out = String::new();
                write_escaped(&mut out, t.as_bytes());
                Item::Owned(out)
            }
            InterpolPart::Interpolation(i) => i.expr().map_or(Item::Text(""), Item::Expr),
        });
    }
    items.push(Item::Text(")"));
    items
}

/// An attribute path (CppNix's `showAttrPath`): dynamic names as
/// `"${e}"`.
fn attr_path(attrs: impl Iterator<Item = ast::Attr>) -> Vec<Item> {
    let mut items = Vec::new();
    for (i, attr) in attrs.enumerate() {
        if i > 0 {
            items.push(Item::Text("."));
        }
        match attr_name(&attr) {
            Some(AttrName::Static(name)) => {
                let mut out = String::new();
                write_identifier(&mut out, &name);
                items.push(Item::Owned(out));
            }
            Some(AttrName::Dynamic(e)) => {
                items.extend([Item::Text("\"${"), Item::Expr(e), Item::Text("}\"")]);
            }
            None => {}
        }
    }
    items
}

/// `{ a, b ? e, ... } @ x`, formals sorted by name.
fn pattern(p: &ast::Pattern) -> Vec<Item> {
    let mut formals: Vec<(String, Option<ast::Expr>)> = p
        .pat_entries()
        .map(|e| {
            let name = e.ident().map(|i| i.syntax().text().to_string());
            (name.unwrap_or_default(), e.default())
        })
        .collect();
    formals.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut items = vec![Item::Text("{ ")];
    let count = formals.len();
    for (i, (name, default)) in formals.into_iter().enumerate() {
        if i > 0 {
            items.push(Item::Text(", "));
        }
        items.push(Item::Owned(name));
        if let Some(default) = default {
            items.extend([Item::Text(" ? "), Item::Expr(default)]);
        }
    }
    if p.ellipsis_token().is_some() {
        items.push(Item::Text(if count > 0 { ", ..." } else { "..." }));
    }
    items.push(Item::Text(" }"));
    if let Some(bind) = p.pat_bind().and_then(|b| b.ident()) {
        items.push(Item::Owned(format!(" @ {}", bind.syntax().text())));
    }
    items
}
