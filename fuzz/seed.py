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
print("seeded", {t: len(os.listdir(os.path.join(here, "corpus", t))) for t in os.listdir(os.path.join(here, "corpus"))})
