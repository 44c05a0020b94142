#!/usr/bin/env bash
# capture_dir benchmarks (issue 6).
#
#   benches/follow.sh overhead [PACKETS] [FILES]
#       The same rotated files (a generated capture cut into FILES parts,
#       cached in target/bench-data/) read by a batch run (follow: false)
#       and by a follow run (follow: true; timed until its metrics count
#       every packet). Prints both times and the follow overhead.
#       Default: 5000000 packets, 20 files.
#
#   benches/follow.sh live [SECONDS] [RATE]
#       tcpdump -i lo -G 5 writes a rotating capture of RATE UDP packets/s
#       sent on loopback (127.0.0.1 only) while netanom follows it. Every
#       second: netanom's lag (now - the event time its windows are complete
#       up to, from netanom_lag_seconds) and its RSS. Prints the lag's max
#       and mean and the RSS at start and end. Default: 60 s at 50000/s.
#       Needs root (tcpdump on lo) and python3. scripts/soak.sh runs it for
#       30 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-overhead}
shift || true
cargo build --release --quiet
bin=$PWD/target/release/netanom
data=$PWD/target/bench-data
mkdir -p "$data"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

pipeline() { # DIR OUT EXTRA
  cat >"$work/p.yaml" <<EOF
sources:
  capture:
    type: capture_dir
    path: $1
$3
operators:
  flows: {type: window, inputs: [capture], size: 10ms, group_by: [src, dst, protocol]}
  hosts: {type: window, inputs: [capture], size: 1s, group_by: [src]}
sinks:
  flows_out: {type: file, inputs: [flows], path: $2/flows.csv}
  hosts_out: {type: file, inputs: [hosts], path: $2/hosts.csv}
  metrics: {type: prometheus, inputs: [capture], listen: "127.0.0.1:0"}
EOF
  echo "$work/p.yaml"
}

metric() { # URL NAME
  curl -s "$1" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%.3f\n", s}'
}

wait_url() { # LOG
  for _ in $(seq 200); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*/metrics' "$1" | head -1 || true)
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.05
  done
  echo "no metrics endpoint in $1" >&2; exit 1
}

case $mode in
overhead)
  n=${1:-5000000}; parts=${2:-20}
  cap="$data/gen-$n.pcap"
  [ -f "$cap" ] || python3 ../shared/tools/gen_pcap.py -n "$n" -s 1 --no-labels -q -o "$cap"
  dir="$data/rotated-$n-$parts"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir.tmp"
    python3 - "$cap" "$parts" "$dir.tmp" <<'EOF'
import struct, sys
src, parts, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(src, 'rb') as f:
    header = f.read(24)
    size = f.seek(0, 2); f.seek(24)
    per = (size - 24) // parts + 1
    i, outf, written = 0, None, 0
    while True:
        rec = f.read(16)
        if len(rec) < 16: break
        incl = struct.unpack('<I', rec[8:12])[0]
        if outf is None or written >= per:
            if outf: outf.close()
            outf = open(f"{out}/cap.pcap{i if i else ''}", 'wb'); outf.write(header); written = 0; i += 1
        outf.write(rec + f.read(incl)); written += 16 + incl
    outf.close()
