//! The value model of the evaluator.
//!
//! Values are cheap to clone: everything bigger than a machine word sits
//! behind an `Rc`, and nothing is ever mutated in place except thunks,
//! which are updated once when forced.

mod attrs;
mod drop;
mod function;
mod list;
pub mod print;
mod string;
mod thunk;
pub mod xml;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use attrs::{DuplicateAttr, Entry, NixAttrs, SortedEntries};
pub use function::{Builtin, BuiltinDef, BuiltinFn, Closure, Upvalues};
pub use list::NixList;
pub use string::{ContextElement, NixContext, NixString, write_escaped};
pub use thunk::{Forcing, Thunk, ThunkState};

use crate::errors::ErrorKind;

#[derive(Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(NixString),
    /// An absolute, normalised path (no `.`/`..`, no trailing slash).
    /// A `PathBuf`, not a `Path`, behind the `Rc`: one pointer wide, like
    /// every other variant, so that a `Value` is two words.
    Path(Rc<PathBuf>),
    Attrs(NixAttrs),
    List(NixList),
    Closure(Rc<Closure>),
    Builtin(Rc<Builtin>),
    Thunk(Thunk),
}

/// `Null`, so that `Option::unwrap_or_default` can stand in for
/// `unwrap_or(Value::Null)`, which builds and drops a `Null` on every hit.
impl Default for Value {
    fn default() -> Self {
        Value::Null
    }
}

impl Value {
    /// The name `builtins.typeOf` reports.
    pub fn type_of(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "string",
            Value::Path(_) => "path",
            Value::Attrs(_) => "set",
            Value::List(_) => "list",
            Value::Closure(_) | Value::Builtin(_) => "lambda",
            Value::Thunk(t) => match t.value() {
                Some(v) => v.type_of(),
                None => "thunk",
            },
        }
    }

    /// The article-prefixed description CppNix uses in type errors
    /// ("expected a set but found a list").
    pub fn describe(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Value::Null => "null",
            Value::Bool(_) => "a Boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::String(_) => "a string",
            Value::Path(_) => "a path",
            Value::Attrs(_) => "a set",
            Value::List(_) => "a list",
            Value::Closure(_) => "a function",
            Value::Builtin(b) if b.partial.is_empty() => {
                return Cow::Owned(format!("the built-in function '{}'", b.name()));
            }
            Value::Builtin(b) => {
                return Cow::Owned(format!(
                    "the partially applied built-in function '{}'",
                    b.name()
                ));
            }
            Value::Thunk(t) => match t.value() {
                Some(v) => return v.describe(),
                None => "a thunk",
            },
        })
    }

    /// Follows evaluated thunks; returns the value itself otherwise.
    pub fn resolved(&self) -> Value {
        match self {
            Value::Thunk(t) => match t.value() {
                Some(v) => v.resolved(),
                None => self.clone(),
            },
            v => v.clone(),
        }
    }

    /// `resolved` for an owned value: moves instead of cloning unless it
    /// is an evaluated thunk.
    pub fn into_resolved(self) -> Value {
        match self {
            Value::Thunk(t) => match t.value() {
                Some(v) => v.into_resolved(),
                None => Value::Thunk(t),
            },
            v => v,
        }
    }

    /// True for thunks that still need forcing.
    pub fn needs_force(&self) -> bool {
        match self {
            Value::Thunk(t) => !t.is_evaluated(),
            _ => false,
        }
    }

    pub fn is_function(&self) -> bool {
        matches!(self, Value::Closure(_) | Value::Builtin(_))
    }

    pub fn as_bool(&self) -> Result<bool, ErrorKind> {
        if let Value::Bool(b) = self {
            return Ok(*b);
        }
        match self.resolved() {
            Value::Bool(b) => Ok(b),
            v => Err(ErrorKind::type_error("a Boolean", &v)),
        }
    }

    pub fn as_int(&self) -> Result<i64, ErrorKind> {
        match self.resolved() {
            Value::Int(i) => Ok(i),
            v => Err(ErrorKind::type_error("an integer", &v)),
        }
    }

    /// A number as a float, as CppNix's `forceFloat` (which takes
    /// integers too).
    pub fn as_float(&self) -> Result<f64, ErrorKind> {
        match self.resolved() {
            Value::Float(f) => Ok(f),
            Value::Int(i) => Ok(i as f64),
            v => Err(ErrorKind::type_error("a float", &v)),
        }
    }

    /// Checks that a value is a function, or a set with `__functor`, as
    /// CppNix's `forceFunction`.
    pub fn as_function(&self) -> Result<(), ErrorKind> {
        match self.resolved() {
            Value::Closure(_) | Value::Builtin(_) => Ok(()),
            Value::Attrs(a) if a.contains(b"__functor") => Ok(()),
            v => Err(ErrorKind::type_error("a function", &v)),
        }
    }

    pub fn as_attrs(&self) -> Result<NixAttrs, ErrorKind> {
        match self.resolved() {
            Value::Attrs(a) => Ok(a),
            v => Err(ErrorKind::type_error("a set", &v)),
        }
    }

    pub fn as_list(&self) -> Result<NixList, ErrorKind> {
        match self.resolved() {
            Value::List(l) => Ok(l),
            v => Err(ErrorKind::type_error("a list", &v)),
        }
    }

    pub fn as_string(&self) -> Result<NixString, ErrorKind> {
        match self.resolved() {
            Value::String(s) => Ok(s),
            v => Err(ErrorKind::type_error("a string", &v)),
        }
    }

    /// `as_attrs` for an owned value: moves the set out instead of
    /// cloning it (a reference-count bump and a drop saved per use).
    pub fn into_attrs(self) -> Result<NixAttrs, ErrorKind> {
        match self {
            Value::Attrs(a) => Ok(a),
            v => v.as_attrs(),
        }
    }

    /// `as_list` for an owned value; see `into_attrs`.
    pub fn into_list(self) -> Result<NixList, ErrorKind> {
        match self {
            Value::List(l) => Ok(l),
            v => v.as_list(),
        }
    }

    /// `as_string` for an owned value; see `into_attrs`.
    pub fn into_nix_string(self) -> Result<NixString, ErrorKind> {
        match self {
            Value::String(s) => Ok(s),
            v => v.as_string(),
        }
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(NixList::from(items))
    }

    pub fn string(s: impl Into<NixString>) -> Value {
        Value::String(s.into())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<NixAttrs> for Value {
    fn from(a: NixAttrs) -> Self {
        Value::Attrs(a)
    }
}

/// Normalises a path the way CppNix's `canonPath` does, lexically: no `.`,
/// `..` removes the previous component, no repeated or trailing slashes.
pub fn normalise_path(p: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut parts = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => parts.push(x),
            Component::ParentDir => {
                parts.pop();
            }
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let mut out = std::path::PathBuf::from("/");
    out.extend(parts);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Values are copied on every stack push and fill every list and
    /// thunk: every variant's payload is one word (see `NixString`).
    #[test]
    fn value_is_two_words() {
        assert_eq!(std::mem::size_of::<Value>(), 16);
    }

    #[rstest]
    #[case::plain("/a/b", "/a/b")]
    #[case::dot("/a/./b", "/a/b")]
    #[case::dotdot("/a/../b", "/b")]
    #[case::above_root("/../a", "/a")]
    #[case::trailing_slash("/a/b/", "/a/b")]
    #[case::double_slash("/a//b", "/a/b")]
    #[case::root("/", "/")]
    fn normalise(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(normalise_path(Path::new(input)), Path::new(expected));
    }
}
