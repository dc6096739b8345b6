//! The castore as a read-only file system: the trees below a set of root
//! nodes, served over FUSE ([FuseDaemon]) or, with the `virtiofs` feature,
//! to virtual machines as a vhost-user virtio-fs device.
//!
//! [CastoreFs] answers the kernel's requests from the blob and directory
//! services, fetching each directory and opening each blob only when it is
//! first used; [RootNodes] says what the top directory holds. Files read as
//! `0444` (`0555` if executable), directories `0555`, every modification
//! time is 1 (as in `/nix/store`), and everything that would write answers
//! `EROFS`.

mod files;
mod filesystem;
mod fuse;
mod inodes;
mod root_nodes;
#[cfg(feature = "virtiofs")]
mod virtiofs;

#[cfg(test)]
mod tests;

pub use filesystem::CastoreFs;
pub use fuse::{FUSE_DEVICE, FuseDaemon, MountError, is_mount_point};
pub use root_nodes::{RootNodes, RootNodesError};
#[cfg(feature = "virtiofs")]
pub use virtiofs::{VirtiofsError, serve_virtiofs};
