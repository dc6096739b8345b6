//! Thunks: the suspended computations that make Nix lazy.
//!
//! A thunk is shared (`Rc`) and updated in place when forced, so every
//! holder sees the result and the work happens once. While a thunk is being
//! forced it is *blackholed*: forcing it again from inside its own
//! evaluation is the "infinite recursion encountered" error. The VM, not
//! this module, drives forcing (see `vm`), so forcing never recurses on the
//! native stack.

use std::cell::{Ref, RefCell};
use std::rc::Rc;

use super::{Upvalues, Value};
use crate::chunk::Lambda;
use crate::errors::{Error, ErrorKind};

#[derive(Clone)]
pub enum ThunkState {
    /// Allocated but not yet filled: the first phase of recursive bindings
    /// (`let`, `rec`, formals with defaults) creates every slot before any
    /// body can capture it. Never observable once a scope is set up.
    Blank,
    /// Compiled code plus the upvalues it captured. `forcing` marks the
    /// thunk as being forced (blackholed): forcing it again from inside
    /// is infinite recursion. The code stays in place meanwhile, so a
    /// failed forcing only clears the mark, and the thunk fails again when
    /// forced again, as `tryEval` requires.
    Suspended {
        lambda: Rc<Lambda>,
        upvalues: Upvalues,
        forcing: bool,
    },
    /// A pending call `f arg`; lets builtins like `map` stay lazy without
    /// compiling anything. `forcing` as for `Suspended`.
    Apply {
        function: Value,
        argument: Value,
        forcing: bool,
    },
    /// Forcing failed with this error, which forcing it again gives
    /// without evaluating anything (CppNix memoises errors since 2.34).
    Failed(Box<Error>),
    /// Whatever `value` evaluates to: a binding of a `rec` set that
    /// `__overrides` redirected to another value. `forcing` as for
    /// `Suspended`.
    Indirect {
        value: Value,
        forcing: bool,
    },
    Evaluated(Value),
}

/// What forcing a thunk takes; see `Thunk::begin_forcing`.
pub enum Forcing {
    /// Nothing: the thunk is evaluated.
    Done(Value),
    /// Running this code with these upvalues.
    Code(Rc<Lambda>, Upvalues),
    /// Calling `function` with `argument`.
    Apply { function: Value, argument: Value },
    /// Forcing `value`.
    Indirect(Value),
}

#[derive(Clone)]
pub struct Thunk(Rc<RefCell<ThunkState>>);

impl Thunk {
    pub fn blank() -> Self {
        Thunk(Rc::new(RefCell::new(ThunkState::Blank)))
    }

    pub fn suspended(lambda: Rc<Lambda>, upvalues: Upvalues) -> Self {
        Thunk(Rc::new(RefCell::new(ThunkState::Suspended {
            lambda,
            upvalues,
            forcing: false,
        })))
    }

    pub fn apply(function: Value, argument: Value) -> Self {
        Thunk(Rc::new(RefCell::new(ThunkState::Apply {
            function,
            argument,
            forcing: false,
        })))
    }

    pub fn evaluated(value: Value) -> Self {
        Thunk(Rc::new(RefCell::new(ThunkState::Evaluated(value))))
    }

    pub fn state(&self) -> Ref<'_, ThunkState> {
        self.0.borrow()
    }

    /// The value, if the thunk has been forced.
    pub fn value(&self) -> Option<Value> {
        match &*self.0.borrow() {
            ThunkState::Evaluated(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// `f` of the value, if the thunk has been forced; the value is
    /// borrowed, not cloned.
    pub fn with_value<R>(&self, f: impl FnOnce(&Value) -> R) -> Option<R> {
        match &*self.0.borrow() {
            ThunkState::Evaluated(v) => Some(f(v)),
            _ => None,
        }
    }

    pub fn is_evaluated(&self) -> bool {
        matches!(&*self.0.borrow(), ThunkState::Evaluated(_))
    }

    /// Whether the thunk is being forced right now (blackholed).
    pub fn is_being_forced(&self) -> bool {
        matches!(
            &*self.0.borrow(),
            ThunkState::Suspended { forcing: true, .. }
                | ThunkState::Apply { forcing: true, .. }
                | ThunkState::Indirect { forcing: true, .. }
        )
    }

    pub fn is_blank(&self) -> bool {
        matches!(&*self.0.borrow(), ThunkState::Blank)
    }

    /// Starts forcing: marks the thunk as being forced and returns the
    /// work to do, until `finish_forcing` or `abort_forcing`. Forcing a
    /// thunk already being forced, or a blank one, is infinite recursion.
    pub fn begin_forcing(&self) -> Result<Forcing, ErrorKind> {
        match &mut *self.0.borrow_mut() {
            ThunkState::Evaluated(v) => Ok(Forcing::Done(v.clone())),
            ThunkState::Suspended {
                lambda,
                upvalues,
                forcing,
            } if !*forcing => {
                *forcing = true;
                Ok(Forcing::Code(lambda.clone(), upvalues.clone()))
            }
            ThunkState::Apply {
                function,
                argument,
                forcing,
            } if !*forcing => {
                *forcing = true;
                Ok(Forcing::Apply {
                    function: function.clone(),
                    argument: argument.clone(),
                })
            }
            ThunkState::Failed(error) => Err(ErrorKind::Memoized(error.clone())),
            ThunkState::Indirect { value, forcing } if !*forcing => {
                *forcing = true;
                Ok(Forcing::Indirect(value.clone()))
            }
            _ => Err(ErrorKind::InfiniteRecursion),
        }
    }

    /// Forcing produced `value`: the thunk evaluates to it from now on.
    pub fn finish_forcing(&self, value: Value) {
        self.replace(ThunkState::Evaluated(value));
    }

    /// Forcing failed with `error`: forcing the thunk again fails with it
    /// too. Errors that depend on where the thunk was forced from (the
    /// frame stack overflowing) or on when (an interrupt) are not kept:
    /// the thunk is as it was before.
    pub fn fail_forcing(&self, error: &Error) {
        if error.kind.is_memoizable() {
            self.replace(ThunkState::Failed(Box::new(error.clone())));
        } else {
            self.abort_forcing();
        }
    }

    /// Forcing stopped: the thunk is as it was before.
    pub fn abort_forcing(&self) {
        if let ThunkState::Suspended { forcing, .. }
        | ThunkState::Apply { forcing, .. }
        | ThunkState::Indirect { forcing, .. } = &mut *self.0.borrow_mut()
        {
            *forcing = false;
        }
    }

    /// Replaces the state, returning the previous one.
    pub fn replace(&self, state: ThunkState) -> ThunkState {
        self.0.replace(state)
    }

    /// Identity of the thunk; used to print `«repeated»`.
    pub fn ptr(&self) -> *const () {
        Rc::as_ptr(&self.0) as *const ()
    }

    pub fn ptr_eq(&self, other: &Thunk) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Drop for Thunk {
    fn drop(&mut self) {
        if Rc::strong_count(&self.0) == 1 {
            let state = self.0.replace(ThunkState::Blank);
            match state {
                // Nothing nested to free: no need for the deferral
                // machinery (a thread-local round trip per thunk).
                ThunkState::Blank
                | ThunkState::Evaluated(
                    Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_),
                ) => {}
                state => super::drop::defer(super::drop::Deferred::State(state)),
            }
        }
    }
}
