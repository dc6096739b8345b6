//! [B3Digest], the name of every blob and directory in the castore.
//!
//! A `B3Digest` must never hold anything but 32 bytes: every conversion from
//! bytes checks the length, so code holding one never checks again.

use std::fmt;

use bytes::Bytes;
use data_encoding::BASE64;
use thiserror::Error;

/// Length of a blake3 digest in bytes.
pub const B3_LEN: usize = blake3::OUT_LEN;

/// A blake3 digest: 32 bytes, checked on construction.
///
/// Displays as `b3:` followed by the padded standard base64 of the bytes, the
/// form tvix uses in logs and error messages.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct B3Digest([u8; B3_LEN]);

/// A byte string that cannot be a [B3Digest].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum B3DigestError {
    #[error("invalid blake3 digest length: expected {B3_LEN} bytes, got {0}")]
    InvalidLength(usize),
}

impl B3Digest {
    /// Wraps 32 digest bytes; usable in constants.
    pub const fn new(bytes: [u8; B3_LEN]) -> Self {
        Self(bytes)
    }

    /// The digest as a byte slice.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }

    /// The digest as a fixed-size array.
    pub fn as_bytes(&self) -> &[u8; B3_LEN] {
        &self.0
    }

    /// The blake3 digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }
}

impl From<[u8; B3_LEN]> for B3Digest {
    fn from(value: [u8; B3_LEN]) -> Self {
        Self(value)
    }
}

impl From<blake3::Hash> for B3Digest {
    fn from(value: blake3::Hash) -> Self {
        Self(*value.as_bytes())
    }
}

impl TryFrom<&[u8]> for B3Digest {
    type Error = B3DigestError;

    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        <[u8; B3_LEN]>::try_from(value)
            .map(Self)
            .map_err(|_| B3DigestError::InvalidLength(value.len()))
    }
}

impl TryFrom<Vec<u8>> for B3Digest {
    type Error = B3DigestError;

    fn try_from(value: Vec<u8>) -> Result<Self, Self::Error> {
        value.as_slice().try_into()
    }
}

impl TryFrom<Bytes> for B3Digest {
    type Error = B3DigestError;

    fn try_from(value: Bytes) -> Result<Self, Self::Error> {
        value.as_ref().try_into()
    }
}

impl TryFrom<&Bytes> for B3Digest {
    type Error = B3DigestError;

    fn try_from(value: &Bytes) -> Result<Self, Self::Error> {
        value.as_ref().try_into()
    }
}

impl From<B3Digest> for Bytes {
    fn from(value: B3Digest) -> Self {
        Bytes::copy_from_slice(&value.0)
    }
}

impl From<&B3Digest> for Bytes {
    fn from(value: &B3Digest) -> Self {
        Bytes::copy_from_slice(&value.0)
    }
}

impl AsRef<[u8]> for B3Digest {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for B3Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b3:{}", BASE64.encode(&self.0))
    }
}

impl fmt::Debug for B3Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::empty(&[], Err(B3DigestError::InvalidLength(0)))]
    #[case::short(&[0u8; 31], Err(B3DigestError::InvalidLength(31)))]
    #[case::long(&[0u8; 33], Err(B3DigestError::InvalidLength(33)))]
    #[case::exact(&[7u8; 32], Ok(B3Digest([7u8; 32])))]
    fn from_slice(#[case] input: &[u8], #[case] expected: Result<B3Digest, B3DigestError>) {
        assert_eq!(expected, B3Digest::try_from(input));
    }

    /// `b3sum` of the empty input is af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262.
    #[test]
    fn display_of_empty_input() {
        assert_eq!(
            "b3:rxNJufX5oaagQE3qNtzJSZvLJcmtwRK3zJqTyuQfMmI=",
            B3Digest::of(b"").to_string()
        );
    }
}
