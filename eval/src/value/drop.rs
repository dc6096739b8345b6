//! Dropping deep values without deep native recursion.
//!
//! A 100 000-element chain of sets (`foldl' (t: h: { inherit h t; })`)
//! would be freed by 100 000 nested `drop` calls. Sets and thunks hand
//! their contents here when their last reference goes. Up to
//! `MAX_NESTING` nested hand-overs are dropped right away (the common,
//! shallow case costs one thread-local counter); deeper ones are queued,
//! and the outermost drop empties the queue in a loop.

use std::cell::{Cell, RefCell};

use super::{ThunkState, Value};

/// Contents whose drop may be postponed; only ever dropped, never read.
#[allow(dead_code)]
pub(super) enum Deferred {
    Entries(Vec<super::attrs::Entry>),
    Items(Vec<Value>),
    Upvalues(super::Upvalues),
    State(ThunkState),
}

/// Nested drops run natively up to this depth; each level is a few small
/// native frames, so this stays far below any thread's stack.
const MAX_NESTING: u32 = 64;

thread_local! {
    static PENDING: RefCell<Vec<Deferred>> = const { RefCell::new(Vec::new()) };
    static NESTING: Cell<u32> = const { Cell::new(0) };
}

pub(super) fn defer(item: Deferred) {
    let depth = NESTING.get();
    if depth >= MAX_NESTING {
        PENDING.with(|p| p.borrow_mut().push(item));
        return;
    }
    NESTING.set(depth + 1);
    drop(item);
    if depth == 0 {
        // Only the outermost drop drains what deeper ones queued; every
        // queued item starts again with the full nesting budget.
        while let Some(next) = PENDING.with(|p| p.borrow_mut().pop()) {
            drop(next);
        }
    }
    NESTING.set(depth);
}
