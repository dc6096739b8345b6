//! nix-compat's NAR readers, sync and async: bad input is an error, and an
//! accepted NAR can be walked to its end.

use std::future::Future;
use std::io::{self, BufRead};
use std::pin::Pin;

use nix_compat::nar::reader::{self, r#async as async_reader};
use tokio::io::AsyncBufRead;

use crate::runtime::block_on;

/// The sync reader over the whole input.
pub fn nar_reader_sync(data: &[u8]) {
    let mut input = data;
    if let Ok(root) = reader::open(&mut input) {
        let _ = walk_sync(root);
    }
}

fn walk_sync<R: BufRead>(node: reader::Node<'_, R>) -> io::Result<()> {
    match node {
        reader::Node::Symlink { .. } => Ok(()),
        reader::Node::File { mut reader, .. } => io::copy(&mut reader, &mut io::sink()).map(drop),
        reader::Node::Directory(mut dir) => {
            while let Some(entry) = dir.next()? {
                walk_sync(entry.node)?;
            }
            Ok(())
        }
    }
}

/// The async reader over the whole input.
pub fn nar_reader_async(data: &[u8]) {
    block_on(async {
        let mut input = data;
        if let Ok(root) = async_reader::open(&mut input).await {
            let _ = walk_async(root).await;
        }
    });
}

/// Boxed because async recursion needs an indirection.
fn walk_async<'a, R: AsyncBufRead + Unpin + Send>(
    node: async_reader::Node<'a, R>,
) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>> {
    Box::pin(async move {
        match node {
            async_reader::Node::Symlink { .. } => Ok(()),
            async_reader::Node::File { mut reader, .. } => {
                tokio::io::copy(&mut reader, &mut tokio::io::sink())
                    .await
                    .map(drop)
            }
            async_reader::Node::Directory(mut dir) => {
                while let Some(entry) = dir.next().await? {
                    walk_async(entry.node).await?;
                }
                Ok(())
            }
        }
    })
}
