//! Nix hash parsing (every format, with and without an expected algorithm)
//! must error, never panic; accepted hashes must re-parse from their printed forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix_compat::nixhash::{self, CAHash, HashAlgo};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for expected in [None, Some(HashAlgo::Md5), Some(HashAlgo::Sha256)] {
        if let Ok(h) = nixhash::from_str(s, expected) {
            assert_eq!(nixhash::from_str(&h.to_sri_string(), None).as_ref(), Ok(&h));
        }
    }
    if let Some(ca) = CAHash::from_nix_str(s) {
        assert_eq!(CAHash::from_nix_str(&ca.to_nix_nixbase32_string()), Some(ca));
    }
});
