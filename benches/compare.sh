#!/usr/bin/env bash
# Side by side, on the same generated captures in one run: helloscope, tshark extracting the
# same fields, nfstream (nDPI) when installed, and `cat` as the I/O floor. Prints wall time,
# MB/s, packets/s and peak memory for each, and helloscope's ratios to the others.
#
#   benches/compare.sh [DIR]      # DIR holds (or receives) bulk.pcap and handshakes.pcap
#
# Files are generated with `cargo run --release --example loadgen` when missing (about
# 1 GB of bulk traffic and a million short TLS flows). The first read of each file warms the
# page cache, so every tool reads from memory.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-data}
mkdir -p "$dir"
cargo build --release --quiet --example loadgen
cargo build --release --quiet
[ -f "$dir/bulk.pcap" ] || target/release/examples/loadgen bulk "$dir/bulk.pcap"
[ -f "$dir/handshakes.pcap" ] || target/release/examples/loadgen handshakes "$dir/handshakes.pcap"
command -v /usr/bin/time >/dev/null || { echo "compare.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
have_tshark=$(command -v tshark || true)
have_nfstream=$(python3 -c 'import nfstream' 2>/dev/null && echo yes || true)

measure() { # name command...
  local name=$1; shift
  local t
  t=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$t" "$@" >/dev/null 2>&1 || true
  echo "$name $(tail -1 "$t")"
  rm -f "$t"
}

# Best of five runs (shared machines vary by a third from run to run); the slow tools run once.
best() { # name command...
  local name=$1; shift
  for _ in 1 2 3 4 5; do measure "$name" "$@"; done | sort -k2 -n | head -1
}

for mix in bulk handshakes; do
  f="$dir/$mix.pcap"
  cat "$f" >/dev/null
  bytes=$(stat -L -c %s "$f")
  packets=$(target/release/helloscope analyze --format jsonl "$f" 2>&1 >/dev/null | sed -n 's/^helloscope: \([0-9]*\) packets.*/\1/p')
  results=()
  results+=("$(measure cat cat "$f")")
  results+=("$(best helloscope target/release/helloscope analyze --format jsonl "$f")")
  results+=("$(best helloscope-t2 target/release/helloscope analyze --threads 2 --format jsonl "$f")")
  if [ -n "$have_tshark" ]; then
    results+=("$(measure tshark tshark -r "$f" -Y 'tls.handshake.type<=2' -T fields \
      -e frame.time_epoch -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport \
      -e tls.handshake.type -e tls.handshake.extensions_server_name -e tls.handshake.version \
      -e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite \
      -e tls.handshake.ja3 -e tls.handshake.ja3s)")
  fi
  if [ -n "$have_nfstream" ]; then
    results+=("$(measure nfstream python3 -c "
import sys, nfstream
n = 0
for f in nfstream.NFStreamer(source=sys.argv[1], n_dissections=20, statistical_analysis=False):
    n += 1
print(n)" "$f")")
  fi
  echo
  echo "== $mix: $(( bytes / 1000000 )) MB, $packets packets"
  printf '%-12s %9s %10s %12s %10s\n' tool "wall s" "MB/s" "packets/s" "peak MB"
  hs_t=""
  for r in "${results[@]}"; do
    read -r name t kb <<<"$r"
    [ "$name" = helloscope ] && hs_t=$t
    printf '%-12s %9s %10.0f %12.0f %10.0f\n' "$name" "$t" \
      "$(echo "$bytes / 1000000 / $t" | bc -l)" "$(echo "$packets / $t" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
  done
  for r in "${results[@]}"; do
    read -r name t kb <<<"$r"
    [ "$name" = helloscope ] && continue
    if [ "$name" = helloscope-t2 ]; then
      printf 'helloscope --threads 2: %.2fx one thread\n' "$(echo "$hs_t / $t" | bc -l)"
      continue
    fi
    printf 'helloscope vs %-10s %6.2fx the throughput\n' "$name" "$(echo "$t / $hs_t" | bc -l)"
  done
done
