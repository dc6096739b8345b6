//! Callable values: closures over compiled lambdas, and builtins.

use std::rc::Rc;

use super::Value;
use crate::chunk::Lambda;
use crate::vm::generators::{BuiltinFn, Co, FastFn, GenFuture};

/// A lambda together with the upvalues captured when it was created.
pub struct Closure {
    pub lambda: Rc<Lambda>,
    pub upvalues: Upvalues,
}

/// The values a closure or thunk captured when it was created, shared
/// between the closure and every call of it. A body that captures nothing
/// (a file, a constant thunk) holds nothing, and one that captures a
/// single value (`n - 1`, the inner lambda of `a: b: a < b`) holds it
/// inline: neither allocates.
#[derive(Clone, Default)]
pub enum Upvalues {
    #[default]
    None,
    One(Value),
    Many(Rc<[Value]>),
}

impl Upvalues {
    /// Collects the captured values; `len` is their exact number.
    pub fn collect(len: usize, mut values: impl Iterator<Item = Value>) -> Self {
        match len {
            0 => Upvalues::None,
            1 => Upvalues::One(values.next().unwrap_or_default()),
            _ => Upvalues::Many(values.collect()),
        }
    }

    pub fn get(&self, index: usize) -> Option<&Value> {
        match self {
            Upvalues::None => None,
            Upvalues::One(v) => (index == 0).then_some(v),
            Upvalues::Many(vs) => vs.get(index),
        }
    }
}

/// A builtin function, possibly partially applied.
///
/// Builtins take all their arguments at once; until `arity` arguments have
/// been supplied, applying one yields a new `Builtin` holding them
/// (printed as `<PRIMOP-APP>`).
#[derive(Clone)]
pub struct Builtin {
    pub name: &'static str,
    pub arity: usize,
    pub func: BuiltinFn,
    /// Tried first when a call brings all the arguments at once.
    pub fast: Option<FastFn>,
    pub partial: Vec<Value>,
}

impl Builtin {
    pub fn new(name: &'static str, arity: usize, func: BuiltinFn, fast: Option<FastFn>) -> Self {
        Builtin {
            name,
            arity,
            func,
            fast,
            partial: Vec::new(),
        }
    }

    /// Runs the builtin once all arguments are present.
    pub fn invoke(&self, co: Co, args: Vec<Value>) -> GenFuture {
        (self.func)(co, args)
    }
}
