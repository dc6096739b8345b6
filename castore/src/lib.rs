//! tvix-castore: the content-addressed store.
//!
//! This crate will hold file trees stored by content: blobs named by their
//! blake3 digest, directories as Merkle nodes, the `BlobService` and
//! `DirectoryService` traits with their backends (memory, redb, sled, object
//! store, gRPC), importers from filesystems and tarballs, and a FUSE mount.
//!
//! It must never know about Nix store paths; that mapping lives in
//! `tvix-store`. Nothing is implemented yet (see the castore issue).
