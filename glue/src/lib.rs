//! tvix-glue: joins `tvix-eval` to the tvix store.
//!
//! This crate will hold `builtins.derivation`, the fetchers,
//! `builtins.path`/`filterSource` and store-backed file I/O for the
//! evaluator. Nothing is implemented yet.
