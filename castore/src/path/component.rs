//! [PathComponent]: one name inside a directory.
//!
//! A `PathComponent` must never hold a name that could escape or alias its
//! directory (`.`, `..`, a `/`) or that no file system could store.

use std::{borrow::Borrow, fmt};

use bstr::ByteSlice;
use bytes::Bytes;
use thiserror::Error;

/// Longest name allowed for a directory entry, in bytes (the usual `NAME_MAX`
/// of Linux filesystems, so every castore tree can be materialized).
pub const MAX_NAME_LEN: usize = 255;

/// A validated directory entry name: not empty, not `.` or `..`, no `/`, no
/// NUL byte, at most [MAX_NAME_LEN] bytes.
///
/// Orders bytewise, which is the order entries take in a Directory.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathComponent {
    inner: Bytes,
}

/// Why a byte string is not a valid [PathComponent].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PathComponentError {
    #[error("name is empty")]
    Empty,
    #[error("name is '.'")]
    Dot,
    #[error("name is '..'")]
    DotDot,
    #[error("name contains '/'")]
    Slash,
    #[error("name contains a NUL byte")]
    Nul,
    #[error("name is {0} bytes long, more than {MAX_NAME_LEN}")]
    TooLong(usize),
}

/// Checks `name` against the rules of [PathComponent].
pub(crate) fn validate_name(name: &[u8]) -> Result<(), PathComponentError> {
    match name {
        b"" => Err(PathComponentError::Empty),
        b"." => Err(PathComponentError::Dot),
        b".." => Err(PathComponentError::DotDot),
        _ if name.len() > MAX_NAME_LEN => Err(PathComponentError::TooLong(name.len())),
        _ if name.contains(&b'/') => Err(PathComponentError::Slash),
        _ if name.contains(&0) => Err(PathComponentError::Nul),
        _ => Ok(()),
    }
}

impl PathComponent {
    /// Wraps bytes that the caller has already validated (for example a
    /// component split out of a valid [crate::Path]).
    pub(crate) fn from_validated(inner: Bytes) -> Self {
        debug_assert_eq!(Ok(()), validate_name(&inner));
        Self { inner }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.inner
    }
}

impl TryFrom<Bytes> for PathComponent {
    type Error = PathComponentError;

    fn try_from(value: Bytes) -> Result<Self, Self::Error> {
        validate_name(&value)?;
        Ok(Self { inner: value })
    }
}

impl TryFrom<&[u8]> for PathComponent {
    type Error = PathComponentError;

    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        validate_name(value)?;
        Ok(Self {
            inner: Bytes::copy_from_slice(value),
        })
    }
}

impl TryFrom<&str> for PathComponent {
    type Error = PathComponentError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.as_bytes().try_into()
    }
}

impl From<PathComponent> for Bytes {
    fn from(value: PathComponent) -> Self {
        value.inner
    }
}

impl AsRef<[u8]> for PathComponent {
    fn as_ref(&self) -> &[u8] {
        &self.inner
    }
}

/// Lets maps keyed by [PathComponent] be queried with plain bytes; sound
/// because `Bytes` hashes and orders exactly like its byte slice.
impl Borrow<[u8]> for PathComponent {
    fn borrow(&self) -> &[u8] {
        &self.inner
    }
}

impl fmt::Display for PathComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner.as_bstr(), f)
    }
}

impl fmt::Debug for PathComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.as_bstr(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain(b"foo", Ok(()))]
    #[case::dotfile(b".profile", Ok(()))]
    #[case::three_dots(b"...", Ok(()))]
    #[case::non_utf8(b"\xff\xfe", Ok(()))]
    #[case::max_len(&[b'a'; MAX_NAME_LEN], Ok(()))]
    #[case::empty(b"", Err(PathComponentError::Empty))]
    #[case::dot(b".", Err(PathComponentError::Dot))]
    #[case::dotdot(b"..", Err(PathComponentError::DotDot))]
    #[case::slash(b"a/b", Err(PathComponentError::Slash))]
    #[case::only_slash(b"/", Err(PathComponentError::Slash))]
    #[case::nul(b"a\0b", Err(PathComponentError::Nul))]
    #[case::too_long(&[b'a'; MAX_NAME_LEN + 1], Err(PathComponentError::TooLong(MAX_NAME_LEN + 1)))]
    fn validate(#[case] name: &[u8], #[case] expected: Result<(), PathComponentError>) {
        assert_eq!(expected, validate_name(name));
        assert_eq!(
            expected.map(|()| name.to_vec()),
            PathComponent::try_from(name).map(|c| c.as_bytes().to_vec())
        );
    }
}
