//! The bytecode VM.
//!
//! All Nix-level nesting — function calls, forcing thunks, builtins waiting
//! for values — is represented by `Frame`s on an explicit frame stack, never
//! by native recursion. A 100 000-deep Nix recursion therefore costs heap,
//! and hitting `max_frames` is an ordinary Nix error.
//!
//! Frames:
//! - `Code`: runs a lambda's bytecode over a window of the value stack;
//! - `Thunk`: sits under the code of a thunk being forced; when that code
//!   has left its value on the stack, it forces that value further if
//!   needed and then updates the thunk (or, on error, clears its mark of
//!   being forced, so that it fails again when forced again);
//! - `CallForced`: calls the value on the stack once it is forced;
//! - `Generator`: a builtin coroutine (see `generators`);
//! - `DeepForce`: forces a value, deeply for `deepSeq` and `--strict`
//!   (see `deep_force`);
//! - `ListLoop`: runs a builtin's loop over a list, calling a function
//!   per element or comparison (see `list_loop`).
//!
//! Errors unwind frames until a generator that asked for the failing
//! computation is found (it may catch it, like `tryEval`), or to the top.

mod builtin_call;
mod context;
mod deep_force;
mod explain;
pub mod generators;
pub mod globals;
mod list_loop;
pub mod ops;
mod trace;

use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Context as TaskContext, Poll, Waker};

pub use context::{
    COREPKGS_DIR, Context, DiagnosticSink, EvalOptions, LintLevel, Lints, SearchPathEntry,
};
use generators::{Co, GenFuture, Request, Shortcut};
pub use list_loop::LoopKind;

use crate::chunk::{BinOp, Capture, Lambda, LambdaKind, Op};
use crate::errors::{Error, ErrorKind, TracePrint};
use crate::source::{Pos, Span};
use crate::value::{
    Builtin, Closure, DuplicateAttr, Entry, Forcing, NixString, SortedEntries, Thunk, ThunkState,
    Upvalues, Value, normalise_path,
};

enum Waiting {
    /// The generator asked for a forced value.
    Force,
    /// The generator asked for a call result, forced or not.
    Value,
}

enum Frame {
    Code {
        lambda: Rc<Lambda>,
        upvalues: Upvalues,
        ip: usize,
        base: usize,
    },
    Thunk {
        thunk: Thunk,
        span: Span,
    },
    CallForced {
        arg: Value,
        span: Span,
    },
    DeepForce(Box<deep_force::DeepForce>),
    ListLoop(Box<list_loop::ListLoop>),
    BuiltinArgs(builtin_call::BuiltinArgs),
    Generator {
        fut: GenFuture,
        base: usize,
        span: Span,
        name: &'static str,
        waiting: Option<Waiting>,
    },
}

pub struct Vm {
    stack: Vec<Value>,
    frames: Vec<Frame>,
    ctx: Rc<Context>,
    /// The one request/response slot every builtin of this VM talks
    /// through. Only the generator being polled uses it, and the VM takes
    /// its request right after polling and hands back the response right
    /// before the next poll, so one slot serves all generators and
    /// starting a builtin allocates no handle of its own.
    co: Co,
    steps: u32,
    /// The state of the last finished `DeepForce` frame, for the next.
    spare_deep_force: Option<Box<deep_force::DeepForce>>,
    /// The stack height at the last `SpecBegin`. A speculation runs to its
    /// end or gives up without leaving its frame, so one field serves all.
    speculation_base: usize,
    /// `--trace-runtime`: code frames run with `run_code::<true>`.
    trace: bool,
}

/// Whether the current code frame goes on, or the frame stack changed.
enum Flow {
    Continue,
    Switch,
}

impl Vm {
    pub fn new(ctx: Rc<Context>) -> Self {
        let ctx_trace = ctx.options.trace_runtime;
        Vm {
            stack: Vec::new(),
            frames: Vec::new(),
            co: Co::new(ctx.clone()),
            ctx,
            steps: 0,
            spare_deep_force: None,
            speculation_base: 0,
            trace: ctx_trace,
        }
    }

    /// Runs a generator to completion and returns its value.
    pub fn run(&mut self, make: impl FnOnce(Co) -> GenFuture, span: Span) -> Result<Value, Error> {
        let fut = make(self.co.clone());
        self.frames.push(Frame::Generator {
            fut,
            base: self.stack.len(),
            span,
            name: "",
            waiting: None,
        });
        while !self.frames.is_empty() {
            if let Err(e) = self.step() {
                self.unwind(e)?;
            }
        }
        self.stack
            .pop()
            .ok_or_else(|| Error::new(ErrorKind::Builtin("VM ended without a value".into()), None))
    }

    fn step(&mut self) -> Result<(), Error> {
        let Some(frame) = self.frames.last() else {
            return Ok(());
        };
        match frame {
            Frame::Code { .. } if self.trace => self.run_code::<true>(),
            Frame::Code { .. } => self.run_code::<false>(),
            Frame::Thunk { span, .. } => {
                let span = *span;
                if self.top_needs_force() {
                    return self.force_top(span).map_err(|k| Error::new(k, Some(span)));
                }
                self.settle_thunk();
                Ok(())
            }
            Frame::CallForced { span, .. } => {
                let span = *span;
                if self.top_needs_force() {
                    return self.force_top(span).map_err(|k| Error::new(k, Some(span)));
                }
                let f = self.pop().into_resolved();
                if let Some(Frame::CallForced { arg, .. }) = self.frames.pop() {
                    self.call_value(f, arg, span)
                        .map_err(|k| Error::new(k, Some(span)))?;
                }
                Ok(())
            }
            Frame::Generator { .. } => self.resume_generator(),
            Frame::DeepForce(_) => self.continue_deep_force(),
            Frame::ListLoop(_) => self.continue_list_loop(),
            Frame::BuiltinArgs(_) => self.continue_builtin_args(),
        }
    }

