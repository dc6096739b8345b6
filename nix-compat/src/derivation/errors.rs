//! Why a derivation is not one CppNix would accept, or why its paths
//! cannot be computed.

use thiserror::Error;

use crate::store_path::{BuildStorePathError, StorePath};

#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum DerivationError {
    #[error("a derivation must have at least one output")]
    NoOutputs,
    #[error("invalid output name {0:?}")]
    InvalidOutputName(String),
    #[error("a fixed-output derivation must have exactly one output, not {0}")]
    FixedOutputAmongOthers(usize),
    #[error("the output of a fixed-output derivation must be named \"out\", not {0:?}")]
    FixedOutputNotNamedOut(String),
    #[error("output {0:?} is text-hashed, which Nix 2.8 does not support")]
    TextHashedOutput(String),
    #[error("output {0:?} has no path")]
    MissingOutputPath(String),
    #[error("input derivation {0} is not a .drv file")]
    InputDerivationNotDrv(StorePath),
    #[error("input derivation {drv} has an invalid output name {output:?}")]
    InvalidInputDerivationOutputName { drv: StorePath, output: String },
    #[error("the builder is empty")]
    EmptyBuilder,
    #[error("the system is empty")]
    EmptySystem,
    #[error("cannot compute the path of output {output:?}: {source}")]
    OutputPath {
        output: String,
        source: BuildStorePathError,
    },
    #[error("cannot compute the path of derivation {name:?}: {source}")]
    DerivationPath {
        name: String,
        source: BuildStorePathError,
    },
}
