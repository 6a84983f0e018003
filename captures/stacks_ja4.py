"""Adds to each line of captures/stacks/expected.jsonl the JA4s of the ClientHellos sent to its
server port, computed from tshark's dissection by make_expected.py's JA4 (FoxIO's
specification; checked against FoxIO's published values by `make_expected.py --check-corpus`),
not by helloscope: the tests compare helloscope's JA4 and the exact entries of src/stacks.toml
with these.

    python3 captures/stacks_ja4.py captures/stacks/clients.pcap captures/stacks/expected.jsonl
"""
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_expected as m  # noqa: E402


def hello_ja4s(pcap):
    """Server port -> the JA4s of the ClientHellos sent to it, in order of first appearance."""
    cmd = ["tshark", "-r", str(pcap), "-o", "tcp.desegment_tcp_streams:TRUE", "-Y",
           "tls.handshake.type == 1", "-T", "json", "-x", "--no-duplicate-keys", "-J", "tcp tls"]
    packets = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout or "[]")
    out = {}
    for p in packets:
        layers = p["_source"]["layers"]
        port = int(m.as_list(layers["tcp"])[0]["tcp.dstport"])
        for hs in m.handshakes(layers.get("tls", {})):
            if int(hs["tls.handshake.type"]) == 1:
                ja4 = m.ja4(hs)[0]
                if ja4 not in out.setdefault(port, []):
                    out[port].append(ja4)
    return out


def main(pcap, expected):
    ja4s = hello_ja4s(pcap)
    lines = [json.loads(line) for line in Path(expected).read_text().splitlines()]
    for e in lines:
        e["ja4"] = ja4s.get(e["server_port"], [])
        if not e["ja4"]:
            print(f"stacks_ja4.py: no ClientHello to port {e['server_port']} ({e['client']})", file=sys.stderr)
    Path(expected).write_text("".join(json.dumps(e) + "\n" for e in lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
