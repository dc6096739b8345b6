#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tvix_fuzz::targets::formats::nixbase32_decode(data));