    fn unwind(&mut self, mut error: Error) -> Result<(), Error> {
        // The thunk of the last `Thunk` frame unwound: what a deep force
        // below it was forcing.
        let mut failed = None;
        while let Some(frame) = self.frames.pop() {
            match frame {
                Frame::Thunk { thunk, .. } => {
                    thunk.fail_forcing(&error);
                    failed = Some(thunk);
                }
                Frame::DeepForce(state) => {
                    if let Some(thunk) = failed.take() {
                        state.add_path(&mut error, &thunk);
                    }
                }
                Frame::Code { lambda, .. } => {
                    if lambda.kind == LambdaKind::Function {
                        let name = match &lambda.name {
                            Some(name) => format!("while calling '{name}'"),
                            None => "while calling anonymous lambda".into(),
                        };
                        error.add_trace(name, Some(lambda.span), TracePrint::ShowTrace);
                        if let Some(call) = self.call_site() {
                            error.add_trace("from call site", Some(call), TracePrint::ShowTrace);
                        }
                    }
                }
                Frame::CallForced { .. } | Frame::ListLoop(_) => {}
                Frame::BuiltinArgs(call) => call.add_trace(&mut error),
                Frame::Generator {
                    fut,
                    base,
                    span,
                    name,
                    waiting: Some(_),
                } => {
                    self.stack.truncate(base);
                    self.co.respond(Err(error));
                    self.frames.push(Frame::Generator {
                        fut,
                        base,
                        span,
                        name,
                        waiting: None,
                    });
                    return Ok(());
                }
                Frame::Generator { .. } => {}
            }
        }
        Err(error)
    }

    /// Where the function whose frame was just popped was called from:
    /// the call instruction of the code below it, or the span of the
    /// `CallForced` frame that called it. Builtins call without a
    /// position, as in CppNix.
    fn call_site(&self) -> Option<Span> {
        match self.frames.last()? {
            Frame::Code { lambda, ip, .. } => {
                let at = ip.checked_sub(1)?;
                matches!(lambda.chunk.code.get(at), Some(Op::Call(_))).then(|| span_at(lambda, at))
            }
            Frame::CallForced { span, .. } => Some(*span),
            _ => None,
        }
    }

    fn pop(&mut self) -> Value {
        self.stack.pop().unwrap_or_default()
    }

    /// Pops the Boolean a conditional jump tests. A Boolean owns nothing,
    /// so it is forgotten rather than run through `Value`'s drop glue.
    fn pop_bool(&mut self) -> Result<bool, ErrorKind> {
        let v = self.pop();
        if let Value::Bool(b) = v {
            std::mem::forget(v);
            return Ok(b);
        }
        v.as_bool()
    }

    fn top_needs_force(&self) -> bool {
        self.stack.last().is_some_and(Value::needs_force)
    }

    fn check_depth(&self) -> Result<(), ErrorKind> {
        if self.frames.len() >= self.ctx.options.max_frames {
            return Err(ErrorKind::StackOverflow);
        }
        Ok(())
    }

    /// Starts forcing the value on top of the stack. If it is a suspended
    /// thunk, frames are pushed and the forced value will replace it on the
    /// stack once they finish.
    fn force_top(&mut self, span: Span) -> Result<(), ErrorKind> {
        let forcing = match self.stack.last() {
            Some(Value::Thunk(t)) => t.begin_forcing()?,
            _ => return Ok(()),
        };
        match forcing {
            Forcing::Done(v) => {
                if let Some(top) = self.stack.last_mut() {
                    *top = v;
                }
            }
            Forcing::Code(lambda, upvalues) => {
                let thunk = self.pop_forcing_thunk()?;
                self.frames.push(Frame::Thunk {
                    thunk,
                    span: lambda.span,
                });
                self.frames.push(Frame::Code {
                    lambda,
                    upvalues,
                    ip: 0,
                    base: self.stack.len(),
                });
            }
            Forcing::Indirect(value) => {
                let thunk = self.pop_forcing_thunk()?;
                self.frames.push(Frame::Thunk { thunk, span });
                self.stack.push(value);
            }
            Forcing::Apply { function, argument } => {
                let thunk = self.pop_forcing_thunk()?;
                self.frames.push(Frame::Thunk { thunk, span });
                self.stack.push(function);
                if self.top_needs_force() {
                    self.frames.push(Frame::CallForced {
                        arg: argument,
                        span,
                    });
                } else {
                    self.stack.push(argument);
                    self.call_n(1, span)?;
                }
            }
        }
        Ok(())
    }

    /// Pops the thunk `force_top` began forcing, unless the frame stack is
    /// full; then forcing it is aborted.
    fn pop_forcing_thunk(&mut self) -> Result<Thunk, ErrorKind> {
        let Some(Value::Thunk(thunk)) = self.stack.pop() else {
            return Err(ErrorKind::Builtin("forced value is not a thunk".into()));
        };
        if let Err(e) = self.check_depth() {
            thunk.abort_forcing();
            return Err(e);
        }
        Ok(thunk)
    }

    /// Calls a forced function value.
    fn call_value(&mut self, f: Value, arg: Value, span: Span) -> Result<(), ErrorKind> {
        self.stack.push(f);
        self.stack.push(arg);
        self.call_n(1, span)
    }

