//! The narinfo parser must error, never panic; what it accepts must
//! render to text that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nix_compat::narinfo::NarInfo;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(narinfo) = NarInfo::parse(text) {
        let rendered = narinfo.to_string();
        assert_eq!(NarInfo::parse(&rendered).as_ref(), Ok(&narinfo));
        let _ = narinfo.fingerprint();
    }
});
