#!/usr/bin/env bash
# Regenerates the capture corpus in captures/ from real, unmodified client programs talking to
# real TLS servers on loopback, and writes captures/expected.jsonl.
#
#   sudo captures/record.sh            # Debian; installs what it needs with apt-get
#
# Everything runs inside a private network namespace ("hs-rec"), so the only addresses used
# are that namespace's 127.0.0.1 and ::1, and its loopback MTU can be set to 1500 like an
# Ethernet link (so that large hellos span several TCP segments, as on a real network).
# Expected values come from what each client and server is told to do here (scenarios.jsonl);
# make_expected.py cross-checks every one against tshark's dissection and refuses to write
# expected.jsonl if they disagree.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ "$(id -u)" = 0 ] || { echo "record.sh: run as root (tcpdump and network namespaces)" >&2; exit 2; }

need=()
for p in tcpdump:tcpdump tshark:tshark editcap:wireshark-common gnutls-cli:gnutls-bin \
         openssl:openssl curl:curl python3:python3 java:default-jdk-headless node:nodejs \
         chromium:chromium ip:iproute2 ethtool:ethtool; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

NS=hs-rec
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
ip netns exec "$NS" ip link set lo mtu 1500
in_ns() { ip netns exec "$NS" "$@"; }
# No segmentation offload on this loopback: segments are captured as a 1500-byte link sends them.
in_ns ethtool -K lo tso off gso off gro off >/dev/null 2>&1 || true

# One self-signed certificate for every host the scenarios use.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=api.procore.com" \
  -addext "subjectAltName=DNS:api.procore.com,DNS:login.procore.com,DNS:app.procore.com,DNS:apitls12.onepagecrm.com" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# Servers. Ciphers are pinned so the expected cipher follows from the version:
# TLS 1.2 -> ECDHE-RSA-AES128-GCM-SHA256, TLS 1.0/1.1 -> ECDHE-RSA-AES128-SHA,
# TLS 1.3 -> TLS_AES_256_GCM_SHA384.
CIPHERS='ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0'
SUITES='TLS_AES_256_GCM_SHA384'
server() { # name addr:port extra-args...
  local name=$1 accept=$2; shift 2
  in_ns openssl s_server -accept "$accept" -cert "$work/cert.pem" -key "$work/key.pem" \
    -cipher "$CIPHERS" -ciphersuites "$SUITES" -serverpref -www -quiet "$@" \
    >"$work/server-$name.log" 2>&1 &
}
server any      127.0.0.1:4431 -min_protocol TLSv1 -max_protocol TLSv1.3
server tls12up  127.0.0.1:4432 -min_protocol TLSv1.2 -max_protocol TLSv1.3
server tls13    127.0.0.1:4433 -min_protocol TLSv1.3 -max_protocol TLSv1.3
server hrr      127.0.0.1:4434 -min_protocol TLSv1.2 -groups P-384
server h2       127.0.0.1:4435 -min_protocol TLSv1.2 -alpn h2
server any6     '[::1]:4441' -min_protocol TLSv1 -max_protocol TLSv1.3
server chromium '[::1]:4442' -min_protocol TLSv1.2 -max_protocol TLSv1.3
sleep 1

scen="$work/scenarios.jsonl"
: >"$scen"
# scenario FILE PORT CLIENT CLIENT_VERSION SNI OFFERS(JSON) VERSION(or "") ALPN_OFFERED(JSON) ALPN(or "") OUTCOME [ALERT] [COUNT]
scenario() {
  python3 - "$@" >>"$scen" <<'PY'
import json, sys
a = sys.argv[1:]
print(json.dumps({"file": a[0], "server_port": int(a[1]), "client": a[2], "client_version": a[3],
  "sni": a[4] or None, "versions_offered": json.loads(a[5]), "version": a[6] or None,
  "alpn_offered": json.loads(a[7]), "alpn": a[8] or None, "outcome": a[9],
  "alert": a[10] if len(a) > 10 and a[10] else None, "count": a[11] if len(a) > 11 else "1"}))
PY
}
capture_start() { # file interface [tcpdump args]
  local f=$1 ifc=$2; shift 2
  ip netns exec "$NS" tcpdump -i "$ifc" -U -s 0 -w "$work/$f" "$@" 'tcp portrange 4431-4442' >/dev/null 2>&1 &
  tcpdump_pid=$!
  sleep 1
}
capture_stop() { sleep 1; kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true; }

