#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the project's real captures and test vectors."""
import os, struct, hashlib
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)

def put(target, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)

def frames(path):
    b = open(path, "rb").read()
    if struct.unpack("<I", b[:4])[0] != 0xa1b2c3d4:
        return None, []
    link = struct.unpack("<I", b[20:24])[0]
    out, i = [], 24
    while i + 16 <= len(b):
        n = struct.unpack("<I", b[i+8:i+12])[0]
        out.append(b[i+16:i+16+n]); i += 16 + n
    return link, out

td = os.path.join(root, "crates", "helloscope-tls", "testdata")
for f in os.listdir(td):
    if f.endswith(".bin"):
        rec = open(os.path.join(td, f), "rb").read()
        put("records", rec)
        put("hellos", rec[9:]); put("fingerprints", rec[9:])
        put("hellos", rec)
for f in sorted(os.listdir(os.path.join(root, "captures"))):
    if not f.endswith(".pcap"):
        continue
    link, fr = frames(os.path.join(root, "captures", f))
    for x in fr[:80]:
        put("decode", x)
    if link == 1:
        # pipeline input: frames of one flow after another, even first byte = Ethernet.
        blob = b"".join(bytes([0x10]) + struct.pack("<H", len(x)) + x for x in fr[:40])
        put("pipeline", blob)

# decode: the same IP packets carried through tunnels, and cut into fragments (the first
# byte of a decode input picks the link type for the reassembly half of the target; 1 is
# Ethernet, and 0xff separates frames).
def eth(t, p): return bytes(12) + struct.pack(">H", t) + p
def ip4(proto, p, off=0, more=False, ident=1):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(p), ident, off // 8 | (0x2000 if more else 0),
                       64, proto, 0, bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])) + p
def udp(dp, p): return struct.pack(">HHHH", 50000, dp, 8 + len(p), 0) + p
_, fr = frames(os.path.join(root, "captures", "openssl.pcap"))
for x in fr[:20]:
    ip = x[14:]
    wrapped = [
        eth(0x0800, ip4(4, ip)),
        eth(0x0800, ip4(47, struct.pack(">HHI", 0x2000, 0x0800, 7) + ip)),
        eth(0x0800, ip4(47, struct.pack(">HHI", 0x1000, 0x88be, 1) + bytes([0x10, 0, 0, 3, 0, 0, 0, 0]) + x)),
        eth(0x0800, ip4(17, udp(4789, bytes([8, 0, 0, 0, 0, 0x13, 0x89, 0]) + x))),
        eth(0x0800, ip4(17, udp(6081, bytes([0, 0, 0x65, 0x58, 0, 0, 7, 0]) + x))),
        eth(0x0800, ip4(17, udp(2152, struct.pack(">BBHI", 0x30, 0xff, len(ip), 9) + ip))),
        eth(0x8847, struct.pack(">I", 16 << 12 | 1 << 8 | 64) + ip),
    ]
    for w in wrapped:
        put("decode", w)
    if len(ip) > 40:
        payload = ip[20:]
        parts = [eth(0x0800, ip4(ip[9], payload[o:o + 16], o, o + 16 < len(payload), 7))
                 for o in range(0, len(payload), 16)]
        put("decode", bytes([1]) + b"\xff".join(reversed(parts)))
# quic_initial and dtls: the UDP payloads of each capture, a two-byte length each with the top
# bit set for the server's (the side whose source port is the server's well-known one).
for f, target, ports in (("quic.pcap", "quic_initial", range(4450, 4460)), ("dtls.pcap", "dtls", range(4460, 4470))):
    link, fr = frames(os.path.join(root, "captures", f))
    blob = b""
    for x in fr:
        ip = x[14:]
        if len(ip) < 28 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0f) * 4
        sport = struct.unpack(">H", ip[ihl:ihl+2])[0]
        payload = ip[ihl+8:]
        blob += struct.pack(">H", len(payload) | (0x8000 if sport in ports else 0)) + payload
        if len(blob) > 8000:
            put(target, blob); blob = b""
    if blob:
        put(target, blob)
