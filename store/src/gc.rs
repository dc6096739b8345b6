//! What a store no longer needs: the bytes of blobs no PathInfo reaches,
//! for `tvix-store gc --dry-run`. (Rewriting packs without them, the
//! compaction, is not implemented yet.)
//!
//! It must never count a blob as unreachable that some PathInfo reaches: a
//! PathInfo whose directories are missing is an error, not a tree with
//! nothing in it.

use std::collections::HashSet;

use futures::StreamExt;
use thiserror::Error;
use tvix_castore::blobservice::{PackBlobService, SpaceReport};
use tvix_castore::directoryservice::{self, DirectoryService};
use tvix_castore::{B3Digest, Node};

use crate::pathinfoservice::{self, PathInfoService};

#[derive(Debug, Error)]
pub enum GcError {
    #[error("listing PathInfos: {0}")]
    PathInfo(#[from] pathinfoservice::Error),
    #[error("reading directories: {0}")]
    Directory(#[from] directoryservice::Error),
    #[error("{store_path} names directory {digest}, which is not stored")]
    MissingDirectory {
        store_path: String,
        digest: B3Digest,
    },
    #[error("reading the pack index: {0}")]
    Blobs(#[from] std::io::Error),
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The digests of every file below every PathInfo.
pub async fn reachable_blobs(
    path_info_service: &dyn PathInfoService,
    directory_service: &dyn DirectoryService,
) -> Result<HashSet<B3Digest>, GcError> {
    let mut blobs = HashSet::new();
    let mut directories = HashSet::new();
    let mut path_infos = path_info_service.list();
    while let Some(path_info) = path_infos.next().await {
        let path_info = path_info?;
        let root = match path_info.node {
            Node::File { digest, .. } => {
                blobs.insert(digest);
                continue;
            }
            Node::Symlink { .. } => continue,
            Node::Directory { digest, .. } => digest,
        };
        if directories.contains(&root) {
            continue;
        }
        let mut closure = directory_service.get_recursive(&root);
        let mut found_root = false;
        while let Some(directory) = closure.next().await {
            let directory = directory?;
            found_root = true;
            directories.insert(directory.digest());
            for (_, node) in directory.nodes() {
                if let Node::File { digest, .. } = node {
                    blobs.insert(*digest);
                }
            }
        }
        if !found_root {
            return Err(GcError::MissingDirectory {
                store_path: path_info.store_path.to_absolute_path(),
                digest: root,
            });
        }
    }
    Ok(blobs)
}

/// How much of the pack store `blobs` the PathInfos reach.
pub async fn space_report(
    blobs: &PackBlobService,
    path_info_service: &dyn PathInfoService,
    directory_service: &dyn DirectoryService,
) -> Result<SpaceReport, GcError> {
    let reachable = reachable_blobs(path_info_service, directory_service).await?;
    let blobs = blobs.clone();
    Ok(tokio::task::spawn_blocking(move || blobs.space_report(&reachable)).await??)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tvix_castore::blobservice::{BlobService, PackBlobService};
    use tvix_castore::directoryservice::RedbDirectoryService;

    use super::space_report;
    use crate::import::import_path_as_nar_ca;
    use crate::pathinfoservice::{BlobsFirstPathInfoService, MemoryPathInfoService};

    /// Two imported trees sharing a file, and one blob no PathInfo names.
    #[tokio::test]
    async fn only_blobs_outside_every_path_info_are_unreachable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let blobs = PackBlobService::open(tmp.path().join("pack")).expect("pack store");
        let blob_service: Arc<dyn BlobService> = Arc::new(blobs.clone());
        let directories = RedbDirectoryService::new_in_memory().expect("directories");
        let path_infos = BlobsFirstPathInfoService::new(
            blob_service.clone(),
            Arc::new(MemoryPathInfoService::default()),
        );
        for (name, files) in [("a", ["shared", "only in a"]), ("b", ["shared", "only b"])] {
            let tree = tmp.path().join(name);
            std::fs::create_dir_all(tree.join("sub")).expect("mkdir");
            for (i, contents) in files.into_iter().enumerate() {
                std::fs::write(tree.join("sub").join(i.to_string()), contents).expect("write");
            }
            import_path_as_nar_ca(
                blob_service.clone(),
                &directories,
                &path_infos,
                &tree,
                None,
                &(),
            )
            .await
            .expect("import");
        }
        let orphan = b"no PathInfo names this";
        blob_service
            .put(bytes::Bytes::from_static(orphan))
            .await
            .expect("put");

        let report = space_report(&blobs, &path_infos, &directories)
            .await
            .expect("report");

        let live = ["shared", "only in a", "only b"]
            .map(str::len)
            .iter()
            .sum::<usize>();
        assert_eq!(live as u64, report.live_bytes);
        assert_eq!(orphan.len() as u64, report.unreachable_bytes());
        assert_eq!(1, report.dead_blobs);
    }
}
