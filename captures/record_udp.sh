#!/usr/bin/env bash
# Records the QUIC and DTLS captures in captures/ from real, unmodified peers, and writes
# captures/expected_udp.jsonl:
#   quic.pcap  aioquic (PyPI) client and server: QUIC v1 and v2, a Retry, an ALPN refusal
#              (CONNECTION_CLOSE in an Initial), a ClientHello over two Initial packets, a
#              client nobody answers;
#   dtls.pcap  openssl s_client -dtls1_2 / -dtls1 against openssl s_server -dtls (with and
#              without the HelloVerifyRequest cookie exchange, a version refusal, a
#              ClientHello split into fragments by a small MTU), and gnutls-cli --udp.
#
#   sudo captures/record_udp.sh        # Debian; installs what it needs (apt-get, pip)
#
# Everything runs inside a private network namespace ("hs-udp"): only its 127.0.0.1 is used.
# Expected values come from what each peer is told to do here (scenarios_udp.jsonl);
# make_expected_udp.py checks every one against tshark's dissection, computes JA3 and JA4
# from tshark's fields, and refuses to write expected_udp.jsonl if anything disagrees.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ "$(id -u)" = 0 ] || { echo "record_udp.sh: run as root (tcpdump and network namespaces)" >&2; exit 2; }

need=()
for p in tcpdump:tcpdump tshark:tshark gnutls-cli:gnutls-bin openssl:openssl python3:python3 \
         ip:iproute2; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
python3 -c 'import aioquic' 2>/dev/null || python3 -m pip install -q aioquic

NS=hs-udp
work=$(mktemp -d)
cleanup() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.3
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=quic.procore.com" \
  -addext "subjectAltName=DNS:quic.procore.com,DNS:dtls.procore.com" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

scen="$work/scenarios_udp.jsonl"
: >"$scen"
# scenario FILE PORT CLIENT CLIENT_VERSION TRANSPORT QUIC_VERSION SNI OFFERS(JSON) VERSION ALPN_OFFERED(JSON) OUTCOME [ALERT] [ALERT_FROM]
scenario() {
  python3 - "$@" >>"$scen" <<'PY'
import json, sys
a = sys.argv[1:] + [""] * 3
print(json.dumps({"file": a[0], "server_port": int(a[1]), "client": a[2], "client_version": a[3],
  "transport": a[4], "quic_version": a[5] or None, "sni": a[6] or None,
  "versions_offered": json.loads(a[7]), "version": a[8] or None,
  "alpn_offered": json.loads(a[9]), "outcome": a[10], "alert": a[11] or None,
  "alert_from": a[12] or None}))
PY
}
capture_start() { # file
  ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$work/$1" 'udp portrange 4450-4470' >/dev/null 2>&1 &
  tcpdump_pid=$!
  sleep 1
}
capture_stop() { sleep 1; kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true; }

# 1. QUIC: aioquic on both sides.
AIOQUIC_V="aioquic $(python3 -c 'import aioquic; print(aioquic.__version__)')"
peer() { in_ns timeout 10 python3 clients/quic_peer.py "$@" >/dev/null 2>&1 || true; sleep 0.3; }
in_ns python3 clients/quic_peer.py server 4450 "$work/cert.pem" "$work/key.pem" --alpn h3 &
in_ns python3 clients/quic_peer.py server 4451 "$work/cert.pem" "$work/key.pem" --alpn h3 --retry &
sleep 2
# aioquic's default cipher preference puts TLS_AES_256_GCM_SHA384 first.
capture_start quic.pcap
peer client 4450 quic.procore.com --alpn h3
scenario quic.pcap 4450 aioquic-client "$AIOQUIC_V" quic v1 quic.procore.com '["TLS 1.3"]' "TLS 1.3" '["h3"]' established
peer client 4450 quic.procore.com --alpn h3 --version 2
scenario quic.pcap 4450 aioquic-client "$AIOQUIC_V" quic v2 quic.procore.com '["TLS 1.3"]' "TLS 1.3" '["h3"]' established
peer client 4451 quic.procore.com --alpn h3
scenario quic.pcap 4451 aioquic-client "$AIOQUIC_V" quic v1 quic.procore.com '["TLS 1.3"]' "TLS 1.3" '["h3"]' established
# No protocol in common: the server closes in its Initial with CRYPTO_ERROR 0x178.
peer client 4450 quic.procore.com --alpn hq-interop
scenario quic.pcap 4450 aioquic-client "$AIOQUIC_V" quic v1 quic.procore.com '["TLS 1.3"]' "" '["hq-interop"]' alert no_application_protocol server
# Forty ALPN names make the ClientHello longer than one Initial packet.
many=$(python3 -c 'print(",".join(f"protocol-name-number-{i:02d}-padding" for i in range(40)) + ",h3")')
peer client 4450 quic.procore.com --alpn "$many"
scenario quic.pcap 4450 aioquic-client "$AIOQUIC_V" quic v1 quic.procore.com '["TLS 1.3"]' "TLS 1.3" "$(python3 -c "import json; print(json.dumps('$many'.split(',')))")" established
# Nobody listens on 4452: the client retransmits its Initial until it gives up.
peer client 4452 quic.procore.com --alpn h3 --timeout 2
scenario quic.pcap 4452 aioquic-client "$AIOQUIC_V" quic v1 quic.procore.com '["TLS 1.3"]' "" '["h3"]' no_response
capture_stop

