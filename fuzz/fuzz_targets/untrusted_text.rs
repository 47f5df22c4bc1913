//! Fuzz target `untrusted_text`: see `danvan_testkit::fuzz_targets::untrusted_text`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| danvan_testkit::fuzz_targets::untrusted_text(data));
