//! The serialization primitives of the Nix worker protocol.
//!
//! Everything on that wire is built from two shapes: a little-endian `u64`,
//! and a *bytes packet* (a `u64` length, the payload, then zero padding up to
//! the next multiple of 8). Booleans, strings and lists are spelled with
//! those two. This module reads and writes them, sync ([`sync`]) and async
//! ([`bytes`], [`primitive`], behind the `async` feature), with one set of
//! constants, checks and errors shared by both.
//!
//! Readers never trust a length: it is checked against the caller's bounds
//! before anything is read, and buffers grow only as data actually arrives,
//! so a hostile peer cannot make us allocate more than it sends. Padding must
//! be zero, as Nix demands.

pub mod bytes;
mod error;
#[cfg(feature = "async")]
pub mod primitive;
pub mod sync;

pub use error::WireError;

/// What each string of a list is counted as beyond its bytes, in the
/// total bound of `read_strings`: the `String` that holds it. So a list
/// of empty strings is bounded too.
pub const STRING_OVERHEAD: usize = std::mem::size_of::<String>();

#[cfg(test)]
mod tests;