# 2. DTLS: openssl s_server -dtls; openssl s_client and gnutls-cli --udp.
OPENSSL_V=$(openssl version | awk '{print $1" "$2}')
GNUTLS_V=$(gnutls-cli --version 2>/dev/null | head -1 | awk '{print $1" "$2}')
dserver() { # port args...
  local port=$1; shift
  in_ns openssl s_server -accept "127.0.0.1:$port" -cert "$work/cert.pem" -key "$work/key.pem" \
    -cipher 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0' -quiet "$@" \
    </dev/null >/dev/null 2>&1 &
}
dserver 4460 -dtls
dserver 4461 -dtls -listen
dserver 4462 -dtls1_2
sleep 1
dclient() { # port args...
  local port=$1; shift
  ( sleep 1; echo ) | in_ns timeout 5 openssl s_client -connect "127.0.0.1:$port" "$@" >/dev/null 2>&1 || true
  sleep 0.3
}
capture_start dtls.pcap
dclient 4460 -dtls1_2 -servername dtls.procore.com
scenario dtls.pcap 4460 openssl-s_client "$OPENSSL_V" dtls '' dtls.procore.com '["DTLS 1.2"]' "DTLS 1.2" '[]' established
dclient 4460 -dtls1 -servername dtls.procore.com -cipher 'DEFAULT:@SECLEVEL=0'
scenario dtls.pcap 4460 openssl-s_client "$OPENSSL_V" dtls '' dtls.procore.com '["DTLS 1.0"]' "DTLS 1.0" '[]' established
# -listen: the server answers the first ClientHello with a HelloVerifyRequest.
dclient 4461 -dtls1_2 -servername dtls.procore.com
scenario dtls.pcap 4461 openssl-s_client "$OPENSSL_V" dtls '' dtls.procore.com '["DTLS 1.2"]' "DTLS 1.2" '[]' established
# A 256-byte MTU and every cipher suite OpenSSL has: the ClientHello goes in fragments.
dclient 4460 -dtls1_2 -servername dtls.procore.com -mtu 256 -cipher 'ALL:@SECLEVEL=0'
scenario dtls.pcap 4460 openssl-s_client "$OPENSSL_V" dtls '' dtls.procore.com '["DTLS 1.2"]' "DTLS 1.2" '[]' established
# DTLS 1.0 to a DTLS 1.2-only server: refused with a protocol_version alert.
dclient 4462 -dtls1 -servername dtls.procore.com -cipher 'DEFAULT:@SECLEVEL=0'
scenario dtls.pcap 4462 openssl-s_client "$OPENSSL_V" dtls '' dtls.procore.com '["DTLS 1.0"]' "" '[]' alert protocol_version server
in_ns timeout 5 gnutls-cli --udp --insecure --sni-hostname=dtls.procore.com -p 4460 127.0.0.1 </dev/null >/dev/null 2>&1 || true
sleep 0.3
scenario dtls.pcap 4460 gnutls-cli "$GNUTLS_V" dtls '' dtls.procore.com '["DTLS 1.2"]' "DTLS 1.2" '[]' established
capture_stop

for f in quic.pcap dtls.pcap; do cp "$work/$f" "$here/$f"; done
cp "$scen" "$here/scenarios_udp.jsonl"
python3 "$here/make_expected_udp.py" "$here"
