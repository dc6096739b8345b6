//! Dropping deep values without deep native recursion.
//!
//! A 100 000-element chain of sets (`foldl' (t: h: { inherit h t; })`)
//! would be freed by 100 000 nested `drop` calls. Sets and thunks instead
//! hand their contents to a per-thread queue when their last reference
//! goes, and the outermost drop empties the queue in a loop.

use std::cell::{Cell, RefCell};

use super::{ThunkState, Value};

/// Contents whose drop is postponed; only ever dropped, never read.
#[allow(dead_code)]
pub(super) enum Deferred {
    Values(Vec<Value>),
    State(ThunkState),
}

thread_local! {
    static PENDING: RefCell<Vec<Deferred>> = const { RefCell::new(Vec::new()) };
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

pub(super) fn defer(item: Deferred) {
    PENDING.with(|p| p.borrow_mut().push(item));
    if ACTIVE.with(Cell::get) {
        return;
    }
    ACTIVE.with(|a| a.set(true));
    while let Some(next) = PENDING.with(|p| p.borrow_mut().pop()) {
        drop(next);
    }
    ACTIVE.with(|a| a.set(false));
}
