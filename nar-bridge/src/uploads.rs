//! NARs uploaded but not yet described by a narinfo.
//!
//! `nix copy --to http://…` uploads a path's NAR before its narinfo (Nix
//! always does, in that order). The NAR is ingested into the castore as it
//! arrives, which makes nothing visible: castore data is only reachable
//! through a PathInfo. What the NAR turned into waits here, under its URL
//! (`nar/<file name>`, as the narinfo's `URL:` names it), until the
//! narinfo naming that URL arrives and is checked against it.
//!
//! Uploads are kept in memory, and, with a directory ([Uploads::open]),
//! also as one small record file each, written atomically and synced
//! before the NAR's PUT is answered: a bridge restarted between a client's
//! NAR and its narinfo still takes the narinfo. A record is removed once
//! its narinfo made the path visible (a narinfo sent again then finds the
//! path itself), and records older than [RECORD_MAX_AGE] (a narinfo that
//! never came) are removed when the bridge starts. Their castore data stays
//! behind unreferenced, as with any unreferenced castore data.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use data_encoding::BASE64;
use nix_compat::nixbase32;
use prost::Message;
use tvix_castore::PathComponent;
use tvix_castore::proto::Entry;
use tvix_store::nar::{IngestedNar, NarCompression, NarSummary};

use crate::bounded_map::BoundedMap;

/// Uploads waiting for their narinfo kept in memory at most. Nix uploads
/// a path's narinfo right after its NAR, so a handful per concurrent
/// client is plenty.
const CAPACITY: usize = 4096;

/// How long a record on disk waits for its narinfo.
const RECORD_MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

const RECORD_SUFFIX: &str = ".upload";

/// An ingested NAR upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub ingested: IngestedNar,
    /// How the uploaded file was compressed, to be checked against the
    /// narinfo's `Compression:`.
    pub compression: NarCompression,
    /// sha256 of the uploaded (compressed) file, for the narinfo's
    /// `FileHash:`.
    pub file_sha256: [u8; 32],
    /// Size of the uploaded file, for the narinfo's `FileSize:`.
    pub file_size: u64,
}

/// Why an upload could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum UploadsError {
    #[error("the uploads directory {path:?}: {source}")]
    Dir { path: PathBuf, source: io::Error },
    #[error("writing the upload record {path:?}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

pub struct Uploads {
    memory: BoundedMap<String, Upload>,
    dir: Option<PathBuf>,
}

impl Default for Uploads {
    fn default() -> Self {
        Self {
            memory: BoundedMap::new(CAPACITY),
            dir: None,
        }
    }
}

