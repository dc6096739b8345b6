//! Callable values: closures over compiled lambdas, and builtins.

use std::rc::Rc;

use super::Value;
use crate::chunk::Lambda;
use crate::vm::generators::{Co, FastFn, GenFuture};

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

/// A chain of closures each capturing the one before (a fold building a
/// function) would be freed by as many nested drops; the captured values
/// are handed to `drop::defer` instead.
impl Drop for Closure {
    fn drop(&mut self) {
        if !matches!(self.upvalues, Upvalues::None) {
            let upvalues = std::mem::take(&mut self.upvalues);
            super::drop::defer(super::drop::Deferred::Upvalues(upvalues));
        }
    }
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

/// How a builtin runs once all its arguments are there: a coroutine over
/// `Co` (see `vm::generators`). An `Rc<dyn Fn>` rather than a function
/// pointer so that a builtin defined outside this crate can hold state
/// (a store handle, a cache).
pub type BuiltinFn = Rc<dyn Fn(Co, Vec<Value>) -> GenFuture>;

/// One builtin, as `#[builtins]` defines it: written once, with its arity
/// taken from its parameters and its doc comment beside it.
pub struct BuiltinDef {
    pub name: &'static str,
    pub arity: usize,
    pub doc: &'static str,
    pub func: BuiltinFn,
    /// Tried first when a call brings all the arguments at once.
    pub fast: Option<FastFn>,
    /// The CppNix experimental feature without which the builtin does not
    /// exist (is not in `builtins` at all).
    pub feature: Option<&'static str>,
    /// The arguments (bit `i` for argument `i`) that `func` forces, in
    /// order, before anything else. The VM forces them before it starts
    /// `func` (then its own forcing finds them ready), which saves a round
    /// trip through the coroutine per argument and lets `fast` answer
    /// for arguments that were thunks.
    pub strict: u32,
}

impl BuiltinDef {
    pub fn new(
        name: &'static str,
        arity: usize,
        doc: &'static str,
        func: BuiltinFn,
        fast: Option<FastFn>,
    ) -> Self {
        BuiltinDef {
            name,
            arity,
            doc,
            func,
            fast,
            feature: None,
            strict: 0,
        }
    }

    /// Declares the arguments `func` forces first (see `strict`).
    pub fn with_strict(mut self, strict: u32) -> Self {
        self.strict = strict;
        self
    }

    /// Makes the builtin exist only when `feature` is enabled.
    pub fn requires_feature(mut self, feature: &'static str) -> Self {
        self.feature = Some(feature);
        self
    }
}

/// A builtin function, possibly partially applied.
///
/// Builtins take all their arguments at once; until `arity` arguments have
/// been supplied, applying one yields a new `Builtin` holding them
/// (printed as `<PRIMOP-APP>`).
#[derive(Clone)]
pub struct Builtin {
    pub def: Rc<BuiltinDef>,
    pub partial: Vec<Value>,
}

impl Builtin {
    pub fn new(def: Rc<BuiltinDef>) -> Self {
        Builtin {
            def,
            partial: Vec::new(),
        }
    }

    pub fn name(&self) -> &'static str {
        self.def.name
    }

    pub fn arity(&self) -> usize {
        self.def.arity
    }
}
