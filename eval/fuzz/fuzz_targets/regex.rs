//! `builtins.match` and `builtins.split` with any pattern (the input up
//! to its first newline) on any string (the rest) must fail with an error
//! or succeed, never panic or run away.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let (pattern, string) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let args = [("p", pattern), ("s", string)];
    common::eval_with_strings(
        "{ p, s }: [ (builtins.match p s) (builtins.split p s) ]",
        &args,
    );
});
