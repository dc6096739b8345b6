//! [TvixStoreIO]: the evaluator's file access over the tvix store.
//!
//! A path below a store path the store knows is read from its castore
//! tree, with symlinks inside the tree followed as the kernel would
//! follow them; every other path, store paths the store does not know
//! included (a real `/nix/store` next to tvix), is read from the host.
//! Importing a host path adds it as `nix-store --add` does.
//!
//! `EvalIO` is synchronous and the services are not: each operation blocks
//! the calling thread on a tokio runtime handle. So it must be called
//! from a thread outside the runtime, the evaluator's own.

mod import;
mod locate;

use std::cell::RefCell;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nix_compat::store_path::{STORE_DIR, StorePath, StorePathRef};
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;
use tvix_castore::import::IngestionError;
use tvix_castore::{B3Digest, Node};
use tvix_eval::io::{EvalIO, FileType, HostIO};
use tvix_store::PathInfo;
use tvix_store::import::{ImportError, WalkError};
use tvix_store::utils::Services;

use crate::fetchers::Fetcher;
use crate::known_paths::KnownPaths;

pub use import::Ingestion;
use locate::Location;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("querying the path info of '{path}': {source}")]
    PathInfo {
        path: String,
        source: Box<tvix_store::pathinfoservice::Error>,
    },
    #[error("reading a directory of '{path}': {source}")]
    Directory {
        path: String,
        source: Box<tvix_castore::directoryservice::Error>,
    },
    #[error("reading the contents of '{path}': {source}")]
    Blob { path: String, source: io::Error },
    #[error("the contents of '{path}' ({digest}) are missing from the blob service")]
    BlobMissing { path: String, digest: B3Digest },
    #[error("{0}")]
    Import(Box<ImportError>),
    #[error("path '{0}' is not valid")]
    InvalidPath(String),
    /// Sockets, devices and FIFOs have no place in a store.
    #[error("file '{0}' has an unsupported type")]
    UnsupportedFileType(String),
    #[error("'{0}' is not a regular file")]
    NotAFile(String),
    #[error("computing the NAR of '{path}': {source}")]
    Nar {
        path: String,
        source: Box<tvix_store::nar::CalculateNarError>,
    },
    #[error("filtering '{path}': {source}")]
    Filter {
        path: String,
        source: tvix_castore::DirectoryError,
    },
}

impl From<ImportError> for StoreError {
    /// A file the store cannot hold is named as CppNix names it.
    fn from(e: ImportError) -> Self {
        if let ImportError::IngestHashingNar { source, .. } = &e
            && let IngestionError::Producer(WalkError::UnsupportedFileType { path, .. }) =
                source.as_ref()
        {
            return StoreError::UnsupportedFileType(path.display().to_string());
        }
        StoreError::Import(Box::new(e))
    }
}

impl From<StoreError> for io::Error {
    fn from(e: StoreError) -> Self {
        let kind = match &e {
            StoreError::InvalidPath(_) => io::ErrorKind::NotFound,
            StoreError::UnsupportedFileType(_) => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e.to_string())
    }
}

/// The evaluator's file access and the builtins' store: the castore and
/// store services, a handle of the runtime they run on, the derivations
/// instantiated so far and what was fetched.
pub struct TvixStoreIO {
    pub(crate) services: Services,
    pub(crate) runtime: Handle,
    known_paths: RefCell<KnownPaths>,
    pub(crate) fetcher: Fetcher,
}

impl TvixStoreIO {
    pub fn new(services: Services, runtime: Handle) -> Self {
        TvixStoreIO {
            services,
            runtime,
            known_paths: RefCell::default(),
            fetcher: Fetcher::default(),
        }
    }

    /// The derivations of this evaluation (see [KnownPaths]).
    pub fn known_paths(&self) -> &RefCell<KnownPaths> {
        &self.known_paths
    }

