//! [VerifiedDigests]: the blobs and chunks a process has already checked
//! against their digests, so that readers of local files (the pack store,
//! the FUSE mount) hash each once rather than on every read.

use std::collections::HashSet;
use std::sync::RwLock;

use crate::B3Digest;

/// Digests remembered, at most: 256 Ki of them take about 16 MiB and cover
/// the files of several large closures. Past that the set starts over, so
/// it never grows without bound; forgetting only costs a second hashing.
const MAX_REMEMBERED: usize = 256 * 1024;

/// Digests whose bytes were checked. A poisoned lock remembers nothing,
/// which only means checking again.
#[derive(Debug, Default)]
pub struct VerifiedDigests(RwLock<HashSet<B3Digest>>);

impl VerifiedDigests {
    pub fn contains(&self, digest: &B3Digest) -> bool {
        self.0.read().is_ok_and(|set| set.contains(digest))
    }

    /// Remembers `digests` as checked.
    pub fn extend(&self, digests: impl IntoIterator<Item = B3Digest>) {
        if let Ok(mut set) = self.0.write() {
            let digests = digests.into_iter();
            if set.len() + digests.size_hint().0 > MAX_REMEMBERED {
                set.clear();
            }
            set.extend(digests);
        }
    }
}
