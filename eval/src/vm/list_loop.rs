//! Loops over a list that call a Nix function per element (`foldl'`,
//! `filter`, `any`, `all`), run by the VM as a frame of their own.
//!
//! As generators, these builtins would make a round trip through their
//! future for every element: post the call, be polled with its result,
//! post the next. In a `Frame::ListLoop` the VM calls the function
//! itself and reads the result off its stack; the builtin asks once.

use super::{Frame, Vm};
use crate::errors::{Error, ErrorKind};
use crate::source::Span;
use crate::value::{NixList, Value};

/// What a loop does with each element and the function's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopKind {
    /// `foldl'`: call `f acc x`; the forced result is the next `acc`.
    Fold,
    /// `filter`: keep `x` if `f x` is true.
    Filter,
    /// `any`: stop with true at the first `x` for which `f x` is true.
    Any,
    /// `all`: stop with false at the first `x` for which `f x` is false.
    All,
}

/// A list loop in progress.
pub(super) struct ListLoop {
    kind: LoopKind,
    function: Value,
    /// `Fold`: the accumulator.
    acc: Value,
    list: NixList,
    /// The index of the next element to call the function on.
    next: usize,
    /// `Filter`: the elements kept so far.
    kept: Vec<Value>,
    /// Whether the result for the element before `next` is on top of the
    /// stack (being forced, or forced).
    calling: bool,
    span: Span,
}

impl Vm {
    /// Pushes a frame that runs a list loop and then leaves its result on
    /// the stack: the last accumulator (unforced only for an empty list),
    /// the kept elements, or the Boolean.
    pub(super) fn start_list_loop(
        &mut self,
        kind: LoopKind,
        function: Value,
        init: Value,
        list: NixList,
        span: Span,
    ) {
        self.frames.push(Frame::ListLoop(Box::new(ListLoop {
            kind,
            function,
            acc: init,
            list,
            next: 0,
            kept: Vec::new(),
            calling: false,
            span,
        })));
    }

    /// Runs the list loop on top of the frame stack until a call or a
    /// force pushes frames, or the loop is done.
    pub(super) fn continue_list_loop(&mut self) -> Result<(), Error> {
        loop {
            let Some(Frame::ListLoop(state)) = self.frames.last_mut() else {
                return Ok(());
            };
            let span = state.span;
            let error = |k: ErrorKind| Error::new(k, Some(span));
            if state.calling {
                if self.stack.last().is_some_and(Value::needs_force) {
                    return self.force_top(span).map_err(error);
                }
                state.calling = false;
                let result = self.stack.pop().unwrap_or_default().into_resolved();
                match state.kind {
                    LoopKind::Fold => state.acc = result,
                    kind => {
                        let truth = result.as_bool().map_err(error)?;
                        match kind {
                            LoopKind::Filter if truth => {
                                if let Some(x) = state.list.get(state.next - 1) {
                                    state.kept.push(x.clone());
                                }
                            }
                            LoopKind::Any | LoopKind::All if truth == (kind == LoopKind::Any) => {
                                self.finish_list_loop(Value::Bool(truth));
                                return Ok(());
                            }
                            _ => {}
                        }
                    }
                }
            }
            let Some(x) = state.list.get(state.next).cloned() else {
                let result = match state.kind {
                    LoopKind::Fold => std::mem::take(&mut state.acc),
                    LoopKind::Filter => Value::list(std::mem::take(&mut state.kept)),
                    LoopKind::Any => Value::Bool(false),
                    LoopKind::All => Value::Bool(true),
                };
                self.finish_list_loop(result);
                return Ok(());
            };
            state.next += 1;
            state.calling = true;
            self.stack.push(state.function.clone());
            let args = if state.kind == LoopKind::Fold {
                self.stack.push(std::mem::take(&mut state.acc));
                2
            } else {
                1
            };
            self.stack.push(x);
            let frames = self.frames.len();
            self.call_n(args, span).map_err(error)?;
            if self.frames.len() != frames {
                return Ok(());
            }
        }
    }

    fn finish_list_loop(&mut self, result: Value) {
        self.frames.pop();
        self.stack.push(result);
    }
}