    /// Applies the forced function under the top `n` values of the stack
    /// to them in turn, as `f a b c`.
    ///
    /// A curried closure takes as many arguments as its body is curried,
    /// without building the closures in between (see
    /// `Lambda::curried_inner`), and a builtin takes all the arguments it
    /// still needs at once, without building partial applications. The
    /// arguments left over wait in `CallForced` frames, the next one on
    /// top, to be applied to the result.
    fn call_n(&mut self, n: usize, span: Span) -> Result<(), ErrorKind> {
        self.check_depth()?;
        let Some(f_slot) = self.stack.len().checked_sub(n + 1).filter(|_| n > 0) else {
            return Err(ErrorKind::Builtin("call without arguments".into()));
        };
        let mut next = f_slot + 1;
        match std::mem::take(&mut self.stack[f_slot]).into_resolved() {
            Value::Closure(c) => {
                // A closure called as soon as it was made (the inner
                // lambda of `a: b: …`) is held only here: take its parts.
                let (mut lambda, mut upvalues) = match Rc::try_unwrap(c) {
                    Ok(mut c) => (c.lambda.clone(), std::mem::take(&mut c.upvalues)),
                    Err(c) => (c.lambda.clone(), c.upvalues.clone()),
                };
                while next + 1 < self.stack.len()
                    && let Some(inner) = lambda.curried_inner()
                {
                    let arg = std::mem::take(&mut self.stack[next]);
                    next += 1;
                    upvalues = capture_curried(inner, arg, &upvalues);
                    lambda = inner.clone();
                }
                self.defer_args(next + 1, span);
                let arg = self.pop();
                self.stack.truncate(f_slot);
                let base = self.stack.len();
                self.stack.push(arg);
                self.frames.push(Frame::Code {
                    lambda,
                    upvalues,
                    ip: 0,
                    base,
                });
                Ok(())
            }
            Value::Builtin(b) => {
                let arity = b.arity();
                let missing = arity.saturating_sub(b.partial.len()).max(1);
                let end = self.stack.len().min(next + missing);
                if b.partial.is_empty()
                    && let Some(fast) = b.def.fast
                    && let Some(result) = self
                        .stack
                        .get(next..end)
                        .and_then(|args| (args.len() == arity).then(|| fast(args)).flatten())
                {
                    self.defer_args(end, span);
                    self.stack.truncate(f_slot);
                    match result {
                        Shortcut::Value(v) => self.stack.push(v),
                        Shortcut::ForceThen { value, deep, then } => {
                            self.start_force(value, deep, Some(then), span)
                        }
                    }
                    return Ok(());
                }
                self.defer_args(end, span);
                // Sized for the full call up front: no regrowth as the
                // arguments arrive.
                let mut args = Vec::with_capacity(arity.max(b.partial.len() + 1));
                args.extend(b.partial.iter().cloned());
                args.extend(self.stack.drain(next..));
                self.stack.truncate(f_slot);
                if args.len() < arity {
                    self.stack.push(Value::Builtin(Rc::new(Builtin {
                        def: b.def.clone(),
                        partial: args,
                    })));
                    return Ok(());
                }
                self.call_builtin(b.def.clone(), args, span)
            }
            Value::Attrs(a) if a.contains(b"__functor") => {
                self.defer_args(next + 1, span);
                let arg = self.pop();
                self.stack.truncate(f_slot);
                let functor = a.get(b"__functor").cloned().unwrap_or_default();
                // (functor self) arg
                self.frames.push(Frame::CallForced { arg, span });
                self.frames.push(Frame::CallForced {
                    arg: Value::Attrs(a),
                    span,
                });
                self.stack.push(functor);
                Ok(())
            }
            other => {
                self.stack.truncate(f_slot);
                Err(ErrorKind::not_callable(&other))
            }
        }
    }

    /// Moves the arguments from stack index `from` up into `CallForced`
    /// frames, the first of them on top, to be applied once the call
    /// below them has returned.
    fn defer_args(&mut self, from: usize, span: Span) {
        while self.stack.len() > from {
            let arg = self.pop();
            self.frames.push(Frame::CallForced { arg, span });
        }
    }

    /// Resumes the generator on top of the frame stack: hands it the
    /// answer it waited for, polls it, and serves its next request. The
    /// frame stays in place throughout; it is popped only when the
    /// generator finishes.
    fn resume_generator(&mut self) -> Result<(), Error> {
        let Some(Frame::Generator { span, waiting, .. }) = self.frames.last_mut() else {
            return Ok(());
        };
        let span = *span;
        if let Some(w) = waiting.take() {
            if matches!(w, Waiting::Force) && self.top_needs_force() {
                self.set_waiting(w);
                return self.force_top(span).map_err(|k| Error::new(k, Some(span)));
            }
            let v = self.pop();
            self.co.respond(Ok(if matches!(w, Waiting::Force) {
                v.into_resolved()
            } else {
                v
            }));
        }
        let Some(Frame::Generator { fut, .. }) = self.frames.last_mut() else {
            return Ok(());
        };
        let mut cx = TaskContext::from_waker(Waker::noop());
        match Pin::new(fut).poll(&mut cx) {
            Poll::Ready(result) => {
                let Some(Frame::Generator { base, name, .. }) = self.frames.pop() else {
                    return Ok(());
                };
                self.stack.truncate(base);
                match result {
                    Ok(v) => {
                        self.stack.push(v);
                        Ok(())
                    }
                    Err(mut e) => {
                        builtin_call::add_builtin_trace(&mut e, name, span);
                        Err(e)
                    }
                }
            }
            Poll::Pending => match self.co.take_request() {
                Some(Request::Force(v)) => {
                    self.set_waiting(Waiting::Force);
                    self.stack.push(v);
                    self.force_top(span).map_err(|k| Error::new(k, Some(span)))
                }
                Some(Request::Call(f, arg)) => {
                    self.set_waiting(Waiting::Value);
                    self.call_request(f, arg, span)
                }
                Some(Request::ListLoop(kind, f, init, list)) => {
                    self.set_waiting(Waiting::Value);
                    self.start_list_loop(kind, f, init, list, span);
                    Ok(())
                }
                Some(Request::DeepForce(v)) => {
                    self.set_waiting(Waiting::Value);
                    self.start_force(v, true, None, span);
                    Ok(())
                }
                None => {
                    if let Some(Frame::Generator { base, .. }) = self.frames.pop() {
                        self.stack.truncate(base);
                    }
                    Err(Error::new(
                        ErrorKind::Builtin("builtin suspended without a request".into()),
                        Some(span),
                    ))
                }
            },
        }
    }

