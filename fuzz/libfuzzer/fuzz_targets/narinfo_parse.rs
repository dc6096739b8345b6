#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tvix_fuzz::targets::formats::narinfo_parse(data));
