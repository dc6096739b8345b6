//! Builtins as coroutines.
//!
//! A builtin that needs a value forced or a function called cannot do it
//! itself without recursing into the VM on the native stack. Instead it is
//! an `async` block: it *asks* the VM through its `Co` handle, and yields.
//! The VM sees the request, pushes the frames needed to satisfy it and,
//! once the answer is on the stack, hands it back and polls the builtin
//! again. Futures are polled with a no-op waker; nothing here is actually
//! asynchronous.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll};

use super::Context;
use crate::errors::Error;
use crate::value::Value;

pub type GenFuture = Pin<Box<dyn Future<Output = Result<Value, Error>>>>;
pub type BuiltinFn = fn(Co, Vec<Value>) -> GenFuture;

pub(crate) enum Request {
    /// Force to weak head normal form.
    Force(Value),
    /// Apply a function; the result is returned unforced.
    Call(Value, Value),
    /// Apply a function to two arguments in turn (`f a b`), in one round
    /// trip; the result is returned unforced.
    Call2(Value, Value, Value),
}

enum Slot {
    Empty,
    Request(Request),
    Response(Result<Value, Error>),
}

/// The handle through which a builtin talks to the VM.
#[derive(Clone)]
pub struct Co {
    slot: Rc<RefCell<Slot>>,
    ctx: Rc<Context>,
}

struct Suspend {
    slot: Rc<RefCell<Slot>>,
    started: bool,
}

impl Future for Suspend {
    type Output = Result<Value, Error>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        if !self.started {
            self.started = true;
            return Poll::Pending;
        }
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Empty);
        match taken {
            Slot::Response(r) => Poll::Ready(r),
            other => {
                *self.slot.borrow_mut() = other;
                Poll::Pending
            }
        }
    }
}

impl Co {
    pub(crate) fn new(ctx: Rc<Context>) -> Self {
        Co {
            slot: Rc::new(RefCell::new(Slot::Empty)),
            ctx,
        }
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    async fn request(&self, request: Request) -> Result<Value, Error> {
        *self.slot.borrow_mut() = Slot::Request(request);
        Suspend {
            slot: self.slot.clone(),
            started: false,
        }
        .await
    }

    /// Forces `value` to weak head normal form.
    pub async fn force(&self, value: Value) -> Result<Value, Error> {
        if !value.needs_force() {
            return Ok(value.into_resolved());
        }
        self.request(Request::Force(value)).await
    }

    /// Applies `function` to `arg`; the result may be an unforced thunk.
    pub async fn call(&self, function: Value, arg: Value) -> Result<Value, Error> {
        self.request(Request::Call(function, arg)).await
    }

    /// Applies `function` to `a` and the result to `b`; the result may be
    /// an unforced thunk.
    pub async fn call2(&self, function: Value, a: Value, b: Value) -> Result<Value, Error> {
        self.request(Request::Call2(function, a, b)).await
    }

    /// Applies `function` to `arg` and forces the result.
    pub async fn call_forced(&self, function: Value, arg: Value) -> Result<Value, Error> {
        let v = self.call(function, arg).await?;
        self.force(v).await
    }

    pub(crate) fn take_request(&self) -> Option<Request> {
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Empty);
        match taken {
            Slot::Request(r) => Some(r),
            other => {
                *self.slot.borrow_mut() = other;
                None
            }
        }
    }

    pub(crate) fn respond(&self, response: Result<Value, Error>) {
        *self.slot.borrow_mut() = Slot::Response(response);
    }
}
