//! castore's inputs: `Directory` and `Entry` messages as they arrive over
//! gRPC, castore paths, closures of directories, and tar archives.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use bytes::Buf;
use futures::TryStreamExt;
use prost::Message;
use tvix_castore::blobservice::MemoryBlobService;
use tvix_castore::directoryservice::{
    ClosureValidator, DirectoryService, MemoryDirectoryService, RootFirstValidator,
};
use tvix_castore::import::archive::{ArchiveRoot, ingest_archive_with_root};
use tvix_castore::{B3Digest, Directory, Node, Path, PathBuf, PathComponent, SymlinkTarget, proto};

use crate::runtime::block_on;

/// A `Directory` message: what is accepted converts back to the very same
/// message (it was canonical), its size is the sum of its entries', and an
/// `Entry` message round-trips likewise.
pub fn castore_directory(data: &[u8]) {
    if let Ok(message) = proto::Directory::decode(data)
        && let Ok(directory) = Directory::try_from(message.clone())
    {
        assert_eq!(proto::Directory::from(&directory), message);
        let size = directory
            .nodes()
            .map(|(_, node)| match node {
                Node::Directory { size, .. } => size + 1,
                Node::File { .. } | Node::Symlink { .. } => 1,
            })
            .sum::<u64>();
        assert_eq!(directory.size(), size);
    }
    if let Ok(message) = proto::Entry::decode(data)
        && let Ok((name, node)) = message.clone().try_into_name_and_node()
    {
        assert_eq!(proto::Entry::from_name_and_node(name, node), message);
    }
}

/// castore paths, path components and symlink targets: a valid path is
/// its components joined by `/`, its parent joined with its file name, and
/// a host path of the same bytes converts to it.
pub fn castore_path(data: &[u8]) {
    let _ = PathComponent::try_from(data);
    let _ = SymlinkTarget::try_from(data);
    let owned = PathBuf::try_from(data.to_vec());
    let Ok(path) = Path::from_bytes(data) else {
        assert!(owned.is_err(), "PathBuf accepts what Path refuses");
        return;
    };
    assert_eq!(owned.as_deref(), Ok(path));
    let mut rebuilt = PathBuf::new();
    for component in path.components() {
        rebuilt
            .try_push(component.as_ref())
            .expect("a component of a valid path is valid");
    }
    assert_eq!(&*rebuilt, path);
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            assert_eq!(parent.try_join(name.as_ref()).as_deref(), Ok(path));
        }
        (None, None) => assert!(path.is_root()),
        _ => panic!("a path has a parent exactly when it has a file name"),
    }
    for canonicalize_dotdot in [false, true] {
        if let Ok(converted) = PathBuf::from_host_path(
            std::path::Path::new(OsStr::from_bytes(data)),
            canonicalize_dotdot,
        ) {
            assert_eq!(&*converted, path);
        }
    }
}

/// A stream of length-delimited `Directory` messages, as a client uploads
/// them, leaves first. [ClosureValidator] and a directory service's
/// putter must agree on it; an accepted closure is served back complete by
/// `get_recursive`, and its reverse order passes [RootFirstValidator].
pub fn closure_validator(data: &[u8]) {
    let directories = decode_directories(data);
    let mut validator = ClosureValidator::new();
    let mut accepted = Vec::new();
    let mut verdict = Ok(());
    for directory in &directories {
        match validator.add(directory) {
            Ok(a) if a.is_new => accepted.push(directory.clone()),
            Ok(_) => {}
            Err(e) => {
                verdict = Err(e);
                break;
            }
        }
    }
    let verdict = verdict.and_then(|()| validator.finalize());

    block_on(async {
        let service = MemoryDirectoryService::new();
        let mut putter = service.put_multiple_start();
        let mut stored = Ok(());
        for directory in &directories {
            if let Err(e) = putter.put(directory.clone()).await {
                stored = Err(e);
                break;
            }
        }
        let stored = match stored {
            Ok(()) => putter.close().await,
            Err(e) => Err(e),
        };
        let root = match (&verdict, stored) {
            (Ok(root), Ok(stored)) => {
                assert_eq!(*root, stored);
                *root
            }
            (Err(_), Err(_)) => return,
            (verdict, stored) => {
                panic!("validator said {verdict:?}, the directory service {stored:?}")
            }
        };

        let served: Vec<Directory> = service
            .get_recursive(&root)
            .try_collect()
            .await
            .expect("a stored closure is served");
        let reachable = reachable(root, &accepted);
        let served_digests: HashSet<B3Digest> = served.iter().map(Directory::digest).collect();
        assert_eq!(
            served_digests.len(),
            served.len(),
            "served a directory twice"
        );
        assert_eq!(served_digests, reachable);

        let mut root_first = RootFirstValidator::new(root);
        for directory in served.iter() {
            root_first
                .add(directory)
                .expect("served order is root first");
        }
        root_first.finalize().expect("served closure is complete");

        let mut root_first = RootFirstValidator::new(root);
        for directory in accepted.iter().rev() {
            if reachable.contains(&directory.digest()) {
                root_first
                    .add(directory)
                    .expect("reverse upload order is root first");
            }
        }
        root_first.finalize().expect("upload closure is complete");
    });
}

/// The valid directories among the length-delimited messages in `data`, up
/// to the first that does not decode.
fn decode_directories(mut data: &[u8]) -> Vec<Directory> {
    let mut directories = Vec::new();
    while data.has_remaining() {
        let Ok(message) = proto::Directory::decode_length_delimited(&mut data) else {
            break;
        };
        if let Ok(directory) = Directory::try_from(message) {
            directories.push(directory);
        }
    }
    directories
}

/// The digests of `root` and every directory below it among `directories`.
fn reachable(root: B3Digest, directories: &[Directory]) -> HashSet<B3Digest> {
    let by_digest: HashMap<B3Digest, &Directory> =
        directories.iter().map(|d| (d.digest(), d)).collect();
    let mut seen = HashSet::from([root]);
    let mut queue = vec![root];
    while let Some(digest) = queue.pop() {
        for (_, child, _) in by_digest[&digest].directories() {
            if seen.insert(*child) {
                queue.push(*child);
            }
        }
    }
    seen
}

/// A (possibly compressed) tar archive, imported with both root choices;
/// whatever is imported is stored completely.
pub fn tar_import(data: &[u8]) {
    block_on(async {
        for root in [ArchiveRoot::SingleEntry, ArchiveRoot::SingleDirectoryOrAll] {
            let blobs = MemoryBlobService::new();
            let directories = MemoryDirectoryService::new();
            let Ok(archive) = ingest_archive_with_root(blobs, &directories, data, root).await
            else {
                continue;
            };
            if let Node::Directory { digest, size } = archive.root {
                let served: Vec<Directory> = directories
                    .get_recursive(&digest)
                    .try_collect()
                    .await
                    .expect("an imported tree is served");
                let root = served.first().expect("the imported root is stored");
                assert_eq!(root.size(), size);
            }
        }
    });
}
