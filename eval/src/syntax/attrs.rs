//! The bindings of a set, `rec` set or `let`, merged as CppNix's parser
//! merges them (`addAttr` in its parser).
//!
//! `a.b = 1; a.c = 2;` makes one nested set `a`. A set literal merges with
//! another set at the same name, recursively, whichever comes first:
//! `a = { b = 1; }; a.c = 2;` and `a.c = 2; a = { b = 1; };` both make
//! `a = { b = 1; c = 2; }`. The set that was there first keeps its
//! `rec`-ness and the other's is dropped (CppNix issue 9020, see
//! eval-okay-regrettable-rec-attrset-merge). Any other repetition of a
//! static name is an error that names the attribute path and where it
//! was defined first. Dynamic names (`${e}`, `"${e}"`) are only known
//! when the set is built.

use std::collections::HashMap;

use rnix::ast::{self, HasEntry as _};
use rowan::ast::AstNode;

use super::{Source, strings};
use crate::errors::{Error, ErrorKind};
use crate::source::Span;

pub(crate) struct AttrsDef {
    pub rec: bool,
    /// Static names, in the order they were first defined.
    pub statics: Vec<(String, Entry, Span)>,
    /// Where each name of `statics` is.
    index: HashMap<String, usize>,
    pub dynamics: Vec<(ast::Expr, Entry, Span)>,
    /// The `(expr)` of each `inherit (expr) …`, shared by its names.
    pub froms: Vec<ast::Expr>,
}

pub(crate) enum Entry {
    Expr(ast::Expr),
    Inherit {
        from: Option<usize>,
    },
    /// A set made by attribute paths (`a.b = …`) or by merging.
    Nested(Box<AttrsDef>),
}

/// An attribute name: known when parsing (`a`, `"a"`, `${"a"}`), or an
/// expression evaluated when the set is built.
pub(crate) enum AttrName {
    Static(String),
    Dynamic(ast::Expr),
}

/// The name of an attribute in an attribute path or `inherit`.
pub(crate) fn attr_name(attr: &ast::Attr) -> Option<AttrName> {
    match attr {
        ast::Attr::Ident(i) => Some(AttrName::Static(i.syntax().text().to_string())),
        ast::Attr::Str(s) => Some(match strings::literal(s) {
            Some(name) => AttrName::Static(name),
            None => AttrName::Dynamic(ast::Expr::Str(s.clone())),
        }),
        ast::Attr::Dynamic(d) => {
            let expr = strip_parens(d.expr()?);
            Some(match &expr {
                ast::Expr::Str(s) => match strings::literal(s) {
                    Some(name) => AttrName::Static(name),
                    None => AttrName::Dynamic(expr),
                },
                _ => AttrName::Dynamic(expr),
            })
        }
    }
}

/// The name of an attribute if it is known when parsing.
pub(crate) fn static_name(attr: &ast::Attr) -> Option<String> {
    match attr_name(attr)? {
        AttrName::Static(name) => Some(name),
        AttrName::Dynamic(_) => None,
    }
}

/// CppNix has no node for parentheses.
pub(crate) fn strip_parens(mut expr: ast::Expr) -> ast::Expr {
    while let ast::Expr::Paren(p) = &expr {
        match p.expr() {
            Some(inner) => expr = inner,
            None => break,
        }
    }
    expr
}

/// How an attribute path is shown in messages (CppNix's `showAttrPath`).
fn show_path(path: &[String]) -> String {
    let mut out = String::new();
    for (i, name) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        super::print::write_identifier(&mut out, name);
    }
    out
}

impl Entry {
    fn is_attrs(&self) -> bool {
        match self {
            Entry::Nested(_) => true,
            Entry::Expr(e) => matches!(strip_parens(e.clone()), ast::Expr::AttrSet(_)),
            Entry::Inherit { .. } => false,
        }
    }

    /// The definition of a set entry, made from its literal if need be.
    fn into_def(self, src: &Source) -> Result<AttrsDef, Error> {
        match self {
            Entry::Nested(def) => Ok(*def),
            Entry::Expr(e) => match strip_parens(e) {
                ast::Expr::AttrSet(set) => {
                    AttrsDef::collect(set.entries(), set.rec_token().is_some(), src)
                }
                _ => Ok(AttrsDef::new(false)),
            },
            Entry::Inherit { .. } => Ok(AttrsDef::new(false)),
        }
    }

    /// Makes a set entry `Nested` and returns its definition; `None` if
    /// it is no set.
    fn nested(&mut self, src: &Source) -> Result<Option<&mut AttrsDef>, Error> {
        if !self.is_attrs() {
            return Ok(None);
        }
        if !matches!(self, Entry::Nested(_)) {
            let entry = std::mem::replace(self, Entry::Inherit { from: None });
            *self = Entry::Nested(Box::new(entry.into_def(src)?));
        }
        match self {
            Entry::Nested(def) => Ok(Some(def)),
            _ => Ok(None),
        }
    }
}

impl AttrsDef {
    pub fn new(rec: bool) -> Self {
        AttrsDef {
            rec,
            statics: Vec::new(),
            index: HashMap::new(),
            dynamics: Vec::new(),
            froms: Vec::new(),
        }
    }

