#!/usr/bin/env bash
# Compressed captures: helloscope reading FILE.gz/.zst/.lz4 itself, against decompressing in
# a pipe (`zcat FILE | helloscope analyze -`) and against tshark reading the same compressed
# file; plus the same capture as classic pcap and as pcapng (editcap -F pcapng).
#
#   benches/compressed.sh CAPTURE.pcap [RUNS]
#
# Needs pigz or gzip, zstd, lz4, editcap and tshark (Debian: pigz zstd lz4 tshark). Prints
# the best wall time of RUNS (default 3) for each, MB/s of the uncompressed capture, and the
# CPU time (user + system, all threads and processes) of that run: on a shared machine the
# wall time varies with the load, the CPU time much less.
set -euo pipefail
cd "$(dirname "$0")/.."
f=$1
runs=${2:-3}
cargo build --release --quiet
hs=target/release/helloscope
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
base=$dir/$(basename "$f" .pcap)
gzip -6 -c "$f" >"$base.pcap.gz"
zstd -q -3 -c "$f" >"$base.pcap.zst"
lz4 -q -1 -c "$f" >"$base.pcap.lz4"
editcap -F pcapng "$f" "$base.pcapng"
bytes=$(stat -L -c %s "$f")
cat "$dir"/* "$f" >/dev/null

best() { # name command...
  local name=$1; shift
  local t
  t=$(for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M %U %S" bash -c "$* >/dev/null 2>&1" 2>&1 | tail -1
  done | sort -n | head -1)
  read -r s kb u sy <<<"$t"
  printf '%-34s %7.2f s %7.0f MB/s %6.2f s CPU %6.0f MB peak\n' "$name" "$s" \
    "$(echo "$bytes / 1000000 / $s" | bc -l)" "$(echo "$u + $sy" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
}

tshark_fields="-Y 'tls.handshake.type<=2' -T fields -e frame.time_epoch -e ip.src -e tcp.srcport \
  -e ip.dst -e tcp.dstport -e tls.handshake.type -e tls.handshake.extensions_server_name \
  -e tls.handshake.version -e tls.handshake.ciphersuite"
echo "== $(basename "$f"): $((bytes / 1000000)) MB uncompressed; compressed: $(du -m "$base.pcap.gz" | cut -f1) MB gz, $(du -m "$base.pcap.zst" | cut -f1) MB zst, $(du -m "$base.pcap.lz4" | cut -f1) MB lz4"
best "helloscope FILE.pcap" "$hs analyze --format jsonl $f"
best "helloscope FILE.pcapng" "$hs analyze --format jsonl $base.pcapng"
for z in gz zst lz4; do
  case $z in gz) cat=zcat ;; zst) cat=zstdcat ;; lz4) cat=lz4cat ;; esac
  best "$cat FILE.$z >/dev/null" "$cat $base.pcap.$z"
  best "helloscope FILE.$z" "$hs analyze --format jsonl $base.pcap.$z"
  best "$cat FILE.$z | helloscope -" "$cat $base.pcap.$z | $hs analyze --format jsonl -"
done
if [ "${TSHARK:-1}" = 1 ]; then
  best "tshark FILE.pcap" "tshark -r $f $tshark_fields"
  best "tshark FILE.gz" "tshark -r $base.pcap.gz $tshark_fields"
  best "tshark FILE.lz4" "tshark -r $base.pcap.lz4 $tshark_fields"
fi
