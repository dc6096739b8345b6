//! The `name:base64` form shared by Nix's signatures and keys.
//!
//! A signature (`cache.nixos.org-1:…`), a public key and a secret key are all
//! a key name, a colon and a fixed number of bytes in padded standard base64.
//! The name is what ties a signature to the key that checks it.

use std::fmt;

use data_encoding::{BASE64, DecodeError, DecodeKind};
use thiserror::Error;

/// Why a `name:base64` string (a signature or a key) is malformed.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum NamedBytesError {
    #[error("{0:?} is not of the form name:base64")]
    MissingColon(String),
    #[error("key name {0:?} is empty or contains ':' or a newline")]
    InvalidName(String),
    #[error("{name}: invalid base64: {source}")]
    InvalidBase64 { name: String, source: DecodeError },
    #[error("{name}: expected {expected} bytes, got {actual}")]
    WrongLength {
        name: String,
        expected: usize,
        actual: usize,
    },
}

/// Checks a key name: non-empty, and free of the characters that would make
/// `name:base64` or a narinfo `Sig:` line ambiguous.
pub(super) fn check_name(name: &str) -> Result<&str, NamedBytesError> {
    if name.is_empty() || name.contains([':', '\n']) {
        return Err(NamedBytesError::InvalidName(name.to_string()));
    }
    Ok(name)
}

/// Splits `name:base64` at the first colon, as Nix does, and decodes exactly
/// `N` bytes.
///
/// Nix writes padded base64; that is the only form accepted, so that
/// parsing and printing round-trip byte for byte.
pub(super) fn parse<const N: usize>(s: &str) -> Result<(&str, [u8; N]), NamedBytesError> {
    let (name, encoded) = s
        .split_once(':')
        .ok_or_else(|| NamedBytesError::MissingColon(s.to_string()))?;
    let name = check_name(name)?;
    let bytes =
        BASE64
            .decode(encoded.as_bytes())
            .map_err(|source| NamedBytesError::InvalidBase64 {
                name: name.to_string(),
                source,
            })?;
    // `BASE64` also decodes padded blocks one after another ("AA==AAAA"),
    // which Nix does not (it stops at the first `=`) and which would not
    // print back as read.
    if let Some(position) = encoded.find('=')
        && encoded[position..].bytes().any(|b| b != b'=')
    {
        return Err(NamedBytesError::InvalidBase64 {
            name: name.to_string(),
            source: DecodeError {
                position,
                kind: DecodeKind::Padding,
            },
        });
    }
    let actual = bytes.len();
    let bytes = bytes.try_into().map_err(|_| NamedBytesError::WrongLength {
        name: name.to_string(),
        expected: N,
        actual,
    })?;
    Ok((name, bytes))
}

/// Writes `name:base64`, the form [parse] reads.
pub(super) fn write(f: &mut fmt::Formatter<'_>, name: &str, bytes: &[u8]) -> fmt::Result {
    write!(f, "{name}:{}", BASE64.encode(bytes))
}
