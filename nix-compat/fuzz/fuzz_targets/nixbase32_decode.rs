//! nixbase32 decoding must error, never panic, and round-trip what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix_compat::nixbase32;

fuzz_target!(|data: &[u8]| {
    if let Ok(bytes) = nixbase32::decode(data) {
        assert_eq!(nixbase32::encode(&bytes).as_bytes(), data);
    }
    let _ = nixbase32::decode_fixed::<20>(data);
});
