//! The Nix daemon protocol ("worker protocol"), as spoken by Nix 2.8's
//! `nix-daemon`: protocol versions, operation numbers, message codes, the
//! client settings message and the server side of the handshake.
//!
//! Values are spelled with the primitives of [`crate::wire`]. This module
//! only encodes and decodes; which operations to serve, and how, is the
//! business of a daemon built on top of it.

#[cfg(feature = "async")]
pub mod handshake;
pub mod version;
pub mod worker_protocol;
