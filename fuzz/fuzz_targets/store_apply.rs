//! Fuzz target `store_apply`: see `danvan_testkit::fuzz_targets::store_apply`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| danvan_testkit::fuzz_targets::store_apply(data));