    /// The definition made by `entries`, in order.
    pub fn collect(
        entries: impl Iterator<Item = ast::Entry>,
        rec: bool,
        src: &Source,
    ) -> Result<Self, Error> {
        let mut def = AttrsDef::new(rec);
        for entry in entries {
            def.add_entry(&entry, src)?;
        }
        Ok(def)
    }

    /// Adds one `inherit …;` or `path = value;`.
    pub fn add_entry(&mut self, entry: &ast::Entry, src: &Source) -> Result<(), Error> {
        match entry {
            ast::Entry::Inherit(i) => {
                let from = match i.from().and_then(|f| f.expr()) {
                    Some(expr) => {
                        self.froms.push(expr);
                        Some(self.froms.len() - 1)
                    }
                    None => None,
                };
                for attr in i.attrs() {
                    let span = src.span(attr.syntax().text_range());
                    let Some(AttrName::Static(name)) = attr_name(&attr) else {
                        return Err(Error::new(ErrorKind::DynamicAttrInInherit, Some(span)));
                    };
                    if let Some(&k) = self.index.get(&name) {
                        return Err(duplicate(&[name], span, self.statics[k].2, src));
                    }
                    self.insert(name, Entry::Inherit { from }, span);
                }
                Ok(())
            }
            ast::Entry::AttrpathValue(apv) => {
                let (Some(path), Some(value)) = (apv.attrpath(), apv.value()) else {
                    return Ok(());
                };
                let span = src.span(path.syntax().text_range());
                let attrs: Vec<ast::Attr> = path.attrs().collect();
                self.add_path(&attrs, value, span, src)
            }
        }
    }

    fn insert(&mut self, name: String, entry: Entry, span: Span) {
        self.index.insert(name.clone(), self.statics.len());
        self.statics.push((name, entry, span));
    }

    /// `path = value;`: every name but the last selects or makes a nested
    /// set.
    fn add_path(
        &mut self,
        path: &[ast::Attr],
        value: ast::Expr,
        span: Span,
        src: &Source,
    ) -> Result<(), Error> {
        let Some((last, init)) = path.split_last() else {
            return Ok(());
        };
        let mut def = self;
        let mut shown = Vec::new();
        for attr in init {
            def = match attr_name(attr) {
                Some(AttrName::Static(name)) => {
                    shown.push(name.clone());
                    match def.index.get(&name).copied() {
                        Some(k) => {
                            let previous = def.statics[k].2;
                            match def.statics[k].1.nested(src)? {
                                Some(nested) => nested,
                                None => return Err(duplicate(&shown, span, previous, src)),
                            }
                        }
                        None => {
                            def.insert(name, Entry::Nested(Box::new(AttrsDef::new(false))), span);
                            let Some((_, Entry::Nested(nested), _)) = def.statics.last_mut() else {
                                return Ok(());
                            };
                            nested
                        }
                    }
                }
                Some(AttrName::Dynamic(key)) => {
                    let nested = Entry::Nested(Box::new(AttrsDef::new(false)));
                    def.dynamics.push((key, nested, span));
                    let Some((_, Entry::Nested(nested), _)) = def.dynamics.last_mut() else {
                        return Ok(());
                    };
                    nested
                }
                None => return Ok(()),
            };
        }
        match attr_name(last) {
            Some(AttrName::Static(name)) => {
                shown.push(name.clone());
                def.add_attr(&mut shown, name, Entry::Expr(value), span, src)
            }
            Some(AttrName::Dynamic(key)) => {
                def.dynamics.push((key, Entry::Expr(value), span));
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Defines `name`, merging two sets; `shown` is the attribute path of
    /// `name` for messages.
    fn add_attr(
        &mut self,
        shown: &mut Vec<String>,
        name: String,
        entry: Entry,
        span: Span,
        src: &Source,
    ) -> Result<(), Error> {
        let Some(k) = self.index.get(&name).copied() else {
            self.insert(name, entry, span);
            return Ok(());
        };
        let previous = self.statics[k].2;
        if !entry.is_attrs() {
            return Err(duplicate(shown, span, previous, src));
        }
        let Some(target) = self.statics[k].1.nested(src)? else {
            return Err(duplicate(shown, span, previous, src));
        };
        let source = entry.into_def(src)?;
        let offset = target.froms.len();
        target.froms.extend(source.froms);
        let shift = |e: Entry| match e {
            Entry::Inherit { from: Some(i) } => Entry::Inherit {
                from: Some(i + offset),
            },
            other => other,
        };
        for (name, entry, span) in source.statics {
            shown.push(name.clone());
            target.add_attr(shown, name, shift(entry), span, src)?;
            shown.pop();
        }
        target.dynamics.extend(source.dynamics);
        Ok(())
    }
}

fn duplicate(path: &[String], span: Span, previous: Span, src: &Source) -> Error {
    Error::new(
        ErrorKind::AttrAlreadyDefined {
            path: show_path(path),
            previous: src.position(previous.start),
        },
        Some(span),
    )
}
