//! Detached ed25519 signatures over a narinfo fingerprint, as in `Sig:` lines.

use std::fmt;

use super::VerifyingKey;
use super::named_bytes::{self, NamedBytesError};

/// Bytes in an ed25519 signature.
pub const SIGNATURE_LENGTH: usize = ed25519_dalek::SIGNATURE_LENGTH;

/// A signature `name:base64`, where `name` says which key made it.
///
/// The name borrows from the narinfo text (or the [SigningKey](super::SigningKey)
/// that signed), so parsing a narinfo allocates nothing per signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature<'a> {
    // Visible to the keys module, which builds signatures with an
    // already-checked name.
    pub(super) name: &'a str,
    pub(super) bytes: [u8; SIGNATURE_LENGTH],
}

impl<'a> Signature<'a> {
    /// Builds a signature from a key name and raw bytes; the name must be
    /// non-empty and contain neither `:` nor a newline, so it renders to a
    /// string that parses back.
    pub fn new(name: &'a str, bytes: [u8; SIGNATURE_LENGTH]) -> Result<Self, NamedBytesError> {
        Ok(Self {
            name: named_bytes::check_name(name)?,
            bytes,
        })
    }

    /// Parses `name:base64`, splitting at the first colon as Nix does.
    pub fn parse(s: &'a str) -> Result<Self, NamedBytesError> {
        let (name, bytes) = named_bytes::parse(s)?;
        Ok(Self { name, bytes })
    }

    /// The name of the key that made this signature.
    pub fn name(&self) -> &'a str {
        self.name
    }

    pub fn bytes(&self) -> &[u8; SIGNATURE_LENGTH] {
        &self.bytes
    }

    /// Whether `key` made this signature over `fingerprint`.
    ///
    /// Like Nix, which looks the key up by the signature's name, a key with a
    /// different name never verifies, even if the bytes would. The check is
    /// ed25519's strict one (no small-order points, canonical scalars), the
    /// rules libsodium's `crypto_sign_verify_detached` applies for Nix.
    pub fn verify(&self, fingerprint: &[u8], key: &VerifyingKey) -> bool {
        self.name == key.name() && key.verify_raw(fingerprint, &self.bytes)
    }
}

impl fmt::Display for Signature<'_> {
    /// `name:base64`, as in a narinfo `Sig:` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        named_bytes::write(f, self.name, &self.bytes)
    }
}
