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
# reassembly input: an ISN, then segments (offset from the ISN, length, bytes) of a real hello,
# in order, reversed, and overlapping with other contents.
rec = open(os.path.join(td, "curl-7.88.1-clienthello.bin"), "rb").read()
def seg(off, data):
    return struct.pack("<hB", off, len(data)) + data
pieces = [(o, rec[o:o+200]) for o in range(0, len(rec), 200)]
put("reassembly", struct.pack("<I", 0xfffffff0) + b"".join(seg(o, d) for o, d in pieces))
put("reassembly", struct.pack("<I", 7) + b"".join(seg(o, d) for o, d in reversed(pieces)))
put("reassembly", struct.pack("<I", 7) + seg(50, b"x" * 100) + seg(0, rec[:200]) + seg(120, rec[120:300]))
print("seeded", {t: len(os.listdir(os.path.join(here, "corpus", t))) for t in os.listdir(os.path.join(here, "corpus"))})
