#!/usr/bin/env python3
"""Writes captures/expected_udp.jsonl from scenarios_udp.jsonl (what record_udp.sh told each
QUIC and DTLS peer to do), after checking every value against tshark's dissection.

The expected values are the scenario's; tshark is the independent witness, and the source of
the fingerprints: JA3 as tshark computes it (`tls.handshake.ja3` for the TLS inside QUIC,
`dtls.handshake.ja3`), JA4 computed here from tshark's dissected fields by FoxIO's
specification (technical_details/JA4.md: `q` for QUIC, `d` for DTLS). Any disagreement stops
the script. helloscope's own output is never consulted.
"""
import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

VERSIONS = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3",
            0xFEFF: "DTLS 1.0", 0xFEFD: "DTLS 1.2", 0xFEFC: "DTLS 1.3"}
JA4_VERSION = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
               0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
ALERTS = {70: "protocol_version", 40: "handshake_failure", 120: "no_application_protocol"}
QUIC_VERSIONS = {0x00000001: "v1", 0x6B3343CF: "v2", 0xFF00001D: "draft-29"}
HS = ["handshake.type", "handshake.extensions_server_name", "handshake.extensions.supported_version",
      "handshake.version", "handshake.ciphersuite", "handshake.extensions_alpn_str", "handshake.ja3",
      "handshake.ja3_full", "handshake.extension.type", "handshake.sig_hash_alg", "alert_message.desc",
      "record.content_type"]
FIELDS = ["frame.number", "udp.stream", "ip.src", "ip.dst", "udp.srcport", "udp.dstport",
          "quic.version", "quic.header_form", "quic.long.packet_type", "quic.cc.error_code.tls_alert"] \
    + [f"tls.{h}" for h in HS] + [f"dtls.{h}" for h in HS] + ["dtls.record.epoch"]


def is_grease(v):
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def num(s):
    return int(s, 0)


def newest(versions):
    """JA4's "highest" supported version; among DTLS versions, the newest (they count down)."""
    dtls = [v for v in versions if v >> 8 == 0xFE]
    return min(dtls) if dtls and len(dtls) == len(versions) else max(versions)


def sha12(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def ja4(letter, ch):
    ciphers = [c for c in ch["ciphers"] if not is_grease(c)]
    exts = [e for e in ch["exts"] if not is_grease(e)]
    sv = [v for v in ch["sv"] if not is_grease(v)]
    version = JA4_VERSION.get(newest(sv) if sv else ch["legacy"], "00")
    alpn = ch["alpn"][0] if ch["alpn"] else ""
    alpn = (alpn[0] + alpn[-1]) if alpn else "00"
    a = f"{letter}{version}{'d' if ch['sni'] else 'i'}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn}"
    b = sha12(",".join(sorted(f"{c:04x}" for c in ciphers))) if ciphers else "0" * 12
    c_exts = ",".join(sorted(f"{e:04x}" for e in exts if e not in (0x0000, 0x0010)))
    sigs = ",".join(f"{s:04x}" for s in ch["sigs"] if not is_grease(s))
    c = sha12(c_exts + ("_" + sigs if sigs else "")) if exts else "0" * 12
    return f"{a}_{b}_{c}"


def dissect(path):
    cmd = ["tshark", "-r", str(path), "-T", "json"]
    for f in FIELDS:
        cmd += ["-e", f]
    packets = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout or "[]")
    streams = {}
    for p in packets:
        L = p["_source"]["layers"]
        g = lambda k: L.get(k, [])
        if not g("udp.stream"):
            continue
        sid = int(g("udp.stream")[0])
        src, dst = g("ip.src")[0], g("ip.dst")[0]
        sport, dport = int(g("udp.srcport")[0]), int(g("udp.dstport")[0])
        s = streams.setdefault(sid, {"first": int(g("frame.number")[0]), "client": (src, sport),
                                     "server": (dst, dport), "hello": None, "server_hellos": [],
                                     "alerts": [], "short": set(), "ccs": set(), "from_server": 0,
                                     "quic_version": None})
        side = "client" if (src, sport) == s["client"] else "server"
        s["from_server"] += side == "server"
        proto = "dtls" if g("dtls.record.content_type") else "tls"
        h = lambda k: g(f"{proto}.{k}")
        if g("quic.version") and side == "client" and s["quic_version"] is None:
            s["quic_version"] = num(g("quic.version")[0])
        if "0" in g("quic.header_form") or "False" in g("quic.header_form"):
            s["short"].add(side)
        if proto == "dtls":
            for ct in h("record.content_type"):
                if int(ct) == 20:
                    s["ccs"].add(side)
        types = [int(t) for t in h("handshake.type")]
        # A fragment of a hello has a type but no fields: the fields come with the last one.
        if 1 in types and side == "client" and s["hello"] is None and h("handshake.version"):
            s["hello"] = {
                "proto": "quic" if g("quic.version") else proto,
                "sni": (h("handshake.extensions_server_name") or [None])[0],
                "sv": [num(v) for v in h("handshake.extensions.supported_version")],
                "legacy": num(h("handshake.version")[0]),
                "ciphers": [num(c) for c in h("handshake.ciphersuite")],
                "alpn": h("handshake.extensions_alpn_str"),
                "exts": [num(e) for e in h("handshake.extension.type")],
                "sigs": [num(x) for x in h("handshake.sig_hash_alg")],
                "ja3": (h("handshake.ja3") or [None])[0],
                "ja3_full": (h("handshake.ja3_full") or [None])[0],
            }
        if 2 in types and side == "server":
            sv = [num(v) for v in h("handshake.extensions.supported_version")]
            hv = [num(v) for v in h("handshake.version")]
            # The ServerHello's fields come after the ClientHello's in a packet with both.
            s["server_hellos"].append({"version": VERSIONS.get(sv[-1] if sv else hv[-1]),
                                       "cipher": num(h("handshake.ciphersuite")[-1])})
        for d in h("alert_message.desc") + g("quic.cc.error_code.tls_alert"):
            s["alerts"].append((side, int(d, 0)))
    return sorted((s for s in streams.values() if s["hello"]), key=lambda s: s["first"])


