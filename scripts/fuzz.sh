#!/usr/bin/env bash
# Runs danvan's fuzz targets with cargo-fuzz (libFuzzer, coverage-guided).
#
#   scripts/fuzz.sh TARGET SECONDS   one target for SECONDS
#   scripts/fuzz.sh all SECONDS      every target, SECONDS each
#   scripts/fuzz.sh min TARGET|all   minimize the saved corpus (cargo fuzz cmin)
#   scripts/fuzz.sh list             the target names
#
# The corpus lives in fuzz/corpus/<target>/ (seeded on first use from
# danvan_testkit::fuzz_targets::seeds), crashes land in
# fuzz/artifacts/<target>/. The regular test suite replays both without
# the fuzzer (tests/e2e/fuzz_corpus.rs).
#
# Only the stable toolchain exists here: cargo-fuzz passes nightly `-Z`
# flags to rustc (sanitizer coverage), which stable accepts with
# RUSTC_BOOTSTRAP=1. That is for this script only, never for a build we ship.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(wire_message bundle untrusted_text change_verify store_apply roster_decode invite_decode)
export RUSTC_BOOTSTRAP=1
# store_apply makes a SQLite store per input; on tmpfs its fsyncs cost nothing.
if [[ -z "${TMPDIR:-}" && -d /dev/shm && -w /dev/shm ]]; then
    export TMPDIR=/dev/shm
fi

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

need_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "== installing cargo-fuzz" >&2
        cargo install cargo-fuzz --locked
    fi
}

targets_of() {
    if [[ "$1" == all ]]; then
        echo "${TARGETS[@]}"
        return
    fi
    for t in "${TARGETS[@]}"; do
        if [[ "$t" == "$1" ]]; then
            echo "$t"
            return
        fi
    done
    echo "unknown target '$1'; targets: ${TARGETS[*]}" >&2
    exit 2
}

seed_if_empty() {
    local target=$1
    if [[ -z "$(ls -A "fuzz/corpus/$target" 2>/dev/null)" ]]; then
        cargo run -q -p danvan-testkit --example fuzz_seeds -- fuzz/corpus
    fi
}

run() {
    local target=$1 seconds=$2
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    seed_if_empty "$target"
    echo "== fuzzing $target for ${seconds}s"
    # Bounds: one input may take 10 s and the process 2 GiB (a larger single
    # allocation is reported as a crash: "no unbounded allocation"); inputs
    # stay below 64 KiB so that a small corpus covers the formats.
    cargo fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -max_len=65536 -print_final_stats=1
}

minimize() {
    local target=$1
    echo "== minimizing the corpus of $target"
    cargo fuzz cmin --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
        -timeout=10 -rss_limit_mb=2048
}

[[ $# -ge 1 ]] || usage
case "$1" in
    list)
        printf '%s\n' "${TARGETS[@]}"
        ;;
    min)
        [[ $# -eq 2 ]] || usage
        need_cargo_fuzz
        for t in $(targets_of "$2"); do minimize "$t"; done
        ;;
    *)
        [[ $# -eq 2 && "$2" =~ ^[0-9]+$ ]] || usage
        need_cargo_fuzz
        for t in $(targets_of "$1"); do run "$t" "$2"; done
        ;;
esac
