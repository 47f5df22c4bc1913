//! Fuzz target `bundle`: see `danvan_testkit::fuzz_targets::bundle`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| danvan_testkit::fuzz_targets::bundle(data));
