//! NARs uploaded but not yet described by a narinfo.
//!
//! `nix copy --to http://…` uploads a path's NAR before its narinfo. The NAR
//! is ingested into the castore as it arrives, which makes nothing visible:
//! castore data is only reachable through a PathInfo. What the NAR turned
//! into waits here, under its URL, until the narinfo naming that URL
//! arrives and is checked against it. A NAR whose narinfo never comes is
//! forgotten once enough newer ones arrived; its castore data stays behind
//! unreferenced, as with any unreferenced castore data.

use tvix_store::nar::{IngestedNar, NarCompression};

use crate::bounded_map::BoundedMap;

/// Uploads waiting for their narinfo at most. Nix uploads a path's narinfo
/// right after its NAR, so a handful per concurrent client is plenty.
const CAPACITY: usize = 4096;

/// An ingested NAR upload.
#[derive(Debug, Clone)]
pub struct Upload {
    pub ingested: IngestedNar,
    /// How the uploaded file was compressed, to be checked against the
    /// narinfo's `Compression:`.
    pub compression: NarCompression,
    /// The hash the upload's file name gives: Nix names uploaded NARs by
    /// the sha256 of the (compressed) file.
    pub file_sha256: [u8; 32],
}

pub struct Uploads(BoundedMap<String, Upload>);

impl Default for Uploads {
    fn default() -> Self {
        Self(BoundedMap::new(CAPACITY))
    }
}

impl Uploads {
    /// Keeps `upload` under `url` (relative to the cache root, as in a
    /// narinfo's `URL:`), replacing an earlier upload to the same URL.
    pub fn insert(&self, url: String, upload: Upload) {
        self.0.insert(url, upload);
    }

    /// The upload at `url`, if there was one and it was not forgotten.
    /// It stays: a narinfo refused for a reason the client can fix may be
    /// sent again, and several store paths may share one NAR.
    pub fn get(&self, url: &str) -> Option<Upload> {
        self.0.get(&url.to_owned())
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
}
