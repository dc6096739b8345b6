//! Builtins that need a store. Pure evaluation has none, so here they fail
//! with a clear error; `tvix-glue` replaces them with store-backed ones.
//! `placeholder` needs no store and is implemented.

use nix_compat::nixbase32;
use sha2::Digest;
use tvix_eval_builtin_macros::builtins;

use crate::errors::{Error, ErrorKind, ResultExt};
use crate::value::Value;
use crate::vm::generators::Co;

pub(super) use impls::builtins;

/// The error of a builtin that needs a store.
pub fn needs_store(name: &str) -> Error {
    ErrorKind::NeedsStore(name.to_string()).into()
}

#[builtins]
mod impls {
    use super::*;

    /// The placeholder for output `output` of the derivation being
    /// built: `builtins.placeholder "out"`, replaced by the output path at
    /// build time.
    #[builtin("placeholder")]
    async fn builtin_placeholder(co: &Co, output: Value) -> Result<Value, Error> {
        let output = output
            .as_string()
            .context("while evaluating the first argument passed to builtins.placeholder")?;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"nix-output:");
        hasher.update(output.as_bytes());
        let digest: [u8; 32] = hasher.finalize().into();
        Ok(Value::string(format!("/{}", nixbase32::encode(&digest))))
    }

    /// Builds a derivation's `.drv` and output paths (needs a store).
    #[builtin("derivationStrict")]
    async fn builtin_derivation_strict(co: &Co, #[lazy] _attrs: Value) -> Result<Value, Error> {
        Err(needs_store("derivationStrict"))
    }

    /// Writes a string to a file in the store (needs a store).
    #[builtin("toFile")]
    async fn builtin_to_file(
        co: &Co,
        #[lazy] _name: Value,
        #[lazy] _contents: Value,
    ) -> Result<Value, Error> {
        Err(needs_store("toFile"))
    }

    /// Copies a path to the store, filtered and named (needs a store).
    #[builtin("path")]
    async fn builtin_path(co: &Co, #[lazy] _args: Value) -> Result<Value, Error> {
        Err(needs_store("path"))
    }

    /// Copies a path to the store through a filter (needs a store).
    #[builtin("filterSource")]
    async fn builtin_filter_source(
        co: &Co,
        #[lazy] _filter: Value,
        #[lazy] _path: Value,
    ) -> Result<Value, Error> {
        Err(needs_store("filterSource"))
    }

    /// Turns a store path string into one with context (needs a store).
    #[builtin("storePath")]
    async fn builtin_store_path(co: &Co, #[lazy] _path: Value) -> Result<Value, Error> {
        Err(needs_store("storePath"))
    }

    /// Downloads a file into the store (needs a store).
    #[builtin("fetchurl")]
    async fn builtin_fetchurl(co: &Co, #[lazy] _args: Value) -> Result<Value, Error> {
        Err(needs_store("fetchurl"))
    }

    /// Downloads and unpacks a tarball into the store (needs a store).
    #[builtin("fetchTarball")]
    async fn builtin_fetch_tarball(co: &Co, #[lazy] _args: Value) -> Result<Value, Error> {
        Err(needs_store("fetchTarball"))
    }

    /// Copies a git revision into the store (needs a store).
    #[builtin("fetchGit")]
    async fn builtin_fetch_git(co: &Co, #[lazy] _args: Value) -> Result<Value, Error> {
        Err(needs_store("fetchGit"))
    }

    /// Fetches a tree (a file, a tarball, a git repository, …) into the
    /// store (needs a store, and the `fetch-tree` or `flakes` experimental
    /// feature).
    #[builtin("fetchTree", feature = "fetch-tree")]
    async fn builtin_fetch_tree(co: &Co, #[lazy] _args: Value) -> Result<Value, Error> {
        Err(needs_store("fetchTree"))
    }

    /// Copies a Mercurial revision into the store (needs a store).
    #[builtin("fetchMercurial")]
    async fn builtin_fetch_mercurial(co: &Co, #[lazy] _args: Value) -> Result<Value, Error> {
        Err(needs_store("fetchMercurial"))
    }
}
