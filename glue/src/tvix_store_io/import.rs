//! Adding to the store: host paths (as `nix-store --add`, filtered or
//! not, or flat), text files with references, and parts of store paths
//! the store already holds, which are re-added from their castore tree
//! without going through the host (`builtins.path` of a path in the
//! store).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use nix_compat::nixhash::{CAHash, NixHash};
use nix_compat::store_path::StorePath;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tvix_castore::directoryservice::DirectoryPutter;
use tvix_castore::{Directory, Node, PathComponent};
use tvix_store::import::{
    PathFilter, import_bytes_as_text_ca, import_filtered_path_as_nar_ca, import_path_as_flat_ca,
    import_path_as_nar_ca, put_ca_path_info,
};
use tvix_store::utils::Services;

use super::{StoreError, TvixStoreIO};

/// How a host path is added to the store.
pub enum Ingestion {
    /// By the sha256 of its NAR, as `nix-store --add`, keeping what the
    /// filter keeps (everything without one).
    Nar(Option<PathFilter>),
    /// A regular file, by the sha256 of its contents, as `nix-store
    /// --add-fixed sha256`.
    Flat,
}

impl TvixStoreIO {
    /// Adds the host path `path` to the store as `name`.
    pub fn import_host_path(
        &self,
        path: &Path,
        name: &str,
        ingestion: Ingestion,
    ) -> Result<StorePath, StoreError> {
        let Services {
            blob_service,
            directory_service,
            path_info_service,
            ..
        } = &self.services;
        let imported = self.runtime.block_on(async {
            match ingestion {
                Ingestion::Nar(None) => {
                    import_path_as_nar_ca(
                        blob_service.clone(),
                        &**directory_service,
                        &**path_info_service,
                        path,
                        Some(name),
                        &(),
                    )
                    .await
                }
                Ingestion::Nar(Some(filter)) => {
                    import_filtered_path_as_nar_ca(
                        blob_service.clone(),
                        &**directory_service,
                        &**path_info_service,
                        path,
                        Some(name),
                        filter,
                        &(),
                    )
                    .await
                }
                Ingestion::Flat => {
                    import_path_as_flat_ca(
                        blob_service.clone(),
                        &**directory_service,
                        &**path_info_service,
                        path,
                        Some(name),
                        &(),
                    )
                    .await
                }
            }
        })?;
        Ok(imported.store_path)
    }

    /// Adds a text file with references (`builtins.toFile`, a `.drv`).
    pub fn add_text(
        &self,
        name: &str,
        contents: Vec<u8>,
        references: Vec<StorePath>,
    ) -> Result<StorePath, StoreError> {
        let info = self.runtime.block_on(import_bytes_as_text_ca(
            &*self.services.blob_service,
            &*self.services.path_info_service,
            name,
            Bytes::from(contents),
            references,
        ))?;
        Ok(info.store_path)
    }
}

/// A directory being rebuilt without the entries a filter rejects.
struct Rebuilt {
    /// Where it is, for the filter.
    path: PathBuf,
    /// Its name in its parent (none for the root).
    name: Option<PathComponent>,
    /// Entries still to look at, last first.
    pending: Vec<(PathComponent, Node)>,
    kept: Directory,
}

impl TvixStoreIO {
    /// The castore node at `path` (a final symlink not followed) and the
    /// references of the store path it is in, if it is in a store path the
    /// store holds; `None` for host paths.
    pub fn store_source(
        &self,
        path: &Path,
    ) -> std::io::Result<Option<(Option<Node>, Vec<StorePath>)>> {
        let super::Location::Store { node, .. } = self.locate(path, false)? else {
            return Ok(None);
        };
        let bytes = path.as_os_str().as_encoded_bytes();
        let references = match nix_compat::store_path::StorePathRef::from_absolute_path_full(bytes)
        {
            Ok((store_path, _)) => self.references(&store_path)?,
            Err(_) => Vec::new(),
        };
        Ok(Some((node, references)))
    }

    /// Adds `node`, found at `path` in the store, as a new store path
    /// named `name` that refers to `references`, as `builtins.path` adds a
    /// path in the store.
    pub fn import_store_node(
        &self,
        path: &Path,
        node: Node,
        name: &str,
        ingestion: Ingestion,
        references: Vec<StorePath>,
    ) -> Result<StorePath, StoreError> {
        // A flat path is addressed by its contents, a NAR path by its NAR.
        let (node, flat_sha256) = match ingestion {
            Ingestion::Flat => {
                let Node::File { digest, size, .. } = node else {
                    return Err(StoreError::NotAFile(path.display().to_string()));
                };
                let sha256 = self.blob_sha256(path, &digest)?;
                let node = Node::File {
                    digest,
                    size,
                    executable: false,
                };
                (node, Some(sha256))
            }
            Ingestion::Nar(Some(keep)) => (self.filter_tree(path, node, &keep)?, None),
            Ingestion::Nar(None) => (node, None),
        };
        let nar = self.nar_summary(path, &node)?;
        let ca = match flat_sha256 {
            Some(sha256) => CAHash::Flat(NixHash::Sha256(sha256)),
            None => CAHash::Nar(NixHash::Sha256(nar.nar_sha256)),
        };
        self.add_ca_node(name, node, ca, nar, references)
    }

