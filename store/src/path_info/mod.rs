//! [PathInfo]: a Nix store path, the castore tree holding its contents, and
//! the metadata Nix keeps about it.
//!
//! Every field is a validated type, so any `PathInfo` value is a valid one;
//! untrusted input (a protobuf message) becomes one only through
//! `TryFrom<proto::PathInfo>`, in [crate::proto].

use nix_compat::narinfo::{self, NamedBytesError, NarInfo, SIGNATURE_LENGTH};
use nix_compat::nixhash::CAHash;
use nix_compat::store_path::StorePath;
use tvix_castore::Node;

#[cfg(test)]
mod tests;

/// A store path and everything tvix knows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    pub store_path: StorePath,
    /// The root of the contents; in the castore it is named after
    /// `store_path`'s basename.
    pub node: Node,
    /// The store paths the contents refer to (Nix's `References`).
    pub references: Vec<StorePath>,
    /// Size of the NAR serialisation of `node`.
    pub nar_size: u64,
    /// sha256 of the NAR serialisation of `node`.
    pub nar_sha256: [u8; 32],
    pub signatures: Vec<Signature>,
    /// The derivation that built the path, if known.
    pub deriver: Option<StorePath>,
    /// Set for content-addressed paths.
    pub ca: Option<CAHash>,
}

impl PathInfo {
    /// The narinfo view of this path, as a binary cache would serve it with
    /// its NAR at `url`, uncompressed (`Compression: none`); file hash and
    /// size are left out, the caller may set them and change the
    /// compression. Signatures verify against [NarInfo::fingerprint].
    pub fn to_narinfo<'a>(&'a self, url: &'a str) -> NarInfo<'a> {
        NarInfo {
            store_path: self.store_path.as_ref(),
            url,
            compression: Some("none"),
            file_hash: None,
            file_size: None,
            nar_hash: self.nar_sha256,
            nar_size: self.nar_size,
            references: self.references.iter().map(StorePath::as_ref).collect(),
            deriver: self.deriver.as_ref().map(StorePath::as_ref),
            system: None,
            signatures: self
                .signatures
                .iter()
                .filter_map(Signature::as_narinfo)
                .collect(),
            ca: self.ca.clone(),
        }
    }
}

/// An owned narinfo signature: the name of the key that made it and the
/// ed25519 signature bytes. The name follows the rules of
/// [narinfo::Signature] (not empty, no `:`, no newline).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    name: String,
    bytes: [u8; SIGNATURE_LENGTH],
}

impl Signature {
    pub fn new(name: String, bytes: [u8; SIGNATURE_LENGTH]) -> Result<Self, NamedBytesError> {
        narinfo::Signature::new(&name, bytes)?;
        Ok(Self { name, bytes })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn bytes(&self) -> &[u8; SIGNATURE_LENGTH] {
        &self.bytes
    }

    /// The borrowed form nix-compat's narinfo uses.
    ///
    /// Never `None`: the name was checked by [Signature::new].
    // FUTUREWORK: nix-compat has no owned signature type, so the name is
    // checked again here instead of being converted infallibly.
    fn as_narinfo(&self) -> Option<narinfo::Signature<'_>> {
        narinfo::Signature::new(&self.name, self.bytes).ok()
    }
}

impl From<narinfo::Signature<'_>> for Signature {
    fn from(signature: narinfo::Signature<'_>) -> Self {
        Self {
            name: signature.name().to_owned(),
            bytes: *signature.bytes(),
        }
    }
}