OPENSSL_V=$(openssl version | awk '{print $1" "$2}')
sclient() { # port sni args...
  local port=$1 sni=$2; shift 2
  echo | in_ns timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername "$sni" \
    "$@" >/dev/null 2>&1 || true
  sleep 0.3
}
# OpenSSL 3 refuses TLS 1.0/1.1 at its default security level; old clients lower it.
OLD='-cipher DEFAULT:@SECLEVEL=0'


# 1. openssl s_client: every version, refusals, resumption, HelloRetryRequest.
capture_start openssl.pcap lo
sclient 4431 api.procore.com -tls1 $OLD;   scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.0"]' "TLS 1.0" '[]' "" established
sclient 4431 api.procore.com -tls1_1 $OLD; scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.1"]' "TLS 1.1" '[]' "" established
sclient 4431 api.procore.com -tls1_2; scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.2"]' "TLS 1.2" '[]' "" established
sclient 4431 api.procore.com -tls1_3; scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.3"]' "TLS 1.3" '[]' "" established
sclient 4432 login.procore.com -tls1 $OLD;   scenario openssl.pcap 4432 openssl-s_client "$OPENSSL_V" login.procore.com '["TLS 1.0"]' "" '[]' "" alert protocol_version
sclient 4432 login.procore.com -tls1_1 $OLD; scenario openssl.pcap 4432 openssl-s_client "$OPENSSL_V" login.procore.com '["TLS 1.1"]' "" '[]' "" alert protocol_version
sclient 4433 apitls12.onepagecrm.com -tls1_2; scenario openssl.pcap 4433 openssl-s_client "$OPENSSL_V" apitls12.onepagecrm.com '["TLS 1.2"]' "" '[]' "" alert protocol_version
sclient 4431 api.procore.com -tls1_2 -sess_out "$work/sess12.pem"
scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.2"]' "TLS 1.2" '[]' "" established
sclient 4431 api.procore.com -tls1_2 -sess_in "$work/sess12.pem"
scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.2"]' "TLS 1.2" '[]' "" established
( sleep 1; echo ) | in_ns timeout 10 openssl s_client -connect 127.0.0.1:4431 -servername api.procore.com -tls1_3 -sess_out "$work/sess13.pem" >/dev/null 2>&1 || true
scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.3"]' "TLS 1.3" '[]' "" established
sclient 4431 api.procore.com -tls1_3 -sess_in "$work/sess13.pem"
scenario openssl.pcap 4431 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.3"]' "TLS 1.3" '[]' "" established
# Offers an x25519 key share; the server only takes P-384, so it answers with a
# HelloRetryRequest. OpenSSL 3.0 offers TLS 1.0 to 1.3 by default.
sclient 4434 api.procore.com -groups X25519:P-384
scenario openssl.pcap 4434 openssl-s_client "$OPENSSL_V" api.procore.com '["TLS 1.3","TLS 1.2","TLS 1.1","TLS 1.0"]' "TLS 1.3" '[]' "" established
capture_stop