# files: whole captures, plain and compressed (the container formats are what is fuzzed,
# so only the first few KiB of each).
import gzip, subprocess
for f in sorted(os.listdir(os.path.join(root, "captures"))):
    if f.endswith((".pcap", ".pcapng")):
        b = open(os.path.join(root, "captures", f), "rb").read()[:4096]
        put("files", b)
        put("files", gzip.compress(b))
        for tool in (["zstd", "-q", "-c"], ["lz4", "-q", "-c"]):
            try:
                put("files", subprocess.run(tool, input=b, capture_output=True, check=True).stdout)
            except (OSError, subprocess.CalledProcessError):
                pass
# reassembly input: an ISN, then segments (offset from the ISN, length, bytes) of a real hello,
# in order, reversed, and overlapping with other contents.
rec = open(os.path.join(td, "curl-7.88.1-clienthello.bin"), "rb").read()
def seg(off, data):
    return struct.pack("<hB", off, len(data)) + data
pieces = [(o, rec[o:o+200]) for o in range(0, len(rec), 200)]
put("reassembly", struct.pack("<I", 0xfffffff0) + b"".join(seg(o, d) for o, d in pieces))
put("reassembly", struct.pack("<I", 7) + b"".join(seg(o, d) for o, d in reversed(pieces)))
put("reassembly", struct.pack("<I", 7) + seg(50, b"x" * 100) + seg(0, rec[:200]) + seg(120, rec[120:300]))
# pipeline: the TCP cases of real flows (openssl.pcap): junk and a keep-alive byte over the
# start of each ClientHello, a retransmission of it that disagrees, the hello cut short, and
# each direction alone.
def tcp_parts(x):
    ip = x[14:]
    if len(ip) < 40 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 0x0f) * 4
    doff = (ip[ihl + 12] >> 4) * 4
    return 14 + ihl, 14 + ihl + doff
def with_payload(x, seq, data):
    at, data_at = tcp_parts(x)
    y = bytearray(x[:data_at] + data)
    struct.pack_into(">H", y, 16, len(y) - 14)
    struct.pack_into(">I", y, at + 4, seq & 0xffffffff)
    return bytes(y)
def blob_of(frames):
    return b"".join(bytes([0x10]) + struct.pack("<H", len(x)) + x for x in frames)
_, fr = frames(os.path.join(root, "captures", "openssl.pcap"))
fr = fr[:60]
hellos = [k for k, x in enumerate(fr) if tcp_parts(x) and x[tcp_parts(x)[1]:][:1] == b"\x16"
          and x[tcp_parts(x)[1]:][5:6] == b"\x01"]
def seq_of(x):
    return struct.unpack(">I", x[tcp_parts(x)[0] + 4:tcp_parts(x)[0] + 8])[0]
def payload_of(x):
    return x[tcp_parts(x)[1]:]
for make in (
    lambda x: [with_payload(x, seq_of(x), b"\x00\x00"), x],
    lambda x: [with_payload(x, seq_of(x) - 1, b"\x00"), x],
    lambda x: [x, with_payload(x, seq_of(x), payload_of(x)[:20] + b"\x55" + payload_of(x)[21:])],
    lambda x: [with_payload(x, seq_of(x), payload_of(x)[:len(payload_of(x)) // 2])],
):
    out = []
    for k, x in enumerate(fr):
        out += make(x) if k in hellos else [x]
    put("pipeline", blob_of(out))
clients = {x[tcp_parts(x)[0] - 8:tcp_parts(x)[0] - 4] + x[tcp_parts(x)[0]:tcp_parts(x)[0] + 2]
           for x in fr if tcp_parts(x) and x[tcp_parts(x)[0] + 13] & 0x12 == 0x02}
for keep_clients in (True, False):
    one_way = [x for x in fr if tcp_parts(x) and
               ((x[tcp_parts(x)[0] - 8:tcp_parts(x)[0] - 4] + x[tcp_parts(x)[0]:tcp_parts(x)[0] + 2])
                in clients) == keep_clients]
    put("pipeline", blob_of(one_way))
print("seeded", {t: len(os.listdir(os.path.join(here, "corpus", t))) for t in os.listdir(os.path.join(here, "corpus"))})
