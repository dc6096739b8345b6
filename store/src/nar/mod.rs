//! NAR, Nix's archive format, over castore trees: rendering a castore node
//! as a NAR stream ([write_nar], [write_nar_blocking]), computing its size
//! and sha256 without keeping it ([NarCalculationService]), and ingesting a
//! NAR stream into the castore ([ingest_nar]), also from the compressed
//! files of a binary cache ([NarCompression]).
//!
//! Both directions stream: file contents go between blob readers/writers
//! and the NAR in bounded buffers, never whole files in memory.

mod chunks;
mod compression;
mod hashing;
mod import;
mod local;
mod renderer;
mod stack;
mod to_writer;

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use tvix_castore::Node;

pub use chunks::{ChunkWriter, NarChunks};
pub use compression::{NarCompression, UnsupportedCompression};
pub(crate) use hashing::HashingSink;
pub use import::{IngestNarError, IngestedNar, ingest_nar, ingest_nar_verified};
pub use renderer::{
    MAX_DEPTH, MAX_ENTRIES, RenderError, RenderLimits, SimpleRenderer, calculate_nar,
    calculate_nar_within, render_nar, render_nar_within, write_nar, write_nar_within,
};
pub use to_writer::write_nar_blocking;

/// The size and sha256 of a NAR, as Nix records them for a store path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NarSummary {
    pub nar_size: u64,
    pub nar_sha256: [u8; 32],
}

/// Computes the NAR size and sha256 of castore trees.
#[async_trait]
pub trait NarCalculationService: Send + Sync {
    async fn calculate_nar(&self, root: &Node) -> Result<NarSummary, CalculateNarError>;
}

/// Why a NAR size and hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum CalculateNarError {
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The remote end of a gRPC client answered with an error.
    #[error("gRPC: {0}")]
    Grpc(Box<tonic::Status>),
    #[error("gRPC server returned a nar_sha256 of {0} bytes, expected 32")]
    InvalidNarSha256Len(usize),
}

impl From<tonic::Status> for CalculateNarError {
    fn from(status: tonic::Status) -> Self {
        Self::Grpc(Box::new(status))
    }
}
