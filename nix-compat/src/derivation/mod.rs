//! Nix derivations: the `.drv` files that describe how to build store paths.
//!
//! A [Derivation] is read from and written to the ATerm form CppNix stores
//! (`Derive([...],...)`) byte for byte, and to the JSON form of
//! `nix show-derivation` (Nix 2.8). On top of that it computes what CppNix
//! computes when instantiating: the derivation's `hash_derivation_modulo`,
//! the paths of its outputs and the path of the `.drv` file itself.
//!
//! This module never reads a store: the hashes of input derivations come
//! from a lookup the caller provides (and memoises).

use std::collections::{BTreeMap, BTreeSet};

use bstr::BString;
use serde::{Deserialize, Serialize};

use crate::nixhash::CAHash;
use crate::store_path::StorePath;

mod aterm;
mod errors;
mod output;
pub mod parser;
mod paths;
mod serde_env;
mod validate;

#[cfg(test)]
mod tests;

pub use errors::DerivationError;
pub use output::{Output, OutputError};

/// A derivation, as in a `.drv` file.
///
/// Fields are public: a derivation is built up field by field during
/// evaluation; [Derivation::validate] checks the result as CppNix does.
/// Field order is that of `nix show-derivation`'s JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derivation {
    /// Output name (`out`, `dev`, …) to output.
    pub outputs: BTreeMap<String, Output>,

    /// Store paths (sources, not derivations) the build reads.
    #[serde(rename = "inputSrcs")]
    pub input_sources: BTreeSet<StorePath>,

    /// Derivations whose outputs the build reads: `.drv` path to the names
    /// of the outputs used.
    #[serde(rename = "inputDrvs")]
    pub input_derivations: BTreeMap<StorePath, BTreeSet<String>>,

    /// The platform the build runs on, e.g. `x86_64-linux`.
    pub system: String,

    /// The program that runs the build.
    pub builder: String,

    /// Arguments to the builder.
    #[serde(rename = "args")]
    pub arguments: Vec<String>,

    /// The builder's environment. Values are bytes: Nix strings need not be
    /// UTF-8, and a `.drv` keeps whatever bytes evaluation produced.
    #[serde(rename = "env", with = "serde_env")]
    pub environment: BTreeMap<String, BString>,
}

impl Derivation {
    /// The content hash and (once known) path of a fixed-output
    /// derivation's output: there is one output, named `out`, with a
    /// content hash. `None` for every other derivation.
    pub fn fixed_output(&self) -> Option<(&CAHash, Option<&StorePath>)> {
        match self.outputs.first_key_value() {
            Some((
                name,
                Output {
                    path,
                    ca_hash: Some(ca_hash),
                },
            )) if self.outputs.len() == 1 && name == "out" => Some((ca_hash, path.as_ref())),
            _ => None,
        }
    }
}
