//! tvix-castore: the content-addressed store.
//!
//! File trees stored by content: blobs named by their blake3 digest
//! ([B3Digest]), directories as Merkle nodes ([Directory], whose entries are
//! [Node]s), and castore-relative [Path]s to address nodes below a root.
//!
//! It must never know about Nix store paths; that mapping lives in
//! `tvix-store`.

mod digests;
mod directory;
mod node;
mod path;

pub mod bigtable;
pub mod blobservice;
pub mod channel;
pub mod composition;
pub mod directoryservice;
pub mod fs;
pub mod import;
pub mod kv;
pub mod local_addr;
#[cfg(feature = "integration")]
pub mod moto;
pub mod proto;

#[cfg(test)]
mod fixtures;

pub use digests::{B3_LEN, B3Digest, B3DigestError};
pub use directory::{Directory, DirectoryError};
pub use node::{MAX_SYMLINK_TARGET_LEN, Node, SymlinkTarget, SymlinkTargetError};
pub use path::{
    FromHostPathError, MAX_NAME_LEN, MAX_PATH_LEN, Path, PathBuf, PathComponent,
    PathComponentError, PathError,
};
