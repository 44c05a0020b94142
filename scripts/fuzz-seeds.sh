#!/usr/bin/env bash
# Seeds the cargo-fuzz corpora (fuzz/corpus/TARGET, not committed) from
# ../shared/corpus, the test fixtures and the example pipelines, plus the
# saved crash inputs under tests/data/fuzz-regressions/TARGET.
# Captures over 64 KiB are cut to their first 64 KiB: fuzzing is faster on
# small inputs, and a cut file is a case worth having too.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
corpus=fuzz/corpus
mkdir -p "$corpus"/{capture,dissect,csv,config,duration_set}

seed_capture() {
    local f=$1 name
    name=$(basename "$f")
    head -c 65536 "$f" >"$corpus/capture/$name"
}
if [[ -d $shared/corpus ]]; then
    for f in "$shared"/corpus/*.pcap "$shared"/corpus/*.pcapng "$shared"/corpus/*.cap; do
        [[ -f $f ]] && seed_capture "$f"
    done
fi
for f in tests/data/*.pcap samples/*.pcap; do
    [[ -f $f ]] && seed_capture "$f"
done

# dissect: 2 bytes of link type (little-endian) + one frame from tiny.pcap
# (Ethernet, microsecond pcap: 24-byte header, 16-byte record headers).
python3 - "$corpus/dissect" <<'PY'
import struct, sys, pathlib
out = pathlib.Path(sys.argv[1])
data = pathlib.Path("tests/data/tiny.pcap").read_bytes()
off, n = 24, 0
while off + 16 <= len(data) and n < 64:
    incl = struct.unpack_from("<I", data, off + 8)[0]
    frame = data[off + 16: off + 16 + incl]
    for lt in (1, 101, 113, 0):
        body = frame if lt == 1 else frame[14:] if lt == 101 else frame
        (out / f"tiny-{n}-lt{lt}").write_bytes(struct.pack("<H", lt) + body)
    off += 16 + incl
    n += 1
PY

for f in tests/data/*.csv samples/*.csv; do
    [[ -f $f ]] && head -c 65536 "$f" >"$corpus/csv/$(basename "$f")"
done
printf '"No.","Time","Source","Destination","Protocol","Length","Info"\n"1","2024-03-01 12:00:00.5","fe80::1","10.0.0.2","TCP","60","a, ""b"""\n' >"$corpus/csv/quoted.csv"
printf 'n,Time,Source,Destination,Protocol,Length\n1,0.5,10.0.0.1,10.0.0.2,UDP,70\n' >"$corpus/csv/notebook.csv"

for f in pipelines/*.yaml tests/data/bad-pipelines/*.yaml; do
    cp "$f" "$corpus/config/$(basename "$f")"
done

i=0
for seed in '10ms' '1s
win.size=5m' '250us
out.path=x.csv
src.columns.ts=Time' 'µs
win.group_by=[src, dst, protocol]' '18446744073709551615ns
win.nope.deeper=1' '5m
=
win.size={a: [1, 2]}'; do
    printf '%s' "$seed" >"$corpus/duration_set/seed-$i"
    i=$((i + 1))
done

# Saved crash inputs seed their target's corpus.
for dir in tests/data/fuzz-regressions/*/; do
    [[ -d $dir ]] || continue
    target=$(basename "$dir")
    mkdir -p "$corpus/$target"
    cp "$dir"* "$corpus/$target/" 2>/dev/null || true
done

for t in capture dissect csv config duration_set; do
    echo "$t: $(find "$corpus/$t" -type f | wc -l) seeds, $(du -sh "$corpus/$t" | cut -f1)"
done
