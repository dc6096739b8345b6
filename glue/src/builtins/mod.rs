//! The builtins that need a store, replacing the pure evaluator's, which
//! fail with "needs a store":
//!
//! - [derivation]: `derivationStrict` (the `derivation` wrapper around it
//!   is tvix-eval's, written in Nix).
//! - [import]: `path`, `filterSource`, `storePath` and `toFile`, which add
//!   to the store or refer to it.
//! - [fetchers]: `fetchurl`, `fetchTarball` and `fetchMercurial` (refused);
//!   [fetch_tree]: `fetchTree` and `fetchGit`. They read their arguments
//!   and shape their results; `crate::fetchers` fetches.
//!
//! Each holds the [TvixStoreIO] it works on (`#[builtins(state = …)]`).

mod derivation;
mod derivation_env;
mod errors;
mod fetch_tree;
mod fetchers;
mod import;
mod inputs;

use std::rc::Rc;

use tvix_eval::BuiltinDef;

use crate::TvixStoreIO;

pub use errors::{DerivationError, FetchArgError, ImportError};

/// Every store builtin, working on `io`.
pub fn store_builtins(io: Rc<TvixStoreIO>) -> Vec<BuiltinDef> {
    let mut builtins = derivation::derivation_builtins::builtins(io.clone());
    builtins.extend(import::import_builtins::builtins(io.clone()));
    builtins.extend(fetchers::fetcher_builtins::builtins(io.clone()));
    builtins.extend(fetch_tree::fetch_tree_builtins::builtins(io));
    builtins
}
