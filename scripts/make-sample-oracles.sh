#!/usr/bin/env bash
# Regenerate the tshark-made oracle files for a sample capture:
#
#   samples/quickstart.csv         Wireshark "Export Packet Dissections -> As CSV"
#                                  layout (default columns No., Time, Source,
#                                  Destination, Protocol, Length, Info)
#   samples/quickstart.fields.tsv  per-frame fields for tests (tab-separated,
#                                  header line, one row per frame)
#
# Usage: scripts/make-sample-oracles.sh [path/to/capture.pcap]
#        (default samples/quickstart.pcap; outputs go next to the pcap, with
#        the same base name)
#
# Needs tshark and python3.  Deterministic: rerunning on the same pcap with
# the same tshark version gives byte-identical files.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PCAP="${1:-$REPO/samples/quickstart.pcap}"
BASE="${PCAP%.pcap}"
CSV_OUT="$BASE.csv"
TSV_OUT="$BASE.fields.tsv"

command -v tshark >/dev/null || { echo "tshark not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 1; }
[[ -r $PCAP ]] || { echo "cannot read $PCAP" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Options shared by both oracles:
#   -n  no name resolution (as Wireshark's defaults for network addresses)
#   -2  two-pass analysis, like the Wireshark GUI (e.g. "(reply in N)",
#       TLS version in the Protocol column of a Client Hello)
TSHARK=(tshark -n -2 -r "$PCAP")

# ---------------------------------------------------------------- CSV ---
# tshark has no CSV-export mode, and `-T fields -E quote=d` neither doubles
# embedded quotes nor does Wireshark's other CSV massaging.  So take the
# exact column strings from tshark's JSON output and format them the way
# Wireshark's write_csv_column_titles()/write_csv_columns() (epan/print.c,
# used by File -> Export Packet Dissections -> As CSV) do:
#   every field double-quoted; g_strescape() with the UTF-8 right arrow
#   exempted (so \ -> \\, control chars -> \n \t ..., other non-ASCII -> \ooo);
#   the arrow "→" replaced by " > " (so "a → b" becomes "a  >  b");
#   each \" turned into "" (i.e. embedded quotes doubled); lines end in \n.
"${TSHARK[@]}" -T json \
  -e _ws.col.No. -e _ws.col.Time -e _ws.col.Source -e _ws.col.Destination \
  -e _ws.col.Protocol -e _ws.col.Length -e _ws.col.Info \
  >"$TMP/cols.json" 2>"$TMP/tshark-json.err" || { cat "$TMP/tshark-json.err" >&2; exit 1; }

python3 - "$TMP/cols.json" "$TMP/out.csv" <<'PY'
import json, sys

COLS = ["_ws.col.No.", "_ws.col.Time", "_ws.col.Source", "_ws.col.Destination",
        "_ws.col.Protocol", "_ws.col.Length", "_ws.col.Info"]
TITLES = ["No.", "Time", "Source", "Destination", "Protocol", "Length", "Info"]
ARROW = "\u2192".encode()  # UTF8_RIGHTWARDS_ARROW, e2 86 92

def g_strescape(src: bytes, exceptions: bytes) -> bytes:
    """GLib's g_strescape()."""
    out = bytearray()
    simple = {8: b"\\b", 12: b"\\f", 10: b"\\n", 13: b"\\r", 9: b"\\t",
              11: b"\\v", 92: b"\\\\", 34: b'\\"'}
    for c in src:
        if c in exceptions:
            out.append(c)
        elif c in simple:
            out += simple[c]
        elif c < 0x20 or c >= 0x7F:
            out += b"\\%03o" % c
        else:
            out.append(c)
    return bytes(out)

def csv_massage_str(s: str) -> bytes:
    """Wireshark's csv_massage_str(str, UTF8_RIGHTWARDS_ARROW)."""
    b = bytearray(g_strescape(s.encode("utf-8"), ARROW))
    i = b.find(ARROW)
    while i != -1:
        b[i:i + 3] = b" > "
        i = b.find(ARROW, i)
    i = b.find(b'\\"')
    while i != -1:
        b[i] = ord('"')
        i = b.find(b'\\"', i)
    return bytes(b)

def line(fields):
    return b",".join(b'"' + csv_massage_str(f) + b'"' for f in fields) + b"\n"

with open(sys.argv[1], "rb") as f:
    packets = json.load(f)
with open(sys.argv[2], "wb") as out:
    out.write(line(TITLES))
    for n, pkt in enumerate(packets, 1):
        layers = pkt["_source"]["layers"]
        row = []
        for c in COLS:
            v = layers.get(c, [""])
            if len(v) != 1:
                sys.exit(f"frame {n}: {c} has {len(v)} values")
            row.append(v[0])
        if row[0] != str(n):
            sys.exit(f"frame numbering mismatch at {n}: {row[0]}")
        out.write(line(row))
PY

# ---------------------------------------------------------- fields TSV ---
# -E occurrence=f: first occurrence only, i.e. the outer header.  (ICMP
# errors quote the offending IP+UDP/TCP header; tshark would otherwise list
# both addresses.  Note the ports of an ICMP error row are still those of
# the quoted inner header, since the outer packet has none: use ip.proto /
# ipv6.nxt to tell TCP (6) / UDP (17) / ICMP (1) / ICMPv6 (58) rows apart.)
"${TSHARK[@]}" -T fields -E header=y -E separator=/t -E occurrence=f \
  -e frame.number -e frame.time_epoch -e frame.time_relative \
  -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e eth.src -e eth.dst \
  -e ip.proto -e ipv6.nxt \
  -e tcp.srcport -e udp.srcport -e tcp.dstport -e udp.dstport \
  -e frame.len -e tcp.flags -e _ws.col.Protocol \
  >"$TMP/out.tsv" 2>"$TMP/tshark-fields.err" || { cat "$TMP/tshark-fields.err" >&2; exit 1; }

# Sanity: one row per frame in both files.
frames=$(tshark -n -r "$PCAP" -T fields -e frame.number 2>/dev/null | wc -l)
csv_rows=$(( $(wc -l <"$TMP/out.csv") - 1 ))
tsv_rows=$(( $(wc -l <"$TMP/out.tsv") - 1 ))
if [[ $csv_rows -ne $frames || $tsv_rows -ne $frames ]]; then
  echo "row count mismatch: frames=$frames csv=$csv_rows tsv=$tsv_rows" >&2
  exit 1
fi

mv -f "$TMP/out.csv" "$CSV_OUT"
mv -f "$TMP/out.tsv" "$TSV_OUT"
chmod 644 "$CSV_OUT" "$TSV_OUT"
echo "wrote $CSV_OUT and $TSV_OUT ($frames frames)"
