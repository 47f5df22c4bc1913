#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain. Idempotent: does
# nothing when everything is present.
set -euo pipefail
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
