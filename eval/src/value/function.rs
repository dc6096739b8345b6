//! Callable values: closures over compiled lambdas, and builtins.

use std::rc::Rc;

use super::Value;
use crate::chunk::Lambda;
use crate::vm::generators::{BuiltinFn, Co, GenFuture};

/// A lambda together with the upvalues captured when it was created.
pub struct Closure {
    pub lambda: Rc<Lambda>,
    pub upvalues: Rc<[Value]>,
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
    pub partial: Vec<Value>,
}

impl Builtin {
    pub fn new(name: &'static str, arity: usize, func: BuiltinFn) -> Self {
        Builtin {
            name,
            arity,
            func,
            partial: Vec::new(),
        }
    }

    /// Runs the builtin once all arguments are present.
    pub fn invoke(&self, co: Co, args: Vec<Value>) -> GenFuture {
        (self.func)(co, args)
    }
}
