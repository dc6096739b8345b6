//! [BigtableDirectoryService]: directories in a Bigtable table
//! (`bigtable://INSTANCE?project_id=…&table_name=…&family_name=…`), one row
//! per directory, keyed by the lowercase hex of its digest, holding its
//! canonical protobuf encoding in one cell ([crate::bigtable]).
//!
//! Bigtable has no transactions across rows, so a closure cannot be
//! committed atomically. Instead it is written by height: all leaves, then
//! the directories whose children are all written, and so on up to the
//! root. At any moment (and after a crash) a visible directory has its
//! whole closure visible; what a failed put leaves behind is unreferenced
//! rows, which a later put of the same directories completes.
//!
//! Rows are written with a conditional write that only fills an absent row:
//! a row's key is the digest of its content, so an existing row is never
//! rewritten, and daemons sharing the table cannot overwrite each other.
//! Reads check the digest, so a corrupted row is reported, not served.

use std::collections::HashMap;

use async_trait::async_trait;
use data_encoding::HEXLOWER;
use futures::{StreamExt, TryStreamExt};
use prost::Message;

use super::buffered_putter::{BufferedPutter, WriteBatch};
use super::key_value::decode_stored;
use super::{DirectoryPutter, DirectoryService, Error};
use crate::bigtable::{BigtableError, BigtableRows};
use crate::{B3Digest, Directory, proto};

/// How many rows of one height are written at once.
const WRITE_CONCURRENCY: usize = 32;

#[derive(Clone)]
pub struct BigtableDirectoryService {
    rows: BigtableRows,
}

impl BigtableDirectoryService {
    /// Connects (lazily) to the table named by a `bigtable://` URL.
    pub async fn from_url(url: &url::Url) -> Result<Self, BigtableError> {
        Ok(Self {
            rows: BigtableRows::from_url(url).await?,
        })
    }
}

fn row_key(digest: &B3Digest) -> String {
    HEXLOWER.encode(digest.as_bytes())
}

#[async_trait]
impl DirectoryService for BigtableDirectoryService {
    async fn get(&self, digest: &B3Digest) -> Result<Option<Directory>, Error> {
        let stored = self.rows.get(&row_key(digest)).await?;
        stored
            .map(|encoded| decode_stored(digest, encoded))
            .transpose()
    }

    fn put_multiple_start(&self) -> Box<dyn DirectoryPutter + '_> {
        Box::new(BufferedPutter::new(self))
    }
}

#[async_trait]
impl WriteBatch for BigtableDirectoryService {
    async fn write_batch(&self, directories: Vec<(B3Digest, Directory)>) -> Result<(), Error> {
        // Encode (and size-check) everything before the first write.
        let mut levels: Vec<Vec<(String, Vec<u8>)>> = Vec::new();
        for (height, digest, directory) in by_height(directories) {
            let value = proto::Directory::from(&directory).encode_to_vec();
            if value.len() > crate::bigtable::CELL_SIZE_LIMIT {
                return Err(BigtableError::CellTooLarge {
                    key: row_key(&digest),
                    size: value.len(),
                }
                .into());
            }
            if levels.len() <= height {
                levels.resize_with(height + 1, Vec::new);
            }
            levels[height].push((row_key(&digest), value));
        }
        for level in levels {
            futures::stream::iter(level)
                .map(|(key, value)| async move { self.rows.put_if_absent(&key, value).await })
                .buffer_unordered(WRITE_CONCURRENCY)
                .try_collect::<Vec<_>>()
                .await?;
        }
        Ok(())
    }
}

/// Each directory with its height in the batch (0: no child directory in
/// the batch). Directories come leaves first, so every child's height is
/// known before its parent's.
fn by_height(directories: Vec<(B3Digest, Directory)>) -> Vec<(usize, B3Digest, Directory)> {
    let mut heights: HashMap<B3Digest, usize> = HashMap::with_capacity(directories.len());
    directories
        .into_iter()
        .map(|(digest, directory)| {
            let height = directory
                .directories()
                .filter_map(|(_, child, _)| heights.get(child))
                .map(|child_height| child_height + 1)
                .max()
                .unwrap_or(0);
            heights.insert(digest, height);
            (height, digest, directory)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{
        DIRECTORY_COMPLICATED, DIRECTORY_DEEP, DIRECTORY_EMPTY, DIRECTORY_TWICE_EMPTY,
        DIRECTORY_WITH_KEEP,
    };

    #[test]
    fn heights() {
        let batch = [
            &*DIRECTORY_EMPTY,
            &*DIRECTORY_TWICE_EMPTY,
            &*DIRECTORY_WITH_KEEP,
            &*DIRECTORY_COMPLICATED,
            &*DIRECTORY_DEEP,
        ]
        .map(|directory| (directory.digest(), directory.clone()));
        let heights: Vec<usize> = by_height(batch.to_vec())
            .into_iter()
            .map(|(height, _, _)| height)
            .collect();
        assert_eq!(vec![0, 1, 0, 1, 2], heights);
    }

    #[test]
    fn row_key_is_lowercase_hex() {
        assert_eq!(
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
            row_key(&DIRECTORY_EMPTY.digest())
        );
    }
}
