#!/usr/bin/env bash
# Record netanom's bundled sample capture, samples/quickstart.pcap.
#
# What it does (about 36 s of capture on the loopback interface only):
#   * normal traffic for the whole run:
#       - HTTP:  python3 -m http.server on 127.0.0.1:8080, curl every 50-150 ms
#       - DNS:   a tiny python3 UDP responder on 127.0.1.53:53 (real DNS wire
#                format, A records, NXDOMAIN for unknown names), queried from
#                127.0.0.1 every 100-200 ms by a python3 client
#       - TLS:   openssl s_server on 127.0.0.1:443 with a throwaway self-signed
#                cert; curl -k (TLS 1.2 and 1.3) / openssl s_client every 0.5-1 s
#       - ICMP:  a few pings to 127.0.0.1 and ::1
#   * three scans at known times, each from its own spoofed loopback source:
#       1. t~10 s  vertical SYN scan   127.0.66.1 -> 127.0.0.1 tcp/1-2000
#       2. t~18 s  UDP scan            127.0.66.2 -> 127.0.0.1 udp/1-200
#       3. t~26 s  horizontal SYN sweep 127.0.66.3 -> 127.0.0.10-250 tcp/80
#
# Outputs:
#   samples/quickstart.pcap          (pcap, not pcapng)
#   samples/quickstart.attacks.tsv   (attack times, epoch and capture-relative)
# Then run scripts/make-sample-oracles.sh to regenerate the tshark oracles.
#
# All traffic stays on 127.0.0.0/8 and ::1.  Nothing is resolved: nmap runs
# with -n, every client uses IP literals.  Needs root (tcpdump, raw sockets,
# port 443/53), plus tcpdump, tshark, nmap, openssl, curl, ping, python3.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="${OUT_DIR:-$REPO/samples}"
PCAP_OUT="$OUT_DIR/quickstart.pcap"
ATTACKS_OUT="$OUT_DIR/quickstart.attacks.tsv"

DURATION=36            # seconds of capture
T_SYN_SCAN=10          # capture-relative start times of the attacks
T_UDP_SCAN=18
T_SWEEP=26

HTTP_ADDR=127.0.0.1; HTTP_PORT=8080
DNS_ADDR=127.0.1.53; DNS_PORT=53
TLS_ADDR=127.0.0.1;  TLS_PORT=443
CLIENT_ADDR=127.0.0.1
SRC_SYN=127.0.66.1
SRC_UDP=127.0.66.2
SRC_SWEEP=127.0.66.3

for tool in tcpdump tshark reordercap nmap openssl curl ping python3 timeout ps awk ss; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
if [[ $EUID -ne 0 ]]; then
  echo "must run as root (tcpdump, nmap -sS/-sU, ports 53/443)" >&2
  exit 1
fi

WORK="$(mktemp -d /tmp/netanom-sample.XXXXXX)"
PIDS=()
SLEEP_PID=""

# Kill a process and all its descendants, by pid only.
kill_tree() {
  local pid=$1 sig=${2:-TERM} child
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
    kill_tree "$child" "$sig"
  done
  kill -s "$sig" "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  [[ -n $SLEEP_PID ]] && kill "$SLEEP_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do
    kill_tree "$pid" TERM
  done
  # Give them a moment, then make sure.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for pid in "${PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    ((alive)) || break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do
    kill_tree "$pid" KILL
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_us() { echo "${EPOCHREALTIME/./}"; }
# Sleep until a given epoch time in microseconds (bounded: never more than 60 s).
sleep_until_us() {
  local target=$1 delta
  delta=$(( target - $(now_us) ))
  (( delta > 0 )) || return 0
  (( delta < 60000000 )) || delta=60000000
  # Sleep in the background and wait for it, so a signal is handled at once.
  sleep "$(printf '%d.%06d' $((delta / 1000000)) $((delta % 1000000)))" &
  SLEEP_PID=$!
  wait "$SLEEP_PID" || true
  SLEEP_PID=
}
us_to_s() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }
rand_sleep_ms() {  # rand_sleep_ms MIN MAX
  local ms=$(( $1 + RANDOM % ($2 - $1 + 1) ))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
}

# Wait (bounded) until a TCP/UDP socket is listening.
wait_listen() {  # wait_listen tcp|udp ADDR PORT
  local proto=$1 addr=$2 port=$3 flag
  [[ $proto == tcp ]] && flag=-lnt || flag=-lnu
  for _ in $(seq 1 50); do
    if ss "$flag" 2>/dev/null | awk '{print $4}' | grep -qx "$addr:$port"; then
      return 0
    fi
    sleep 0.1
  done
  echo "server on $proto $addr:$port did not start" >&2
  return 1
}