    /// Serves a builtin's request to apply `f` to `arg`. A function
    /// already forced (the usual case: builtins force their callbacks
    /// first) is called at once; otherwise a `CallForced` frame forces it
    /// first.
    fn call_request(&mut self, f: Value, arg: Value, span: Span) -> Result<(), Error> {
        self.stack.push(f);
        if self.top_needs_force() {
            self.frames.push(Frame::CallForced { arg, span });
            return Ok(());
        }
        self.stack.push(arg);
        self.call_n(1, span).map_err(|k| Error::new(k, Some(span)))
    }

    /// Marks the generator on top of the frame stack as waiting for an
    /// answer.
    fn set_waiting(&mut self, w: Waiting) {
        if let Some(Frame::Generator { waiting, .. }) = self.frames.last_mut() {
            *waiting = Some(w);
        }
    }

    fn capture(&self, lambda: &Lambda, base: usize, upvalues: &Upvalues) -> Upvalues {
        let values = lambda.captures.iter().map(|c| match c {
            Capture::Local(s) => self
                .stack
                .get(base + *s as usize)
                .cloned()
                .unwrap_or_default(),
            Capture::Upvalue(i) => upvalues.get(*i as usize).cloned().unwrap_or_default(),
        });
        Upvalues::collect(lambda.captures.len(), values)
    }

