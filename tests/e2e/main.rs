//! End-to-end tests of danvan: the real binary, real SQLite files, real
//! processes. One integration-test binary (see STYLE.md).

mod access;
mod at_rest;
mod backup;
mod bad_input;
mod browser;
mod cli_conventions;
mod compat;
mod crash;
mod fuzz_corpus;
mod harness;
mod hubs;
mod import;
mod join;
mod load;
mod loss;
mod merge;
#[cfg(unix)]
mod package;
mod personal_audit;
mod records;
mod reform;
mod relay;
mod report;
mod rogue;
mod sealed;
mod sealed_keys;
mod soak;
mod storage_faults;
mod sync;
mod web;
mod web_browse;
mod web_forms;
mod web_look;
mod web_roster;
