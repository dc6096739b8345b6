//! [Node]: what a name in a [crate::Directory] points to.
//!
//! A [SymlinkTarget] must never hold a target no file system could store
//! (empty, with a NUL byte, or longer than `PATH_MAX`); anything else is
//! kept as the bytes it is.

use std::fmt;

use bstr::ByteSlice;
use bytes::Bytes;
use thiserror::Error;

use crate::B3Digest;

/// Longest symlink target allowed, in bytes (Linux `PATH_MAX` minus the NUL).
pub const MAX_SYMLINK_TARGET_LEN: usize = 4095;

/// One entry of a directory, without its name (the name is the key in the
/// parent directory, or is given separately for a tree root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory, by the digest of its [crate::Directory]. `size` is the
    /// number of entries below it, counted recursively (see
    /// [crate::Directory::size]).
    Directory { digest: B3Digest, size: u64 },
    /// A regular file, by the blake3 digest of its contents.
    File {
        digest: B3Digest,
        size: u64,
        executable: bool,
    },
    /// A symbolic link.
    Symlink { target: SymlinkTarget },
}

/// A validated symlink target: not empty, no NUL byte, at most
/// [MAX_SYMLINK_TARGET_LEN] bytes. Anything else is allowed, including
/// absolute targets and `..`: a symlink target is data, not a castore path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymlinkTarget {
    inner: Bytes,
}

/// Why bytes are not a valid [SymlinkTarget].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SymlinkTargetError {
    #[error("symlink target is empty")]
    Empty,
    #[error("symlink target contains a NUL byte")]
    Nul,
    #[error("symlink target is {0} bytes long, more than {MAX_SYMLINK_TARGET_LEN}")]
    TooLong(usize),
}

impl SymlinkTarget {
    pub fn as_bytes(&self) -> &[u8] {
        &self.inner
    }
}

fn validate_target(target: &[u8]) -> Result<(), SymlinkTargetError> {
    if target.is_empty() {
        Err(SymlinkTargetError::Empty)
    } else if target.len() > MAX_SYMLINK_TARGET_LEN {
        Err(SymlinkTargetError::TooLong(target.len()))
    } else if target.contains(&0) {
        Err(SymlinkTargetError::Nul)
    } else {
        Ok(())
    }
}

impl TryFrom<Bytes> for SymlinkTarget {
    type Error = SymlinkTargetError;

    fn try_from(value: Bytes) -> Result<Self, Self::Error> {
        validate_target(&value)?;
        Ok(Self { inner: value })
    }
}

impl TryFrom<&[u8]> for SymlinkTarget {
    type Error = SymlinkTargetError;

    fn try_from(value: &[u8]) -> Result<Self, Self::Error> {
        validate_target(value)?;
        Ok(Self {
            inner: Bytes::copy_from_slice(value),
        })
    }
}

impl TryFrom<&str> for SymlinkTarget {
    type Error = SymlinkTargetError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.as_bytes().try_into()
    }
}

impl From<SymlinkTarget> for Bytes {
    fn from(value: SymlinkTarget) -> Self {
        value.inner
    }
}

impl AsRef<[u8]> for SymlinkTarget {
    fn as_ref(&self) -> &[u8] {
        &self.inner
    }
}

impl fmt::Display for SymlinkTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner.as_bstr(), f)
    }
}

impl fmt::Debug for SymlinkTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.as_bstr(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::relative(b"../foo", Ok(()))]
    #[case::absolute(b"/nix/store/foo", Ok(()))]
    #[case::trailing_slash(b"foo/", Ok(()))]
    #[case::max_len(&[b'a'; MAX_SYMLINK_TARGET_LEN], Ok(()))]
    #[case::empty(b"", Err(SymlinkTargetError::Empty))]
    #[case::nul(b"a\0", Err(SymlinkTargetError::Nul))]
    #[case::too_long(&[b'a'; MAX_SYMLINK_TARGET_LEN + 1], Err(SymlinkTargetError::TooLong(MAX_SYMLINK_TARGET_LEN + 1)))]
    fn validate(#[case] target: &[u8], #[case] expected: Result<(), SymlinkTargetError>) {
        assert_eq!(
            expected.map(|()| target.to_vec()),
            SymlinkTarget::try_from(target).map(|t| t.as_bytes().to_vec())
        );
    }
}
