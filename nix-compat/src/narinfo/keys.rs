//! Nix's binary cache keys, as `nix-store --generate-binary-cache-key` writes
//! them: `name:base64(32-byte ed25519 public key)` and
//! `name:base64(32-byte seed ‖ 32-byte public key)` for the secret key.

use std::{fmt, str::FromStr};

use ed25519_dalek::Signer;
use thiserror::Error;

use super::Signature;
use super::named_bytes::{self, NamedBytesError};

/// Why a string is not a Nix public or secret key.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum KeyError {
    #[error(transparent)]
    Format(#[from] NamedBytesError),
    #[error("public key {name}: the bytes are not an ed25519 point")]
    InvalidPublicKey { name: String },
    #[error("secret key {name}: the public half does not belong to the seed")]
    MismatchedKeypair { name: String },
}

/// A named ed25519 public key, checking [Signature]s of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    name: String,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifyingKey {
    /// The key name, matched against a signature's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ed25519 check alone, without looking at names; callers go through
    /// [Signature::verify].
    pub(super) fn verify_raw(
        &self,
        message: &[u8],
        signature: &[u8; ed25519_dalek::SIGNATURE_LENGTH],
    ) -> bool {
        self.key
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }
}

impl FromStr for VerifyingKey {
    type Err = KeyError;

    /// Parses `name:base64` of 32 bytes, the content of the public key file.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (name, bytes) = named_bytes::parse(s)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
            KeyError::InvalidPublicKey {
                name: name.to_string(),
            }
        })?;
        Ok(Self {
            name: name.to_string(),
            key,
        })
    }
}

impl fmt::Display for VerifyingKey {
    /// `name:base64`, as in Nix's `trusted-public-keys`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        named_bytes::write(f, &self.name, self.key.as_bytes())
    }
}

/// A named ed25519 secret key, making [Signature]s.
///
/// It has no `Display`, so it cannot end up in a log by accident; its
/// `Debug` shows the name and the public half only.
#[derive(Debug, Clone)]
pub struct SigningKey {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// The key name, which every signature made with it carries.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public key belonging to this secret key, with the same name.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs `fingerprint` (see [NarInfo::fingerprint](super::NarInfo::fingerprint)).
    /// ed25519 is deterministic, so this gives the same bytes as Nix.
    pub fn sign(&self, fingerprint: &[u8]) -> Signature<'_> {
        Signature {
            name: &self.name,
            bytes: self.key.sign(fingerprint).to_bytes(),
        }
    }
}

impl FromStr for SigningKey {
    type Err = KeyError;

    /// Parses `name:base64` of 64 bytes (seed, then public key), the content
    /// of the secret key file. Nix never checks that the halves belong
    /// together; a mismatch would make signatures nobody can verify, so it
    /// is an error here.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (name, bytes) = named_bytes::parse(s)?;
        let key = ed25519_dalek::SigningKey::from_keypair_bytes(&bytes).map_err(|_| {
            KeyError::MismatchedKeypair {
                name: name.to_string(),
            }
        })?;
        Ok(Self {
            name: name.to_string(),
            key,
        })
    }
}
