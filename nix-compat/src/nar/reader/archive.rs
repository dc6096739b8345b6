//! The handle every node reader holds on the archive, and the debug-build
//! checks that catch misuse of the reader tree.
//!
//! A NAR is one byte stream read by a tree of readers: a directory reader
//! hands out a reader for each entry's node, and those must be used up
//! before the parent goes on, since the parent would otherwise take file
//! contents for tokens. The borrow checker keeps the parent idle while a
//! child exists, but cannot stop a child from being dropped half-read, nor
//! a reader from being used after it failed mid-token. Debug builds track
//! both and panic; release builds carry none of it, and such misuse makes
//! the parent read garbage (usually an error, but never a guarantee).

use std::io;

pub(super) struct ArchiveReader<'a, R: ?Sized> {
    pub(super) inner: &'a mut R,
    #[cfg(debug_assertions)]
    guard: Guard<'a>,
}

impl<'a, R: ?Sized> ArchiveReader<'a, R> {
    /// A handle for the root node.
    pub(super) fn new(inner: &'a mut R) -> Self {
        ArchiveReader {
            inner,
            #[cfg(debug_assertions)]
            guard: Guard::Root {
                poisoned: false,
                child_active: false,
            },
        }
    }

    /// A handle for a child node, which must be finished before `self` is
    /// used again.
    pub(super) fn child(&mut self) -> ArchiveReader<'_, R> {
        ArchiveReader {
            inner: &mut *self.inner,
            #[cfg(debug_assertions)]
            guard: self.guard.child(),
        }
    }

    /// Panics (in debug builds) if the archive may not be read here now.
    #[inline(always)]
    pub(super) fn check(&self) {
        #[cfg(debug_assertions)]
        self.guard.check();
    }

    /// Marks the whole archive unusable (in debug builds), passing `err` on.
    #[inline(always)]
    pub(super) fn poison(&mut self, err: io::Error) -> io::Error {
        #[cfg(debug_assertions)]
        self.guard.poison();
        err
    }

    /// Marks this node consumed, freeing the parent (in debug builds).
    #[inline(always)]
    pub(super) fn finish(&mut self) {
        #[cfg(debug_assertions)]
        self.guard.finish();
    }
}

#[cfg(debug_assertions)]
enum Guard<'a> {
    /// The root owns the archive-wide poison flag.
    Root { poisoned: bool, child_active: bool },
    /// Children borrow the poison flag and their parent's `child_active`.
    Child {
        poisoned: &'a mut bool,
        parent_child_active: &'a mut bool,
        child_active: bool,
    },
}

#[cfg(debug_assertions)]
impl Guard<'_> {
    fn flags(&mut self) -> (&mut bool, &mut bool) {
        match self {
            Guard::Root {
                poisoned,
                child_active,
            } => (poisoned, child_active),
            Guard::Child {
                poisoned,
                child_active,
                ..
            } => (&mut **poisoned, child_active),
        }
    }

    fn child(&mut self) -> Guard<'_> {
        let (poisoned, child_active) = self.flags();
        *child_active = true;
        Guard::Child {
            poisoned,
            parent_child_active: child_active,
            child_active: false,
        }
    }

    fn check(&self) {
        let (poisoned, child_active) = match self {
            Guard::Root {
                poisoned,
                child_active,
            } => (*poisoned, *child_active),
            Guard::Child {
                poisoned,
                child_active,
                ..
            } => (**poisoned, *child_active),
        };
        assert!(
            !poisoned,
            "NAR reader poisoned: it was used after it returned an error"
        );
        assert!(
            !child_active,
            "NAR reader used while its child not finished: read every file to its end \
             and every directory until next() returns None before going on"
        );
    }

    fn poison(&mut self) {
        *self.flags().0 = true;
    }

    fn finish(&mut self) {
        if let Guard::Child {
            parent_child_active,
            ..
        } = self
        {
            **parent_child_active = false;
        }
    }
}
