#!/usr/bin/env python3
"""Writes captures/expected.jsonl from scenarios.jsonl (what record.sh told each client and
server to do), after checking every value against tshark's dissection of the captures.

The expected values are the scenario's; tshark is the independent witness. Any disagreement
stops the script: either the scenario's expectation or the recording is wrong, and a person
must look. helloscope's own output is never consulted.
"""
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
        s = streams.setdefault(sid, {"first": int(g("frame.number")[0]), "client": None, "sni": None,
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
                })
    if problems:
        print("make_expected: the recording disagrees with the scenarios:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    with open(folder / "expected.jsonl", "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    print(f"make_expected: {len(out)} flows written to {folder / 'expected.jsonl'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
