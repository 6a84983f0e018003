#!/usr/bin/env python3
"""Writes captures/expected.jsonl from scenarios.jsonl (what record.sh told each client and
server to do), after checking every value against tshark's dissection of the captures.

The expected values are the scenario's; tshark is the independent witness. Any disagreement
stops the script: either the scenario's expectation or the recording is wrong, and a person
must look. helloscope's own output is never consulted.

Fingerprints come from tshark alone: JA3, JA3 string, JA3S and JA3S string as tshark computes
them (`tls.handshake.ja3`, `ja3_full`, `ja3s`, `ja3s_full`; tshark 4.0 and later), of the
first ClientHello and the first ServerHello (a HelloRetryRequest included) of each stream.
tshark 4.0 has no JA4, so JA4 and JA4_r are computed below from tshark's dissection tree of
the first ClientHello (cipher suites, extension types, signature_algorithms, ALPN, SNI,
supported_versions) following FoxIO's specification (technical_details/JA4.md): GREASE
ignored everywhere (signature algorithms included), and a first ALPN value that is not
alphanumeric at either end represented by the first and last characters of its hex form.
`make_expected.py --check-corpus ../shared/corpus` checks this JA4 against FoxIO's and
Arkime's published values.
"""
import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

VERSIONS = {0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
# The ciphers record.sh pins on its servers, by version.
CIPHER_BY_VERSION = {
    "TLS 1.0": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS 1.1": "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS 1.2": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS 1.3": "TLS_AES_256_GCM_SHA384",
}
CIPHER_IDS = {
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
    "TLS_AES_256_GCM_SHA384": 0x1302,
}
ALERTS = {70: "protocol_version", 40: "handshake_failure", 0: "close_notify"}
FIELDS = [
    "frame.number", "tcp.stream", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport",
    "tcp.dstport", "tls.record.content_type", "tls.record.opaque_type", "tls.handshake.type",
    "tls.handshake.extensions_server_name", "tls.handshake.extensions.supported_version",
    "tls.handshake.version", "tls.handshake.ciphersuite", "tls.alert_message.desc",
    "tls.handshake.extensions_alpn_str", "tls.handshake.random",
]
HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"


def is_grease(v):
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def num(s):
    return int(s, 0)


def dissect(path):
    cmd = ["tshark", "-r", str(path), "-o", "tcp.desegment_tcp_streams:TRUE", "-T", "json"]
    for f in FIELDS:
        cmd += ["-e", f]
    packets = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout or "[]")
    fps = fingerprints(path)
    streams = {}
    for p in packets:
        L = p["_source"]["layers"]
        g = lambda k: L.get(k, [])
        if not g("tcp.stream"):
            continue
        sid = int(g("tcp.stream")[0])
        src = (g("ip.src") or g("ipv6.src"))[0]
        dst = (g("ip.dst") or g("ipv6.dst"))[0]
        sport, dport = int(g("tcp.srcport")[0]), int(g("tcp.dstport")[0])
        s = streams.setdefault(sid, {"first": int(g("frame.number")[0]), "fp": fps.get(sid, {}), "client": None, "sni": None,
                                     "offered": None, "alpn_offered": [], "server_hellos": [],
                                     "alerts": [], "types": defaultdict(set), "ends": {}})
        types = [int(t) for t in g("tls.handshake.type")]
        if 1 in types and s["client"] is None:
            s["client"], s["client_port"], s["server"], s["server_port"] = src, sport, dst, dport
            s["sni"] = (g("tls.handshake.extensions_server_name") or [None])[0]
            sv = [num(v) for v in g("tls.handshake.extensions.supported_version") if not is_grease(num(v))]
            legacy = num(g("tls.handshake.version")[0])
            s["offered"] = sorted({VERSIONS.get(v, hex(v)) for v in (sv or [legacy])}, reverse=True)
            s["alpn_offered"] = g("tls.handshake.extensions_alpn_str")
        if s["client"] is None:
            continue
        side = "client" if (src, sport) == (s["client"], s["client_port"]) else "server"
        for ct in g("tls.record.content_type") + g("tls.record.opaque_type"):
            s["types"][side].add(int(ct))
        if 2 in types and side == "server":
            sv = [num(v) for v in g("tls.handshake.extensions.supported_version")]
            hv = [num(v) for v in g("tls.handshake.version")]
            ver = VERSIONS.get(sv[-1] if sv else hv[-1])
            rnd = g("tls.handshake.random")
            s["server_hellos"].append({
                "version": ver, "cipher": num(g("tls.handshake.ciphersuite")[-1]),
                "alpn": (g("tls.handshake.extensions_alpn_str") or [None])[-1],
                "hrr": bool(rnd) and rnd[-1].replace(":", "") == HRR_RANDOM})
        for d in g("tls.alert_message.desc"):
            s["alerts"].append((side, int(d)))
    return sorted((s for s in streams.values() if s["client"]), key=lambda s: s["first"])


JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
                0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}


