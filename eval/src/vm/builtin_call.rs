//! Calling a builtin once all its arguments are there: the VM forces the
//! arguments the builtin is strict in (`BuiltinDef::strict`) itself, in
//! order, in a `BuiltinArgs` frame, then tries the builtin's fast path,
//! and only then starts its coroutine.
//!
//! Forcing an argument from inside the coroutine costs a round trip per
//! argument (post the request, be polled with the value); callbacks such
//! as `foldl' builtins.add` or `map (builtins.mul 2)` over thunks paid it
//! for every element.

use std::rc::Rc;

use super::generators::Shortcut;
use super::{Frame, Vm};
use crate::errors::{Error, ErrorKind, TracePrint};
use crate::source::Span;
use crate::value::{BuiltinDef, Value};

/// A builtin call whose strict arguments are being forced.
pub(super) struct BuiltinArgs {
    def: Rc<BuiltinDef>,
    args: Vec<Value>,
    /// The argument being forced: it is on top of the stack meanwhile.
    next: usize,
    span: Span,
}

impl BuiltinArgs {
    /// The builtin being called, for `--trace-runtime`.
    pub(super) fn name(&self) -> &'static str {
        self.def.name
    }

    /// The trace CppNix gives an error raised while a builtin runs,
    /// including while its arguments are forced.
    pub(super) fn add_trace(&self, error: &mut Error) {
        add_builtin_trace(error, self.def.name, self.span);
    }
}

/// `while calling the 'NAME' builtin`, for every builtin but the one
/// whose purpose is to add context.
pub(super) fn add_builtin_trace(error: &mut Error, name: &str, span: Span) {
    if !name.is_empty() && name != "addErrorContext" {
        error.add_trace(
            format!("while calling the '{name}' builtin"),
            Some(span),
            TracePrint::ShowTrace,
        );
    }
}

/// The first argument from `from` on that the builtin is strict in and
/// that still needs forcing.
fn unforced(def: &BuiltinDef, args: &[Value], from: usize) -> Option<usize> {
    (from..args.len().min(32)).find(|&i| def.strict & (1 << i) != 0 && args[i].needs_force())
}

impl Vm {
    /// Calls builtin `def` with all its arguments.
    pub(super) fn call_builtin(
        &mut self,
        def: Rc<BuiltinDef>,
        mut args: Vec<Value>,
        span: Span,
    ) -> Result<(), ErrorKind> {
        match unforced(&def, &args, 0) {
            Some(next) => {
                let arg = std::mem::take(&mut args[next]);
                self.frames.push(Frame::BuiltinArgs(BuiltinArgs {
                    def,
                    args,
                    next,
                    span,
                }));
                self.stack.push(arg);
                self.force_top(span)
            }
            None => {
                self.start_builtin(def, args, span);
                Ok(())
            }
        }
    }

    /// Goes on with the `BuiltinArgs` frame on top once the argument it
    /// forces is on the stack.
    pub(super) fn continue_builtin_args(&mut self) -> Result<(), Error> {
        let Some(Frame::BuiltinArgs(call)) = self.frames.last() else {
            return Ok(());
        };
        let span = call.span;
        if self.top_needs_force() {
            return self.force_top(span).map_err(|k| Error::new(k, Some(span)));
        }
        let forced = self.pop().into_resolved();
        let Some(Frame::BuiltinArgs(call)) = self.frames.last_mut() else {
            return Ok(());
        };
        call.args[call.next] = forced;
        if let Some(next) = unforced(&call.def, &call.args, call.next + 1) {
            call.next = next;
            let arg = std::mem::take(&mut call.args[next]);
            self.stack.push(arg);
            return self.force_top(span).map_err(|k| Error::new(k, Some(span)));
        }
        if let Some(Frame::BuiltinArgs(call)) = self.frames.pop() {
            let BuiltinArgs { def, args, .. } = call;
            self.start_builtin(def, args, span);
        }
        Ok(())
    }

    /// The builtin's fast path if it answers, else its coroutine.
    fn start_builtin(&mut self, def: Rc<BuiltinDef>, args: Vec<Value>, span: Span) {
        if let Some(fast) = def.fast
            && let Some(result) = fast(&args)
        {
            match result {
                Shortcut::Value(v) => self.stack.push(v),
                Shortcut::ForceThen { value, deep, then } => {
                    self.start_force(value, deep, Some(then), span)
                }
            }
            return;
        }
        let fut = (def.func)(self.co.clone(), args);
        self.frames.push(Frame::Generator {
            fut,
            base: self.stack.len(),
            span,
            name: def.name,
            waiting: None,
        });
    }
}
