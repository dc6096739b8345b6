//! The compressions NARs are served with, and their streaming encoders.

use std::thread::available_parallelism;

use async_compression::Level;
use async_compression::tokio::write::{XzEncoder, ZstdEncoder};
use async_compression::zstd::CParameter;
use tokio::io::{AsyncWrite, BufWriter};

/// Input gathered before it goes to a compressor: the NAR comes in many
/// small writes (each entry's framing), and each call into zstd or xz has
/// a cost of its own, large with zstd's worker threads.
const INPUT_BUFFER: usize = 256 * 1024;

/// zstd level for serving: the fastest levels still shrink a NAR to about
/// a third, and keep up with a fast network on few cores.
const ZSTD_LEVEL: i32 = 1;

/// How a served NAR is compressed, named as in a narinfo's `Compression:`
/// field and on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Compression {
    #[default]
    None,
    Zstd,
    Xz,
}

impl Compression {
    /// The narinfo `Compression:` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Zstd => "zstd",
            Self::Xz => "xz",
        }
    }

    /// What follows `.nar` in the NAR's file name, as Nix names them.
    pub fn extension(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Zstd => ".zst",
            Self::Xz => ".xz",
        }
    }

    /// Splits a NAR file name into its stem (the part before `.nar`) and
    /// the compression its extension names; None if it names none we serve.
    pub fn split_file_name(file: &str) -> Option<(&str, Self)> {
        [Self::None, Self::Zstd, Self::Xz]
            .into_iter()
            .find_map(|compression| {
                let stem = file.strip_suffix(compression.extension())?;
                Some((stem.strip_suffix(".nar")?, compression))
            })
    }

    /// Wraps `writer` so that what is written to it arrives compressed.
    /// zstd runs on all cores (zstd's own worker threads); the encoder must
    /// be shut down to write its last frame.
    pub fn encoder<'a, W>(self, writer: W) -> Box<dyn AsyncWrite + Send + Unpin + 'a>
    where
        W: AsyncWrite + Send + Unpin + 'a,
    {
        match self {
            Self::None => Box::new(writer),
            Self::Zstd => {
                let workers = available_parallelism().map_or(1, |n| n.get() as u32);
                Box::new(BufWriter::with_capacity(
                    INPUT_BUFFER,
                    ZstdEncoder::with_quality_and_params(
                        writer,
                        Level::Precise(ZSTD_LEVEL),
                        &[CParameter::nb_workers(workers)],
                    ),
                ))
            }
            // xz is slow at any level; the fastest preset is what a cache
            // serving on the fly can afford.
            Self::Xz => Box::new(BufWriter::with_capacity(
                INPUT_BUFFER,
                XzEncoder::with_quality(writer, Level::Fastest),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::none("abc.nar", Some(("abc", Compression::None)))]
    #[case::zstd("abc.nar.zst", Some(("abc", Compression::Zstd)))]
    #[case::xz("abc.nar.xz", Some(("abc", Compression::Xz)))]
    #[case::bzip2("abc.nar.bz2", None)]
    #[case::no_nar("abc.zst", None)]
    #[case::narinfo("abc.narinfo", None)]
    fn split_file_name(#[case] file: &str, #[case] expected: Option<(&str, Compression)>) {
        assert_eq!(expected, Compression::split_file_name(file));
    }
}
