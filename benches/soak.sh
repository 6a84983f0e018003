#!/usr/bin/env bash
# Soak: `helloscope sniff` on a veth pair inside a private network namespace while mixed
# traffic with floods is replayed onto the other end, over and over, for DURATION seconds
# (ten minutes by default). The mix: the generated `handshakes` flows interleaved with a SYN
# flood (SYNs never answered) and a port scan (SYN then RST), from many sources. The output
# is rotated every minute. Every ten seconds the sensor's counters (--stats-every, JSON) are
# sampled; at the end the script prints resident memory over time (it must stay flat once the
# idle timeout has passed), the kernel drops, and the records found in all the rotated files
# against what `helloscope analyze` finds in one replay times the number of replays (none
# may be lost).
#
#   sudo benches/soak.sh [DURATION_SECS] [DIR]
#
# Settings (environment): PPS (replay rate, default 30000), FLOWS (TLS flows a replay, 20000),
# SYNS (flood SYNs a replay, 20000), SCANS (scan SYN/RST pairs a replay, 10000),
# IDLE (--idle-timeout, 30), REPORT (0: no --report-file; the report keeps one row per
# client, host and fingerprint, and --unique-ip makes new clients on every loop). Needs root, iproute2, tcpreplay, mergecap (wireshark-common),
# python3. Traffic goes only to the veth pair inside the namespace this script creates.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-600}
dir=${2:-target/bench-data/soak}
pps=${PPS:-30000}
flows=${FLOWS:-20000}
syns=${SYNS:-20000}
scans=${SCANS:-10000}
idle=${IDLE:-30}
[ "$(id -u)" = 0 ] || { echo "soak.sh: needs root" >&2; exit 2; }
for c in ip tcpreplay mergecap python3; do
  command -v "$c" >/dev/null || { echo "soak.sh: needs $c" >&2; exit 2; }
done
mkdir -p "$dir"
cargo build --release --quiet --example loadgen
cargo build --release --quiet --features live
hs=$(realpath target/release/helloscope)
mix="$dir/mixed-$flows-$syns-$scans.pcap"
if [ ! -f "$mix" ]; then
  target/release/examples/loadgen handshakes "$dir/tls.pcap" --flows "$flows" --seed 7
  # The floods, deterministic, spread over the same time span as the TLS flows so that a
  # merge by time interleaves them.
  python3 - "$dir/tls.pcap" "$dir/flood.pcap" "$syns" "$scans" <<'EOF'
import random, struct, sys
src, out, syns, scans = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(src, 'rb') as f:
    data = f.read()
first = last = None
off = 24
while off + 16 <= len(data):
    sec, usec, incl, _ = struct.unpack_from('<IIII', data, off)
    t = sec + usec / 1e6
    first = t if first is None else first
    last = t
    off += 16 + incl
rng = random.Random(16)

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def frame(src, dst, sport, dport, seq, flags):
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq, 0, 5 << 4, flags, 64240, 0, 0)
    pseudo = struct.pack('!4s4sBBH', src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack('!H', csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\x02\0\0\0\0\x02' + b'\x02\0\0\0\0\x01' + b'\x08\x00' + ip + tcp

packets = []
for i in range(syns):
    s = bytes([198, 18, rng.randrange(256), rng.randrange(1, 255)])
    packets.append(frame(s, bytes([203, 0, 113, 10]), rng.randrange(1024, 65535), 443,
                         rng.randrange(1 << 32), 0x02))
for i in range(scans):
    s = bytes([198, 19, rng.randrange(256), rng.randrange(1, 255)])
    sport, dport, seq = rng.randrange(1024, 65535), rng.randrange(1, 65535), rng.randrange(1 << 32)
    packets.append(frame(s, bytes([203, 0, 113, 20]), sport, dport, seq, 0x02))
    packets.append(frame(s, bytes([203, 0, 113, 20]), sport, dport, seq + 1, 0x04))
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    span = max(last - first, 1e-3)
    for i, p in enumerate(packets):
        t = first + span * i / len(packets)
        f.write(struct.pack('<IIII', int(t), int((t % 1) * 1e6), len(p), len(p)) + p)
EOF
  mergecap -F pcap -w "$mix" "$dir/tls.pcap" "$dir/flood.pcap"
fi
mix=$(realpath "$mix")
per_replay=$("$hs" analyze --format jsonl --idle-timeout "$idle" "$mix" 2>/dev/null | wc -l)
packets=$(tcpdump -r "$mix" -qn 2>/dev/null | wc -l || true)

ns=hs-soak-$$
work=$(mktemp -d)
cleanup() {
  [ -n "${sensor:-}" ] && kill -TERM "$sensor" 2>/dev/null && wait "$sensor" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip link add hsreplay type veth peer name hscapture
ip netns exec "$ns" ip link set hsreplay up
ip netns exec "$ns" ip link set hscapture up
sleep 1

cd "$work"
report=(--report-file report.txt --report-every 30)
[ "${REPORT:-1}" != 0 ] || report=()
ip netns exec "$ns" "$hs" sniff -i hscapture --format jsonl -o flows.jsonl --rotate-secs 60 \
  --idle-timeout "$idle" --stats-every 10 --stats-json "${report[@]}" 2>sensor.err &
sensor=$!
sleep 2
echo "soak: about $duration s; each replay $packets packets ($flows TLS flows, $syns flood SYNs," \
  "$scans scans) at $pps packets/s; $per_replay records a replay; output in $work"
# One tcpreplay for the whole run: --unique-ip gives the addresses of each loop a new value,
# so every replay brings new flows (and a new flood), as days of traffic would.
replays=$(( duration * pps / packets + 1 ))
ip netns exec "$ns" tcpreplay --pps="$pps" -K --loop="$replays" --unique-ip -i hsreplay "$mix" \
  >replay.out 2>&1 || { cat replay.out; exit 1; }
grep -E 'Actual|Rated' replay.out | sed 's/^/  tcpreplay: /'
sleep $((idle + 5)) # the last flows time out and are reported
kill -TERM "$sensor"
wait "$sensor" || true
sensor=""

echo "soak: resident memory (MiB) and counters every 10 s:"
python3 - sensor.err <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
for r in rows:
    print("  t=%4ds rss=%4d MiB packets=%9d records=%7d kernel_dropped=%d in_table=%d" % (
        r['uptime_secs'], r['memory_mib']['rss'], r['packets'], r['records'],
        r['kernel']['dropped'], r['flows']['in_table']))
if rows:
    half = [r['memory_mib']['rss'] for r in rows[len(rows) // 2:]]
    print("  rss over the second half: min %d, max %d MiB; peak %d MiB" % (
        min(half), max(half), rows[-1]['memory_mib']['peak']))
EOF
found=$(cat flows.jsonl* | wc -l)
bad=$(cat flows.jsonl* | python3 -c '
import json, sys
bad = 0
for l in sys.stdin:
    try: json.loads(l)
    except ValueError: bad += 1
print(bad)')
grep -v '^{' sensor.err | tail -3
echo "soak: $replays replays; records expected $((replays * per_replay)), found $found in" \
  "$(ls flows.jsonl* | wc -l) files ($bad not whole lines)"
