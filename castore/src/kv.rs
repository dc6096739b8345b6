//! The embedded key-value databases (redb, sled) behind the persistent
//! backends of castore's services and of the services built on castore:
//! opening one from a path or as a throwaway database, and reads and atomic
//! writes of byte values run on a blocking thread, off the async runtime.
//!
//! It never interprets what it stores: callers encode, decode and check
//! their values (and keys) themselves.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use thiserror::Error;

/// Why a database call failed.
#[derive(Debug, Error)]
pub enum KvError {
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// The blocking task died (a panic or a cancelled runtime).
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A database of byte values under `N`-byte keys, written atomically:
/// [RedbTable] or [SledTree]. Services store through this trait, so each
/// is written once for both databases.
#[async_trait]
pub trait KvStore<const N: usize>: Clone + Send + Sync + 'static {
    /// The value stored under `key`.
    async fn get(&self, key: [u8; N]) -> Result<Option<Vec<u8>>, KvError>;

    /// Stores all `entries` at once: after a crash, either all of them or
    /// none are there.
    async fn write(&self, entries: Vec<([u8; N], Vec<u8>)>) -> Result<(), KvError>;

    /// [KvStore::write] of the entries whose keys are not stored yet, for
    /// content-addressed values (a stored key holds the same value): a
    /// batch that is all there already writes nothing, not even a commit.
    async fn write_new(&self, entries: Vec<([u8; N], Vec<u8>)>) -> Result<(), KvError> {
        let mut new = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            if self.get(key).await?.is_none() {
                new.push((key, value));
            }
        }
        if new.is_empty() {
            return Ok(());
        }
        self.write(new).await
    }

    /// The values stored under each of `keys`, read in one snapshot where
    /// the database has them. It blocks: call it from a blocking thread.
    fn get_many_blocking(&self, keys: &[[u8; N]]) -> Result<Vec<Option<Vec<u8>>>, KvError>;

    /// Calls `visit` with every key and value, in key order, until it
    /// returns false. Keys are as stored, so a corrupted database may hand
    /// out keys of another length. It blocks: call it from a blocking
    /// thread.
    fn for_each_blocking(&self, visit: &mut dyn FnMut(&[u8], &[u8]) -> bool)
    -> Result<(), KvError>;
}

/// The one table of a redb database: byte values under `N`-byte keys.
/// Every write is one transaction, which redb commits durably or, if
/// interrupted, rolls back when the database is next opened.
#[derive(Clone)]
pub struct RedbTable<const N: usize> {
    db: Arc<Database>,
    table: TableDefinition<'static, [u8; N], &'static [u8]>,
}

impl<const N: usize> RedbTable<N> {
    /// Opens the database file at `path`, creating it if needed. The parent
    /// directory must exist.
    pub async fn open(path: impl AsRef<Path>, table: &'static str) -> Result<Self, KvError> {
        let path = path.as_ref().to_owned();
        let table = tokio::task::spawn_blocking(move || {
            Self::init(Database::create(path).map_err(redb::Error::from)?, table)
        })
        .await??;
        Ok(table)
    }

    /// A database that lives in memory only.
    pub fn new_in_memory(table: &'static str) -> Result<Self, KvError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(redb::Error::from)?;
        Ok(Self::init(db, table)?)
    }

    /// Creates the table up front, so reads never meet a missing table. A
    /// database that has it is not written to: a durable commit (two syncs)
    /// on every open would make a process that only reads, or that finds
    /// everything stored already (a repeated import), write anyway.
    fn init(db: Database, name: &'static str) -> Result<Self, redb::Error> {
        let table = TableDefinition::new(name);
        let exists = match db.begin_read()?.open_table(table) {
            Ok(_) => true,
            Err(redb::TableError::TableDoesNotExist(_)) => false,
            Err(e) => return Err(e.into()),
        };
        if !exists {
            let txn = db.begin_write()?;
            txn.open_table(table)?;
            txn.commit()?;
        }
        Ok(Self {
            db: Arc::new(db),
            table,
        })
    }
}

#[async_trait]
impl<const N: usize> KvStore<N> for RedbTable<N> {
    async fn get(&self, key: [u8; N]) -> Result<Option<Vec<u8>>, KvError> {
        let (db, table) = (self.db.clone(), self.table);
        let value = tokio::task::spawn_blocking(move || -> Result<_, redb::Error> {
            let table = db.begin_read()?.open_table(table)?;
            Ok(table.get(key)?.map(|guard| guard.value().to_vec()))
        })
        .await??;
        Ok(value)
    }

