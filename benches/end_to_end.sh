#!/usr/bin/env bash
# End-to-end throughput and peak memory of whole pipelines on generated
# captures (cached in target/bench-data/), with 1 and 2 workers.
#   benches/end_to_end.sh [PACKETS...]      default: 1000000 5000000
# Prints a table: pipeline, packets, workers, seconds, packets/s, peak MB.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 5000000)
cargo build --release --quiet
bin=./target/release/netanom
data=target/bench-data
mkdir -p "$data"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-12s %10s %7s %8s %12s %8s\n' pipeline packets workers seconds packets/s peak_MB
for n in "${sizes[@]}"; do
  cap="$data/gen-$n.pcap"
  if [ ! -f "$cap" ]; then
    python3 ../shared/tools/gen_pcap.py -n "$n" -s 1 --no-labels -q -o "$cap"
  fi
  for pipeline in quickstart; do
    for w in 1 2; do
      best=""
      for _ in 1 2 3; do
        log=$("$bin" run "pipelines/$pipeline.yaml" -w "$w" \
          --set capture.path="$cap" \
          --set flows_out.path="$out/flows.csv" --set hosts_out.path="$out/hosts.csv" \
          2>&1 >/dev/null | tail -1)
        secs=$(sed -E 's/done in ([0-9.]+) s.*/\1/' <<<"$log")
        mb=$(sed -E 's/.*peak memory ([0-9]+) MB.*/\1/' <<<"$log")
        if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; best_mb=$mb; fi
      done
      pps=$(awk "BEGIN{printf \"%.0f\", $n / $best}")
      printf '%-12s %10s %7s %8s %12s %8s\n' "$pipeline" "$n" "$w" "$best" "$pps" "$best_mb"
    done
  done
done