# ---------------------------------------------------------------- content ---
mkdir -p "$WORK/www/api" "$WORK/www/static" "$WORK/www/docs" "$WORK/tls"
{
  echo '<!doctype html><html><head><title>netanom demo</title>'
  echo '<link rel="stylesheet" href="/static/site.css"></head><body>'
  echo '<h1>netanom demo site</h1><p>Loopback-only sample traffic.</p>'
  for i in $(seq 1 8); do echo "<p><a href=\"/docs/guide.html#s$i\">Section $i</a></p>"; done
  echo '</body></html>'
} >"$WORK/www/index.html"
echo '{"status":"ok","service":"netanom-demo","version":"0.1.0","uptime_s":12345}' \
  >"$WORK/www/api/status.json"
for i in $(seq 1 120); do
  echo "function f$i(a,b){return (a*$i+b)%97;} // filler line $i"
done >"$WORK/www/static/app.js"
for i in $(seq 1 40); do echo ".c$i{margin:${i}px;padding:$((i % 7))px}"; done \
  >"$WORK/www/static/site.css"
head -c 3072 /dev/urandom >"$WORK/www/static/logo.png"
{
  echo '<!doctype html><html><body><h1>Guide</h1>'
  for i in $(seq 1 250); do
    echo "<p id=\"s$i\">Paragraph $i of the netanom guide: windows, baselines and z-scores.</p>"
  done
  echo '</body></html>'
} >"$WORK/www/docs/guide.html"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
  -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" \
  -subj "/CN=netanom.test" \
  -addext "subjectAltName=DNS:netanom.test,IP:127.0.0.1" 2>"$WORK/tls/req.log"

# ------------------------------------------------------------ DNS scripts ---
cat >"$WORK/dns_server.py" <<'PY'
"""Tiny authoritative-ish DNS responder (UDP, A records only), bounded in time."""
import socket, struct, sys, time

addr, port, lifetime = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
ZONE = {
    "netanom.test": "127.0.0.1",
    "www.netanom.test": "127.0.0.1",
    "api.netanom.test": "127.0.0.1",
    "cdn.netanom.test": "127.0.0.1",
    "mail.netanom.test": "127.0.2.25",
    "db.internal.test": "127.0.3.10",
    "cache.internal.test": "127.0.3.11",
    "metrics.internal.test": "127.0.3.12",
}
deadline = time.time() + lifetime
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.settimeout(0.5)
served = 0
while time.time() < deadline and served < 100000:
    try:
        data, peer = s.recvfrom(1500)
    except socket.timeout:
        continue
    if len(data) < 17:
        continue
    qid, flags, qd, _an, _ns, _ar = struct.unpack("!6H", data[:12])
    if flags & 0x8000 or qd != 1:
        continue
    labels, i = [], 12
    try:
        while data[i] != 0:
            n = data[i]
            if n & 0xC0:
                raise ValueError("compression in question")
            labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qend = i + 5
        qtype, qclass = struct.unpack("!HH", data[i + 1:qend])
    except (IndexError, ValueError, struct.error):
        continue
    name = ".".join(labels).lower()
    answers = b""
    if name in ZONE:
        rcode, ancount = 0, 0
        if qtype == 1 and qclass == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton(ZONE[name])
            ancount = 1
    else:
        rcode, ancount = 3, 0
    rflags = 0x8000 | 0x0400 | (flags & 0x7900) | 0x0080 | rcode  # QR AA (opcode,RD copied) RA
    resp = struct.pack("!6H", qid, rflags, 1, ancount, 0, 0) + data[12:qend] + answers
    s.sendto(resp, peer)
    served += 1
PY

cat >"$WORK/dns_client.py" <<'PY'
"""DNS stub client: one query every 100-200 ms, bounded in time and count."""
import random, socket, struct, sys, time

