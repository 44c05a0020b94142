#!/usr/bin/env bash
# Does a flood of scrapes slow the dataflow? Runs a pipeline with a
# prometheus sink over a generated capture (repeated COPIES times), first
# alone, then while CLIENTS concurrent clients (loopback, one new connection
# per scrape, no pause) fetch /metrics for LOAD_SECS seconds. Best of 3 each.
#   benches/prometheus_load.sh [PACKETS] [COPIES]    default: 500000 8
# Env: WORKERS (default 1: on 2 cores the other core runs the clients),
#      CLIENTS (200), LOAD_SECS (5). Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500000}
copies=${2:-8}
workers=${WORKERS:-1}
clients=${CLIENTS:-200}
load_secs=${LOAD_SECS:-5}
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/netanom"
data="${CARGO_TARGET_DIR:-target}/bench-data"
mkdir -p "$data"
cap="$data/gen-$n.pcap"
[ -f "$cap" ] || python3 ../shared/tools/gen_pcap.py -n "$n" -s 1 --no-labels -q -o "$cap"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/caps"
for i in $(seq 1 "$copies"); do ln -s "$(realpath "$cap")" "$work/caps/part-$i.pcap"; done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/pipeline.yaml" <<YAML
sources:
  capture: {type: pcap, path: $work/caps}
operators:
  flows: {type: window, inputs: [capture], size: 10ms, group_by: [src, dst, protocol]}
sinks:
  metrics: {type: prometheus, inputs: [capture, flows], listen: "127.0.0.1:$port"}
YAML
cat > "$work/load.py" <<'PY'
import socket, sys, threading, time
port, clients, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
ok = [0] * clients; bad = [0] * clients
def scrape():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    return data.startswith(b"HTTP/1.1 200")
def client(i, end):
    while time.time() < end:
        try:
            if scrape(): ok[i] += 1
            else: bad[i] += 1
        except OSError:
            bad[i] += 1
            time.sleep(0.01)
# Wait for the endpoint.
for _ in range(500):
    try: scrape(); break
    except OSError: time.sleep(0.01)
end = time.time() + secs
ts = [threading.Thread(target=client, args=(i, end)) for i in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
print(f"scrapes: {sum(ok)} ok, {sum(bad)} failed ({sum(ok)/secs:.0f}/s)", file=sys.stderr)
PY
run() {
  "$bin" run "$work/pipeline.yaml" -w "$workers" 2>&1 >/dev/null | grep '^done in' | sed -E 's/done in ([0-9.]+) s.*/\1/'
}
best() { sort -n | head -1; }
alone=$(for _ in 1 2 3; do run; done | best)
loaded=$(for _ in 1 2 3; do
  python3 "$work/load.py" "$port" "$clients" "$load_secs" 2>>"$work/load.log" &
  load=$!
  run
  wait "$load" || true
done | best)
packets=$((n * copies))
echo "packets: $packets, workers: $workers, clients: $clients for ${load_secs}s"
tail -3 "$work/load.log"
echo "alone: ${alone} s; under load: ${loaded} s"
awk "BEGIN{printf \"slowdown: %.1f%%\n\", ($loaded - $alone) / $alone * 100}"
