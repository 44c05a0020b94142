#!/usr/bin/env bash
# Runs each cargo-fuzz target for SECONDS (default 60), one at a time, and
# prints executions per second, corpus size and crashes for each.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Corpora live in fuzz/corpus/TARGET (seeded by scripts/fuzz-seeds.sh),
# crashes in fuzz/artifacts/TARGET; neither is committed. A crash input,
# once fixed, goes to tests/data/fuzz-regressions/TARGET/ where the default
# test suite replays it (tests/fuzz_regressions.rs).
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    targets=(capture dissect csv config duration_set)
fi
[[ -d fuzz/corpus ]] || scripts/fuzz-seeds.sh
mkdir -p fuzz/logs
# Build once, then run the binaries: editing the crates while a long run
# goes on does not rebuild under it.
# FUZZ_NO_BUILD=1 runs the binaries as last built.
if [[ -z ${FUZZ_NO_BUILD:-} ]]; then
    (cd fuzz && cargo +nightly fuzz build) || exit 1
fi
bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
printf '%-13s %8s %10s %12s %8s\n' target seconds execs/s corpus crashes
for t in "${targets[@]}"; do
    log=fuzz/logs/$t.log
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    marker=$(mktemp)
    # Text parsers walk every byte: small inputs keep them at thousands
    # of runs per second (over-long lines are tested in tests/limits.rs).
    case $t in
        capture) max_len=65536 ;;
        *) max_len=4096 ;;
    esac
    "$bin/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
        -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 >"$log" 2>&1
    execs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    corp=$(find "fuzz/corpus/$t" -type f | wc -l)
    size=$(du -sh "fuzz/corpus/$t" | cut -f1)
    crashes=$(( $(find "fuzz/artifacts/$t" -type f | wc -l) - before ))
    printf '%-13s %8s %10s %12s %8s\n' "$t" "$seconds" "${execs:-?}" "$corp ($size)" "$crashes"
    if [[ $crashes -gt 0 ]]; then
        find "fuzz/artifacts/$t" -type f -newer "$marker" | sed 's/^/    /'
        grep -m1 -A3 'panicked at\|ERROR: libFuzzer' "$log" | sed 's/^/    /'
    fi
    rm -f "$marker"
done