    /// The PathInfo of `path` if the store has it.
    pub fn path_info(&self, path: &StorePathRef<'_>) -> Result<Option<PathInfo>, StoreError> {
        let found = self
            .runtime
            .block_on(self.services.path_info_service.get(*path.digest()))
            .map_err(|source| StoreError::PathInfo {
                path: path.to_absolute_path(),
                source: Box::new(source),
            })?;
        // A digest names one path; anything else is not this one.
        Ok(found.filter(|info| info.store_path.as_ref() == *path))
    }

    /// The references of the store path `path`.
    pub fn references(&self, path: &StorePathRef<'_>) -> Result<Vec<StorePath>, StoreError> {
        self.path_info(path)?
            .map(|info| info.references)
            .ok_or_else(|| StoreError::InvalidPath(path.to_absolute_path()))
    }

    /// Opens the blob of a file node for synchronous reading.
    fn open_blob(&self, path: &Path, digest: &B3Digest) -> io::Result<Box<dyn Read>> {
        let reader = self
            .runtime
            .block_on(self.services.blob_service.open_read(digest))?
            .ok_or_else(|| {
                io::Error::from(StoreError::BlobMissing {
                    path: path.display().to_string(),
                    digest: *digest,
                })
            })?;
        Ok(Box::new(SyncIoBridge::new_with_handle(
            reader,
            self.runtime.clone(),
        )))
    }
}

/// What `readDir` and `readFileType` call a castore node.
fn node_file_type(node: &Node) -> FileType {
    match node {
        Node::Directory { .. } => FileType::Directory,
        Node::File { .. } => FileType::Regular,
        Node::Symlink { .. } => FileType::Symlink,
    }
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("'{}' does not exist", path.display()),
    )
}

impl EvalIO for TvixStoreIO {
    fn path_exists(&self, path: &Path) -> io::Result<bool> {
        match self.locate(path, true)? {
            Location::Host(path) => HostIO.path_exists(&path),
            Location::Store { node, .. } => Ok(node.is_some()),
        }
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read>> {
        match self.locate(path, true)? {
            Location::Host(path) => HostIO.open(&path),
            Location::Store {
                node: Some(Node::File { digest, .. }),
                ..
            } => self.open_blob(path, &digest),
            Location::Store { node: Some(_), .. } => Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                format!("'{}' is a directory", path.display()),
            )),
            Location::Store { node: None, .. } => Err(not_found(path)),
        }
    }

    fn file_type(&self, path: &Path) -> io::Result<FileType> {
        match self.locate(path, false)? {
            Location::Host(path) => HostIO.file_type(&path),
            Location::Store {
                node: Some(node), ..
            } => Ok(node_file_type(&node)),
            Location::Store { node: None, .. } => Err(not_found(path)),
        }
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<(Vec<u8>, FileType)>> {
        match self.locate(path, true)? {
            Location::Host(path) => HostIO.read_dir(&path),
            Location::Store {
                node: Some(Node::Directory { digest, .. }),
                ..
            } => {
                let directory = self.directory(path, &digest)?;
                Ok(directory
                    .nodes()
                    .map(|(name, node)| (name.as_bytes().to_vec(), node_file_type(node)))
                    .collect())
            }
            Location::Store { node: Some(_), .. } => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("'{}' is not a directory", path.display()),
            )),
            Location::Store { node: None, .. } => Err(not_found(path)),
        }
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        match self.locate(path, true)? {
            Location::Host(path) => HostIO.canonicalize(&path),
            Location::Store {
                path,
                node: Some(_),
                ..
            } => Ok(path),
            Location::Store { node: None, .. } => Err(not_found(path)),
        }
    }

    fn import_path(&self, path: &Path) -> io::Result<PathBuf> {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("'{}' has no name to give its store path", path.display()),
                )
            })?;
        let store_path = self.import_host_path(path, name, Ingestion::Nar(None))?;
        Ok(PathBuf::from(store_path.to_absolute_path()))
    }

    fn store_dir(&self) -> &str {
        STORE_DIR
    }
}
