//! Store path parsing must error, never panic; accepted paths round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix_compat::store_path::{StorePath, StorePathRef};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = StorePathRef::from_bytes(data) {
        assert_eq!(p.to_string().as_bytes(), data);
    }
    if let Ok((p, rest)) = StorePath::from_absolute_path_full(data) {
        assert!(rest.is_empty() || rest.starts_with(b"/"));
        assert!(data.starts_with(p.to_absolute_path().as_bytes()));
    }
});
