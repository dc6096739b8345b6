//! narinfo files: the metadata a binary cache serves for each store path,
//! with the signatures and keys that vouch for it.
//!
//! A narinfo is `Key: value` lines; [NarInfo::parse] reads one without
//! copying (every string borrows from the input) and its `Display` writes it
//! back in the field order CppNix uses, so a narinfo Nix wrote round-trips
//! byte for byte. A binary cache signs [NarInfo::fingerprint], which covers
//! the store path, NAR hash, NAR size and references — not the URL,
//! compression or file hash, which may change when a cache recompresses.
//!
//! This module parses and checks; it never fetches, and it never trusts a
//! signature by itself: callers pick the keys.

mod display;
mod keys;
mod named_bytes;
mod parse;
mod signature;
#[cfg(test)]
mod tests;

pub use keys::{KeyError, SigningKey, VerifyingKey};
pub use named_bytes::NamedBytesError;
pub use parse::{Error, Field};
pub use signature::{SIGNATURE_LENGTH, Signature};

use crate::{nixhash::CAHash, store_path::StorePathRef};

/// One narinfo file. Strings borrow from the text it was parsed from.
///
/// Optional fields are `None` when the line is absent, and are then left out
/// when rendering, so that a parsed narinfo renders back to its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo<'a> {
    /// `StorePath`, written as an absolute path.
    pub store_path: StorePathRef<'a>,
    /// `URL` of the (compressed) NAR, relative to the cache root; not empty.
    pub url: &'a str,
    /// `Compression` of the file at `url` (`none`, `xz`, `zstd`, …).
    /// `None` when absent: Nix then assumes `bzip2`, the only compression
    /// of the oldest caches.
    pub compression: Option<&'a str>,
    /// `FileHash`: sha256 of the file at `url`.
    pub file_hash: Option<[u8; 32]>,
    /// `FileSize`: size of the file at `url`.
    pub file_size: Option<u64>,
    /// `NarHash`: sha256 of the uncompressed NAR.
    pub nar_hash: [u8; 32],
    /// `NarSize`: size of the uncompressed NAR; never 0.
    pub nar_size: u64,
    /// `References`, in file order (Nix writes them sorted).
    pub references: Vec<StorePathRef<'a>>,
    /// `Deriver`; also `None` for Nix's placeholder `unknown-deriver`.
    pub deriver: Option<StorePathRef<'a>>,
    /// `System` the path was built for; Nix's `nix copy` never writes it.
    pub system: Option<&'a str>,
    /// Every `Sig` line, in file order (Nix writes them sorted).
    pub signatures: Vec<Signature<'a>>,
    /// `CA`, for content-addressed paths; Nix's empty `CA:` also gives `None`.
    pub ca: Option<CAHash>,
}

impl<'a> NarInfo<'a> {
    /// Signs the fingerprint with `key` and appends the signature, unless
    /// that exact signature is already there (Nix keeps a set of them, and
    /// ed25519 signs deterministically, so signing twice changes nothing).
    pub fn add_signature(&mut self, key: &'a SigningKey) {
        let signature = key.sign(self.fingerprint().as_bytes());
        if !self.signatures.contains(&signature) {
            self.signatures.push(signature);
        }
    }
}
