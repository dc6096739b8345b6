//! [Path] and [PathBuf]: locations inside a castore tree.
//!
//! A castore path is relative to some root node, platform-independent and made
//! of bytes: components are [PathComponent]s joined by `/`. The empty path is
//! the root itself. Holding a `Path` means it has already been checked: no
//! leading or trailing `/`, no empty component, no `.` or `..`, no NUL byte.
//! Host paths go through [PathBuf::from_host_path], the one place where `.`
//! and `..` are dealt with.

mod component;

use std::{borrow::Borrow, fmt, ops::Deref, str::FromStr};

use bstr::{BString, ByteSlice};
use bytes::Bytes;
use ref_cast::{RefCastCustom, ref_cast_custom};
use thiserror::Error;

pub(crate) use component::validate_name;
pub use component::{MAX_NAME_LEN, PathComponent, PathComponentError};

/// Longest path, in bytes, that an import (tar archive, NAR) accepts below
/// its root or a NAR render writes: Linux `PATH_MAX`, so at most what Nix
/// itself can dump or restore. Anything walking a tree holds the path it is
/// at, and often the paths of the directories it has open; bounding the
/// length keeps a hostile tree of 2048 levels of 255-byte names (half a
/// megabyte per path) from costing gigabytes.
pub const MAX_PATH_LEN: usize = 4096;

/// Borrowed castore path, the `str` to [PathBuf]'s `String`.
#[derive(RefCastCustom, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Path {
    inner: [u8],
}

/// Owned castore path.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathBuf {
    inner: Vec<u8>,
}

/// Why bytes or a string are not a castore path, or a name cannot be
/// appended to one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    #[error("path {0:?} is absolute, castore paths are relative")]
    Absolute(BString),
    #[error("invalid component {component:?} in path {path:?}: {source}")]
    InvalidComponent {
        path: BString,
        component: BString,
        source: PathComponentError,
    },
}

/// Why a host path cannot become a castore path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FromHostPathError {
    #[error("host path {0:?} is absolute, castore paths are relative")]
    Absolute(std::path::PathBuf),
    #[error("host path {0:?} contains '..' and resolving it was not requested")]
    DotDot(std::path::PathBuf),
    #[error("host path {0:?} leads above its root through '..'")]
    AboveRoot(std::path::PathBuf),
    #[error("invalid component {component:?} in host path {path:?}: {source}")]
    InvalidComponent {
        path: std::path::PathBuf,
        component: BString,
        source: PathComponentError,
    },
}

impl Path {
    /// The root: the empty path, which has no components.
    pub const ROOT: &'static Path = Path::from_bytes_unchecked(b"");

    #[ref_cast_custom]
    const fn from_bytes_unchecked(bytes: &[u8]) -> &Path;

    /// Checks `bytes` and borrows them as a path. The empty slice is the
    /// root; otherwise every `/`-separated component must be a valid
    /// [PathComponent].
    pub fn from_bytes(bytes: &[u8]) -> Result<&Path, PathError> {
        if bytes.first() == Some(&b'/') {
            return Err(PathError::Absolute(bytes.into()));
        }
        if !bytes.is_empty() {
            for component in bytes.split(|b| *b == b'/') {
                validate_name(component).map_err(|source| PathError::InvalidComponent {
                    path: bytes.into(),
                    component: component.into(),
                    source,
                })?;
            }
        }
        Ok(Path::from_bytes_unchecked(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.inner
    }

    pub fn is_root(&self) -> bool {
        self.inner.is_empty()
    }

    /// The path without its last component. The root has no parent; the
    /// parent of a single name is the root.
    pub fn parent(&self) -> Option<&Path> {
        if self.is_root() {
            return None;
        }
        Some(match self.inner.rfind_byte(b'/') {
            // `pos` was found inside `inner`, so the slice is in bounds; and
            // the bytes before a separator of a valid path are a valid path.
            Some(pos) => Path::from_bytes_unchecked(&self.inner[..pos]),
            None => Path::ROOT,
        })
    }

    /// This path with `name` appended as one more component.
    pub fn try_join(&self, name: &[u8]) -> Result<PathBuf, PathError> {
        let mut joined = self.to_owned();
        joined.try_push(name)?;
        Ok(joined)
    }

    /// The components as byte slices, from the top down; none for the root.
    pub fn components_bytes(&self) -> impl DoubleEndedIterator<Item = &[u8]> {
        // Splitting an empty slice would yield one empty component.
        let bytes = if self.is_root() {
            None
        } else {
            Some(&self.inner)
        };
        bytes
            .into_iter()
            .flat_map(|bytes| bytes.split(|b| *b == b'/'))
    }

    /// The components, from the top down; none for the root.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = PathComponent> {
        self.components_bytes()
            .map(|c| PathComponent::from_validated(Bytes::copy_from_slice(c)))
    }

    /// The last component, or None for the root.
    pub fn file_name(&self) -> Option<PathComponent> {
        self.components().next_back()
    }
}

impl PathBuf {
    /// The root path.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `name` as one more component, after checking it is a valid
    /// [PathComponent]. On error the path is unchanged.
    pub fn try_push(&mut self, name: &[u8]) -> Result<(), PathError> {
        validate_name(name).map_err(|source| PathError::InvalidComponent {
            path: self.inner.as_slice().into(),
            component: name.into(),
            source,
        })?;
        if !self.inner.is_empty() {
            self.inner.push(b'/');
        }
        self.inner.extend_from_slice(name);
        Ok(())
    }

