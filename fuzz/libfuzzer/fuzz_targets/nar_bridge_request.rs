#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tvix_fuzz::targets::nar_bridge::nar_bridge_request(data));