def handshakes(node):
    """Every handshake message of a packet's tls layer, in the dissection tree's order."""
    if isinstance(node, list):
        for n in node:
            yield from handshakes(n)
    elif isinstance(node, dict):
        if "tls.handshake.type" in node:
            yield node
        else:
            for v in node.values():
                yield from handshakes(v)


def as_list(v):
    return v if isinstance(v, list) else [v]


def extensions(hs):
    """(type, subtree) of each extension of a hello, GREASE included. tshark names the
    subtrees "Extension: <name> (len=N)"; --no-duplicate-keys turns repeated names into lists."""
    for k, v in hs.items():
        if k.startswith("Extension: "):
            for e in as_list(v):
                yield int(e["tls.handshake.extension.type"]), e


def leaves(node, key):
    """Values of `key` anywhere under node, in order."""
    if isinstance(node, list):
        for n in node:
            yield from leaves(n, key)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield from as_list(v)
            else:
                yield from leaves(v, key)


def sha12(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12] if text else "000000000000"


def ja4(hs, transport="t"):
    """JA4 and JA4_r of a ClientHello's dissection tree, per FoxIO's JA4.md."""
    ciphers = [num(c) for c in leaves(hs.get("tls.handshake.ciphersuites", {}), "tls.handshake.ciphersuite")]
    ciphers = [c for c in ciphers if not is_grease(c)]
    exts, sni, alpn, sigalgs, versions = [], False, None, None, None
    for t, e in extensions(hs):
        if is_grease(t):
            continue
        exts.append(t)
        if t == 0:
            sni = True
        elif t == 16 and alpn is None:
            # The bytes (tshark's `-x` raw form: [hex, offset, length, ...]), not the printed
            # string, which replaces non-printable bytes.
            # With one name the raw form is flattened into its parts, with several it is a list.
            raw = next(leaves(e, "tls.handshake.extensions_alpn_str_raw"), None)
            alpn = bytes.fromhex(raw[0] if isinstance(raw, list) else raw) if raw else b""
        elif t == 13 and sigalgs is None:
            sigalgs = [num(s) for s in leaves(e, "tls.handshake.sig_hash_alg")]
        elif t == 43 and versions is None:
            versions = [num(v) for v in leaves(e, "tls.handshake.extensions.supported_version")]
    offered = [v for v in (versions or []) if not is_grease(v)]
    version = max(offered) if offered else num(hs["tls.handshake.version"])
    alnum = lambda b: chr(b).isascii() and chr(b).isalnum()
    if not alpn:
        a_alpn = "00"
    elif alnum(alpn[0]) and alnum(alpn[-1]):
        a_alpn = chr(alpn[0]) + chr(alpn[-1])
    else:
        h = alpn.hex()
        a_alpn = h[0] + h[-1]
    a = (f"{transport}{JA4_VERSIONS.get(version, '00')}{'d' if sni else 'i'}"
         f"{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{a_alpn}")
    b = ",".join(f"{c:04x}" for c in sorted(ciphers))
    c = ",".join(f"{e:04x}" for e in sorted(e for e in exts if e not in (0, 16)))
    sig = ",".join(f"{s:04x}" for s in (sigalgs or []) if not is_grease(s))
    if sig:
        c += "_" + sig
    return f"{a}_{sha12(b)}_{sha12(c)}", f"{a}_{b}_{c}"


def fingerprints(path):
    """Per TCP stream: the fingerprints of its first ClientHello and first ServerHello."""
    cmd = ["tshark", "-r", str(path), "-o", "tcp.desegment_tcp_streams:TRUE", "-Y",
           "tls.handshake.type == 1 || tls.handshake.type == 2", "-T", "json", "-x",
           "--no-duplicate-keys", "-J", "tcp tls"]
    packets = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout or "[]")
    out = defaultdict(dict)
    for p in packets:
        L = p["_source"]["layers"]
        if "tcp" not in L:
            continue
        sid = int(as_list(L["tcp"])[0]["tcp.stream"])
        f = out[sid]
        for hs in handshakes(L.get("tls", {})):
            t = int(hs["tls.handshake.type"])
            if t == 1 and "ja3" not in f:
                f["ja3"], f["ja3_string"] = hs["tls.handshake.ja3"], hs["tls.handshake.ja3_full"]
                f["ja4"], f["ja4_r"] = ja4(hs)
            elif t == 2 and "ja3s" not in f:
                f["ja3s"], f["ja3s_string"] = hs["tls.handshake.ja3s"], hs["tls.handshake.ja3s_full"]
    return out


