//! tvix-store: Nix store paths on top of `tvix-castore`.
//!
//! This crate will hold the `PathInfoService` (store path → castore root node
//! plus Nix metadata), NAR rendering from and ingestion into castore, and the
//! `tvix-store` binary. Nothing is implemented yet (see the store issue).
