//! tvix-store: Nix store paths on top of `tvix-castore`.
//!
//! A [PathInfo] ties a Nix store path to the castore tree holding its
//! contents, with the metadata Nix keeps about it (references, NAR hash and
//! size, signatures, deriver, content address). castore itself never sees a
//! store path; this crate is where the two meet.
//!
//! - [pathinfoservice]: storing PathInfos (memory, redb, sled, gRPC).
//! - [nar]: castore trees to NAR streams and back.
//! - [proto]: the gRPC protocol, and the validation of what arrives by it.
//! - [import]: host paths and local Nix store closures into the store.
//! - [fs]: the store paths as the top directory of a castore mount.
//! - [gc]: what a store no longer needs.
//! - [composition]: a store's services named and wired by one document.
//! - [utils]: building a store's services from addresses, and serving them.

pub mod access;
pub mod composition;
pub mod fs;
pub mod gc;
pub mod import;
pub mod limits;
pub mod nar;
mod path_info;
pub mod pathinfoservice;
pub mod proto;
pub mod utils;

#[cfg(test)]
mod fixtures;

pub use path_info::{PathInfo, Signature};