EOF
    mv "$dir.tmp" "$dir"
  fi
  echo "capture: $n packets in $(ls "$dir" | wc -l) files ($dir)"
  best_batch=""; best_follow=""; cpu_batch=""; cpu_follow=""
  hz=$(getconf CLK_TCK)
  for _ in 1 2 3; do
    p=$(pipeline "$dir" "$work/b" "    follow: false")
    start=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/time" "$bin" run "$p" -q >/dev/null 2>"$work/batch.log"
    t=$(awk "BEGIN{print $(date +%s.%N) - $start}")
    c=$(awk '{print $1 + $2}' "$work/time")
    if [ -z "$best_batch" ] || awk "BEGIN{exit !($t < $best_batch)}"; then best_batch=$t; fi
    if [ -z "$cpu_batch" ] || awk "BEGIN{exit !($c < $cpu_batch)}"; then cpu_batch=$c; fi
    p=$(pipeline "$dir" "$work/f" "    follow: true")
    start=$(date +%s.%N)
    "$bin" run "$p" -q >/dev/null 2>"$work/follow.log" &
    pid=$!; pids+=("$pid")
    url=$(wait_url "$work/follow.log")
    while :; do
      got=$(metric "$url" netanom_packets_total)
      if awk "BEGIN{exit !($got >= $n)}"; then break; fi
      sleep 0.02
    done
    t=$(awk "BEGIN{print $(date +%s.%N) - $start}")
    c=$(awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$pid/stat")
    kill -INT "$pid"; wait "$pid" || true
    if [ -z "$best_follow" ] || awk "BEGIN{exit !($t < $best_follow)}"; then best_follow=$t; fi
    if [ -z "$cpu_follow" ] || awk "BEGIN{exit !($c < $cpu_follow)}"; then cpu_follow=$c; fi
  done
  printf 'batch  (follow: false): %.3f s  %.2f M packets/s\n' "$best_batch" "$(awk "BEGIN{print $n / $best_batch / 1e6}")"
  printf 'follow (follow: true):  %.3f s  %.2f M packets/s\n' "$best_follow" "$(awk "BEGIN{print $n / $best_follow / 1e6}")"
  printf 'follow overhead: %+.1f%% wall (target: under 10%%); CPU seconds batch %.2f, follow %.2f (%+.1f%%)\n' \
    "$(awk "BEGIN{print ($best_follow / $best_batch - 1) * 100}")" "$cpu_batch" "$cpu_follow" \
    "$(awk "BEGIN{print ($cpu_follow / $cpu_batch - 1) * 100}")"
  ;;
live)
  secs=${1:-60}; rate=${2:-50000}
  command -v tcpdump >/dev/null || { echo "needs tcpdump" >&2; exit 1; }
  mkdir -p "$work/caps" "$work/out"
  port=47700
  (cd "$work/caps" && exec tcpdump -i lo -n -U -s 128 -Z root -G 5 -w 'cap-%Y%m%d-%H%M%S.pcap' "udp port $port" 2>"$work/tcpdump.log") &
  pids+=($!)
  sleep 1
  p=$(pipeline "$work/caps" "$work/out" "    out_of_order: 100ms
    idle_advance: 2s")
  "$bin" run "$p" -q >/dev/null 2>"$work/netanom.log" &
  npid=$!; pids+=("$npid")
  url=$(wait_url "$work/netanom.log")
  python3 - "$port" "$rate" "$secs" <<'EOF' &
import socket, sys, time
port, rate, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"netanom-live-bench" * 3
start = time.time(); sent = 0
while time.time() - start < secs:
    due = int((time.time() - start) * rate)
    while sent < due:
        s.sendto(payload, ("127.0.0.1", port)); sent += 1
    time.sleep(0.001)
print(f"sent {sent} packets in {time.time() - start:.1f} s", file=sys.stderr)
EOF
  spid=$!; pids+=("$spid")
  sleep 3
  rss_start=$(awk '/VmRSS/{print $2}' "/proc/$npid/status")
  lags=()
  for _ in $(seq $((secs - 4))); do
    sleep 1
    lags+=("$(metric "$url" netanom_lag_seconds)")
  done
  rss_end=$(awk '/VmRSS/{print $2}' "/proc/$npid/status")
  wait "$spid" || true
  packets=$(metric "$url" netanom_packets_total)
  printf '%s\n' "${lags[@]}" | awk -v rate="$rate" -v secs="$secs" '
    {s += $1; if ($1 > m) m = $1; n++}
    END {printf "live tcpdump -G 5 at %d packets/s for %d s: lag max %.2f s, mean %.2f s (%d samples; target under 2 s)\n", rate, secs, m, s / n, n}'
  echo "packets read: $packets"
  echo "netanom RSS: start $((rss_start / 1024)) MB, end $((rss_end / 1024)) MB"
  ;;
*)
  echo "usage: benches/follow.sh overhead [PACKETS] [FILES] | live [SECONDS] [RATE]" >&2; exit 2;;
esac
