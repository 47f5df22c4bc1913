//! Fuzz target `wire_message`: see `danvan_testkit::fuzz_targets::wire_message`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| danvan_testkit::fuzz_targets::wire_message(data));
