//! Nix source text: parsing, CppNix's parse-time checks, compiling, and
//! `--parse`'s printing must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tvix_eval::{EvalOptions, Evaluator};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let evaluator = Evaluator::new(EvalOptions::default(), None);
    let _ = evaluator.parse_to_string(text, "«fuzz»", std::path::Path::new("/"));
});
