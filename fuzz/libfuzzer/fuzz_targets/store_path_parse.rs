#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tvix_fuzz::targets::formats::store_path_parse(data));
