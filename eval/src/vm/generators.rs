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
use super::list_loop::LoopKind;
use crate::errors::Error;
use crate::value::{NixList, Value};

pub type GenFuture = Pin<Box<dyn Future<Output = Result<Value, Error>>>>;
/// A builtin's synchronous fast path: its result for arguments that need
/// no forcing (or only the forcing `Shortcut::ForceThen` asks for) and
/// cannot make it fail, or `None` for the general path, which also
/// reports every error. It spares the common call the coroutine's
/// allocation and polling.
pub type FastFn = fn(&[Value]) -> Option<Shortcut>;

/// What a builtin's fast path found.
pub enum Shortcut {
    /// The result.
    Value(Value),
    /// The result is `then`, once `value` is forced, deeply if `deep`
    /// (`seq`, `deepSeq`); the VM forces it in a frame of its own.
    ForceThen {
        value: Value,
        deep: bool,
        then: Value,
    },
}

pub(crate) enum Request {
    /// Force to weak head normal form.
    Force(Value),
    /// Apply a function; the result is returned unforced.
    Call(Value, Value),
    /// Force deeply; the result is the value forced to weak head normal
    /// form.
    DeepForce(Value),
    /// Run a list loop (see `list_loop`): kind, function, initial
    /// accumulator, list.
    ListLoop(LoopKind, Value, Value, NixList),
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

/// A request handed to the VM: the first poll posts it and yields, the
/// next one takes the VM's response.
pub struct Suspend {
    slot: Rc<RefCell<Slot>>,
    request: Option<Request>,
}

impl Future for Suspend {
    type Output = Result<Value, Error>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        if let Some(request) = self.request.take() {
            *self.slot.borrow_mut() = Slot::Request(request);
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

/// `Co::force`: ready at once for a value that needs no forcing (most
/// calls, e.g. `deepSeq` over evaluated data), else a round trip to the
/// VM. A plain enum rather than an `async fn`, whose state machine costs
/// more than the check itself on the fast path.
pub enum ForceFuture {
    Ready(Option<Value>),
    Waiting(Suspend),
}

impl Future for ForceFuture {
    type Output = Result<Value, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            ForceFuture::Ready(v) => Poll::Ready(Ok(v.take().unwrap_or_default())),
            ForceFuture::Waiting(s) => Pin::new(s).poll(cx),
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

    fn request(&self, request: Request) -> Suspend {
        Suspend {
            slot: self.slot.clone(),
            request: Some(request),
        }
    }

    /// Forces `value` to weak head normal form.
    pub fn force(&self, value: Value) -> ForceFuture {
        if !value.needs_force() {
            return ForceFuture::Ready(Some(value.into_resolved()));
        }
        ForceFuture::Waiting(self.request(Request::Force(value)))
    }

    /// Forces `value` and everything inside it; returns `value` forced.
    /// A value with nothing inside needs no round trip.
    pub fn deep_force(&self, value: Value) -> ForceFuture {
        let value = value.into_resolved();
        match value {
            Value::Thunk(_) | Value::List(_) | Value::Attrs(_) => {
                ForceFuture::Waiting(self.request(Request::DeepForce(value)))
            }
            scalar => ForceFuture::Ready(Some(scalar)),
        }
    }

    /// Calls the forced `function` on every element of `list` as `kind`
    /// says; `init` is `foldl'`'s first accumulator. The result of a fold
    /// over an empty list is `init`, unforced.
    pub fn list_loop(
        &self,
        kind: LoopKind,
        function: Value,
        init: Value,
        list: NixList,
    ) -> Suspend {
        self.request(Request::ListLoop(kind, function, init, list))
    }

    /// Applies `function` to `arg`; the result may be an unforced thunk.
    pub fn call(&self, function: Value, arg: Value) -> Suspend {
        self.request(Request::Call(function, arg))
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
