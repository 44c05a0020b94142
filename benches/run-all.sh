#!/usr/bin/env bash
# Every benchmark in one run, printed as one Markdown table:
#  1. per operator: `cargo bench --bench operators` (criterion,
#     benches/operators.rs: decode, CSV parse, anonymize, window, degree,
#     kmeans, prometheus update on 200k generated packets in memory; one row
#     per benchmark with criterion's middle throughput estimate), then end
#     to end on ng-1000000: CSV parse (csv source -> one 1 h window),
#     prometheus (pcap source -> prometheus sink counting packets), and
#     `netanom generate` itself;
#  2. end to end on generated captures (`netanom generate`, cached in
#     target/bench-data/ng-N.pcap): the quickstart, notebook and
#     scan-detect-generated pipelines with 1 and 2 workers, packets/s and
#     peak RSS (/usr/bin/time -v);
#  3. side by side on the same capture: `tshark -r F -q -z conv,ip`,
#     `tcpdump -nn -r F > /dev/null` (when installed), and the floor loop
#     (benches/floor.rs on F: read only, and read + decode), with
#     netanom's ratio to each, and the issue's targets met or not.
#
#   benches/run-all.sh                    # SIZES="5000000 20000000"
#   SIZES=1000000 OPERATORS=0 benches/run-all.sh   # a quick run
#   SIZES= COMPARE=0 benches/run-all.sh            # part 1 only
# Env: SIZES (packets per capture; empty: no part 2 or 3), WORKERS ("1 2"), PIPELINES
#      ("quickstart notebook scan-detect-generated"), REPS (best of, 1),
#      OPERATORS (1: run part 1), COMPARE (1: run part 3), OUT (table file,
#      default target/bench-results.md).
# Captures take about 640 bytes per packet on disk (20M: 12.8 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES-"5000000 20000000"}
WORKERS=${WORKERS:-"1 2"}
PIPELINES=${PIPELINES:-"quickstart notebook scan-detect-generated"}
REPS=${REPS:-1}
OPERATORS=${OPERATORS:-1}
COMPARE=${COMPARE:-1}
target="${CARGO_TARGET_DIR:-target}"
OUT=${OUT:-$target/bench-results.md}
bin="$target/release/netanom"
data="$target/bench-data"
mkdir -p "$data"
work=$(mktemp -d "$target/bench-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
rows="$work/rows"
: > "$rows"
row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" >> "$rows"; echo "  $1 | $2 | $3 | $4" >&2; }
have() { command -v "$1" > /dev/null 2>&1; }
[ -x /usr/bin/time ] || { echo "run-all.sh: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }

echo "building (release)..." >&2
cargo build --release --quiet
if [ "$OPERATORS" = 1 ]; then cargo bench --no-run --quiet --bench operators 2>/dev/null; fi
if [ "$COMPARE" = 1 ]; then cargo bench --no-run --quiet --bench floor 2>/dev/null; fi

# Seconds of a netanom run, from its summary ("done in S s").
secs_of() { sed -nE 's/^done in ([0-9.]+) s.*/\1/p' "$1" | tail -1; }
# Peak RSS in MB from /usr/bin/time -v.
rss_of() { awk '/Maximum resident set size/ {printf "%.0f", $NF / 1024}' "$1"; }
# Wall seconds from /usr/bin/time -v ("h:mm:ss" or "m:ss.ss").
wall_of() {
  awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f", s}' "$1"
}
# criterion's results as "id<TAB>middle throughput" lines. It prints
# "ID  time: [lo mid hi]", the id alone on the line before when it is long,
# then "thrpt: [lo mid hi]" (each figure a number and a unit); a "change:"
# block against the previous run repeats time and thrpt in percent.
criterion_rows() {
  awk '
    { line = $0; gsub(/^ +| +$/, "", line) }
    line ~ /(^| )time: +\[/ {
      pre = line; sub(/ *time:.*/, "", pre)
      id = (pre != "") ? pre : (prev == "change:" ? "" : prev)
    }
    line ~ /^thrpt: +\[/ && line ~ /elem\/s/ && id != "" {
      v = line; sub(/^thrpt: +\[/, "", v); split(v, f, " ")
      print id "\t" f[3] " " f[4]; id = ""
    }
    line != "" { prev = line }
  ' "$1"
}
# What a group of benches/operators.rs counts as an element.
elements_of() {
  case "$1" in
    csv_parse) echo rows ;; anonymize) echo addresses ;; kmeans) echo records ;; *) echo packets ;;
  esac
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "n/a" }'; }
human() { awk -v r="$1" 'BEGIN { if (r == "n/a") print r; else if (r >= 1e6) printf "%.2f M", r / 1e6; else printf "%.0f k", r / 1e3 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
capture() {
  local n=$1 cap="$data/ng-$1.pcap"
  if [ ! -f "$cap" ]; then
    echo "generating $cap..." >&2
    "$bin" generate -n "$n" --seed 1 -q -o "$cap.tmp" && mv "$cap.tmp" "$cap"
  fi
  echo "$cap"
}
# Reads FILE once so that the run after it finds it in the page cache: a
# tool run before it (tshark holds 10 GB on 20M packets) may have evicted
# it, and the run would then measure the disk (the 1.34x "scaling" of an
# earlier 20M run).
warm() { cat "$1" > /dev/null; }
# Drops every other file of $data from the page cache (GNU dd's
# `iflag=nocache count=0`): about 17 GB of cache here do not keep a 12 GB
# 20M capture resident beside the 5M ones, and a run that reads part of
# the file from disk measures the disk (session 5: 1.47x "scaling" on
# 20M in the suite, 1.76-1.91x with the file resident).
evict_others() {
  local keep=$1 f
  for f in "$data"/*; do
    [ "$f" = "$keep" ] || dd if="$f" iflag=nocache count=0 status=none 2> /dev/null || true
  done
}
# The share of FILE in the page cache, e.g. "100%" ("n/a" without fincore).
resident() {
  fincore -b -n -o RES,SIZE "$1" 2> /dev/null | awk '$2 > 0 { printf "%.0f%%", 100 * $1 / $2; ok = 1 } END { if (!ok) print "n/a" }'
}
# Runs `netanom run PIPELINE -w W` with CAPTURE, every file/graph sink sent
# into $work/out; best of REPS. Prints "seconds rss_mb".
run_pipeline() {
  local pipeline=$1 w=$2 cap=$3 source=${4:-capture}
  local sets=(--set "$source.path=$cap")
  local id
  for id in $(sed -nE 's/^  ([A-Za-z0-9_-]+): *\{ *type: *(file|graph)\b.*/\1/p' "$pipeline"); do
    sets+=(--set "$id.path=$work/out/$id")
  done
  local best="" best_rss="" best_res="" res i
  for i in $(seq 1 "$REPS"); do
    rm -rf "$work/out"
    warm "$cap"
    res=$(resident "$cap")
    /usr/bin/time -v "$bin" run "$pipeline" -w "$w" "${sets[@]}" > /dev/null 2> "$work/log" || {
      echo "run-all.sh: $pipeline -w $w failed:" >&2; tail -5 "$work/log" >&2; echo "n/a n/a n/a"; return
    }
    local s; s=$(secs_of "$work/log")
    if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$s; best_rss=$(rss_of "$work/log"); best_res=$res; fi
  done
  rm -rf "$work/out"
  echo "$best $best_rss $best_res"
}

if [ "$OPERATORS" = 1 ]; then
  echo "== per operator ==" >&2
  if cargo bench --quiet --bench operators 2>/dev/null > "$work/operators"; then
    criterion_rows "$work/operators" | while IFS=$'\t' read -r id figure; do
      group=${id%%/*}
      row "operator: $group" "$id" "$figure" "criterion, mean of 10 samples; elem = $(elements_of "$group"); 200k generated packets in memory"
    done
  else
    row "operator" "cargo bench --bench operators failed" "" ""
  fi
  cap=$(capture 1000000)
  csv="$data/ng-1000000.csv"
  [ -f "$csv" ] || "$bin" generate -n 1000000 --seed 1 -q -o "$work/tmp.pcap" --csv "$csv" --csv-time epoch
  cat > "$work/csv.yaml" <<YAML
sources:
  export: {type: csv, path: $csv}
operators:
  by_protocol: {type: window, inputs: [export], size: 1h, group_by: [protocol]}
sinks:
  out: {type: file, inputs: [by_protocol], path: $work/out/csv.csv}
YAML
  read -r s _ < <(run_pipeline "$work/csv.yaml" 1 "$csv" export)
  row "operator: csv" "CSV parse: csv source -> one 1 h window, 1 worker" "$(human "$(rate 1000000 "$s")") rows/s" "ng-1000000.csv (Wireshark layout, $(du -m "$csv" | cut -f1) MB)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/prom.yaml" <<YAML
sources:
  capture: {type: pcap, path: $cap}
operators:
  flows: {type: window, inputs: [capture], size: 10ms, group_by: [src, dst, protocol]}
sinks:
  metrics: {type: prometheus, inputs: [capture, flows], listen: "127.0.0.1:$port"}
YAML
  read -r s _ < <(run_pipeline "$work/prom.yaml" 1 "$cap")
  row "operator: prometheus" "pcap -> 10 ms windows, prometheus sink on packets + windows, 1 worker (incl. read, decode, window)" "$(human "$(rate 1000000 "$s")") packets/s" "ng-1000000.pcap"
  for dest in /dev/null /dev/shm/netanom-bench-gen.pcap; do
    /usr/bin/time -v "$bin" generate -n 5000000 --seed 1 -q -o "$dest" 2> "$work/log" > /dev/null
    s=$(wall_of "$work/log")
    rm -f /dev/shm/netanom-bench-gen.pcap
    row "generate" "netanom generate -n 5000000 -o $dest (wall, incl. start)" "$(human "$(rate 5000000 "$s")") packets/s" "target: 5 M packets/s"
  done
fi

if [ -n "$SIZES" ]; then echo "== end to end ==" >&2; fi
for n in $SIZES; do
  cap=$(capture "$n")
  evict_others "$cap"
  declare -A pps=()
  for p in $PIPELINES; do
    for w in $WORKERS; do
      read -r s rss res < <(run_pipeline "pipelines/$p.yaml" "$w" "$cap")
      pps[$p.$w]=$(rate "$n" "$s")
      row "end to end: $p" "$n packets, $w worker(s): $s s, peak RSS $rss MB; $res of the capture in the page cache" "$(human "${pps[$p.$w]}") packets/s" "RSS target < 300 MB: $([ "$rss" != n/a ] && [ "$rss" -lt 300 ] && echo met || echo NOT met)"
    done
  done
  if [ "$COMPARE" = 1 ]; then
    q1=${pps[quickstart.1]:-n/a}
    q2=${pps[quickstart.2]:-n/a}
    if have tshark; then
      warm "$cap"
      /usr/bin/time -v tshark -n -r "$cap" -q -z conv,ip > /dev/null 2> "$work/log" || true
      t=$(rate "$n" "$(wall_of "$work/log")")
      r1=$(ratio "$q1" "$t"); r2=$(ratio "$q2" "$t")
      row "tshark -q -z conv,ip" "$n packets: $(wall_of "$work/log") s, peak RSS $(rss_of "$work/log") MB" "$(human "$t") packets/s" "quickstart/tshark: ${r1}x (1 worker), ${r2}x (2 workers); target >= 20x: $(awk -v r="$r2" 'BEGIN{print (r != "n/a" && r >= 20) ? "met" : "NOT met"}')"
    else
      row "tshark" "not installed" "" ""
    fi
    if have tcpdump; then
      warm "$cap"
      /usr/bin/time -v sh -c "tcpdump -nn -r '$cap' > /dev/null 2>&1" 2> "$work/log" || true
      t=$(rate "$n" "$(wall_of "$work/log")")
      row "tcpdump -nn -r F > /dev/null" "$n packets: $(wall_of "$work/log") s" "$(human "$t") packets/s" "quickstart/tcpdump: $(ratio "$q1" "$t")x (1 worker), $(ratio "$q2" "$t")x (2 workers)"
    else
      row "tcpdump" "not installed" "" ""
    fi
    warm "$cap"
    cargo bench --quiet --bench floor -- "$cap" 2>/dev/null > "$work/floor" || true
    read_only=$(grep -oE 'read only.* ([0-9.]+) M frames/s' "$work/floor" | grep -oE '[0-9.]+ M' | tr -d ' M')
    decode=$(grep -oE 'read \+ dissect.* ([0-9.]+) M frames/s' "$work/floor" | grep -oE '[0-9.]+ M' | tr -d ' M')
    fr=$(awk -v m="$read_only" 'BEGIN{ if (m == "") print "n/a"; else printf "%.0f", m * 1e6 }')
    fd=$(awk -v m="$decode" 'BEGIN{ if (m == "") print "n/a"; else printf "%.0f", m * 1e6 }')
    row "floor: read only" "$n packets, one thread, best of 5 passes" "$(human "$fr") packets/s" ""
    per_worker=$(ratio "$fd" "$q1")
    row "floor: read + decode" "$n packets, one thread, best of 5 passes" "$(human "$fd") packets/s" "floor/quickstart per worker (1 worker): ${per_worker}x; target <= 2.5x: $(awk -v r="$per_worker" 'BEGIN{print (r != "n/a" && r <= 2.5) ? "met" : "NOT met"}')"
    sc=$(ratio "$q2" "$q1")
    row "scaling: quickstart" "2 workers / 1 worker, $n packets" "${sc}x" "target >= 1.7x: $(awk -v r="$sc" 'BEGIN{print (r != "n/a" && r >= 1.7) ? "met" : "NOT met"}')"
  fi
  unset pps
done

{
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) RAM, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(rustc --version)"
  echo "Command: SIZES=\"$SIZES\" WORKERS=\"$WORKERS\" PIPELINES=\"$PIPELINES\" REPS=$REPS OPERATORS=$OPERATORS COMPARE=$COMPARE benches/run-all.sh"
  echo
  echo "| benchmark | case | figure | note |"
  echo "| --- | --- | ---: | --- |"
  cat "$rows"
} > "$OUT"
cat "$OUT"