impl Uploads {
    /// Uploads kept in `dir` too (created if missing), where those of an
    /// earlier run are found again; stale records and half-written ones
    /// are removed.
    pub fn open(dir: &Path) -> Result<Self, UploadsError> {
        let dir_error = |source| UploadsError::Dir {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(dir_error)?;
        for entry in std::fs::read_dir(dir).map_err(dir_error)? {
            let entry = entry.map_err(dir_error)?;
            let name = entry.file_name();
            let stale = name.to_string_lossy().starts_with('.')
                || entry
                    .metadata()
                    .and_then(|metadata| metadata.modified())
                    .ok()
                    .and_then(|modified| modified.elapsed().ok())
                    .is_some_and(|age| age > RECORD_MAX_AGE);
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self {
            memory: BoundedMap::new(CAPACITY),
            dir: Some(dir.to_owned()),
        })
    }

    /// Keeps `upload` under `url` (relative to the cache root, as in a
    /// narinfo's `URL:`, and `nar/` then a NAR file name), replacing an
    /// earlier upload to the same URL; on disk before this returns.
    pub async fn insert(&self, url: String, upload: Upload) -> Result<(), UploadsError> {
        if let Some(path) = self.record_path(&url) {
            let record = upload.to_record();
            let target = path.clone();
            tokio::task::spawn_blocking(move || write_atomically(&target, record.as_bytes()))
                .await
                .map_err(io::Error::other)
                .and_then(|written| written)
                .map_err(|source| UploadsError::Write { path, source })?;
        }
        self.memory.insert(url, upload);
        Ok(())
    }

    /// The upload at `url`, if there was one and it was not forgotten.
    /// It stays: a narinfo refused for a reason the client can fix may be
    /// sent again, and several store paths may share one NAR.
    pub async fn get(&self, url: &str) -> Option<Upload> {
        if let Some(upload) = self.memory.get(&url.to_owned()) {
            return Some(upload);
        }
        let path = self.record_path(url)?;
        let text = tokio::fs::read_to_string(&path).await.ok()?;
        match Upload::from_record(&text) {
            Some(upload) => {
                self.memory.insert(url.to_owned(), upload.clone());
                Some(upload)
            }
            None => {
                tracing::warn!(path = %path.display(), "ignoring a malformed upload record");
                None
            }
        }
    }

    /// Forgets the record on disk of the upload at `url`, whose narinfo
    /// made it a store path.
    pub async fn done(&self, url: &str) {
        if let Some(path) = self.record_path(url) {
            let _ = tokio::fs::remove_file(path).await;
        }
    }

    /// Where the record of `url` is kept: URLs are `nar/` and a file name
    /// of letters, digits and dots ([split_file_name] checked it); anything
    /// else, which could name a file elsewhere, has no record.
    fn record_path(&self, url: &str) -> Option<PathBuf> {
        let file = url.strip_prefix("nar/")?;
        let safe = !file.starts_with('.')
            && file
                .bytes()
                .all(|byte| byte == b'.' || byte.is_ascii_alphanumeric());
        safe.then(|| {
            self.dir
                .as_ref()
                .map(|dir| dir.join(format!("{file}{RECORD_SUFFIX}")))
        })?
    }
}

/// Writes `contents` to `path` so that it is there whole or not at all,
/// also after a crash: a synced temporary file renamed into place, and
/// the directory synced.
fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    // Unique also between concurrent uploads to the same URL.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = dir.join(format!(".{name}.{}.{write}", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()
}

impl Upload {
    /// The record kept on disk: `key value` lines.
    fn to_record(&self) -> String {
        let root = Entry::from_name_and_node(
            PathComponent::try_from("root").expect("a valid name"),
            self.ingested.node.clone(),
        );
        format!(
            "compression {}\nfile-sha256 {}\nfile-size {}\nnar-sha256 {}\nnar-size {}\nroot {}\n",
            compression_name(&self.compression),
            nixbase32::encode(&self.file_sha256),
            self.file_size,
            nixbase32::encode(&self.ingested.nar.nar_sha256),
            self.ingested.nar.nar_size,
            BASE64.encode(&root.encode_to_vec()),
        )
    }

    /// Reads a record; None for anything but one [Upload::to_record] wrote.
    fn from_record(text: &str) -> Option<Self> {
        let mut fields = std::collections::HashMap::new();
        for line in text.lines() {
            let (key, value) = line.split_once(' ')?;
            if fields.insert(key, value).is_some() {
                return None;
            }
        }
        let hash = |key| nixbase32::decode_fixed::<32>(fields.get(key)?.as_bytes()).ok();
        let number = |key| fields.get(key)?.parse::<u64>().ok();
        let root = BASE64.decode(fields.get("root")?.as_bytes()).ok()?;
        let (_, node) = Entry::decode(root.as_slice())
            .ok()?
            .try_into_name_and_node()
            .ok()?;
        let upload = Self {
            ingested: IngestedNar {
                node,
                nar: NarSummary {
                    nar_size: number("nar-size")?,
                    nar_sha256: hash("nar-sha256")?,
                },
            },
            compression: fields.get("compression")?.parse().ok()?,
            file_sha256: hash("file-sha256")?,
            file_size: number("file-size")?,
        };
        (fields.len() == 6).then_some(upload)
    }
}

