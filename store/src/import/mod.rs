//! Importing into the store: host paths as the content-addressed store
//! paths `nix-store --add` and `nix-store --add-fixed sha256` make
//! ([import_path_as_nar_ca], also filtered, and [import_path_as_flat_ca]),
//! text files with references ([import_bytes_as_text_ca]), and the closure
//! of paths in a local Nix store described by a reference graph
//! ([copy_closure]).
//!
//! Every import uploads blobs and directories first and puts the PathInfo
//! last, only once everything it points to is stored. So a store whose
//! import was interrupted at any point (even by `kill -9`) lists only
//! complete PathInfos; what the interrupted import uploaded stays behind
//! unreferenced, which is harmless.

mod content_addressed;
mod error;
mod nar_hasher;
mod reference_graph;
mod single_pass;

#[cfg(test)]
mod reimport_tests;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use tvix_castore::Node;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;
use tvix_castore::import::fs::walk_path;
use tvix_castore::import::{IngestionEntry, ingest_entries};

use crate::nar::{CalculateNarError, NarSummary, calculate_nar};
use crate::pathinfoservice::PathInfoService;

pub use content_addressed::{
    import_bytes_as_text_ca, import_filtered_path_as_nar_ca, import_path_as_flat_ca,
    import_path_as_nar_ca, put_ca_path_info, store_path_name,
};
pub use error::{ImportError, NarMismatch};
pub use reference_graph::{ReferenceGraph, ReferenceGraphEntry, ReferenceGraphError, copy_closure};
pub use single_pass::WalkError;

/// Which entries of a tree an import keeps: called with the host path of
/// every entry below the root (never the root itself), in NAR order; the
/// contents of a directory it rejects are not looked at. The predicate must
/// be cheap and must not block: it runs on the walking thread.
pub type PathFilter = Arc<dyn Fn(&Path) -> bool + Send + Sync>;

/// Told how an import goes, e.g. to draw a progress bar. Every method has a
/// default that ignores the news, so `&()` is a silent observer.
pub trait ImportProgress: Send + Sync {
    /// A file of `size` bytes was uploaded to the blob service.
    fn file_uploaded(&self, _size: u64) {}
    /// The tree is in the castore; its NAR is being hashed now (flat
    /// imports: a NAR-addressed import hashes its NAR while ingesting).
    fn hashing_nar(&self) {}
}

impl ImportProgress for () {}

/// Ingests the tree at `path` into the castore, telling `progress` about
/// every uploaded file, and returns its root node.
async fn ingest<BS, DS>(
    blob_service: BS,
    directory_service: &DS,
    path: &Path,
    progress: &dyn ImportProgress,
) -> Result<Node, ImportError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let entries = walk_path(blob_service, path).inspect(|entry| {
        if let Ok(IngestionEntry::Regular { size, .. }) = entry {
            progress.file_uploaded(*size);
        }
    });
    ingest_entries(directory_service, entries)
        .await
        .map_err(|source| ImportError::Ingest {
            path: path.to_owned(),
            source: Box::new(source),
        })
}

/// The NAR size and sha256 of `node`: computed where the data is when the
/// path info service offers that (a remote store hashes without sending the
/// tree back), rendered from the castore here otherwise.
async fn summarize_nar<BS, DS, PS>(
    blob_service: &BS,
    directory_service: &DS,
    path_info_service: &PS,
    node: &Node,
    progress: &dyn ImportProgress,
) -> Result<NarSummary, ImportError>
where
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
    PS: PathInfoService + ?Sized,
{
    progress.hashing_nar();
    match path_info_service.nar_calculation_service() {
        Some(remote) => Ok(remote.calculate_nar(node).await?),
        None => calculate_nar(node, blob_service, directory_service)
            .await
            .map_err(|e| ImportError::from(CalculateNarError::from(e))),
    }
}
