#!/usr/bin/env bash
# Regenerates the pipeline reference in README.md from `netanom plugins
# --markdown` (the docs live on the plugins' config structs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/netanom"
ref=$(mktemp)
trap 'rm -f "$ref"' EXIT
"$bin" plugins --markdown > "$ref"
python3 - "$ref" <<'PY'
import sys
ref = open(sys.argv[1]).read()
text = open("README.md").read()
start, end = "<!-- plugins:start -->\n", "<!-- plugins:end -->"
i, j = text.index(start) + len(start), text.index(end)
open("README.md", "w").write(text[:i] + ref + text[j:])
PY
echo "README.md reference updated"