def main(folder):
    folder = Path(folder)
    scenarios = [json.loads(l) for l in open(folder / "scenarios_udp.jsonl")]
    by_target = defaultdict(list)
    for sc in scenarios:
        by_target[(sc["file"], sc["server_port"])].append(sc)
    out, problems = [], []
    for file in sorted({sc["file"] for sc in scenarios}):
        per_port = defaultdict(list)
        for s in dissect(folder / file):
            per_port[s["server"][1]].append(s)
        for port, ss in per_port.items():
            scs = by_target.get((file, port), [])
            if len(scs) != len(ss):
                problems.append(f"{file} port {port}: {len(scs)} scenarios, {len(ss)} handshakes")
                continue
            for sc, s in zip(scs, ss):
                ch = s["hello"]
                where = f"{file} {s['client'][0]}:{s['client'][1]} ({sc['client']})"
                sv = [v for v in ch["sv"] if not is_grease(v)] or [ch["legacy"]]
                offered = sorted({VERSIONS.get(v, hex(v)) for v in sv},
                                 key=lambda v: list(VERSIONS.values()).index(v) if v in VERSIONS.values() else -1,
                                 reverse=True)
                sh = s["server_hellos"][0] if s["server_hellos"] else None
                alert = next((a for a in s["alerts"] if a[1] != 0), None)
                if sc["transport"] == "quic":
                    established = s["short"] == {"client", "server"}
                else:
                    established = s["ccs"] == {"client", "server"}
                outcome = ("alert" if alert else "established" if established and sh
                           else "negotiated" if sh else "no_response" if s["from_server"] == 0 else "incomplete")
                witness = {
                    "transport": ch["proto"], "quic_version": QUIC_VERSIONS.get(s["quic_version"]),
                    "sni": ch["sni"], "versions_offered": offered, "version": sh and sh["version"],
                    "alpn_offered": ch["alpn"], "outcome": outcome,
                    "alert": alert and ALERTS.get(alert[1], str(alert[1])), "alert_from": alert and alert[0],
                }
                for k, w in witness.items():
                    v = sc[k]
                    if (v or None) != (w or None):
                        problems.append(f"{where}: {k}: scenario says {v!r}, tshark says {w!r}")
                letter = "q" if sc["transport"] == "quic" else "d"
                out.append({
                    "file": file, "client_ip": s["client"][0], "client_port": s["client"][1],
                    "server_ip": s["server"][0], "server_port": s["server"][1],
                    "client": sc["client"], "client_version": sc["client_version"],
                    "transport": sc["transport"], "quic_version": sc["quic_version"],
                    "sni": sc["sni"], "versions_offered": sc["versions_offered"],
                    "version_offered_max": sc["versions_offered"][0], "version": sc["version"],
                    "cipher": sh and f"0x{sh['cipher']:04x}", "alpn_offered": sc["alpn_offered"],
                    "outcome": sc["outcome"],
                    "alert": {"level": "fatal", "description": sc["alert"], "from": sc["alert_from"]}
                    if sc["alert"] else None,
                    "ja3": ch["ja3"], "ja3_string": ch["ja3_full"], "ja4": ja4(letter, ch),
                })
    if problems:
        print("make_expected_udp: the recording disagrees with the scenarios:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    with open(folder / "expected_udp.jsonl", "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    print(f"make_expected_udp: {len(out)} flows written to {folder / 'expected_udp.jsonl'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
