//! The index of a pack store, in `index.redb`: where each blob is, how long
//! each pack is, and which blobs each pack holds.
//!
//! Everything the index names is durable: the pack bytes an entry points at
//! are synced before the transaction that adds the entry commits. The one
//! exception is a pack cut short by hand or by a damaged disk, which
//! [repair_pack] finds on open and removes from the index.

use std::io;

use redb::{
    MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    TableDefinition, WriteTransaction,
};

use super::super::ChunkMeta;
use crate::B3Digest;

/// Blob digest → encoded [Entry].
pub(super) const BLOBS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("blobs");
/// Pack number → its committed length: bytes past it were never named by
/// the index and are cut off on open.
pub(super) const PACKS: TableDefinition<u32, u64> = TableDefinition::new("packs");
/// Pack number → the digests of the blobs stored in it, so that a
/// compaction can find what a pack holds without reading the whole index.
pub(super) const PACK_BLOBS: MultimapTableDefinition<u32, [u8; 32]> =
    MultimapTableDefinition::new("pack_blobs");

/// Where a blob is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Entry {
    /// The blob's bytes, whole, at `offset` in pack `pack`. Blobs up to the
    /// chunk size and every chunk are stored like this.
    Stored { pack: u32, offset: u64, len: u64 },
    /// A larger blob: its chunks, each a stored blob, in order.
    Chunked(Vec<ChunkMeta>),
}

const STORED: u8 = 0;
const CHUNKED: u8 = 1;
const STORED_LEN: usize = 1 + 4 + 8 + 8;
const CHUNK_META_LEN: usize = 32 + 8;

impl Entry {
    pub(super) fn encode(&self) -> Vec<u8> {
        match self {
            Entry::Stored { pack, offset, len } => {
                let mut out = Vec::with_capacity(STORED_LEN);
                out.push(STORED);
                out.extend_from_slice(&pack.to_le_bytes());
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&len.to_le_bytes());
                out
            }
            Entry::Chunked(chunks) => {
                let mut out = Vec::with_capacity(1 + chunks.len() * CHUNK_META_LEN);
                out.push(CHUNKED);
                for chunk in chunks {
                    out.extend_from_slice(chunk.digest.as_slice());
                    out.extend_from_slice(&chunk.size.to_le_bytes());
                }
                out
            }
        }
    }

    /// Decodes the entry of blob `digest`; anything malformed is corrupt
    /// index data, never a panic.
    pub(super) fn decode(digest: &B3Digest, bytes: &[u8]) -> io::Result<Self> {
        let corrupt = || corrupt(format!("index entry of blob {digest} is malformed"));
        let (&tag, rest) = bytes.split_first().ok_or_else(corrupt)?;
        match tag {
            STORED if bytes.len() == STORED_LEN => {
                let pack = u32::from_le_bytes(rest[..4].try_into().map_err(|_| corrupt())?);
                let offset = u64::from_le_bytes(rest[4..12].try_into().map_err(|_| corrupt())?);
                let len = u64::from_le_bytes(rest[12..20].try_into().map_err(|_| corrupt())?);
                Ok(Entry::Stored { pack, offset, len })
            }
            CHUNKED if rest.len() % CHUNK_META_LEN == 0 => rest
                .chunks_exact(CHUNK_META_LEN)
                .map(|meta| {
                    let (digest, size) = meta.split_at(32);
                    Ok(ChunkMeta {
                        digest: B3Digest::try_from(digest).map_err(|_| corrupt())?,
                        size: u64::from_le_bytes(size.try_into().map_err(|_| corrupt())?),
                    })
                })
                .collect::<io::Result<_>>()
                .map(Entry::Chunked),
            _ => Err(corrupt()),
        }
    }
}

pub(super) fn corrupt(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

pub(super) fn db_error(error: impl Into<redb::Error>) -> io::Error {
    io::Error::other(format!("pack index: {}", error.into()))
}

/// Looks up a blob in the committed index.
pub(super) fn lookup(db: &redb::Database, digest: &B3Digest) -> io::Result<Option<Entry>> {
    let mut entries = lookup_many(db, std::slice::from_ref(digest))?;
    Ok(entries.pop().flatten())
}

/// The blob table as of the last commit, for one read transaction.
fn committed_blobs(
    db: &redb::Database,
) -> io::Result<redb::ReadOnlyTable<[u8; 32], &'static [u8]>> {
    db.begin_read()
        .map_err(db_error)?
        .open_table(BLOBS)
        .map_err(db_error)
}

/// Looks up blobs in the committed index, in one read transaction (which
/// costs more than a lookup).
pub(super) fn lookup_many(
    db: &redb::Database,
    digests: &[B3Digest],
) -> io::Result<Vec<Option<Entry>>> {
    let table = committed_blobs(db)?;
    digests
        .iter()
        .map(
            |digest| match table.get(*digest.as_bytes()).map_err(db_error)? {
                Some(value) => Entry::decode(digest, value.value()).map(Some),
                None => Ok(None),
            },
        )
        .collect()
}

/// Which of `digests` the committed index has, in one read transaction;
/// [lookup_many] without decoding the entries, for writers that only skip
/// what is there.
pub(super) fn contains_many(db: &redb::Database, digests: &[B3Digest]) -> io::Result<Vec<bool>> {
    let table = committed_blobs(db)?;
    digests
        .iter()
        .map(|digest| Ok(table.get(*digest.as_bytes()).map_err(db_error)?.is_some()))
        .collect()
}