    /// Converts a relative host path. `.` components and repeated or trailing
    /// separators are dropped. A `..` removes the previous component when
    /// `canonicalize_dotdot` is set (going above the start is an error), and
    /// is an error otherwise: resolving it lexically is only correct when no
    /// earlier component is a symlink, which the caller must know.
    pub fn from_host_path(
        host_path: &std::path::Path,
        canonicalize_dotdot: bool,
    ) -> Result<Self, FromHostPathError> {
        use std::path::Component;

        let mut path = PathBuf::new();
        for component in host_path.components() {
            match component {
                Component::Prefix(_) | Component::RootDir => {
                    return Err(FromHostPathError::Absolute(host_path.to_owned()));
                }
                Component::CurDir => {}
                Component::ParentDir if !canonicalize_dotdot => {
                    return Err(FromHostPathError::DotDot(host_path.to_owned()));
                }
                Component::ParentDir => {
                    let parent = path
                        .parent()
                        .ok_or_else(|| FromHostPathError::AboveRoot(host_path.to_owned()))?
                        .to_owned();
                    path = parent;
                }
                Component::Normal(name) => {
                    let name = name.as_encoded_bytes();
                    validate_name(name).map_err(|source| FromHostPathError::InvalidComponent {
                        path: host_path.to_owned(),
                        component: name.into(),
                        source,
                    })?;
                    path.push_validated(name);
                }
            }
        }
        Ok(path)
    }

    /// Removes the last component; the root stays the root. Lets a walk
    /// keep one path for where it is instead of a copy per level.
    pub fn pop(&mut self) {
        let start = self.inner.iter().rposition(|&b| b == b'/').unwrap_or(0);
        self.inner.truncate(start);
    }

    fn push_validated(&mut self, name: &[u8]) {
        if !self.inner.is_empty() {
            self.inner.push(b'/');
        }
        self.inner.extend_from_slice(name);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.inner
    }
}

impl Deref for PathBuf {
    type Target = Path;

    fn deref(&self) -> &Path {
        Path::from_bytes_unchecked(&self.inner)
    }
}

impl AsRef<Path> for PathBuf {
    fn as_ref(&self) -> &Path {
        self
    }
}

impl AsRef<Path> for Path {
    fn as_ref(&self) -> &Path {
        self
    }
}

impl Borrow<Path> for PathBuf {
    fn borrow(&self) -> &Path {
        self
    }
}

impl ToOwned for Path {
    type Owned = PathBuf;

    fn to_owned(&self) -> PathBuf {
        PathBuf {
            inner: self.inner.to_vec(),
        }
    }
}

impl<'a> TryFrom<&'a [u8]> for &'a Path {
    type Error = PathError;

    fn try_from(value: &'a [u8]) -> Result<Self, Self::Error> {
        Path::from_bytes(value)
    }
}

impl<'a> TryFrom<&'a str> for &'a Path {
    type Error = PathError;

    fn try_from(value: &'a str) -> Result<Self, Self::Error> {
        Path::from_bytes(value.as_bytes())
    }
}

impl TryFrom<Vec<u8>> for PathBuf {
    type Error = PathError;

    fn try_from(value: Vec<u8>) -> Result<Self, Self::Error> {
        Path::from_bytes(&value)?;
        Ok(Self { inner: value })
    }
}

impl FromStr for PathBuf {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Path::from_bytes(s.as_bytes())?.to_owned())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner.as_bstr(), f)
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner.as_bstr(), f)
    }
}

impl fmt::Display for PathBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl fmt::Debug for PathBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests;
