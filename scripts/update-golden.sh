#!/usr/bin/env bash
# Regenerates the golden outputs of pipelines/quickstart.yaml after an
# intended change. Review `git diff tests/data/golden` before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
out=tests/data/golden/quickstart
mkdir -p "$out"
./target/release/netanom run pipelines/quickstart.yaml -q \
  --set flows_out.path="$out/flows_out-flows.csv" \
  --set hosts_out.path="$out/hosts_out-hosts.csv" > /dev/null
echo "updated $out"