/// Adds entries (whose bytes are already durable) and the packs' new
/// committed lengths in one transaction. A digest already indexed keeps its
/// entry: the new copy is dead bytes for a compaction to drop.
pub(super) fn commit_entries(
    db: &redb::Database,
    entries: &[(B3Digest, Entry)],
    pack_lengths: &[(u32, u64)],
) -> io::Result<()> {
    let txn = db.begin_write().map_err(db_error)?;
    {
        let mut blobs = txn.open_table(BLOBS).map_err(db_error)?;
        let mut pack_blobs = txn.open_multimap_table(PACK_BLOBS).map_err(db_error)?;
        let mut packs = txn.open_table(PACKS).map_err(db_error)?;
        for (digest, entry) in entries {
            let key = *digest.as_bytes();
            if blobs.get(key).map_err(db_error)?.is_some() {
                continue;
            }
            blobs
                .insert(key, entry.encode().as_slice())
                .map_err(db_error)?;
            if let Entry::Stored { pack, .. } = entry {
                pack_blobs.insert(pack, key).map_err(db_error)?;
            }
        }
        for (pack, length) in pack_lengths {
            packs.insert(pack, length).map_err(db_error)?;
        }
    }
    txn.commit().map_err(db_error)
}

/// The committed packs and their lengths, in pack order.
pub(super) fn packs(db: &redb::Database) -> io::Result<Vec<(u32, u64)>> {
    let txn = db.begin_read().map_err(db_error)?;
    let table = txn.open_table(PACKS).map_err(db_error)?;
    table
        .iter()
        .map_err(db_error)?
        .map(|entry| {
            let (pack, length) = entry.map_err(db_error)?;
            Ok((pack.value(), length.value()))
        })
        .collect()
}

/// Creates the tables, so that reads never meet a missing one. An index
/// that has them is not written to, so opening a store changes nothing.
pub(super) fn create_tables(db: &redb::Database) -> io::Result<()> {
    let existing = db.begin_read().map_err(db_error)?.open_table(PACKS);
    match existing {
        Ok(_) => return Ok(()),
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(db_error(e)),
    }
    let txn = db.begin_write().map_err(db_error)?;
    txn.open_table(BLOBS).map_err(db_error)?;
    txn.open_table(PACKS).map_err(db_error)?;
    txn.open_multimap_table(PACK_BLOBS).map_err(db_error)?;
    txn.commit().map_err(db_error)
}

/// Pack `pack` is only `length` bytes long, shorter than committed: removes
/// every blob whose bytes are not all there, and every chunked blob naming
/// one of them, then records the new length. Returns how many blobs went.
pub(super) fn repair_pack(db: &redb::Database, pack: u32, length: u64) -> io::Result<usize> {
    let txn = db.begin_write().map_err(db_error)?;
    let removed = remove_cut_blobs(&txn, pack, length)?;
    txn.commit().map_err(db_error)?;
    Ok(removed)
}

fn remove_cut_blobs(txn: &WriteTransaction, pack: u32, length: u64) -> io::Result<usize> {
    let mut blobs = txn.open_table(BLOBS).map_err(db_error)?;
    let mut pack_blobs = txn.open_multimap_table(PACK_BLOBS).map_err(db_error)?;
    let mut cut = std::collections::HashSet::new();
    for key in pack_blobs.get(pack).map_err(db_error)? {
        let key = key.map_err(db_error)?.value();
        let digest = B3Digest::from(key);
        let Some(value) = blobs.get(key).map_err(db_error)? else {
            continue;
        };
        if let Entry::Stored {
            pack: stored_in,
            offset,
            len,
        } = Entry::decode(&digest, value.value())?
            && stored_in == pack
            && offset.checked_add(len).is_none_or(|end| end > length)
        {
            cut.insert(digest);
        }
    }
    // Chunked blobs naming a removed chunk can no longer be read whole.
    let mut dependent = Vec::new();
    for item in blobs.iter().map_err(db_error)? {
        let (key, value) = item.map_err(db_error)?;
        let digest = B3Digest::from(key.value());
        if let Entry::Chunked(chunks) = Entry::decode(&digest, value.value())?
            && chunks.iter().any(|chunk| cut.contains(&chunk.digest))
        {
            dependent.push(digest);
        }
    }
    for digest in cut.iter().chain(&dependent) {
        let key = *digest.as_bytes();
        blobs.remove(key).map_err(db_error)?;
        pack_blobs.remove(pack, key).map_err(db_error)?;
    }
    txn.open_table(PACKS)
        .map_err(db_error)?
        .insert(pack, length)
        .map_err(db_error)?;
    Ok(cut.len() + dependent.len())
}

/// Calls `visit` with every blob and its entry, in one read transaction.
pub(super) fn for_each_blob(
    db: &redb::Database,
    visit: &mut dyn FnMut(B3Digest, Entry),
) -> io::Result<()> {
    let txn = db.begin_read().map_err(db_error)?;
    let table = txn.open_table(BLOBS).map_err(db_error)?;
    for item in table.iter().map_err(db_error)? {
        let (key, value) = item.map_err(db_error)?;
        let digest = B3Digest::from(key.value());
        visit(digest, Entry::decode(&digest, value.value())?);
    }
    Ok(())
}
