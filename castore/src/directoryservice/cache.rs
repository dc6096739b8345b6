//! [CachedDirectoryService]: a near (local, fast) directory service as a
//! read-through cache of a far (shared) one.
//!
//! Reads try `near` first; a directory only `far` has is fetched with its
//! whole closure, which is put into `near` as one closure, so `near` stays
//! a valid directory service. Writes go to `far` only, the service other
//! machines see; `near` learns of them when they are first read.
//!
//! It must never answer from `near` what `near` cannot fully back: a
//! failure to fill `near` is logged and the directory is still returned
//! from what `far` sent (already validated as a closure by the get).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use futures::TryStreamExt;
use tracing::warn;

use super::{DirectoryPutter, DirectoryService, Error};
use crate::{B3Digest, Directory};

/// `near` caching `far`; see the module doc.
pub struct CachedDirectoryService {
    near: Arc<dyn DirectoryService>,
    far: Arc<dyn DirectoryService>,
}

impl CachedDirectoryService {
    pub fn new(near: Arc<dyn DirectoryService>, far: Arc<dyn DirectoryService>) -> Self {
        Self { near, far }
    }

    /// Puts a closure received root first into `near`, leaves first.
    async fn fill_near(&self, closure: &[Directory]) -> Result<B3Digest, Error> {
        let mut putter = self.near.put_multiple_start();
        for directory in leaves_first(closure) {
            putter.put(directory.clone()).await?;
        }
        putter.close().await
    }
}

/// The directories of `closure` (its root first) ordered so that each
/// comes after every directory it references. The received order reversed
/// is not that: a directory appearing at several depths is sent once, at
/// its first (shallowest) place, so a deeper directory referencing it
/// would come before it (as in the Rust toolchain's docs, which failed to
/// fill the cache).
fn leaves_first(closure: &[Directory]) -> Vec<&Directory> {
    let by_digest: HashMap<B3Digest, &Directory> = closure
        .iter()
        .map(|directory| (directory.digest(), directory))
        .collect();
    let mut placed = HashSet::with_capacity(closure.len());
    let mut order = Vec::with_capacity(closure.len());
    // Depth first, a directory placed once all its children are.
    let mut stack: Vec<(B3Digest, &Directory, bool)> = closure
        .first()
        .map(|root| (root.digest(), root, false))
        .into_iter()
        .collect();
    while let Some((digest, directory, children_placed)) = stack.pop() {
        if placed.contains(&digest) {
            continue;
        }
        if children_placed {
            placed.insert(digest);
            order.push(directory);
            continue;
        }
        stack.push((digest, directory, true));
        for (_, child, _) in directory.directories() {
            if let Some(found) = by_digest.get(child).filter(|_| !placed.contains(child)) {
                stack.push((*child, found, false));
            }
        }
    }
    order
}

#[async_trait]
impl DirectoryService for CachedDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        if let Some(directory) = self.near.get(digest).await? {
            return Ok(Some(directory));
        }
        let closure: Vec<Directory> = self.far.get_recursive(digest).try_collect().await?;
        let Some(root) = closure.first().cloned() else {
            return Ok(None);
        };
        if let Err(error) = self.fill_near(&closure).await {
            warn!(%digest, %error, "could not copy a directory closure into the near cache");
        }
        Ok(Some(root))
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        self.far.put_multiple_start()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;
    use crate::directoryservice::MemoryDirectoryService;
    use crate::fixtures::{DIRECTORY_COMPLICATED, DIRECTORY_WITH_KEEP, name};

    /// A closure in which [DIRECTORY_WITH_KEEP] is both a child of the root
    /// and, deeper, of [DIRECTORY_COMPLICATED]: received root first it
    /// comes before the directory that also references it.
    #[tokio::test]
    async fn fills_near_with_a_directory_shared_across_depths() {
        let mut root = Directory::new();
        for (entry, child) in [("a", &*DIRECTORY_WITH_KEEP), ("b", &*DIRECTORY_COMPLICATED)] {
            let node = Node::Directory {
                digest: child.digest(),
                size: child.size(),
            };
            root.add(name(entry), node).expect("valid");
        }
        let near = Arc::new(MemoryDirectoryService::new());
        let far = Arc::new(MemoryDirectoryService::new());
        let mut putter = far.put_multiple_start();
        for directory in [&*DIRECTORY_WITH_KEEP, &*DIRECTORY_COMPLICATED, &root] {
            putter.put(directory.clone()).await.expect("put");
        }
        assert_eq!(root.digest(), putter.close().await.expect("close"));
        let cache = CachedDirectoryService::new(near.clone(), far);

        assert_eq!(
            Some(root.clone()),
            cache.get(&root.digest()).await.expect("get")
        );

        for directory in [&root, &*DIRECTORY_COMPLICATED, &*DIRECTORY_WITH_KEEP] {
            assert_eq!(
                Some(directory.clone()),
                near.get(&directory.digest()).await.expect("near get"),
                "near was filled"
            );
        }
    }
}
