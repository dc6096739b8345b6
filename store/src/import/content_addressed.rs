//! Content-addressed imports, giving the store paths CppNix gives:
//! `nix-store --add PATH` ([import_path_as_nar_ca]; filtered as
//! `builtins.path` filters, [import_filtered_path_as_nar_ca]),
//! `nix-store --add-fixed sha256 FILE` ([import_path_as_flat_ca]) and text
//! files with references, as `builtins.toFile` and `.drv` files are added
//! ([import_bytes_as_text_ca]).

use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use nix_compat::nar::writer as nar;
use nix_compat::nixhash::{CAHash, NixHash};
use nix_compat::store_path::{self, StorePath, build_ca_path};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::{B3Digest, Node};

use super::single_pass::ingest_hashing_nar;
use super::{ImportError, ImportProgress, PathFilter, ingest, summarize_nar};
use crate::PathInfo;
use crate::nar::{HashingSink, NarSummary};
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
    import_nar_ca(
        blob_service,
        directory_service,
        path_info_service,
        path,
        name,
        None,
        progress,
    )
    .await
}

/// [import_path_as_nar_ca] of the part of the tree at `path` that `filter`
/// keeps, as `builtins.path` and `builtins.filterSource` import it.
pub async fn import_filtered_path_as_nar_ca<BS, DS, PS>(
    blob_service: BS,
    directory_service: &DS,
    path_info_service: &PS,
    path: &Path,
    name: Option<&str>,
    filter: PathFilter,
    progress: &dyn ImportProgress,
) -> Result<PathInfo, ImportError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    PS: PathInfoService + ?Sized,
{
    import_nar_ca(
        blob_service,
        directory_service,
        path_info_service,
        path,
        name,
        Some(filter),
        progress,
    )
    .await
}

async fn import_nar_ca<BS, DS, PS>(
    blob_service: BS,
    directory_service: &DS,
    path_info_service: &PS,
    path: &Path,
    name: Option<&str>,
    filter: Option<PathFilter>,
    progress: &dyn ImportProgress,
) -> Result<PathInfo, ImportError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    PS: PathInfoService + ?Sized,
{
    let name = store_path_name(path, name)?;
    // The NAR hash comes from the very bytes stored, read once.
    let (node, nar) = ingest_hashing_nar(blob_service, directory_service, path, filter, progress)
        .await
        .map_err(|source| ImportError::IngestHashingNar {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    let ca = CAHash::Nar(NixHash::Sha256(nar.nar_sha256));
    put_ca_path_info(path_info_service, &name, node, nar, ca, Vec::new()).await
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
    put_ca_path_info(path_info_service, &name, node, nar, ca, Vec::new()).await
}

/// Adds `contents` as a file named `name` that refers to `references`, as
/// CppNix's `addTextToStore` adds the files of `builtins.toFile` and
/// `.drv` files: a text store path (`text:sha256`), content-addressed by
/// the sha256 of the contents and its references. Returns the PathInfo,
/// which is put only after the contents are stored.
pub async fn import_bytes_as_text_ca<BS, PS>(
    blob_service: &BS,
    path_info_service: &PS,
    name: &str,
    contents: Bytes,
    references: Vec<StorePath>,
) -> Result<PathInfo, ImportError>
where
    BS: BlobService + ?Sized,
    PS: PathInfoService + ?Sized,
{
    let mut references = references;
    // The fingerprint lists them in store path order, each once.
    references.sort();
    references.dedup();
    let text_sha256: [u8; 32] = Sha256::digest(&contents).into();
    let ca = CAHash::Text(text_sha256);
    let store_path = build_ca_path(
        name,
        &ca,
        references.iter().map(StorePath::to_absolute_path),
        false,
    )
    .map_err(|source| ImportError::InvalidName {
        name: name.to_owned(),
        source,
    })?;
    let size = contents.len() as u64;
    let nar = text_nar_summary(&contents).map_err(|source| ImportError::Stat {
        path: PathBuf::from(store_path.to_absolute_path()),
        source,
    })?;
    let digest = blob_service
        .put(contents)
        .await
        .map_err(|source| ImportError::Upload {
            store_path: store_path.clone(),
            source,
        })?;
    let node = Node::File {
        digest,
        size,
        executable: false,
    };
    put_path_info(path_info_service, store_path, node, references, nar, ca).await
}

/// The NAR size and sha256 of a single non-executable file.
fn text_nar_summary(contents: &[u8]) -> std::io::Result<NarSummary> {
    let mut sink = HashingSink::default();
    nar::open(&mut sink)?.file(false, contents.len() as u64, &mut &contents[..])?;
    Ok(sink.finish())
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

/// Builds the store path for `ca` and `references` (each once, in store
/// path order, as the fingerprint lists them) and puts its PathInfo; the
/// contents must be stored already.
pub async fn put_ca_path_info<PS: PathInfoService + ?Sized>(
    path_info_service: &PS,
    name: &str,
    node: Node,
    nar: NarSummary,
    ca: CAHash,
    mut references: Vec<StorePath>,
) -> Result<PathInfo, ImportError> {
    references.sort();
    references.dedup();
    let store_path: StorePath = build_ca_path(
        name,
        &ca,
        references.iter().map(StorePath::to_absolute_path),
        false,
    )
    .map_err(|source| ImportError::InvalidName {
        name: name.to_owned(),
        source,
    })?;
    put_path_info(path_info_service, store_path, node, references, nar, ca).await
}

/// Puts the PathInfo of a content-addressed path whose contents are
/// stored.
async fn put_path_info<PS: PathInfoService + ?Sized>(
    path_info_service: &PS,
    store_path: StorePath,
    node: Node,
    references: Vec<StorePath>,
    nar: NarSummary,
    ca: CAHash,
) -> Result<PathInfo, ImportError> {
    let path_info = PathInfo {
        store_path: store_path.clone(),
        node,
        references,
        nar_size: nar.nar_size,
        nar_sha256: nar.nar_sha256,
        signatures: Vec::new(),
        deriver: None,
        ca: Some(ca),
    };
    let put_error = |store_path, source| ImportError::PutPathInfo {
        store_path,
        source: Box::new(source),
    };
    // The same import again writes nothing (the directories and blobs are
    // skipped as present already): a PathInfo with the same contents stays
    // as it is, signatures included.
    let stored = path_info_service
        .get(*store_path.digest())
        .await
        .map_err(|source| put_error(store_path.clone(), source))?;
    if let Some(stored) = stored.filter(|stored| {
        stored.node == path_info.node
            && stored.references == path_info.references
            && stored.nar_size == path_info.nar_size
            && stored.nar_sha256 == path_info.nar_sha256
            && stored.ca == path_info.ca
    }) {
        return Ok(stored);
    }
    path_info_service
        .put(path_info)
        .await
        .map_err(|source| put_error(store_path, source))
}
