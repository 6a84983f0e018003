#!/usr/bin/env bash
# Side by side, on the same generated captures in one run: helloscope, tshark extracting the
# same fields, nfstream (nDPI) when installed, and `cat` as the I/O floor. Prints wall time,
# MB/s, packets/s and peak memory for each, and helloscope's ratios to the others.
#
#   benches/compare.sh [DIR]      # DIR holds (or receives) bulk.pcap and handshakes.pcap
#
# Files are generated with `cargo run --release --example loadgen` when missing (about
# 1 GB of bulk traffic and a million short TLS flows; LOADGEN_BULK and LOADGEN_HANDSHAKES
# pass other arguments, e.g. LOADGEN_HANDSHAKES="--flows 50000"). The first read of each file
# warms the page cache, so every tool reads from memory.
#
# Any tool that fails stops the script with its status and the end of its error output.
# Before any ratio is printed, helloscope's records and tshark's dissection must agree on the
# ClientHellos: the same number of connections with one, and the same (client, server, SNI)
# for each. tshark's timed run writes its fields to a file for that check (helloscope's timed
# runs write to /dev/null; one more, untimed, run writes its records for the check).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-data}
mkdir -p "$dir"
cargo build --release --quiet --example loadgen
cargo build --release --quiet
# shellcheck disable=SC2086 # the LOADGEN_* variables are argument lists
[ -f "$dir/bulk.pcap" ] || target/release/examples/loadgen bulk "$dir/bulk.pcap" ${LOADGEN_BULK:-}
# shellcheck disable=SC2086
[ -f "$dir/handshakes.pcap" ] || target/release/examples/loadgen handshakes "$dir/handshakes.pcap" ${LOADGEN_HANDSHAKES:-}
command -v /usr/bin/time >/dev/null || { echo "compare.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
# tshark is both a tool compared and the witness that the tools saw the same ClientHellos.
command -v tshark >/dev/null || { echo "compare.sh: needs tshark (DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)" >&2; exit 2; }
have_nfstream=$(python3 -c 'import nfstream' 2>/dev/null && echo yes || true)

fail() { echo "compare.sh: $*" >&2; exit 1; }
# /usr/bin/time counts hundredths: a run shorter than that counts as 0.01 s.
floor() { printf "%.2f" "$(echo "if ($1 < 0.01) 0.01 else $1" | bc -l)"; }

measure() { # name out command...: wall seconds and peak KiB; stdout to out; stops on failure
  local name=$1 out=$2; shift 2
  local t e status=0
  t=$(mktemp) e=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$t" "$@" >"$out" 2>"$e" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "compare.sh: $name failed (exit status $status): $*" >&2
    tail -5 "$e" >&2
    rm -f "$t" "$e"
    exit 1
  fi
  echo "$name $(tail -1 "$t")"
  rm -f "$t" "$e"
}

# Best of five runs (shared machines vary by a third from run to run); the slow tools run once.
best() { # name command...
  local name=$1 runs=() r
  shift
  for _ in 1 2 3 4 5; do
    r=$(measure "$name" /dev/null "$@") || exit 1
    runs+=("$r")
  done
  printf '%s\n' "${runs[@]}" | sort -k2 -n | head -1
}

# The ClientHellos each tool saw, one line per connection: client ip, client port, server ip,
# server port, SNI ("-" for none), sorted.
hellos_helloscope() { # jsonl
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("ja3"):  # a record with a ClientHello
        print(r["client_ip"], r["client_port"], r["server_ip"], r["server_port"], r["sni"] or "-")
' "$1" | sort
}
hellos_tshark() { # tshark fields: tcp.stream ip.src ipv6.src tcp.srcport ip.dst ipv6.dst tcp.dstport type sni
  # The first ClientHello of each TCP connection (a HelloRetryRequest brings a second).
  awk -F '\t' '$8 ~ /(^|,)1(,|$)/ && !seen[$1]++ {
    print ($2 != "" ? $2 : $3), $4, ($5 != "" ? $5 : $6), $7, ($9 != "" ? $9 : "-") }' "$1" | sort
}

