//! Content-addressed imports of host paths, giving the store paths CppNix
//! gives: `nix-store --add PATH` ([import_path_as_nar_ca]) and
//! `nix-store --add-fixed sha256 FILE` ([import_path_as_flat_ca]).

use std::path::{Component, Path, PathBuf};

use nix_compat::nixhash::{CAHash, NixHash};
use nix_compat::store_path::{self, StorePath, build_ca_path};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::{B3Digest, Node};

use super::single_pass::ingest_hashing_nar;
use super::{ImportError, ImportProgress, ingest, summarize_nar};
use crate::PathInfo;
use crate::nar::NarSummary;
use crate::pathinfoservice::PathInfoService;

/// Read buffer for hashing a blob's contents.
const HASH_BUFFER: usize = 128 * 1024;

/// Imports the file, symlink or directory tree at `path` as `nix-store
/// --add` does: the store path is content-addressed by the sha256 of its
/// NAR (`fixed:r:sha256`), named `name` or else after `path`'s file name.
/// Returns the PathInfo, which is put only after the tree is stored.
pub async fn import_path_as_nar_ca<BS, DS, PS>(
    blob_service: BS,
    directory_service: &DS,
    path_info_service: &PS,
    path: &Path,
    name: Option<&str>,
    progress: &dyn ImportProgress,
) -> Result<PathInfo, ImportError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    PS: PathInfoService + ?Sized,
{
    let name = store_path_name(path, name)?;
    // The NAR hash comes from the very bytes stored, read once.
    let (node, nar) = ingest_hashing_nar(blob_service, directory_service, path, progress)
        .await
        .map_err(|source| ImportError::IngestHashingNar {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    let ca = CAHash::Nar(NixHash::Sha256(nar.nar_sha256));
    put_ca_path_info(path_info_service, &name, node, nar, ca).await
}

/// Imports the regular file at `path` as `nix-store --add-fixed sha256`
/// does: the store path is content-addressed by the sha256 of the file's
/// contents (`fixed:sha256`). As in Nix, the stored file is never
/// executable, and the PathInfo still records the NAR hash.
pub async fn import_path_as_flat_ca<BS, DS, PS>(
    blob_service: BS,
    directory_service: &DS,
    path_info_service: &PS,
    path: &Path,
    name: Option<&str>,
    progress: &dyn ImportProgress,
) -> Result<PathInfo, ImportError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    PS: PathInfoService + ?Sized,
{
    let name = store_path_name(path, name)?;
    let metadata = std::fs::symlink_metadata(path).map_err(|source| ImportError::Stat {
        path: path.to_owned(),
        source,
    })?;
    if !metadata.is_file() {
        return Err(ImportError::NotAFile(path.to_owned()));
    }
    // The file may have been replaced since it was looked at.
    let Node::File { digest, size, .. } =
        ingest(blob_service.clone(), directory_service, path, progress).await?
    else {
        return Err(ImportError::NotAFile(path.to_owned()));
    };
    // Hashed from the blob, so the store path covers exactly what is stored.
    let file_sha256 = blob_sha256(&blob_service, &digest).await?;
    let node = Node::File {
        digest,
        size,
        executable: false,
    };
    let nar = summarize_nar(
        &blob_service,
        directory_service,
        path_info_service,
        &node,
        progress,
    )
    .await?;
    let ca = CAHash::Flat(NixHash::Sha256(file_sha256));
    put_ca_path_info(path_info_service, &name, node, nar, ca).await
}

/// The name of the store path for `path`: `name` if given, else the file
/// name of `path` made absolute, with `.` and `..` resolved lexically as
/// Nix does (so `nix-store --add .` is named after the current directory).
/// The name is validated here, before anything is uploaded.
pub fn store_path_name(path: &Path, name: Option<&str>) -> Result<String, ImportError> {
    let name = match name {
        Some(name) => name.to_owned(),
        None => {
            let absolute = std::path::absolute(path).map_err(|source| ImportError::Stat {
                path: path.to_owned(),
                source,
            })?;
            let normalized = normalize_lexically(&absolute);
            normalized
                .file_name()
                .ok_or_else(|| ImportError::NoName(path.to_owned()))?
                .to_str()
                .ok_or_else(|| ImportError::NonUtf8Name(path.to_owned()))?
                .to_owned()
        }
    };
    if let Err(source) = store_path::validate_name(name.as_bytes()) {
        return Err(ImportError::InvalidName {
            name,
            source: source.into(),
        });
    }
    Ok(name)
}

/// `path` without `.` components and with every `..` removing the
/// component before it, never going above the root.
fn normalize_lexically(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    normalized
}

/// The sha256 of the contents of the blob `digest`.
async fn blob_sha256<BS: BlobService + ?Sized>(
    blob_service: &BS,
    digest: &B3Digest,
) -> Result<[u8; 32], ImportError> {
    let read_error = |source| ImportError::ReadBlob {
        digest: *digest,
        source,
    };
    let mut reader = blob_service
        .open_read(digest)
        .await
        .map_err(read_error)?
        .ok_or(ImportError::BlobNotFound(*digest))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; HASH_BUFFER];
    loop {
        let read = reader.read(&mut buffer).await.map_err(read_error)?;
        match buffer.get(..read) {
            Some([]) | None => break,
            Some(chunk) => hasher.update(chunk),
        }
    }
    Ok(hasher.finalize().into())
}

/// Builds the store path for `ca` (no references) and puts its PathInfo.
async fn put_ca_path_info<PS: PathInfoService + ?Sized>(
    path_info_service: &PS,
    name: &str,
    node: Node,
    nar: NarSummary,
    ca: CAHash,
) -> Result<PathInfo, ImportError> {
    let store_path: StorePath =
        build_ca_path(name, &ca, Vec::<String>::new(), false).map_err(|source| {
            ImportError::InvalidName {
                name: name.to_owned(),
                source,
            }
        })?;
    let path_info = PathInfo {
        store_path: store_path.clone(),
        node,
        references: Vec::new(),
        nar_size: nar.nar_size,
        nar_sha256: nar.nar_sha256,
        signatures: Vec::new(),
        deriver: None,
        ca: Some(ca),
    };
    path_info_service
        .put(path_info)
        .await
        .map_err(|source| ImportError::PutPathInfo {
            store_path,
            source: Box::new(source),
        })
}
