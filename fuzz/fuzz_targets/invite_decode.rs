//! Fuzz target `invite_decode`: see `danvan_testkit::fuzz_targets::invite_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on every panic, even one danvan catches on
    // purpose (the store contains Automerge's panics). Back to the default
    // hook: a panic that escapes the target still aborts the run.
    init: drop(std::panic::take_hook()),
    |data: &[u8]| danvan_testkit::fuzz_targets::invite_decode(data)
);
