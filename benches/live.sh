#!/usr/bin/env bash
# The live path at full speed: the generated `bulk` and `handshakes` mixes are replayed with
# `tcpreplay --topspeed` onto one end of a veth pair inside a private network namespace while
# a capture tool listens on the other end: `helloscope sniff` with its default options, then
# `tcpdump -w /dev/null` and `tshark -w /dev/null` on the same replay, in the same run. For each:
# the replay's packets/s, what the tool received, what the kernel dropped, and its peak RSS
# (helloscope also says how many TLS flows it reported, beside what `analyze` finds in the
# same file). BASELINE=/path/to/an/older/helloscope runs that binary too, for a before/after.
#
#   sudo benches/live.sh [DIR] [ROUNDS]     # DIR holds (or receives) the two captures
#
# Needs root, iproute2, tcpreplay, tcpdump (apt-get install tcpreplay tcpdump), /usr/bin/time;
# tshark when installed. Traffic goes only to the veth pair inside the namespace this script
# creates (and deletes on exit). Extra helloscope options: HELLOSCOPE_OPTS="--buffer-mib 32".
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/bench-data/live}
rounds=${2:-1}
[ "$(id -u)" = 0 ] || { echo "live.sh: needs root (network namespace, capture)" >&2; exit 2; }
for c in ip tcpreplay tcpdump /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "live.sh: needs $c" >&2; exit 2; }
done
have_tshark=$(command -v tshark || true)
mkdir -p "$dir"
cargo build --release --quiet --example loadgen
cargo build --release --quiet --features live
# About 350 k packets each: the handshake-heavy mix of issue #16, and full-size data segments.
[ -f "$dir/handshakes.pcap" ] || target/release/examples/loadgen handshakes "$dir/handshakes.pcap" --flows 70000
[ -f "$dir/bulk.pcap" ] || target/release/examples/loadgen bulk "$dir/bulk.pcap" --size-mb 320 --flows 2000
hs=$(realpath target/release/helloscope)

ns=hs-live-$$
work=$(mktemp -d)
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip link add hsreplay type veth peer name hscapture
in_ns ip link set hsreplay up
in_ns ip link set hscapture up
sleep 1

# Starts a capture tool under /usr/bin/time inside the namespace; sets $tool_pid (the tool's
# own process, the one to signal) and $time_pid.
start() { # name command...
  local name=$1; shift
  # Not through in_ns: a function would run in a subshell, and $! would not be time's.
  ip netns exec "$ns" /usr/bin/time -f "%M" -o "$work/$name.time" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  time_pid=$!
  tool_pid=""
  for _ in $(seq 100); do
    tool_pid=$(pgrep -P "$time_pid" || true)
    [ -n "$tool_pid" ] && break
    sleep 0.05
  done
  sleep 2 # the tool opens the interface and sets its filter
}

stop() {
  sleep 2 # what the kernel holds is read
  kill -INT "$tool_pid" 2>/dev/null || true
  wait "$time_pid" 2>/dev/null || true
}

replay() { # file -> prints the replay's packets/s
  in_ns tcpreplay --topspeed -K -i hsreplay "$1" >"$work/replay.out" 2>&1
  sed -n 's/.*Rated: .* \([0-9.]*\) pps.*/\1/p' "$work/replay.out" | head -1
}

sniff() { # name binary: one helloscope run on the current mix
  start "$1" "$2" sniff -i hscapture --format jsonl ${HELLOSCOPE_OPTS:-}
  pps=$(replay "$f")
  stop
  line=$(grep 'capture:' "$work/$1.err" || true)
  rec=$(echo "$line" | sed -n 's/.*capture: \([0-9]*\) received.*/\1/p')
  drop=$(echo "$line" | sed -n 's/.* \([0-9]*\) dropped by kernel.*/\1/p')
  flows=$(wc -l <"$work/$1.out")
  printf '%-11s %-10s %10s %10s %10s %10s %8s %12s\n' "$mix" "$1" "$pps" "$sent" "$rec" "$drop" \
    "$(( $(tail -1 "$work/$1.time") / 1024 ))" "$flows/$want"
}

printf '%-11s %-10s %10s %10s %10s %10s %8s %12s\n' mix tool replay_pps sent received dropped rss_mib tls_flows
for round in $(seq "$rounds"); do
  for mix in handshakes bulk; do
    f="$dir/$mix.pcap"
    sent=$(tcpdump -r "$f" -qn 2>/dev/null | wc -l)
    want=$("$hs" analyze --format jsonl "$f" 2>/dev/null | wc -l)
    sniff helloscope "$hs"
    [ -z "${BASELINE:-}" ] || sniff baseline "$BASELINE"
    # tcpdump
    start tcpdump tcpdump -i hscapture -w /dev/null
    pps=$(replay "$f")
    stop
    rec=$(sed -n 's/^\([0-9]*\) packets received by filter.*/\1/p' "$work/tcpdump.err")
    drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/tcpdump.err")
    printf '%-11s %-10s %10s %10s %10s %10s %8s %12s\n' "$mix" tcpdump "$pps" "$sent" "$rec" "$drop" \
      "$(( $(tail -1 "$work/tcpdump.time") / 1024 ))" -
    # tshark (dumpcap does the capture; its drop count is in tshark's closing lines)
    if [ -n "$have_tshark" ]; then
      start tshark tshark -i hscapture -w /dev/null
      pps=$(replay "$f")
      stop
      rec=$(sed -n 's/^\([0-9]*\) packets\{0,1\} captured.*/\1/p' "$work/tshark.err" | tail -1)
      drop=$(sed -n 's/.*\([0-9][0-9]*\) packets\{0,1\} dropped.*/\1/p' "$work/tshark.err" | tail -1)
      printf '%-11s %-10s %10s %10s %10s %10s %8s %12s\n' "$mix" tshark "$pps" "$sent" "$rec" "${drop:-0}" \
        "$(( $(tail -1 "$work/tshark.time") / 1024 ))" -
    fi
  done
done
echo "(round count $rounds; cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg))"
