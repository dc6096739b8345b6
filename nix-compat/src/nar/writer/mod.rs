//! Streaming NAR writers: sync here, async (tokio) in the `r#async` submodule.
//!
//! [open] writes the header and hands out the root [Node]; each node is
//! written once, as a symlink, a file (streamed from a reader) or a
//! directory whose entries are added in order. Nothing is buffered beyond
//! what the underlying writer does, so wrap unbuffered writers (files,
//! sockets) in a [std::io::BufWriter], and flush it when done.
//!
//! The writer refuses input that would make a non-canonical NAR: entry
//! names that are invalid or not strictly ascending, bad symlink targets
//! (see [crate::nar::rules]), file readers that hold fewer or more bytes
//! than declared, and entries added while the previous entry's node is
//! unwritten. Those errors are [std::io::ErrorKind::InvalidInput] wrapping
//! an [enum@Error]. An invalid name or target is refused before anything is
//! written, so the directory stays usable; after any other error the
//! output is incomplete and must be discarded.

mod sync;

#[cfg(feature = "async")]
pub mod r#async;

pub use sync::{Directory, Node, open};

use std::io;

use thiserror::Error;

use crate::nar::rules::{self, NameError, TargetError};
use crate::nar::wire::{SEQ_EXECUTABLE, SEQ_REGULAR};

/// Why the writer refused to write a node.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum Error {
    #[error("cannot write NAR entry: {0}")]
    Name(#[from] NameError),
    #[error("cannot write NAR symlink: {0}")]
    Target(#[from] TargetError),
    #[error("file contents ended after {read} of the declared {declared} bytes")]
    ContentsTooShort { declared: u64, read: u64 },
    #[error("file contents go on past the declared {declared} bytes")]
    ContentsTooLong { declared: u64 },
    #[error("the previous entry's node was not written completely")]
    UnfinishedEntry,
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, err)
    }
}

/// The tokens of a file node up to its contents' length.
fn file_start(executable: bool) -> &'static [u8] {
    if executable {
        &SEQ_EXECUTABLE
    } else {
        &SEQ_REGULAR
    }
}

/// The zero bytes that pad `len` bytes of contents to a multiple of 8.
fn padding(len: u64) -> &'static [u8] {
    const ZEROS: [u8; 8] = [0; 8];
    &ZEROS[..(8 - (len % 8) as usize) % 8]
}

/// Records, for the directory holding a node (if any), that the node was
/// written completely.
fn mark_finished(finished: Option<&mut bool>) {
    if let Some(finished) = finished {
        *finished = true;
    }
}

/// What a directory writer must know about its entries so far.
#[derive(Default)]
struct Entries {
    /// The last entry's name; empty before the first entry.
    name: Vec<u8>,
    /// Whether the last entry's node was written completely.
    node_finished: bool,
}

impl Entries {
    /// Admits an entry named `name`, returning whether the previous entry
    /// must be closed first. Leaves everything as it was if refused.
    fn admit(&mut self, name: &[u8]) -> Result<bool, Error> {
        let previous = self.previous()?;
        rules::check_entry_name(previous, name)?;
        let close_previous = previous.is_some();
        self.name.clear();
        self.name.extend_from_slice(name);
        self.node_finished = false;
        Ok(close_previous)
    }

    /// Whether the last entry must be closed before the directory is.
    fn end(&self) -> Result<bool, Error> {
        Ok(self.previous()?.is_some())
    }

    fn previous(&self) -> Result<Option<&[u8]>, Error> {
        match (self.name.is_empty(), self.node_finished) {
            (true, _) => Ok(None),
            (false, true) => Ok(Some(&self.name)),
            (false, false) => Err(Error::UnfinishedEntry),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::empty(0, 0)]
    #[case::one(1, 7)]
    #[case::seven(7, 1)]
    #[case::word(8, 0)]
    #[case::word_and_three(11, 5)]
    fn padding_len(#[case] len: u64, #[case] expected: usize) {
        assert_eq!(padding(len), &vec![0; expected][..]);
    }

    #[test]
    fn entries_refuse_unfinished_node() {
        let mut entries = Entries::default();
        assert_eq!(entries.admit(b"a"), Ok(false));
        assert_eq!(entries.admit(b"b"), Err(Error::UnfinishedEntry));
        assert_eq!(entries.end(), Err(Error::UnfinishedEntry));
        entries.node_finished = true;
        assert_eq!(
            entries.admit(b"a"),
            Err(Error::Name(NameError::Duplicate("a".into())))
        );
        assert_eq!(entries.admit(b"b"), Ok(true));
    }
}