    /// One write transaction.
    async fn write(&self, entries: Vec<([u8; N], Vec<u8>)>) -> Result<(), KvError> {
        let (db, table) = (self.db.clone(), self.table);
        tokio::task::spawn_blocking(move || -> Result<(), redb::Error> {
            let txn = db.begin_write()?;
            {
                let mut table = txn.open_table(table)?;
                for (key, value) in entries {
                    table.insert(key, value.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await??;
        Ok(())
    }

    /// One read transaction to find what is new, and a write transaction
    /// only if something is.
    async fn write_new(&self, entries: Vec<([u8; N], Vec<u8>)>) -> Result<(), KvError> {
        let (db, table) = (self.db.clone(), self.table);
        let new = tokio::task::spawn_blocking(move || -> Result<_, redb::Error> {
            let stored = db.begin_read()?.open_table(table)?;
            let mut new = Vec::new();
            for (key, value) in entries {
                if stored.get(key)?.is_none() {
                    new.push((key, value));
                }
            }
            Ok(new)
        })
        .await??;
        if new.is_empty() {
            return Ok(());
        }
        self.write(new).await
    }

    /// One read transaction for all of them.
    fn get_many_blocking(&self, keys: &[[u8; N]]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        let read = || -> Result<_, redb::Error> {
            let table = self.db.begin_read()?.open_table(self.table)?;
            keys.iter()
                .map(|key| Ok(table.get(key)?.map(|guard| guard.value().to_vec())))
                .collect()
        };
        Ok(read()?)
    }

    /// One read transaction, so it sees a consistent snapshot.
    fn for_each_blocking(
        &self,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), KvError> {
        let mut iterate = || -> Result<(), redb::Error> {
            let table = self.db.begin_read()?.open_table(self.table)?;
            for entry in table.iter()? {
                let (key, value) = entry?;
                if !visit(&key.value(), value.value()) {
                    break;
                }
            }
            Ok(())
        };
        Ok(iterate()?)
    }
}

/// How long opening a sled database waits for another handle's file lock.
/// The flusher's last flush is an fsync, which on a disk busy with other
/// syncs (seen in CI: 5 s was not enough) can take seconds.
const SLED_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The default tree of a sled database: byte values under byte keys. Every
/// write is one sled batch, which sled applies atomically, flushed to disk
/// before the write returns.
#[derive(Clone)]
pub struct SledTree {
    db: sled::Db,
}

impl SledTree {
    /// Opens the database directory at `path`, creating it if needed.
    ///
    /// sled's background flusher keeps the database's file lock for a
    /// moment after the last handle is dropped, so opening it right after
    /// closing it (a restarted daemon) waits for the lock, up to
    /// [SLED_LOCK_WAIT].
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, KvError> {
        let path = path.as_ref().to_owned();
        let started = std::time::Instant::now();
        loop {
            let attempt = path.clone();
            match tokio::task::spawn_blocking(move || sled::open(attempt)).await? {
                Ok(db) => return Ok(Self { db }),
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        && started.elapsed() < SLED_LOCK_WAIT =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A database in a temporary location, removed when dropped.
    pub async fn new_temporary() -> Result<Self, KvError> {
        let db =
            tokio::task::spawn_blocking(|| sled::Config::new().temporary(true).open()).await??;
        Ok(Self { db })
    }
}

#[async_trait]
impl<const N: usize> KvStore<N> for SledTree {
    async fn get(&self, key: [u8; N]) -> Result<Option<Vec<u8>>, KvError> {
        let db = self.db.clone();
        let value = tokio::task::spawn_blocking(move || db.get(key)).await??;
        Ok(value.map(|value| value.to_vec()))
    }

    /// One sled batch, flushed before it returns.
    async fn write(&self, entries: Vec<([u8; N], Vec<u8>)>) -> Result<(), KvError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut batch = sled::Batch::default();
            for (key, value) in entries {
                batch.insert(key.as_slice(), value);
            }
            db.apply_batch(batch)?;
            db.flush()
        })
        .await??;
        Ok(())
    }

    fn get_many_blocking(&self, keys: &[[u8; N]]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        keys.iter()
            .map(|key| Ok(self.db.get(key)?.map(|value| value.to_vec())))
            .collect()
    }

    fn for_each_blocking(
        &self,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), KvError> {
        for entry in self.db.iter() {
            let (key, value) = entry?;
            if !visit(&key, &value) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes are read back, and a database file keeps them across
    /// reopening.
    #[tokio::test]
    async fn redb_round_trip_and_reopen() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("kv.redb");
        {
            let table = RedbTable::<2>::open(&path, "t").await.expect("open");
            table
                .write(vec![(*b"bb", b"2".to_vec()), (*b"aa", b"1".to_vec())])
                .await
                .expect("write");
        }
        let table = RedbTable::<2>::open(&path, "t").await.expect("reopen");
        assert_eq!(Some(b"1".to_vec()), table.get(*b"aa").await.expect("get"));
        assert_eq!(None, table.get(*b"cc").await.expect("get"));
        let mut seen = Vec::new();
        table
            .for_each_blocking(&mut |key, value| {
                seen.push((key.to_vec(), value.to_vec()));
                true
            })
            .expect("iterate");
        assert_eq!(
            vec![
                (b"aa".to_vec(), b"1".to_vec()),
                (b"bb".to_vec(), b"2".to_vec())
            ],
            seen
        );
    }

    /// Writes are read back, and iteration stops when asked to.
    #[tokio::test]
    async fn sled_round_trip_and_early_stop() {
        let tree = SledTree::new_temporary().await.expect("open");
        tree.write(vec![(*b"bb", b"2".to_vec()), (*b"aa", b"1".to_vec())])
            .await
            .expect("write");
        assert_eq!(Some(b"2".to_vec()), tree.get(*b"bb").await.expect("get"));
        assert_eq!(None, tree.get(*b"cc").await.expect("get"));
        let mut seen = Vec::new();
        KvStore::<2>::for_each_blocking(&tree, &mut |key, _| {
            seen.push(key.to_vec());
            false
        })
        .expect("iterate");
        assert_eq!(vec![b"aa".to_vec()], seen);
    }
}