/// The narinfo `Compression:` name of `compression`.
pub fn compression_name(compression: &NarCompression) -> &'static str {
    match compression {
        NarCompression::None => "none",
        NarCompression::Bzip2 => "bzip2",
        NarCompression::Gzip => "gzip",
        NarCompression::Xz => "xz",
        NarCompression::Zstd => "zstd",
    }
}

/// Splits the file name of an uploaded NAR into its stem and compression,
/// by the extensions Nix gives them; None for anything else.
pub fn split_file_name(file: &str) -> Option<(&str, NarCompression)> {
    [
        ("", NarCompression::None),
        (".xz", NarCompression::Xz),
        (".zst", NarCompression::Zstd),
        (".bz2", NarCompression::Bzip2),
        (".gz", NarCompression::Gzip),
    ]
    .into_iter()
    .find_map(|(extension, compression)| {
        let stem = file.strip_suffix(extension)?.strip_suffix(".nar")?;
        Some((stem, compression))
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use tvix_castore::{B3Digest, Node};

    use super::*;

    #[rstest]
    #[case::none("abc.nar", Some(("abc", NarCompression::None)))]
    #[case::xz("abc.nar.xz", Some(("abc", NarCompression::Xz)))]
    #[case::zstd("abc.nar.zst", Some(("abc", NarCompression::Zstd)))]
    #[case::bzip2("abc.nar.bz2", Some(("abc", NarCompression::Bzip2)))]
    #[case::gzip("abc.nar.gz", Some(("abc", NarCompression::Gzip)))]
    #[case::brotli("abc.nar.br", None)]
    #[case::not_nar("abc.narinfo", None)]
    fn split(#[case] file: &str, #[case] expected: Option<(&str, NarCompression)>) {
        assert_eq!(expected, split_file_name(file));
    }

    fn upload() -> Upload {
        Upload {
            ingested: IngestedNar {
                node: Node::File {
                    digest: B3Digest::from([7; 32]),
                    size: 42,
                    executable: true,
                },
                nar: NarSummary {
                    nar_size: 160,
                    nar_sha256: [1; 32],
                },
            },
            compression: NarCompression::Zstd,
            file_sha256: [2; 32],
            file_size: 99,
        }
    }

    #[test]
    fn record_round_trip() {
        let upload = upload();
        assert_eq!(
            Some(upload.clone()),
            Upload::from_record(&upload.to_record())
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::field_missing("compression zstd\n")]
    #[case::field_twice("compression zstd\ncompression zstd\n")]
    #[case::truncated_root("root AAAA\n")]
    fn malformed_record(#[case] text: &str) {
        let mut text = text.to_owned();
        if text.starts_with("root") {
            text = upload().to_record().replace(
                &upload().to_record().lines().last().expect("root line")[5..],
                "AAAA",
            );
        }
        assert_eq!(None, Upload::from_record(&text));
    }

    /// An upload kept on disk is found by a new instance (a restarted
    /// bridge); once done it is gone; names that could leave the
    /// directory are kept in memory only.
    #[tokio::test]
    async fn survives_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("nar/{}.nar.zst", nixbase32::encode(&[2; 32]));
        let first = Uploads::open(dir.path()).expect("open");
        first.insert(url.clone(), upload()).await.expect("insert");
        first
            .insert("nar/../escape.nar".to_owned(), upload())
            .await
            .expect("insert");
        drop(first);

        let second = Uploads::open(dir.path()).expect("reopen");
        assert_eq!(Some(upload()), second.get(&url).await);
        assert_eq!(None, second.get("nar/../escape.nar").await);
        second.done(&url).await;
        let third = Uploads::open(dir.path()).expect("reopen");
        assert_eq!(None, third.get(&url).await);
        assert_eq!(
            0,
            std::fs::read_dir(dir.path()).expect("read dir").count(),
            "nothing left behind"
        );
    }
}
