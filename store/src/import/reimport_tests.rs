//! Importing a tree again into the default local store (pack blobs, redb
//! directories and PathInfos), each import with the store opened anew as a
//! `tvix-store import` process opens it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use tvix_castore::blobservice::PackBlobService;
use tvix_castore::directoryservice::RedbDirectoryService;

use super::import_path_as_nar_ca;
use crate::PathInfo;
use crate::nar::calculate_nar;
use crate::pathinfoservice::RedbPathInfoService;

/// A large file: several streamed pieces, not a multiple of one.
const LARGE: usize = 9 * 1024 * 1024 + 4321;

/// A local store in `dir`, laid out as `tvix-store`'s default.
struct LocalStore {
    dir: PathBuf,
    /// Where the blobs go, below `dir`.
    pack: &'static str,
}

impl LocalStore {
    /// Imports `tree` with the store opened anew, checks that the NAR
    /// rendered from what is stored has the PathInfo's hash, and closes the
    /// store again.
    async fn import(&self, tree: &Path) -> PathInfo {
        let blobs = PackBlobService::open(self.dir.join(self.pack)).expect("open pack store");
        let directories = RedbDirectoryService::open(self.dir.join("directories.redb"))
            .await
            .expect("open directories");
        let path_infos = RedbPathInfoService::open(self.dir.join("pathinfo.redb"))
            .await
            .expect("open path infos");
        let path_info =
            import_path_as_nar_ca(blobs.clone(), &directories, &path_infos, tree, None, &())
                .await
                .expect("import");
        let rendered = calculate_nar(&path_info.node, &blobs, &directories)
            .await
            .expect("render the NAR");
        assert_eq!(
            (rendered.nar_size, rendered.nar_sha256),
            (path_info.nar_size, path_info.nar_sha256)
        );
        path_info
    }

    /// Every file of the store and its size.
    fn file_sizes(&self) -> BTreeMap<PathBuf, u64> {
        walkdir::WalkDir::new(&self.dir)
            .into_iter()
            .map(|entry| entry.expect("walk the store"))
            .filter(|entry| entry.file_type().is_file())
            .map(|entry| {
                let size = entry.metadata().expect("stat").len();
                (entry.into_path(), size)
            })
            .collect()
    }

    /// The contents of every pack file.
    fn packs(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        self.file_sizes()
            .into_keys()
            .filter(|path| path.extension().is_some_and(|ext| ext == "pack"))
            .map(|path| {
                let contents = std::fs::read(&path).expect("read pack");
                (path, contents)
            })
            .collect()
    }
}

/// Pseudo-random bytes, different for each seed.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A tree of small files in two directories, an empty file, a symlink and
/// a large file.
fn make_tree(root: &Path) {
    for dir in ["a", "b/c"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        for i in 0..20 {
            std::fs::write(
                root.join(dir).join(format!("f{i}")),
                noise(i, 100 * i as usize),
            )
            .expect("write");
        }
    }
    std::fs::write(root.join("empty"), "").expect("write");
    std::os::unix::fs::symlink("a/f1", root.join("link")).expect("symlink");
    std::fs::write(root.join("large"), noise(99, LARGE)).expect("write");
}

fn setup(pack: &'static str) -> (tempfile::TempDir, PathBuf, LocalStore) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tree = tmp.path().join("tree");
    make_tree(&tree);
    let store = LocalStore {
        dir: tmp.path().join("store"),
        pack,
    };
    std::fs::create_dir(&store.dir).expect("mkdir");
    (tmp, tree, store)
}

/// The second import finds everything stored: the packs stay byte for byte
/// as they were, and so does every file's size from then on. (redb grows
/// its files once, by a few pages, when a database written to is first
/// opened again: then it records its allocator state, which is not data.)
#[tokio::test]
async fn second_import_writes_nothing() {
    let (_tmp, tree, store) = setup("pack");
    let first = store.import(&tree).await;
    let packs = store.packs();
    assert!(!packs.is_empty());

    let second = store.import(&tree).await;
    let sizes = store.file_sizes();
    let third = store.import(&tree).await;

    assert_eq!(first, second);
    assert_eq!(first, third);
    assert_eq!(packs, store.packs());
    assert_eq!(sizes, store.file_sizes());
}

/// Files changed since the first import are stored: a small one, and a
/// large one whose first chunk stayed the same (so that it is first only
/// hashed, then read again and stored).
#[tokio::test]
async fn changed_files_are_picked_up() {
    let (_tmp, tree, store) = setup("pack");
    let first = store.import(&tree).await;
    let before: u64 = store.packs().values().map(|pack| pack.len() as u64).sum();

    std::fs::write(tree.join("a/f3"), b"changed").expect("write");
    std::fs::OpenOptions::new()
        .append(true)
        .open(tree.join("large"))
        .and_then(|mut file| file.write_all(b"appended"))
        .expect("append");
    let second = store.import(&tree).await;

    assert_ne!(first.store_path, second.store_path);
    let after: u64 = store.packs().values().map(|pack| pack.len() as u64).sum();
    assert!(after > before, "nothing was written for the changed files");
}

/// Blobs missing from the store (here: a new, empty blob store beside the
/// same directories and PathInfos) are written again, small and large.
#[tokio::test]
async fn missing_blobs_are_written_again() {
    let (_tmp, tree, mut store) = setup("pack");
    let first = store.import(&tree).await;

    store.pack = "other-pack";
    let second = store.import(&tree).await;

    assert_eq!(first, second);
    let other: u64 = store
        .packs()
        .iter()
        .filter(|(path, _)| path.starts_with(store.dir.join("other-pack")))
        .map(|(_, pack)| pack.len() as u64)
        .sum();
    assert!(other > LARGE as u64, "the blobs were not written again");
}
