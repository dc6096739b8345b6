//! The protobuf messages and gRPC services of `castore/protos/`, generated
//! at build time, and conversions between them and the domain types.
//!
//! Wire messages are untrusted: converting them into domain types
//! ([crate::Directory], [crate::Node]) is where they are validated, and no
//! conversion here may ever hand out a domain type it did not validate.

use bstr::BString;
use bytes::Bytes;

use crate::blobservice::ChunkMeta;
use crate::{B3Digest, B3DigestError, DirectoryError, Node, PathComponent};

#[allow(clippy::all, clippy::pedantic, missing_docs)]
mod generated {
    tonic::include_proto!("tvix.castore.v1");
}
pub use generated::*;

/// The largest gRPC message our servers and clients decode or encode,
/// instead of tonic's 4 MiB default. A directory is one message, and at
/// roughly 60 bytes per entry 4 MiB stops at about 70k entries, which real
/// store paths exceed (icon themes, some font and firmware packages).
/// 64 MiB takes about a million entries with typical names and over 200k
/// with the longest legal ones; a message is held whole while it is decoded,
/// so this is also what one message can make a peer allocate. Every server
/// and client we build applies it to both directions, so whatever one side
/// may send, the other accepts.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Applies [MAX_MESSAGE_BYTES] to both directions of a generated tonic
/// client or server (they share no trait to write this as a function).
#[macro_export]
macro_rules! with_message_limits {
    ($service:expr) => {
        $service
            .max_decoding_message_size($crate::proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size($crate::proto::MAX_MESSAGE_BYTES)
    };
}

mod grpc_directoryservice_wrapper;
pub use grpc_directoryservice_wrapper::{
    DEFAULT_MAX_DIRECTORY_ENTRIES, DEFAULT_MAX_DIRECTORY_PUT_BYTES, GrpcDirectoryServiceWrapper,
};

mod grpc_blobservice_wrapper;
pub use grpc_blobservice_wrapper::GrpcBlobServiceWrapper;

impl From<&crate::Directory> for Directory {
    fn from(directory: &crate::Directory) -> Self {
        let mut out = Directory::default();
        // Entries come out sorted by name, so each list is sorted too.
        for (name, node) in directory.nodes() {
            let name = Bytes::from(name.clone());
            match node {
                Node::Directory { digest, size } => out.directories.push(DirectoryNode {
                    name,
                    digest: digest.into(),
                    size: *size,
                }),
                Node::File {
                    digest,
                    size,
                    executable,
                } => out.files.push(FileNode {
                    name,
                    digest: digest.into(),
                    size: *size,
                    executable: *executable,
                }),
                Node::Symlink { target } => out.symlinks.push(SymlinkNode {
                    name,
                    target: target.clone().into(),
                }),
            }
        }
        out
    }
}

impl From<crate::Directory> for Directory {
    fn from(directory: crate::Directory) -> Self {
        Self::from(&directory)
    }
}

impl TryFrom<Directory> for crate::Directory {
    type Error = DirectoryError;

    /// Validates names, digests, symlink targets and sizes, and that each
    /// list is sorted with names unique across all three lists.
    fn try_from(proto: Directory) -> Result<Self, Self::Error> {
        let mut directory = crate::Directory::new();
        let entries = {
            let directories = check_sorted(proto.directories, |n| &n.name)?
                .into_iter()
                .map(directory_node_into_parts);
            let files = check_sorted(proto.files, |n| &n.name)?
                .into_iter()
                .map(file_node_into_parts);
            let symlinks = check_sorted(proto.symlinks, |n| &n.name)?
                .into_iter()
                .map(symlink_node_into_parts);
            directories.chain(files).chain(symlinks)
        };
        for entry in entries {
            let (name, node) = entry?;
            directory.add(name, node)?;
        }
        Ok(directory)
    }
}

/// Checks that names are valid and strictly increasing in `list`.
fn check_sorted<T>(list: Vec<T>, name: impl Fn(&T) -> &Bytes) -> Result<Vec<T>, DirectoryError> {
    let mut previous: Option<&Bytes> = None;
    for item in &list {
        let current = name(item);
        let component = parse_name(current)?;
        match previous.map(|previous| previous.cmp(current)) {
            Some(std::cmp::Ordering::Equal) => {
                return Err(DirectoryError::DuplicateName(component));
            }
            Some(std::cmp::Ordering::Greater) => {
                return Err(DirectoryError::WrongSorting(component));
            }
            Some(std::cmp::Ordering::Less) | None => previous = Some(current),
        }
    }
    Ok(list)
}

fn parse_name(name: &Bytes) -> Result<PathComponent, DirectoryError> {
    PathComponent::try_from(name.clone()).map_err(|source| DirectoryError::InvalidName {
        name: BString::from(name.as_ref()),
        source,
    })
}

fn parse_digest(name: &PathComponent, digest: Bytes) -> Result<B3Digest, DirectoryError> {
    B3Digest::try_from(digest).map_err(|source| DirectoryError::InvalidDigest {
        name: name.clone(),
        source,
    })
}

fn directory_node_into_parts(node: DirectoryNode) -> Result<(PathComponent, Node), DirectoryError> {
    let name = parse_name(&node.name)?;
    let digest = parse_digest(&name, node.digest)?;
    Ok((
        name,
        Node::Directory {
            digest,
            size: node.size,
        },
    ))
}

fn file_node_into_parts(node: FileNode) -> Result<(PathComponent, Node), DirectoryError> {
    let name = parse_name(&node.name)?;
    let digest = parse_digest(&name, node.digest)?;
    Ok((
        name,
        Node::File {
            digest,
            size: node.size,
            executable: node.executable,
        },
    ))
}

fn symlink_node_into_parts(node: SymlinkNode) -> Result<(PathComponent, Node), DirectoryError> {
    let name = parse_name(&node.name)?;
    let target = node
        .target
        .try_into()
        .map_err(|source| DirectoryError::InvalidSymlinkTarget {
            name: name.clone(),
            source,
        })?;
    Ok((name, Node::Symlink { target }))
}

impl From<ChunkMeta> for stat_blob_response::ChunkMeta {
    fn from(chunk: ChunkMeta) -> Self {
        Self {
            digest: chunk.digest.into(),
            size: chunk.size,
        }
    }
}

/// Only checks the digest length: whether the chunk holds what the digest
/// and size say is checked when it is read.
impl TryFrom<stat_blob_response::ChunkMeta> for ChunkMeta {
    type Error = B3DigestError;

    fn try_from(chunk: stat_blob_response::ChunkMeta) -> Result<Self, Self::Error> {
        Ok(Self {
            digest: chunk.digest.try_into()?,
            size: chunk.size,
        })
    }
}

impl Entry {
    /// A named node, for a tree root referenced from outside any directory.
    pub fn from_name_and_node(name: PathComponent, node: Node) -> Self {
        Self::from_raw_name_and_node(Bytes::from(name), node)
    }

    /// A named node whose name is not checked here. An Entry is wire data,
    /// checked when it is read ([Entry::try_into_name_and_node]); this is for
    /// callers whose names are valid by construction (like a store path
    /// basename) and need not be checked twice.
    pub fn from_raw_name_and_node(name: Bytes, node: Node) -> Self {
        let entry = match node {
            Node::Directory { digest, size } => entry::Entry::Directory(DirectoryNode {
                name,
                digest: digest.into(),
                size,
            }),
            Node::File {
                digest,
                size,
                executable,
            } => entry::Entry::File(FileNode {
                name,
                digest: digest.into(),
                size,
                executable,
            }),
            Node::Symlink { target } => entry::Entry::Symlink(SymlinkNode {
                name,
                target: target.into(),
            }),
        };
        Self { entry: Some(entry) }
    }

    /// Validates the entry and splits it into its name and node.
    pub fn try_into_name_and_node(self) -> Result<(PathComponent, Node), DirectoryError> {
        match self.entry {
            None => Err(DirectoryError::NoNodeSet),
            Some(entry::Entry::Directory(node)) => directory_node_into_parts(node),
            Some(entry::Entry::File(node)) => file_node_into_parts(node),
            Some(entry::Entry::Symlink(node)) => symlink_node_into_parts(node),
        }
    }
}

#[cfg(test)]
mod tests;