    /// Makes the store path of `node`, whose contents are in castore
    /// already, named `name` and addressed by `ca`, referring to
    /// `references`, and puts its PathInfo.
    pub(crate) fn add_ca_node(
        &self,
        name: &str,
        node: Node,
        ca: CAHash,
        nar: tvix_store::nar::NarSummary,
        references: Vec<StorePath>,
    ) -> Result<StorePath, StoreError> {
        let info = self.runtime.block_on(put_ca_path_info(
            self.services.path_info_service.as_ref(),
            name,
            node,
            nar,
            ca,
            references,
        ))?;
        Ok(info.store_path)
    }

    /// The NAR size and sha256 of `node`, found at `path`.
    pub(crate) fn nar_summary(
        &self,
        path: &Path,
        node: &Node,
    ) -> Result<tvix_store::nar::NarSummary, StoreError> {
        self.runtime
            .block_on(self.services.nar_calculation_service.calculate_nar(node))
            .map_err(|source| StoreError::Nar {
                path: path.display().to_string(),
                source: Box::new(source),
            })
    }

    /// The sha256 of the contents of the file at `path`, blob `digest`.
    fn blob_sha256(
        &self,
        path: &Path,
        digest: &tvix_castore::B3Digest,
    ) -> Result<[u8; 32], StoreError> {
        self.runtime.block_on(async {
            let blob_error = |source| StoreError::Blob {
                path: path.display().to_string(),
                source,
            };
            let mut reader = self
                .services
                .blob_service
                .open_read(digest)
                .await
                .map_err(blob_error)?
                .ok_or_else(|| StoreError::BlobMissing {
                    path: path.display().to_string(),
                    digest: *digest,
                })?;
            let mut hasher = Sha256::new();
            let mut buffer = vec![0; 64 * 1024];
            loop {
                let read = reader.read(&mut buffer).await.map_err(blob_error)?;
                match buffer.get(..read) {
                    Some([]) | None => break,
                    Some(chunk) => hasher.update(chunk),
                }
            }
            Ok(hasher.finalize().into())
        })
    }

    /// The tree of `root` (at `path`) without what `keep` rejects: the
    /// directories that change are rebuilt and stored, leaves first.
    fn filter_tree(&self, path: &Path, root: Node, keep: &PathFilter) -> Result<Node, StoreError> {
        let Node::Directory { digest, .. } = root else {
            return Ok(root);
        };
        let pending = |directory: Directory| {
            let mut entries: Vec<(PathComponent, Node)> = directory.into_iter().collect();
            entries.reverse();
            entries
        };
        let mut stack = vec![Rebuilt {
            path: path.to_owned(),
            name: None,
            pending: pending(self.directory(path, &digest)?),
            kept: Directory::new(),
        }];
        let mut rebuilt = Vec::new();
        let root = loop {
            let Some(top) = stack.last_mut() else {
                return Err(StoreError::NotAFile(path.display().to_string()));
            };
            if let Some((name, node)) = top.pending.pop() {
                let child = top.path.join(OsStr::from_bytes(name.as_bytes()));
                if !keep(&child) {
                    continue;
                }
                if let Node::Directory { digest, .. } = &node {
                    let directory = self.directory(&child, digest)?;
                    stack.push(Rebuilt {
                        path: child,
                        name: Some(name),
                        pending: pending(directory),
                        kept: Directory::new(),
                    });
                } else {
                    top.kept
                        .add(name, node)
                        .map_err(|source| StoreError::Filter {
                            path: child.display().to_string(),
                            source,
                        })?;
                }
                continue;
            }
            let Some(done) = stack.pop() else { continue };
            let node = Node::Directory {
                digest: done.kept.digest(),
                size: done.kept.size(),
            };
            rebuilt.push(done.kept);
            match (stack.last_mut(), done.name) {
                (Some(parent), Some(name)) => {
                    parent
                        .kept
                        .add(name, node)
                        .map_err(|source| StoreError::Filter {
                            path: done.path.display().to_string(),
                            source,
                        })?
                }
                _ => break node,
            }
        };
        self.runtime
            .block_on(async {
                let mut putter: Box<dyn DirectoryPutter + '_> =
                    self.services.directory_service.put_multiple_start();
                for directory in rebuilt {
                    putter.put(directory).await?;
                }
                putter.close().await
            })
            .map_err(|source| StoreError::Directory {
                path: path.display().to_string(),
                source: Box::new(source),
            })?;
        Ok(root)
    }
}
