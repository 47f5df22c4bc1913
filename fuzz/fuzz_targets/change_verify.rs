//! Fuzz target `change_verify`: see `danvan_testkit::fuzz_targets::change_verify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| danvan_testkit::fuzz_targets::change_verify(data));
