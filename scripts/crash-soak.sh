#!/usr/bin/env bash
# Crash soak: a writer adding records on a node, the node syncing live to a
# hub (`serve --hub`), SIGKILL at random moments to one of the three, checks
# after every kill, convergence at the end. Everything runs on loopback.
#
#   scripts/crash-soak.sh [KILLS] [SEED]      # default 1000 kills, seed from the clock
#
# It runs the e2e test `soak` with a release build; the test suite itself
# runs the same test with a few kills.
set -euo pipefail
cd "$(dirname "$0")/.."
export DANVAN_SOAK_KILLS="${1:-1000}"
# One add every 150 ms (plus its own time): see DANVAN_SOAK_PACE_MS in tests/e2e/soak.rs.
export DANVAN_SOAK_PACE_MS="${DANVAN_SOAK_PACE_MS:-150}"
if [ -n "${2:-}" ]; then export DANVAN_SOAK_SEED="$2"; fi
exec cargo test --release -p danvan-tests --test e2e soak -- --nocapture
