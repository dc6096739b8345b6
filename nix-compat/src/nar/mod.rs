//! NAR, the Nix ARchive format: a canonical serialisation of a file tree.
//!
//! A NAR holds exactly one node (a regular file, a symlink or a directory),
//! with no timestamps, owners or permissions beyond the executable bit, and
//! directory entries sorted by name, so that every tree has exactly one NAR.
//! Nix hashes the NAR to address a tree by its contents, so every byte here
//! must match what CppNix writes.
//!
//! Layout: every token is a string framed as a little-endian `u64` length,
//! the bytes, and zero padding up to a multiple of 8 bytes:
//!
//! ```text
//! nar       = "nix-archive-1" node
//! node      = "(" "type" body ")"
//! body      = "regular" ["executable" ""] "contents" <contents>
//!           | "symlink" "target" <target>
//!           | "directory" { "entry" "(" "name" <name> "node" node ")" }
//! ```
//!
//! [reader] and [writer] stream this format (sync, and async behind the
//! `async` feature) without holding a whole tree or file in memory. Both
//! accept only canonical NARs: the ones CppNix's `nix-store --dump` writes.
//! The token byte strings they share live in [wire]; the rules for entry
//! names and symlink targets in [rules].

pub mod reader;
pub mod rules;
pub mod wire;
pub mod writer;

// The shared tests drive the sync and async implementations side by side.
#[cfg(all(test, feature = "async"))]
mod tests;
