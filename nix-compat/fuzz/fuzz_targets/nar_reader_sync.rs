//! The sync NAR reader must reject bad input with an error, never panic,
//! and read every byte of what it accepts.
#![no_main]

use std::io::{self, BufRead};

use libfuzzer_sys::fuzz_target;
use nix_compat::nar::reader::{self, Node};

fn walk<R: BufRead>(node: Node<'_, R>) -> io::Result<()> {
    match node {
        Node::Symlink { .. } => Ok(()),
        Node::File { mut reader, .. } => io::copy(&mut reader, &mut io::sink()).map(drop),
        Node::Directory(mut dir) => {
            while let Some(entry) = dir.next()? {
                walk(entry.node)?;
            }
            Ok(())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(root) = reader::open(&mut input) {
        let _ = walk(root);
    }
});