server, port, src, lifetime = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
NAMES = ["www.netanom.test"] * 6 + ["api.netanom.test"] * 4 + ["netanom.test"] * 2 + [
    "cdn.netanom.test", "cdn.netanom.test", "mail.netanom.test", "db.internal.test",
    "cache.internal.test", "metrics.internal.test", "nosuch.netanom.test", "typo.netnaom.test",
]
rng = random.Random()
deadline = time.time() + lifetime
max_queries = int(lifetime / 0.1) + 10
for _ in range(max_queries):
    if time.time() >= deadline:
        break
    name = rng.choice(NAMES)
    qtype = 28 if rng.random() < 0.15 else 1  # some AAAA queries
    qid = rng.randrange(65536)
    q = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    q += struct.pack("!HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.bind((src, 0))
        c.settimeout(0.5)
        c.sendto(q, (server, port))
        try:
            c.recvfrom(1500)
        except socket.timeout:
            pass
    time.sleep(rng.uniform(0.1, 0.2))
PY

# ---------------------------------------------------------------- servers ---
SERVER_LIFETIME=$((DURATION + 60))

timeout "$SERVER_LIFETIME" python3 -m http.server "$HTTP_PORT" --bind "$HTTP_ADDR" \
  --directory "$WORK/www" >"$WORK/http.log" 2>&1 &
PIDS+=($!)

timeout "$SERVER_LIFETIME" python3 "$WORK/dns_server.py" "$DNS_ADDR" "$DNS_PORT" \
  "$SERVER_LIFETIME" >"$WORK/dns.log" 2>&1 &
PIDS+=($!)

timeout "$SERVER_LIFETIME" openssl s_server -accept "$TLS_ADDR:$TLS_PORT" \
  -cert "$WORK/tls/cert.pem" -key "$WORK/tls/key.pem" -www -quiet \
  </dev/null >"$WORK/tls.log" 2>&1 &
PIDS+=($!)

wait_listen tcp "$HTTP_ADDR" "$HTTP_PORT"
wait_listen udp "$DNS_ADDR" "$DNS_PORT"
wait_listen tcp "$TLS_ADDR" "$TLS_PORT"

# ---------------------------------------------------------------- capture ---
mkdir -p "$OUT_DIR"
PCAP_TMP="$WORK/quickstart.pcap"
# -Z root: keep root so it can write in $WORK; -U: flush per packet.
timeout -s INT $((DURATION + 30)) tcpdump -i lo -n -U -Z root -w "$PCAP_TMP" \
  >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
PIDS+=("$TCPDUMP_PID")
for _ in $(seq 1 50); do
  grep -q "listening on" "$WORK/tcpdump.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening on" "$WORK/tcpdump.log" || { echo "tcpdump did not start" >&2; cat "$WORK/tcpdump.log" >&2; exit 1; }
sleep 0.3

T0_US=$(now_us)
END_US=$(( T0_US + DURATION * 1000000 ))
CLIENT_END_US=$(( END_US - 1000000 ))   # clients stop 1 s before the capture does

before_end() { (( $(now_us) < CLIENT_END_US )); }

# ---------------------------------------------------------------- clients ---
http_loop() {
  local paths=(/ / / /index.html /api/status.json /api/status.json /api/status.json
               /static/app.js /static/site.css /static/logo.png /static/logo.png
               /docs/guide.html /favicon.ico /api/v2/users /.env
               '/search?q="netanom"&lang=en')   # quotes: exercise CSV quoting
  local i p q
  for i in $(seq 1 1000); do
    before_end || break
    p=${paths[RANDOM % ${#paths[@]}]}
    if (( RANDOM % 8 == 0 )); then
      # page load: document plus two sub-resources
      q=( "http://$HTTP_ADDR:$HTTP_PORT/" "http://$HTTP_ADDR:$HTTP_PORT/static/site.css"
          "http://$HTTP_ADDR:$HTTP_PORT/static/app.js" )
    else
      q=( "http://$HTTP_ADDR:$HTTP_PORT$p" )
    fi
    curl -s -o /dev/null --noproxy '*' --max-time 2 -A "netanom-sample/1.0" "${q[@]}" || true
    rand_sleep_ms 50 150
  done
}

tls_loop() {
  local i
  for i in $(seq 1 200); do
    before_end || break
    case $(( RANDOM % 3 )) in
      0) curl -sk -o /dev/null --noproxy '*' --max-time 3 --tlsv1.2 --tls-max 1.2 \
           "https://$TLS_ADDR:$TLS_PORT/" || true ;;
      1) curl -sk -o /dev/null --noproxy '*' --max-time 3 --tlsv1.3 \
           "https://$TLS_ADDR:$TLS_PORT/" || true ;;
      2) timeout 3 openssl s_client -connect "$TLS_ADDR:$TLS_PORT" -servername netanom.test \
           -tls1_2 </dev/null >/dev/null 2>&1 || true ;;
    esac
    rand_sleep_ms 500 1000
  done
}

http_loop >"$WORK/http_client.log" 2>&1 &
PIDS+=($!)
timeout $((DURATION + 5)) python3 "$WORK/dns_client.py" "$DNS_ADDR" "$DNS_PORT" "$CLIENT_ADDR" \
  "$(( DURATION - 1 ))" >"$WORK/dns_client.log" 2>&1 &
PIDS+=($!)
tls_loop >"$WORK/tls_client.log" 2>&1 &
PIDS+=($!)
timeout $((DURATION + 5)) ping -n -q -c 12 -i 3 "$CLIENT_ADDR" >/dev/null 2>&1 &
PIDS+=($!)
( sleep 1.5; timeout $((DURATION + 5)) ping -6 -n -q -c 6 -i 5 ::1 ) >/dev/null 2>&1 &
PIDS+=($!)

# ---------------------------------------------------------------- attacks ---
ATTACKS_TMP="$WORK/attacks.tsv"
: >"$ATTACKS_TMP"
run_attack() {  # run_attack NAME SRC DST AT_SECONDS nmap-args...
  local name=$1 src=$2 dst=$3 at=$4; shift 4
  sleep_until_us $(( T0_US + at * 1000000 ))
  local start end
  start=$(now_us)
  timeout 60 nmap "$@" >>"$WORK/nmap.log" 2>&1 || echo "nmap ($name) exited with $?" >&2
  end=$(now_us)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$src" "$dst" "$(us_to_s "$start")" \
    "$(us_to_s "$end")" "nmap $*" >>"$ATTACKS_TMP"
}

run_attack syn_scan_vertical "$SRC_SYN" 127.0.0.1 "$T_SYN_SCAN" \
  -n -Pn -sS -S "$SRC_SYN" -e lo -p 1-2000 -T4 127.0.0.1
run_attack udp_scan "$SRC_UDP" 127.0.0.1 "$T_UDP_SCAN" \
  -n -Pn -sU -S "$SRC_UDP" -e lo -p 1-200 --max-retries 1 -T5 127.0.0.1
run_attack syn_sweep_horizontal "$SRC_SWEEP" 127.0.0.10-250 "$T_SWEEP" \
  -n -Pn -sS -S "$SRC_SWEEP" -e lo -p 80 -T4 127.0.0.10-250

# ------------------------------------------------------------------ finish ---
sleep_until_us "$END_US"
# Clients are deadline-bound; wait for them briefly (bounded), then stop capture.
for pid in "${PIDS[@]:4}"; do
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
sleep 0.5
kill -INT "$TCPDUMP_PID" 2>/dev/null || true
for _ in $(seq 1 50); do kill -0 "$TCPDUMP_PID" 2>/dev/null || break; sleep 0.1; done
cat "$WORK/tcpdump.log" >&2
if kill -0 "$TCPDUMP_PID" 2>/dev/null; then echo "tcpdump did not stop" >&2; exit 1; fi

# Loopback timestamps can come out a few microseconds out of order (seen
# once in a first recording: one frame 2 us early); sort frames by time so
# the sample is strictly time-ordered.
# reordercap keeps the pcap format.
reordercap "$PCAP_TMP" "$WORK/sorted.pcap" >&2
mv -f "$WORK/sorted.pcap" "$PCAP_TMP"

MAX_BYTES=3000000   # 3 MB
size=$(stat -c %s "$PCAP_TMP")
if (( size > MAX_BYTES )); then
  echo "capture is $size bytes, over the $MAX_BYTES-byte budget; lower the rates" >&2
  exit 1
fi

# Capture-relative times are relative to the first frame of the pcap
# (what tshark calls frame.time_relative).
FIRST_EPOCH=$(tshark -n -r "$PCAP_TMP" -c 1 -T fields -e frame.time_epoch 2>/dev/null)
{
  printf 'attack\tsrc\tdst\tstart_epoch\tend_epoch\ttool_command\tstart_rel\tend_rel\tfirst_pkt_rel\tlast_pkt_rel\tpackets\n'
  while IFS=$'\t' read -r name src dst start end cmd; do
    # Packets to or from the (spoofed) attacker source address.
    stats=$(tshark -n -r "$PCAP_TMP" -Y "ip.addr == $src" -T fields -e frame.time_epoch 2>/dev/null |
      awk -v f="$FIRST_EPOCH" 'NR==1{a=$1} {b=$1; n++} END{ if (n) printf "%.6f\t%.6f\t%d", a-f, b-f, n; else printf "\t\t0" }')
    rel=$(awk -v f="$FIRST_EPOCH" -v s="$start" -v e="$end" 'BEGIN{printf "%.6f\t%.6f", s-f, e-f}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$src" "$dst" "$start" "$end" "$cmd" "$rel" "$stats"
  done <"$ATTACKS_TMP"
} >"$WORK/attacks.final.tsv"

mv -f "$PCAP_TMP" "$PCAP_OUT"
mv -f "$WORK/attacks.final.tsv" "$ATTACKS_OUT"
chmod 644 "$PCAP_OUT" "$ATTACKS_OUT"

echo "wrote $PCAP_OUT ($(stat -c %s "$PCAP_OUT") bytes, $(tshark -n -r "$PCAP_OUT" 2>/dev/null | wc -l) frames)"
echo "wrote $ATTACKS_OUT"
column -t -s $'\t' "$ATTACKS_OUT" 2>/dev/null || cat "$ATTACKS_OUT"
