//! Streaming NAR readers: sync here, async (tokio) in the `r#async` submodule.
//!
//! [open] reads the header and hands out the root [Node]; directories
//! yield their entries one by one and files are [std::io::Read]ers of their
//! contents, so memory stays bounded whatever the archive holds. The reader
//! checks the format as it goes and fails at the first byte that is not
//! part of a canonical NAR: exact tokens, zero padding, entry names valid
//! and strictly ascending, file contents ending where their length says,
//! and caps on name and target lengths (see [crate::nar::rules]).
//!
//! Only canonical NARs are accepted. CppNix's own parser is laxer (it takes
//! fields in any order and, in 2.8, does not enforce entry order), but a NAR
//! it would accept and we reject is not what `nix-store --dump` writes for
//! any tree, and would hash differently from the tree it unpacks to.
//!
//! Reading stops right after the root node's closing `")"`, like CppNix;
//! trailing data is left unread for the caller.
//!
//! Errors are [std::io::Error]s: [std::io::ErrorKind::InvalidData] wrapping
//! an [Error] that names the token or field at fault, or the underlying
//! reader's error ([std::io::ErrorKind::UnexpectedEof] for a cut-off NAR).
//! After an error the archive is unusable; debug builds panic on further
//! use, and on reading a parent before its child node was used up.

mod archive;
mod error;
mod format;
mod sync;

#[cfg(feature = "async")]
pub mod r#async;

pub use error::{Error, Expected, Field};
pub use sync::{DirReader, Entry, FileReader, Node, open};