    /// Runs code frames until the frame stack needs something else: a
    /// call or a force pushes a code frame, which runs at once; a return
    /// into a `Thunk` frame whose value is ready settles the thunk here.
    fn run_code<const TRACE: bool>(&mut self) -> Result<(), Error> {
        loop {
            let Some(Frame::Code {
                lambda,
                upvalues,
                ip,
                base,
            }) = self.frames.last_mut()
            else {
                return Ok(());
            };
            // The upvalues are moved out while the frame runs and moved
            // back when it is suspended (`suspend`): nothing reads a
            // running frame's upvalues through the frame, and this saves
            // a reference-count round trip on every frame switch.
            let (lambda, upvalues, mut ip, base) =
                (lambda.clone(), std::mem::take(upvalues), *ip, *base);
            let frame_index = self.frames.len() - 1;
            if TRACE && ip == 0 {
                self.trace_enter(frame_index, &lambda);
            }
            loop {
                let Some(&op) = lambda.chunk.code.get(ip) else {
                    self.suspend(frame_index, ip, upvalues);
                    return Err(Error::new(
                        ErrorKind::Builtin("instruction pointer out of range".into()),
                        None,
                    ));
                };
                let at = ip;
                ip += 1;
                let result = self.exec(op, &lambda, &upvalues, &mut ip, base);
                if TRACE {
                    self.trace_op(frame_index, &lambda, at, op);
                }
                match result {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::Switch) => {
                        // `Return` pops its frame; only a live frame is suspended.
                        if !matches!(op, Op::Return) {
                            self.suspend(frame_index, ip, upvalues);
                        }
                        break;
                    }
                    Err(error) => {
                        self.suspend(frame_index, ip, upvalues);
                        return Err(locate(error, op, span_at(&lambda, ip - 1)));
                    }
                }
            }
            loop {
                match self.frames.last() {
                    Some(Frame::Code { .. }) => break,
                    Some(Frame::Thunk { .. }) if !self.top_needs_force() => self.settle_thunk(),
                    _ => return Ok(()),
                }
            }
        }
    }

    /// Stores the forced value on top of the stack in the thunk of the
    /// `Thunk` frame on top, and pops that frame.
    fn settle_thunk(&mut self) {
        let v = self.pop().into_resolved();
        if let Some(Frame::Thunk { thunk, .. }) = self.frames.pop() {
            thunk.finish_forcing(v.clone());
        }
        self.stack.push(v);
    }

    /// Stores `ip` and the upvalues `run_code` took in the code frame at
    /// `index` (which may no longer be on top once a call pushed frames
    /// above it).
    fn suspend(&mut self, index: usize, ip: usize, upvalues: Upvalues) {
        if let Some(Frame::Code {
            ip: fip,
            upvalues: fup,
            ..
        }) = self.frames.get_mut(index)
        {
            *fip = ip;
            *fup = upvalues;
        }
    }

    /// The common case of arithmetic and comparison, two integers, done
    /// in place on the stack. Returns false (touching nothing) for any
    /// other operands, and on overflow, so the general code reports it.
    fn int_binop(&mut self, op: BinOp) -> bool {
        let [.., Value::Int(a), Value::Int(b)] = self.stack.as_slice() else {
            return false;
        };
        let (a, b) = (*a, *b);
        let result = match op {
            BinOp::Add => a.checked_add(b).map(Value::Int),
            BinOp::Sub => a.checked_sub(b).map(Value::Int),
            BinOp::Mul => a.checked_mul(b).map(Value::Int),
            // `None` for a zero divisor and for `MIN / -1`: the general
            // code reports both.
            BinOp::Div => a.checked_div(b).map(Value::Int),
            BinOp::Equal => Some(Value::Bool(a == b)),
            BinOp::NotEqual => Some(Value::Bool(a != b)),
            BinOp::Less => Some(Value::Bool(a < b)),
            BinOp::LessEq => Some(Value::Bool(a <= b)),
            BinOp::More => Some(Value::Bool(a > b)),
            BinOp::MoreEq => Some(Value::Bool(a >= b)),
        };
        let Some(result) = result else {
            return false;
        };
        // Both operands are integers, which own nothing: forgetting them
        // skips a call into the general drop glue of `Value` per operand.
        std::mem::forget(self.stack.pop());
        if let Some(top) = self.stack.last_mut() {
            std::mem::forget(std::mem::replace(top, result));
        }
        true
    }

    /// Drops what a speculation pushed and jumps to the thunk that does
    /// its work lazily.
    fn give_up_speculation(&mut self, ip: &mut usize, fallback: u32) {
        self.stack.truncate(self.speculation_base);
        *ip += fallback as usize;
    }

    /// Pops the `n` (name, value) pairs of a set being built; a null name
    /// (a dynamic attribute evaluating to null) skips its pair.
    fn pop_entries(&mut self, n: u32, positions: Option<&[Pos]>) -> Result<Vec<Entry>, ErrorKind> {
        let start = self.stack.len().saturating_sub(2 * n as usize);
        let mut entries = Vec::with_capacity(n as usize);
        let mut positions = positions.unwrap_or_default().iter();
        let mut it = self.stack.drain(start..);
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let pos = positions.next().copied().unwrap_or(Pos::NONE);
            match k.into_resolved() {
                Value::Null => {}
                Value::String(s) => entries.push(Entry::new(s.into_without_context(), v, pos)),
                other => return Err(ErrorKind::type_error("a string", &other)),
            }
        }
        Ok(entries)
    }

    fn local(&self, base: usize, slot: u32) -> Value {
        self.stack
            .get(base + slot as usize)
            .cloned()
            .unwrap_or_default()
    }

    // Inlined into the dispatch loop of `run_code`: as a call, its
    // prologue and argument passing cost as much as a simple instruction.
    #[inline(always)]
    fn exec(
        &mut self,
        op: Op,
        lambda: &Rc<Lambda>,
        upvalues: &Upvalues,
        ip: &mut usize,
        base: usize,
    ) -> Result<Flow, Error> {
        let chunk = &lambda.chunk;
        // Looked up only when needed: most instructions never report one.
        let at = *ip - 1;
        let span = || span_at(lambda, at);
        let constant = |i: u32| chunk.constants.get(i as usize).cloned().unwrap_or_default();
        match op {
            Op::Constant(i) => self.stack.push(constant(i)),
            Op::Pop => {
                self.pop();
            }
            Op::GetLocal(s) => {
                let slot = self.stack.get(base + s as usize);
                let v = match forced_now(slot, chunk.code.get(*ip)) {
                    Some(v) => {
                        *ip += 1;
                        v
                    }
                    None => slot.cloned().unwrap_or_default(),
                };
                self.stack.push(v);
            }
            Op::GetUpvalue(i) => {
                let slot = upvalues.get(i as usize);
                let v = match forced_now(slot, chunk.code.get(*ip)) {
                    Some(v) => {
                        *ip += 1;
                        v
                    }
                    None => slot.cloned().unwrap_or_default(),
                };
                self.stack.push(v);
            }
            Op::Force => {
                self.steps = self.steps.wrapping_add(1);
                if self.steps.is_multiple_of(4096) {
                    self.check_interrupt()?;
                }
                if let Some(Value::Thunk(t)) = self.stack.last() {
                    match t.value() {
                        Some(v) => {
                            if let Some(top) = self.stack.last_mut() {
                                *top = v.into_resolved();
                            }
                        }
                        None => {
                            self.force_top(span())?;
                            return Ok(Flow::Switch);
                        }
                    }
                }
            }
            Op::Binary(op) if self.int_binop(op) => {}
            Op::Binary(BinOp::Add) => {
                let b = self.pop().into_resolved();
                let a = self.pop().into_resolved();
                self.stack.push(ops::add(&self.ctx, a, b)?);
            }
            Op::Binary(op @ (BinOp::Sub | BinOp::Mul | BinOp::Div)) => {
                let b = self.pop().into_resolved();
                let a = self.pop().into_resolved();
                self.stack.push(ops::arith(op, a, b)?);
            }
            // `-x` is `0 - x`, in CppNix's parser too.
            Op::Negate => {
                let a = self.pop().into_resolved();
                self.stack.push(ops::arith(BinOp::Sub, Value::Int(0), a)?);
            }
            Op::Not => {
                let a = self.pop_bool()?;
                self.stack.push(Value::Bool(!a));
            }
            Op::Binary(op @ (BinOp::Equal | BinOp::NotEqual)) => {
                let b = self.pop().into_resolved();
                let a = self.pop().into_resolved();
                let negate = op == BinOp::NotEqual;
                match ops::shallow_eq(&a, &b) {
                    Some(eq) => self.stack.push(Value::Bool(eq != negate)),
                    None => {
                        self.spawn(span(), "", move |co| {
                            Box::pin(async move {
                                Ok(Value::Bool(ops::nix_eq(&co, a, b).await? != negate))
                            })
                        });
                        return Ok(Flow::Switch);
                    }
                }
            }
            // The comparisons, the only operators left.
            Op::Binary(op) => {
                let b = self.pop().into_resolved();
                let a = self.pop().into_resolved();
                // a <= b is !(b < a); a > b is b < a; a >= b is !(a < b).
                let (x, y, negate) = match op {
                    BinOp::Less => (a, b, false),
                    BinOp::LessEq => (b, a, true),
                    BinOp::More => (b, a, false),
                    _ => (a, b, true),
                };
                match ops::shallow_less(&x, &y) {
                    Some(r) => self.stack.push(Value::Bool(r? != negate)),
                    None => {
                        self.spawn(span(), "", move |co| {
                            Box::pin(async move {
                                Ok(Value::Bool(ops::nix_less(&co, x, y).await? != negate))
                            })
                        });
                        return Ok(Flow::Switch);
                    }
                }
            }
            Op::Concat => {
                let b = self.pop();
                let a = self.pop().into_list()?;
                let b = b.into_list()?;
                let mut out = Vec::with_capacity(a.len() + b.len());
                out.extend(a.iter().cloned());
                out.extend(b.iter().cloned());
                self.stack.push(Value::list(out));
            }
            Op::Update => {
                let b = self.pop().into_attrs()?;
                let a = self.pop().into_attrs()?;
                self.stack.push(Value::Attrs(a.update(&b)));
            }
            Op::AssertBool => {
                if let Some(top) = self.stack.last() {
                    top.as_bool()?;
                }
            }
            Op::Jump(n) => *ip += n as usize,
            Op::JumpIfFalse(n) => {
                if !self.pop_bool()? {
                    *ip += n as usize;
                }
            }
            Op::JumpIfTrue(n) => {
                if self.pop_bool()? {
                    *ip += n as usize;
                }
            }
            Op::AssertEqFail(c) => {
                let condition = constant(c).as_string()?.to_string();
                let b = self.pop();
                let a = self.pop();
                let (at, assertion) = (span(), span_at(lambda, *ip));
                self.spawn(at, "", move |co| {
                    Box::pin(async move {
                        explain::not_equal(&co, a, b, at).await.map_err(|mut e| {
                            e.add_trace(
                                format!(
                                    "while evaluating the condition of the assertion '{condition}'"
                                ),
                                Some(assertion),
                                TracePrint::Default,
                            );
                            e
                        })?;
                        Ok(Value::Null)
                    })
                });
                return Ok(Flow::Switch);
            }
            Op::AssertFail(c) => {
                return Err(
                    ErrorKind::AssertionFailed(constant(c).as_string()?.to_string()).into(),
                );
            }
            Op::Attrs(n, positions) => {
                let entries = self.pop_entries(n, chunk.positions.get(positions as usize..))?;
                let attrs = SortedEntries::new(entries).map_err(|d| self.duplicate(d))?;
                self.stack.push(Value::Attrs(attrs.into()));
            }
            Op::UpdateAttrs(n, positions) => {
                let entries = SortedEntries::new(
                    self.pop_entries(n, chunk.positions.get(positions as usize..))?,
                )
                .map_err(|d| self.duplicate(d))?;
                let base = self.pop().into_attrs()?;
                self.stack.push(Value::Attrs(base.update_entries(entries)));
            }
            Op::List(n) => {
                let items = self
                    .stack
                    .split_off(self.stack.len().saturating_sub(n as usize));
                self.stack.push(Value::list(items));
            }
            Op::Select => {
                let key = self.pop().into_nix_string()?;
                let attrs = self.pop().into_attrs()?;
                match attrs.get_name(&key) {
                    Some(v) => {
                        let v = match forced_now(Some(v), chunk.code.get(*ip)) {
                            Some(forced) => {
                                *ip += 1;
                                forced
                            }
                            None => v.clone(),
                        };
                        self.stack.push(v);
                    }
                    None => return Err(ErrorKind::attribute_missing(&key, &attrs).into()),
                }
            }
            Op::SelectOrJump(n) => {
                let key = self.pop().into_nix_string()?;
                let v = self.pop().into_resolved();
                match &v {
                    Value::Attrs(a) if a.contains(key.as_bytes()) => self
                        .stack
                        .push(a.get(key.as_bytes()).cloned().unwrap_or_default()),
                    _ => *ip += n as usize,
                }
            }
            Op::HasAttr => {
                let key = self.pop().into_nix_string()?;
                let v = self.pop().into_resolved();
                let has = matches!(&v, Value::Attrs(a) if a.contains(key.as_bytes()));
                self.stack.push(Value::Bool(has));
            }
            Op::Interpolate(n) => {
                let parts = self
                    .stack
                    .split_off(self.stack.len().saturating_sub(n as usize));
                let mut simple = Some(Vec::with_capacity(parts.len()));
                for p in &parts {
                    match (p.resolved(), simple.as_mut()) {
                        (Value::String(s), Some(v)) => v.push(s),
                        (Value::Path(p), Some(v)) => v.push(self.ctx.path_to_store(&p)?),
                        _ => simple = None,
                    }
                }
                match simple {
                    Some(strings) => self
                        .stack
                        .push(Value::String(NixString::concat(strings.iter()))),
                    None => {
                        self.spawn(span(), "", move |co| {
                            Box::pin(async move {
                                let mut strings = Vec::with_capacity(parts.len());
                                for p in parts {
                                    strings.push(
                                        ops::coerce_to_string(&co, p, ops::Coercion::Interpolation)
                                            .await?,
                                    );
                                }
                                Ok(Value::String(NixString::concat(strings.iter())))
                            })
                        });
                        return Ok(Flow::Switch);
                    }
                }
            }
            Op::ToPath => {
                let s = self.pop().into_nix_string()?;
                let text = s.to_string();
                if !text.starts_with('/') {
                    return Err(ErrorKind::NotAnAbsolutePath(text).into());
                }
                self.stack.push(Value::Path(
                    normalise_path(std::path::Path::new(&text)).into(),
                ));
            }
            Op::Call(n) => {
                self.call_n(n as usize, span())?;
                return Ok(Flow::Switch);
            }
            Op::MakeClosure(i) => {
                let inner = chunk
                    .lambdas
                    .get(i as usize)
                    .cloned()
                    .ok_or(ErrorKind::InfiniteRecursion)?;
                let captured = self.capture(&inner, base, upvalues);
                self.stack.push(Value::Closure(Rc::new(Closure {
                    lambda: inner,
                    upvalues: captured,
                })));
            }
            Op::MakeThunk(i) => {
                let inner = chunk
                    .lambdas
                    .get(i as usize)
                    .cloned()
                    .ok_or(ErrorKind::InfiniteRecursion)?;
                let captured = self.capture(&inner, base, upvalues);
                self.stack
                    .push(Value::Thunk(Thunk::suspended(inner, captured)));
            }
            Op::SpecBegin => self.speculation_base = self.stack.len(),
            Op::SpecSelect(c, fallback) => {
                let found = match self.stack.last().map(Value::resolved) {
                    Some(Value::Attrs(a)) => chunk
                        .constants
                        .get(c as usize)
                        .and_then(|name| match name {
                            Value::String(name) => a.get_name(name),
                            _ => None,
                        })
                        .filter(|v| !v.needs_force())
                        .map(|v| v.resolved()),
                    _ => None,
                };
                match (found, self.stack.last_mut()) {
                    (Some(v), Some(top)) => *top = v,
                    _ => self.give_up_speculation(ip, fallback),
                }
            }
            Op::SpecInt(int_op, fallback) => {
                let len = self.stack.len();
                if let Some(operands) = self.stack.get_mut(len.saturating_sub(2)..) {
                    for v in operands {
                        if let Value::Thunk(t) = v
                            && let Some(forced) = t.value()
                        {
                            *v = forced.into_resolved();
                        }
                    }
                }
                if !self.int_binop(int_op) {
                    self.give_up_speculation(ip, fallback);
                }
            }
            Op::AllocThunk => self.stack.push(Value::Thunk(Thunk::blank())),
            Op::FillThunk(slot, i) => {
                let inner = chunk
                    .lambdas
                    .get(i as usize)
                    .cloned()
                    .ok_or(ErrorKind::InfiniteRecursion)?;
                let captured = self.capture(&inner, base, upvalues);
                if let Value::Thunk(t) = self.local(base, slot) {
                    t.replace(ThunkState::Suspended {
                        lambda: inner,
                        upvalues: captured,
                        forcing: false,
                    });
                }
            }
            Op::FillValue(slot) => {
                let v = self.pop().into_resolved();
                if let Value::Thunk(t) = self.local(base, slot) {
                    t.replace(ThunkState::Evaluated(v));
                }
            }
            Op::OverrideSlot(c, slot) => {
                let name = constant(c).as_string()?;
                let overrides = self.stack.last().map(Value::as_attrs).transpose()?;
                if let Some(v) = overrides.as_ref().and_then(|o| o.get_name(&name))
                    && let Value::Thunk(t) = self.local(base, slot)
                {
                    t.replace(ThunkState::Indirect {
                        value: v.clone(),
                        forcing: false,
                    });
                }
            }
            Op::CloseScope(n) => {
                let top = self.pop();
                let len = self.stack.len().saturating_sub(n as usize);
                self.stack.truncate(len);
                self.stack.push(top);
            }
            Op::ResolveWith(c, n) => {
                let name = constant(c).as_string()?;
                let withs = self
                    .stack
                    .split_off(self.stack.len().saturating_sub(n as usize));
                // Fast path: every namespace needed is already forced.
                for w in &withs {
                    match w.resolved() {
                        Value::Attrs(a) => {
                            if let Some(v) = a.get(name.as_bytes()) {
                                self.stack.push(v.clone());
                                return Ok(Flow::Continue);
                            }
                        }
                        Value::Thunk(_) => {
                            self.spawn(span(), "", move |co| {
                                Box::pin(resolve_with(co, name, withs))
                            });
                            return Ok(Flow::Switch);
                        }
                        other => return Err(ErrorKind::type_error("a set", &other).into()),
                    }
                }
                return Err(ErrorKind::UndefinedVariable(name.to_string()).into());
            }
            Op::CheckFormals => {
                let arg = self.pop().into_attrs()?;
                if let Some(formals) = &lambda.formals
                    && !formals.ellipsis
                    && let Some(k) = arg.keys().find(|k| !formals.contains(k.as_bytes()))
                {
                    return Err(ErrorKind::UnexpectedArgument {
                        function: lambda.display_name(),
                        name: k.to_string(),
                    }
                    .into());
                }
                if let Some(slot) = self.stack.get_mut(base) {
                    *slot = Value::Attrs(arg);
                }
            }
            Op::SelectFormal(c) | Op::SelectFormalOrBlank(c) => {
                let name = constant(c).as_string()?;
                let arg = self.local(base, 0).as_attrs()?;
                match arg.get(name.as_bytes()) {
                    Some(v) => self.stack.push(v.clone()),
                    None if matches!(op, Op::SelectFormalOrBlank(_)) => {
                        self.stack.push(Value::Thunk(Thunk::blank()))
                    }
                    None => {
                        return Err(ErrorKind::MissingArgument {
                            function: lambda.display_name(),
                            name: name.to_string(),
                        }
                        .into());
                    }
                }
            }
            Op::JumpIfNotBlank(slot, n) => {
                let blank = matches!(self.local(base, slot), Value::Thunk(t) if t.is_blank());
                if !blank {
                    *ip += n as usize;
                }
            }
            Op::Return => {
                let v = self.pop();
                self.stack.truncate(base);
                self.frames.pop();
                self.stack.push(v);
                return Ok(Flow::Switch);
            }
        }
        Ok(Flow::Continue)
    }

    /// The error for a name bound twice in a set literal: the names of
    /// a literal are checked when it is compiled, so one is dynamic.
    #[cold]
    fn duplicate(&self, d: DuplicateAttr) -> Error {
        let first = match d.first.span() {
            Some(span) => {
                let loc = self.ctx.sources.location(span);
                format!("{}:{}:{}", loc.file, loc.line, loc.column)
            }
            None => "«unknown»".into(),
        };
        let kind = ErrorKind::DuplicateDynamicAttr {
            name: d.name.to_string(),
            first,
        };
        Error::new(kind, d.second.span())
    }

    fn check_interrupt(&self) -> Result<(), ErrorKind> {
        match &self.ctx.interrupt {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(ErrorKind::Interrupted),
            _ => Ok(()),
        }
    }

    /// Pushes a generator frame for work an instruction cannot finish
    /// without forcing more values.
    fn spawn(&mut self, span: Span, name: &'static str, make: impl FnOnce(Co) -> GenFuture) {
        let fut = make(self.co.clone());
        self.frames.push(Frame::Generator {
            fut,
            base: self.stack.len(),
            span,
            name,
            waiting: None,
        });
    }
}