def main(folder):
    folder = Path(folder)
    scenarios = [json.loads(l) for l in open(folder / "scenarios.jsonl")]
    by_target = defaultdict(list)
    for sc in scenarios:
        by_target[(sc["file"], sc["server_port"])].append(sc)
    out, problems = [], []
    for file in sorted({sc["file"] for sc in scenarios}):
        streams = dissect(folder / file)
        per_port = defaultdict(list)
        for s in streams:
            per_port[s["server_port"]].append(s)
        for port, ss in per_port.items():
            scs = by_target.get((file, port), [])
            if scs and scs[-1]["count"] == "any":
                scs = scs[:-1] + [scs[-1]] * (len(ss) - len(scs) + 1)
            if len(scs) != len(ss):
                problems.append(f"{file} port {port}: {len(scs)} scenarios, {len(ss)} TLS streams")
                continue
            for sc, s in zip(scs, ss):
                where = f"{file} {s['client']}:{s['client_port']} ({sc['client']})"
                final = next((h for h in s["server_hellos"] if not h["hrr"]), None)
                hrr = any(h["hrr"] for h in s["server_hellos"])
                alert = next((a for a in s["alerts"] if a[1] != 0), None)
                if sc["version"]:
                    cipher = CIPHER_BY_VERSION[sc["version"]]
                    established = (s["types"]["client"] >= {23} and s["types"]["server"] >= {23}) if sc["version"] == "TLS 1.3" \
                        else (20 in s["types"]["client"] and 20 in s["types"]["server"])
                else:
                    cipher, established = None, False
                witness = {
                    "sni": s["sni"], "versions_offered": s["offered"],
                    "version": final and final["version"],
                    "cipher": final and CIPHER_IDS.get(cipher) == final["cipher"] and cipher,
                    "alpn_offered": s["alpn_offered"], "alpn": final and final["alpn"],
                    "outcome": "alert" if alert else ("established" if established else "other"),
                    "alert": alert and ALERTS.get(alert[1], str(alert[1])),
                }
                want = {"sni": sc["sni"], "versions_offered": sc["versions_offered"], "version": sc["version"],
                        "cipher": cipher, "alpn_offered": sc["alpn_offered"], "alpn": sc["alpn"],
                        "outcome": sc["outcome"], "alert": sc["alert"]}
                for k, v in want.items():
                    w = witness[k]
                    if (v or None) != (w or None):
                        problems.append(f"{where}: {k}: scenario says {v!r}, tshark says {w!r}")
                out.append({
                    "file": file, "client_ip": s["client"], "client_port": s["client_port"],
                    "server_ip": s["server"], "server_port": s["server_port"],
                    "client": sc["client"], "client_version": sc["client_version"],
                    "sni": sc["sni"], "versions_offered": sc["versions_offered"],
                    "version_offered_max": sc["versions_offered"][0], "version": sc["version"],
                    "cipher": cipher, "alpn_offered": sc["alpn_offered"], "alpn": sc["alpn"],
                    "hello_retry": hrr, "outcome": sc["outcome"],
                    "alert": {"level": "fatal", "description": sc["alert"], "from": "server"} if sc["alert"] else None,
                    "ja3": s["fp"].get("ja3"), "ja3_string": s["fp"].get("ja3_string"),
                    "ja4": s["fp"].get("ja4"), "ja4_r": s["fp"].get("ja4_r"),
                    "ja3s": s["fp"].get("ja3s"), "ja3s_string": s["fp"].get("ja3s_string"),
                })
                if not s["fp"].get("ja3"):
                    problems.append(f"{where}: tshark computed no JA3 for the ClientHello")
                if bool(final or hrr) != bool(s["fp"].get("ja3s")):
                    problems.append(f"{where}: ServerHello seen {bool(final or hrr)}, JA3S {s['fp'].get('ja3s')!r}")
    if problems:
        print("make_expected: the recording disagrees with the scenarios:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    with open(folder / "expected.jsonl", "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    print(f"make_expected: {len(out)} flows written to {folder / 'expected.jsonl'}")


def check_corpus(corpus):
    """Checks ja4() above against the fingerprint authors' published values in the shared
    corpus (../shared/corpus/expected.jsonl: FoxIO's and Arkime's JA4 / JA4_r of TCP flows).
    The one expected difference is FoxIO's `99` for a non-alphanumeric first ALPN value, where
    the specification (and this script) uses the hex characters."""
    corpus = Path(corpus)
    wanted = defaultdict(list)
    for line in open(corpus / "expected.jsonl"):
        o = json.loads(line)
        if (o.get("expected_derived") or {}).get("transport", "tcp") != "tcp":
            continue
        for author, v in o.get("author_values", {}).items():
            if isinstance(v, dict) and "ja4" in v:
                wanted[o["file"]].append((author, v))
    agree, differ = 0, []
    for file, items in sorted(wanted.items()):
        ours = fingerprints(corpus / file).values()
        for author, v in items:
            for k in ("ja4", "ja4_r"):
                if k in v:
                    if v[k] in {f.get(k) for f in ours}:
                        agree += 1
                    else:
                        differ.append(f"{file} {author} {k} {v[k]}")
    print(f"check_corpus: {agree} published JA4/JA4_r values reproduced, {len(differ)} not:")
    for d in differ:
        print("  " + d)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check-corpus":
        check_corpus(sys.argv[2])
    else:
        main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