# 2. curl: version limits and HTTP/2 over ALPN (written as pcapng).
CURL_V=$(curl --version | head -1 | awk '{print $1" "$2}')
curl_to() { # port sni args...
  local port=$1 sni=$2; shift 2
  in_ns timeout 10 curl -sk -o /dev/null --resolve "$sni:$port:127.0.0.1" "$@" "https://$sni:$port/" || true
  sleep 0.3
}
capture_start curl.pcap lo
curl_to 4431 api.procore.com --tlsv1.0 --tls-max 1.0 --ciphers 'DEFAULT:@SECLEVEL=0' --http1.1
scenario curl.pcapng 4431 curl "$CURL_V" api.procore.com '["TLS 1.0"]' "TLS 1.0" '["http/1.1"]' "" established
curl_to 4432 login.procore.com --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' --http1.1
scenario curl.pcapng 4432 curl "$CURL_V" login.procore.com '["TLS 1.1"]' "" '["http/1.1"]' "" alert protocol_version
curl_to 4432 login.procore.com --tlsv1.2 --tls-max 1.2 --http1.1
scenario curl.pcapng 4432 curl "$CURL_V" login.procore.com '["TLS 1.2"]' "TLS 1.2" '["http/1.1"]' "" established
# TLS 1.3 encrypts the server's ALPN choice; at TLS 1.2 it is in the ServerHello.
curl_to 4435 api.procore.com --http2 --tls-max 1.2
scenario curl.pcapng 4435 curl "$CURL_V" api.procore.com '["TLS 1.2"]' "TLS 1.2" '["h2","http/1.1"]' h2 established
curl_to 4433 apitls12.onepagecrm.com --http1.1
# curl 7.88 asks for TLS 1.0 at least unless told otherwise.
scenario curl.pcapng 4433 curl "$CURL_V" apitls12.onepagecrm.com '["TLS 1.3","TLS 1.2","TLS 1.1","TLS 1.0"]' "TLS 1.3" '["http/1.1"]' "" established
capture_stop
editcap -F pcapng "$work/curl.pcap" "$work/curl.pcapng"

# 3. Library clients: gnutls-cli, python3 ssl, Java (JSSE), node tls. Captured with
#    `tcpdump -i any`, which writes Linux cooked-mode v2 (SLL2) headers.
GNUTLS_V=$(gnutls-cli --version 2>/dev/null | head -1 | awk '{print $1" "$2}')
PY_V="python $(python3 -c 'import platform; print(platform.python_version())') ($(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)'))"
JAVA_V="java $(java -version 2>&1 | head -1 | awk -F'"' '{print $2}')"
NODE_V="node $(node --version) (OpenSSL $(node -p process.versions.openssl))"
capture_start libraries.pcap any
in_ns timeout 10 gnutls-cli --insecure --sni-hostname=api.procore.com -p 4431 127.0.0.1 </dev/null >/dev/null 2>&1 || true; sleep 0.3
scenario libraries.pcap 4431 gnutls-cli "$GNUTLS_V" api.procore.com '["TLS 1.3","TLS 1.2","TLS 1.1","TLS 1.0"]' "TLS 1.3" '[]' "" established
in_ns timeout 10 gnutls-cli --insecure --sni-hostname=login.procore.com --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0:%LATEST_RECORD_VERSION' -p 4432 127.0.0.1 </dev/null >/dev/null 2>&1 || true; sleep 0.3
scenario libraries.pcap 4432 gnutls-cli "$GNUTLS_V" login.procore.com '["TLS 1.1"]' "" '[]' "" alert protocol_version
pyclient() { # port sni maxver
  in_ns timeout 10 python3 - "$@" <<'PY' >/dev/null 2>&1 || true
import socket, ssl, sys
port, sni, maxver = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if maxver != "default":
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = getattr(ssl.TLSVersion, maxver)
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname=sni) as s:
        s.sendall(b"GET / HTTP/1.0\r\nHost: " + sni.encode() + b"\r\n\r\n")
        s.recv(4096)