/// For a variable read or attribute selection followed by `Force`: the
/// value, when the variable or attribute holds an already evaluated thunk, so the read and the `Force` are done
/// together without copying the thunk onto the stack and dropping it
/// again. (Only then: an unforced read must keep the thunk, whose identity
/// decides `«repeated»` for lists.)
#[inline(always)]
fn forced_now(slot: Option<&Value>, next: Option<&Op>) -> Option<Value> {
    match (slot, next) {
        (Some(Value::Thunk(t)), Some(Op::Force)) => t.value().map(Value::into_resolved),
        _ => None,
    }
}

/// The upvalues of `inner`, the lambda a curried function's body makes
/// a closure of, captured from that function's upvalues and its argument:
/// the only slot of such a body, so every local capture is of it.
fn capture_curried(inner: &Lambda, arg: Value, upvalues: &Upvalues) -> Upvalues {
    let values = inner.captures.iter().map(|c| match c {
        Capture::Local(_) => arg.clone(),
        Capture::Upvalue(i) => upvalues.get(*i as usize).cloned().unwrap_or_default(),
    });
    Upvalues::collect(inner.captures.len(), values)
}

/// Gives an error raised by instruction `op` (at `span`) the position and
/// trace CppNix gives the same error of the same expression. Operators
/// that CppNix implements by calling a builtin (`-`, `*`, `/`, `<` and
/// the comparisons made of it) say so; most other errors are at `span`.
#[cold]
fn locate(mut error: Error, op: Op, span: Span) -> Error {
    let builtin = |name: &str| format!("while calling the '{name}' builtin");
    match (op, &error.kind) {
        (Op::Binary(BinOp::Sub) | Op::Negate, _) => {
            error.add_trace(builtin("sub"), Some(span), TracePrint::ShowTrace)
        }
        (Op::Binary(BinOp::Mul), _) => {
            error.add_trace(builtin("mul"), Some(span), TracePrint::ShowTrace)
        }
        (Op::Binary(BinOp::Div), _) => {
            error.add_trace(builtin("div"), Some(span), TracePrint::ShowTrace)
        }
        (Op::Binary(BinOp::Less | BinOp::More), _) => {
            error.add_trace(builtin("lessThan"), Some(span), TracePrint::ShowTrace)
        }
        (Op::Binary(BinOp::LessEq | BinOp::MoreEq), _) => {
            error.add_trace(builtin("lessThan"), Some(span), TracePrint::ShowTrace);
            error.add_trace("in the argument of '!'", Some(span), TracePrint::Default);
        }
        (Op::Binary(BinOp::Add), ErrorKind::NotCoercibleToString { .. }) => error.add_trace(
            "while evaluating a path segment",
            Some(span),
            TracePrint::Default,
        ),
        (Op::Select, ErrorKind::AttributeMissing { name, .. }) => {
            let text = format!("while evaluating the attribute '{name}'");
            error.add_trace(text, Some(span), TracePrint::Default)
        }
        (Op::Select, ErrorKind::TypeError { expected, .. }) if *expected == "a set" => error
            .add_trace(
                "while selecting an attribute",
                Some(span),
                TracePrint::Default,
            ),
        (Op::Select, ErrorKind::TypeError { .. }) => {
            error.add_trace(
                "while evaluating an attribute name",
                Some(span),
                TracePrint::Default,
            );
            error.span = Some(span);
        }
        (Op::Concat, _) => error.add_context("while evaluating one of the elements to concatenate"),
        _ if error.span.is_none() && error.trace.is_empty() => error.span = Some(span),
        _ => {}
    }
    error
}

/// The source span of the instruction at `index`.
fn span_at(lambda: &Lambda, index: usize) -> Span {
    lambda
        .chunk
        .spans
        .get(index)
        .copied()
        .unwrap_or(lambda.span)
}

/// Looks `name` up in `with` namespaces, innermost first, forcing each only
/// when the ones inside it lack the name.
async fn resolve_with(co: Co, name: NixString, withs: Vec<Value>) -> Result<Value, Error> {
    for w in withs {
        let attrs = co.force(w).await?.as_attrs()?;
        if let Some(v) = attrs.get(name.as_bytes()) {
            return Ok(v.clone());
        }
    }
    Err(ErrorKind::UndefinedVariable(name.to_string()).into())
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind, None)
    }
}
