//! The ATerm derivation parser must error, never panic; what it accepts
//! must survive a write and re-parse unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix_compat::derivation::Derivation;

fuzz_target!(|data: &[u8]| {
    if let Ok(drv) = Derivation::from_aterm_bytes(data) {
        let written = drv.to_aterm_bytes();
        assert_eq!(Derivation::from_aterm_bytes(&written).as_ref(), Ok(&drv));
        let _ = drv.validate(false);
    }
});
