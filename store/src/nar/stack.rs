//! Deep trees without a deep stack.
//!
//! NAR rendering and ingestion recurse once per directory level (nix-compat's
//! NAR reader and writer hand out each child borrowing its parent, so the
//! levels cannot be flattened into a loop), and every level is one more
//! nested `poll` on the stack: a few KiB each in debug builds, over 1 KiB
//! optimised. Trees up to [super::MAX_DEPTH] deep would not fit a 2 MiB
//! thread stack, so each level is polled through [GrowStack], which moves
//! to a fresh stack segment when the current one runs low.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Room left on the stack below which a poll moves to a new segment: more
/// than any single level plus the non-recursive work at the leaves (blob
/// and directory service calls) needs.
const RED_ZONE: usize = 256 * 1024;
/// Size of each new stack segment.
const SEGMENT: usize = 2 * 1024 * 1024;

/// Polls the inner future on a new stack segment when the stack is low.
pub(super) struct GrowStack<F>(pub(super) F);

impl<F: Future + Unpin> Future for GrowStack<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        stacker::maybe_grow(RED_ZONE, SEGMENT, || Pin::new(inner).poll(cx))
    }
}