for mix in bulk handshakes; do
  f="$dir/$mix.pcap"
  cat "$f" >/dev/null
  bytes=$(stat -L -c %s "$f")
  records="$dir/$mix.helloscope.jsonl"
  summary=$(target/release/helloscope analyze --format jsonl -o "$records" "$f" 2>&1) ||
    fail "helloscope analyze $f failed: $summary"
  packets=$(sed -n 's/^helloscope: \([0-9]*\) packets.*/\1/p' <<<"$summary")
  [ -n "$packets" ] || fail "no packet count in helloscope's summary: $summary"
  results=()
  results+=("$(measure cat /dev/null cat "$f")") || exit 1
  results+=("$(best helloscope target/release/helloscope analyze --format jsonl "$f")") || exit 1
  results+=("$(best helloscope-t2 target/release/helloscope analyze --threads 2 --format jsonl "$f")") || exit 1
  fields="$dir/$mix.tshark.tsv"
  results+=("$(measure tshark "$fields" tshark -r "$f" -Y 'tls.handshake.type<=2' -T fields \
    -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
    -e tls.handshake.type -e tls.handshake.extensions_server_name -e frame.time_epoch \
    -e tls.handshake.version -e tls.handshake.extensions.supported_version \
    -e tls.handshake.ciphersuite -e tls.handshake.ja3 -e tls.handshake.ja3s)") || exit 1
  hs_hellos=$(mktemp) ts_hellos=$(mktemp)
  hellos_helloscope "$records" >"$hs_hellos"
  hellos_tshark "$fields" >"$ts_hellos"
  n_hs=$(wc -l <"$hs_hellos") n_ts=$(wc -l <"$ts_hellos")
  [ "$n_ts" -gt 0 ] || fail "$mix: tshark saw no ClientHello"
  if ! cmp -s "$hs_hellos" "$ts_hellos"; then
    echo "compare.sh: $mix: helloscope and tshark disagree on the ClientHellos" \
      "(helloscope $n_hs connections, tshark $n_ts); first differences (< helloscope, > tshark):" >&2
    diff "$hs_hellos" "$ts_hellos" | head -10 >&2
    exit 1
  fi
  echo "$mix: helloscope and tshark agree: $n_hs ClientHellos, $(cut -d' ' -f5 "$hs_hellos" | sort -u | wc -l) distinct SNIs, the same (client, server, SNI) for each"
  rm -f "$hs_hellos" "$ts_hellos"
  if [ -n "$have_nfstream" ]; then
    results+=("$(measure nfstream /dev/null python3 -c "
import sys, nfstream
n = 0
for f in nfstream.NFStreamer(source=sys.argv[1], n_dissections=20, statistical_analysis=False):
    n += 1
print(n)" "$f")") || exit 1
  fi
  echo
  echo "== $mix: $(( bytes / 1000000 )) MB, $packets packets"
  printf '%-12s %9s %10s %12s %10s\n' tool "wall s" "MB/s" "packets/s" "peak MB"
  hs_t=""
  for r in "${results[@]}"; do
    read -r name t kb <<<"$r"
    t=$(floor "$t")
    [ "$name" = helloscope ] && hs_t=$t
    printf '%-12s %9s %10.0f %12.0f %10.0f\n' "$name" "$t" \
      "$(echo "$bytes / 1000000 / $t" | bc -l)" "$(echo "$packets / $t" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
  done
  for r in "${results[@]}"; do
    read -r name t kb <<<"$r"
    t=$(floor "$t")
    [ "$name" = helloscope ] && continue
    if [ "$name" = helloscope-t2 ]; then
      printf 'helloscope --threads 2: %.2fx one thread\n' "$(echo "$hs_t / $t" | bc -l)"
      continue
    fi
    printf 'helloscope vs %-10s %6.2fx the throughput\n' "$name" "$(echo "$t / $hs_t" | bc -l)"
  done
done
