//! Fuzz targets for every parser and validator that takes outside input.
//!
//! Each target is a plain `fn(&[u8])` that must return for every input; a
//! panic (a failed assertion included) is a finding. Where a parser accepts
//! input, the targets also check what acceptance promises: that the value
//! survives a write and a re-parse, that an ingested NAR renders back to the
//! same bytes, that a validated closure can be served.
//!
//! The same functions run in two harnesses:
//! - `fuzz/libfuzzer/`, a cargo-fuzz crate (its own workspace, needs a
//!   nightly toolchain), for coverage-guided fuzzing:
//!   `cd fuzz/libfuzzer && cargo +nightly fuzz run <target>`;
//! - `tests/smoke.rs`, on any toolchain: it replays the committed seed
//!   corpus (`fuzz/corpus/<target>/`) and then feeds each target mutations
//!   of it ([mutate]) for a few seconds. This is what CI runs.

pub mod mutate;
mod runtime;
pub mod targets;

use std::path::PathBuf;

/// A named fuzz target.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

macro_rules! targets {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every target, by the name its corpus directory and its libFuzzer
        /// binary have.
        pub const TARGETS: &[Target] = &[
            $(Target { name: stringify!($name), run: targets::$module::$name }),*
        ];
    };
}

targets![
    formats::nixbase32_decode,
    formats::nixhash_parse,
    formats::store_path_parse,
    formats::aterm_parse,
    formats::derivation_json,
    formats::narinfo_parse,
    formats::signing_keys,
    nar::nar_reader_sync,
    nar::nar_reader_async,
    wire::wire_read,
    castore::castore_directory,
    castore::castore_path,
    castore::closure_validator,
    castore::tar_import,
    store::path_info,
    store::ingest_nar,
    store::reference_graph_json,
    nar_bridge::nar_bridge_request,
    eval::eval_parse,
    eval::eval_source,
    eval::eval_from_json,
    eval::eval_from_toml,
    eval::eval_regex,
    eval::eval_flake_ref,
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|target| target.name == name)
}

/// The committed seed corpus of target `name`.
pub fn corpus_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(name)
}
