//! Finding what a path names: a node of a castore tree, or a host path.
//!
//! Symlinks met inside a store path's tree are followed as the kernel
//! follows them: a relative target is resolved against the directory
//! holding the link, an absolute one from the root, and the walk starts
//! again from the resulting path, which may lead out of the store (to the
//! host) or into another store path.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use bstr::ByteSlice;
use nix_compat::store_path::{STORE_DIR, StorePathRef};
use tvix_castore::{B3Digest, Directory, Node};
use tvix_eval::value::normalise_path;

use super::{StoreError, TvixStoreIO};

/// How many symlinks one lookup may follow, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

/// Where the contents of a path are.
pub(super) enum Location {
    /// Not below a store path the store knows: on the host, at this path.
    Host(PathBuf),
    /// Below a store path the store knows: `path` with the symlinks on the
    /// way resolved, and its node, `None` if there is no such entry.
    Store { path: PathBuf, node: Option<Node> },
}

impl TvixStoreIO {
    /// Finds `path`, following the symlinks on the way, and a final one
    /// if `follow_last`.
    pub(super) fn locate(&self, path: &Path, follow_last: bool) -> io::Result<Location> {
        let mut path = normalise_path(path);
        let mut symlinks = 0;
        'lookup: loop {
            let bytes = path.as_os_str().as_bytes();
            let Ok((store_path, below)) = StorePathRef::from_absolute_path_full(bytes) else {
                return Ok(Location::Host(path));
            };
            let Some(info) = self.path_info(&store_path)? else {
                return Ok(Location::Host(path));
            };
            let below: Vec<PathBuf> = below
                .split_str("/")
                .filter(|component| !component.is_empty())
                .map(|component| PathBuf::from(OsStr::from_bytes(component)))
                .collect();
            // The directory holding `node`, and the node's own name.
            let mut parent = PathBuf::from(STORE_DIR);
            let mut name = PathBuf::from(store_path.to_absolute_path())
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_default();
            let mut node = info.node;
            for index in 0..=below.len() {
                let is_last = index == below.len();
                if let Node::Symlink { target } = &node
                    && (follow_last || !is_last)
                {
                    symlinks += 1;
                    if symlinks > MAX_SYMLINKS {
                        return Err(io::Error::other(format!(
                            "too many levels of symbolic links at '{}'",
                            path.display()
                        )));
                    }
                    let mut next = parent.join(OsStr::from_bytes(target.as_bytes()));
                    next.extend(below.iter().skip(index));
                    path = normalise_path(&next);
                    continue 'lookup;
                }
                let Some(component) = below.get(index) else {
                    return Ok(Location::Store {
                        path: parent.join(name),
                        node: Some(node),
                    });
                };
                let Node::Directory { digest, .. } = &node else {
                    return Ok(Location::Store { path, node: None });
                };
                let directory = self.directory(&path, digest)?;
                let Some(child) = directory.get(component.as_os_str().as_bytes()).cloned() else {
                    return Ok(Location::Store { path, node: None });
                };
                parent.push(&name);
                name = component.clone();
                node = child;
            }
            // Every round of the loop above returns or restarts the lookup.
            return Ok(Location::Store { path, node: None });
        }
    }

    /// The directory `digest`, met while looking up `path`.
    pub(super) fn directory(
        &self,
        path: &Path,
        digest: &B3Digest,
    ) -> Result<Directory, StoreError> {
        let error = |source| StoreError::Directory {
            path: path.display().to_string(),
            source: Box::new(source),
        };
        self.runtime
            .block_on(self.services.directory_service.get(digest))
            .map_err(error)?
            .ok_or_else(|| {
                error(tvix_castore::directoryservice::Error::DirectoryNotFound(
                    *digest,
                ))
            })
    }
}
