#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tvix_fuzz::targets::eval::eval_parse(data));
