//! [write_nar_blocking]: a NAR written to a blocking writer (a file,
//! stdout), as `tvix-store export-nar` does.
//!
//! From a local blob service ([BlobService::bulk_reader]) the thread that
//! builds the NAR writes it itself (see [super::local]); going through a
//! stream of chunks to an async writer would cost a hand-over and a wake-up
//! per chunk, which for a NAR of a GiB is several thousand. From any other
//! blob service, the stream of chunks is written on a blocking thread.

use std::io;

use bstr::BString;
use tvix_castore::Node;
use tvix_castore::blobservice::BlobService;
use tvix_castore::directoryservice::DirectoryService;

use super::RenderError;
use super::chunks::Output;
use super::renderer::{RenderLimits, prepare, render_prepared};

/// Writes the NAR of `root` to `writer` within the default [RenderLimits],
/// on blocking threads; see [super::write_nar] for what is checked when.
/// The writer is flushed at the end, and dropped.
pub async fn write_nar_blocking<W, BS, DS>(
    writer: W,
    root: &Node,
    blob_service: &BS,
    directory_service: &DS,
) -> Result<(), RenderError>
where
    W: io::Write + Send + 'static,
    BS: BlobService + Clone + 'static,
    DS: DirectoryService + ?Sized,
{
    let (directories, files) = prepare(root, directory_service, RenderLimits::default()).await?;
    if let Some(reader) = blob_service.bulk_reader() {
        let files = files.into_iter().map(|(digest, _)| digest).collect();
        let output = Output::Writer(Box::new(writer));
        return super::local::spawn(root.clone(), directories, files, reader, output).await?;
    }
    let mut chunks = render_prepared(root, blob_service, directories, files);
    tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        let write_error = |source| RenderError::Io {
            path: BString::default(),
            source,
        };
        while let Some(chunk) = chunks.blocking_next() {
            writer.write_all(&chunk?).map_err(write_error)?;
        }
        writer.flush().map_err(write_error)
    })
    .await?
}