PY
  sleep 0.3
}
pyclient 4431 api.procore.com default
scenario libraries.pcap 4431 python3-ssl "$PY_V" api.procore.com '["TLS 1.3","TLS 1.2"]' "TLS 1.3" '[]' "" established
pyclient 4432 login.procore.com TLSv1_1
scenario libraries.pcap 4432 python3-ssl "$PY_V" login.procore.com '["TLS 1.1"]' "" '[]' "" alert protocol_version
javac -d "$work" clients/TlsClient.java
# Java 17 disables TLS 1.0/1.1 in java.security; an old application re-enables them like this.
printf 'jdk.tls.disabledAlgorithms=SSLv3, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL\n' >"$work/java.security"
javaclient() { # port sni protocols
  in_ns timeout 20 java -cp "$work" -Djava.security.properties="$work/java.security" \
    -Djdk.tls.client.protocols="$3" TlsClient 127.0.0.1 "$1" "$2" >/dev/null 2>&1 || true
  sleep 0.3
}
javaclient 4431 api.procore.com TLSv1.3,TLSv1.2
scenario libraries.pcap 4431 java-jsse "$JAVA_V" api.procore.com '["TLS 1.3","TLS 1.2"]' "TLS 1.3" '[]' "" established
javaclient 4431 api.procore.com TLSv1
scenario libraries.pcap 4431 java-jsse "$JAVA_V" api.procore.com '["TLS 1.0"]' "TLS 1.0" '[]' "" established
javaclient 4432 login.procore.com TLSv1.1
scenario libraries.pcap 4432 java-jsse "$JAVA_V" login.procore.com '["TLS 1.1"]' "" '[]' "" alert protocol_version
nodeclient() { # port sni maxVersion
  in_ns timeout 10 node -e '
const tls = require("tls");
const [port, sni, max] = process.argv.slice(1);
const opts = { host: "127.0.0.1", port: +port, servername: sni, rejectUnauthorized: false };
if (max !== "default") { opts.maxVersion = max; opts.minVersion = "TLSv1"; opts.ciphers = "DEFAULT:@SECLEVEL=0"; }
const s = tls.connect(opts, () => { s.write("GET / HTTP/1.0\r\nHost: " + sni + "\r\n\r\n"); });
s.on("data", () => s.end()); s.on("error", () => {}); s.setTimeout(3000, () => s.destroy());
' "$@" >/dev/null 2>&1 || true
  sleep 0.3
}
nodeclient 4433 apitls12.onepagecrm.com default
scenario libraries.pcap 4433 node-tls "$NODE_V" apitls12.onepagecrm.com '["TLS 1.3","TLS 1.2"]' "TLS 1.3" '[]' "" established
nodeclient 4432 login.procore.com TLSv1.2
scenario libraries.pcap 4432 node-tls "$NODE_V" login.procore.com '["TLS 1.2"]' "TLS 1.2" '[]' "" established
capture_stop

# 4. IPv6: headless Chromium (GREASE, ECH GREASE, a post-quantum key share, a ClientHello
#    spanning several TCP segments) and openssl, to ::1. Captured with SLL (v1) headers.
CHROMIUM_V=$(chromium --version 2>/dev/null | awk '{print $1" "$2}')
capture_start ipv6.pcap any -y LINUX_SLL
echo | in_ns timeout 10 openssl s_client -connect '[::1]:4441' -servername app.procore.com -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' >/dev/null 2>&1 || true; sleep 0.3
scenario ipv6.pcap 4441 openssl-s_client "$OPENSSL_V" app.procore.com '["TLS 1.1"]' "TLS 1.1" '[]' "" established
in_ns timeout 30 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/chromium-profile" --ignore-certificate-errors \
  --host-resolver-rules="MAP app.procore.com [::1]" --dump-dom "https://app.procore.com:4442/" \
  >/dev/null 2>&1 || true
scenario ipv6.pcap 4442 chromium "$CHROMIUM_V" app.procore.com '["TLS 1.3","TLS 1.2"]' "TLS 1.3" '["h2","http/1.1"]' "" established "" any
capture_stop

for f in openssl.pcap libraries.pcap ipv6.pcap; do cp "$work/$f" "$here/$f"; done
cp "$work/curl.pcapng" "$here/curl.pcapng"
cp "$scen" "$here/scenarios.jsonl"
python3 "$here/make_expected.py" "$here"
du -ch "$here"/*.pcap "$here"/*.pcapng | tail -1
