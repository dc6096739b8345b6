//! nix-compat: Nix's formats and protocols, byte-exact with CppNix.
//!
//! This crate holds encodings and data formats only: nixbase32, Nix hashes,
//! store paths, NAR (sync and async reader and writer), derivations (ATerm,
//! output paths), narinfo files and the primitives of the wire and daemon
//! protocols. It carries no I/O policy and no services: callers hand it
//! readers, writers and lookups, and it never touches a store by itself.

pub mod derivation;
pub mod nar;
pub mod narinfo;
pub mod nix_daemon;
pub mod nixbase32;
pub mod nixhash;
pub mod store_path;
pub mod wire;
