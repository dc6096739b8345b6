//! The async NAR reader must reject bad input with an error, never panic,
//! and read every byte of what it accepts.
#![no_main]

use std::future::Future;
use std::io;
use std::pin::Pin;

use libfuzzer_sys::fuzz_target;
use nix_compat::nar::reader::r#async::{self as reader, Node};
use tokio::io::AsyncBufRead;

/// Boxed because async recursion needs an indirection.
fn walk<'a, R: AsyncBufRead + Unpin + Send>(
    node: Node<'a, R>,
) -> Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>> {
    Box::pin(async move {
        match node {
            Node::Symlink { .. } => Ok(()),
            Node::File { mut reader, .. } => {
                tokio::io::copy(&mut reader, &mut tokio::io::sink()).await.map(drop)
            }
            Node::Directory(mut dir) => {
                while let Some(entry) = dir.next().await? {
                    walk(entry.node).await?;
                }
                Ok(())
            }
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime always builds");
    runtime.block_on(async {
        let mut input = data;
        if let Ok(root) = reader::open(&mut input).await {
            let _ = walk(root).await;
        }
    });
});
