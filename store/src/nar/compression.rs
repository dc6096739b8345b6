//! The compressions a Nix binary cache stores NARs with, named as in a
//! narinfo's `Compression:` field, and their streaming decoders.

use std::str::FromStr;

use async_compression::tokio::bufread::{BzDecoder, GzipDecoder, XzDecoder, ZstdDecoder};
use tokio::io::{AsyncBufRead, AsyncRead};

/// How a NAR file in a binary cache is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NarCompression {
    None,
    Bzip2,
    Gzip,
    Xz,
    Zstd,
}

/// A `Compression:` value we have no decoder for (Nix also knows `br`,
/// `lzip`, `lz4` and `grzip`, which `nix copy` does not use by default).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported NAR compression {0:?}: expected none, bzip2, gzip, xz or zstd")]
pub struct UnsupportedCompression(pub String);

impl NarCompression {
    /// The compression a narinfo declares. An absent or empty field means
    /// bzip2, as in Nix: the oldest caches compressed everything so and
    /// did not say.
    pub fn from_narinfo(field: Option<&str>) -> Result<Self, UnsupportedCompression> {
        match field {
            None | Some("") => Ok(Self::Bzip2),
            Some(name) => name.parse(),
        }
    }

    /// Wraps `reader` (the file as stored) in the matching decoder, giving
    /// the NAR.
    pub fn decode<'a, R>(self, reader: R) -> Box<dyn AsyncRead + Send + Unpin + 'a>
    where
        R: AsyncBufRead + Send + Unpin + 'a,
    {
        match self {
            Self::None => Box::new(reader),
            Self::Bzip2 => Box::new(BzDecoder::new(reader)),
            Self::Gzip => {
                // gzip files may be several members back to back; gunzip
                // reads them all, so we do too.
                let mut decoder = GzipDecoder::new(reader);
                decoder.multiple_members(true);
                Box::new(decoder)
            }
            Self::Xz => Box::new(XzDecoder::new(reader)),
            Self::Zstd => Box::new(ZstdDecoder::new(reader)),
        }
    }
}

impl FromStr for NarCompression {
    type Err = UnsupportedCompression;

    fn from_str(name: &str) -> Result<Self, UnsupportedCompression> {
        Ok(match name {
            "none" => Self::None,
            "bzip2" => Self::Bzip2,
            "gzip" => Self::Gzip,
            "xz" => Self::Xz,
            "zstd" => Self::Zstd,
            other => return Err(UnsupportedCompression(other.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use tokio::io::AsyncReadExt;

    use super::*;

    #[rstest]
    #[case::absent(None, Ok(NarCompression::Bzip2))]
    #[case::empty(Some(""), Ok(NarCompression::Bzip2))]
    #[case::none(Some("none"), Ok(NarCompression::None))]
    #[case::bzip2(Some("bzip2"), Ok(NarCompression::Bzip2))]
    #[case::gzip(Some("gzip"), Ok(NarCompression::Gzip))]
    #[case::xz(Some("xz"), Ok(NarCompression::Xz))]
    #[case::zstd(Some("zstd"), Ok(NarCompression::Zstd))]
    #[case::brotli(Some("br"), Err(UnsupportedCompression("br".to_owned())))]
    #[case::upper_case(Some("XZ"), Err(UnsupportedCompression("XZ".to_owned())))]
    fn from_narinfo(
        #[case] field: Option<&str>,
        #[case] expected: Result<NarCompression, UnsupportedCompression>,
    ) {
        assert_eq!(expected, NarCompression::from_narinfo(field));
    }

    /// Each decoder undoes its compression (the binary cache tests cover
    /// the files CppNix writes).
    #[rstest]
    #[case::none(NarCompression::None)]
    #[case::bzip2(NarCompression::Bzip2)]
    #[case::gzip(NarCompression::Gzip)]
    #[case::xz(NarCompression::Xz)]
    #[case::zstd(NarCompression::Zstd)]
    #[tokio::test]
    async fn decode_round_trip(#[case] compression: NarCompression) {
        use async_compression::tokio::write::{BzEncoder, GzipEncoder, XzEncoder, ZstdEncoder};
        use tokio::io::AsyncWriteExt;

        async fn encode<W: tokio::io::AsyncWrite + Unpin>(mut encoder: W, data: &[u8]) -> W {
            encoder.write_all(data).await.expect("compress");
            encoder.shutdown().await.expect("finish");
            encoder
        }
        let data = b"nix-archive-1 and some more bytes".repeat(100);
        let compressed = match compression {
            NarCompression::None => data.clone(),
            NarCompression::Bzip2 => encode(BzEncoder::new(Vec::new()), &data).await.into_inner(),
            NarCompression::Gzip => encode(GzipEncoder::new(Vec::new()), &data)
                .await
                .into_inner(),
            NarCompression::Xz => encode(XzEncoder::new(Vec::new()), &data).await.into_inner(),
            NarCompression::Zstd => encode(ZstdEncoder::new(Vec::new()), &data)
                .await
                .into_inner(),
        };
        let mut decoded = Vec::new();
        compression
            .decode(compressed.as_slice())
            .read_to_end(&mut decoded)
            .await
            .expect("decompress");
        assert_eq!(data, decoded);
    }
}
