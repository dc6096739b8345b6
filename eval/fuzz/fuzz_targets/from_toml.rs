//! `builtins.fromTOML` on any string must fail with an error or succeed,
//! never panic or run away.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    common::eval_with_strings("{ s }: builtins.fromTOML s", &[("s", data)]);
});
