#!/usr/bin/env bash
# Records one ClientHello (or a few) from each TLS client this machine can install, for the
# stack classifier's evidence (src/stacks.toml) and tests/stacks.rs, into captures/stacks/.
#
#   sudo captures/record_stacks.sh      # Debian; installs what it needs with apt-get
#
# Like record.sh: a private network namespace ("hs-stk"), openssl s_server on its loopback,
# a self-signed certificate. Every client run gets its own server port, so a flow's port says
# which client sent it. captures/stacks/expected.jsonl says, per port, which program ran, its
# version, the TLS library it is built on as the program itself reports it (`--version`,
# OPENSSL_VERSION), and the highest version it was pinned to (null: its default). The family and application
# named there come from that identity, never from helloscope's output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ "$(id -u)" = 0 ] || { echo "record_stacks.sh: run as root (tcpdump and network namespaces)" >&2; exit 2; }

need=()
for p in tcpdump:tcpdump openssl:openssl curl:curl wget:wget gnutls-cli:gnutls-bin python3:python3 \
         java:default-jdk-headless node:nodejs go:golang-go ruby:ruby php:php-cli \
         tstclnt:libnss3-tools ip:iproute2; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

NS=hs-stk
work=$(mktemp -d)
cleanup() {
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.3
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$work" "/etc/netns/$NS"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

SNI=api.procore.com
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$SNI" \
  -addext "subjectAltName=DNS:$SNI" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
echo "127.0.0.1 $SNI" >"$work/hosts"
# `ip netns exec` mounts /etc/netns/NAME/hosts over /etc/hosts: the name resolves to the
# namespace's loopback for every client.
mkdir -p "/etc/netns/$NS"
printf '127.0.0.1 localhost\n127.0.0.1 %s\n' "$SNI" >"/etc/netns/$NS/hosts"

out="$work/expected.jsonl"
: >"$out"
port=4500
# run CLIENT VERSION LIBRARY FAMILY APPLICATION PINNED_MAX("" for the default) -- command...
# The command is run in the namespace with $PORT set to a port with a fresh server behind it
# (TLS 1.0 to 1.3, OpenSSL 3 at security level 0 so that TLS 1.0 is still accepted).
run() {
  local client=$1 version=$2 library=$3 family=$4 app=$5 pin=$6; shift 7
  port=$((port + 1))
  in_ns openssl s_server -accept "127.0.0.1:$port" -cert "$work/cert.pem" -key "$work/key.pem" \
    -cipher 'DEFAULT:@SECLEVEL=0' -min_protocol TLSv1 -max_protocol TLSv1.3 -www -quiet \
    >/dev/null 2>&1 &
  local srv=$!
  sleep 0.5
  local args=() a
  for a in "$@"; do args+=("${a//PORTARG/$port}"); done
  in_ns timeout 30 env PORT=$port "${args[@]}" </dev/null >/dev/null 2>&1 || true
  sleep 0.3
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
  python3 - "$client" "$version" "$library" "$family" "$app" "$pin" "$port" >>"$out" <<'PY'
import json, sys
c, v, lib, fam, app, pin, port = sys.argv[1:]
print(json.dumps({"file": "stacks/clients.pcap", "server_port": int(port), "client": c,
  "client_version": v, "library": lib, "family": fam, "application": app or None,
  "pinned_max": pin or None}))
PY
}

in_ns tcpdump -i lo -U -s 0 -w "$work/clients.pcap" 'tcp portrange 4501-4599' >/dev/null 2>&1 &
tcpdump_pid=$!
sleep 1


# wget: Debian builds it on GnuTLS (`wget --version` says +ssl/gnutls). Its
# --secure-protocol=TLSv1 is a minimum with GnuTLS; a GnuTLS priority string in --ciphers pins.
WGET_V="wget $(wget --version | head -1 | awk '{print $3}')"
WGET_LIB=$(wget --version | grep -o '+ssl/[a-z]*' | cut -d/ -f2)
wget_fam=GnuTLS; [ "$WGET_LIB" = openssl ] && wget_fam=OpenSSL
run wget "$WGET_V" "$WGET_LIB" "$wget_fam" wget "" -- wget -q -O /dev/null --no-check-certificate --no-hsts "https://$SNI:PORTARG/"
run wget "$WGET_V" "$WGET_LIB" "$wget_fam" wget "TLS 1.0" -- wget -q -O /dev/null --no-check-certificate --no-hsts --ciphers='NORMAL:-VERS-ALL:+VERS-TLS1.0' "https://$SNI:PORTARG/"

# curl (libcurl on OpenSSL, `curl --version`): default, and pinned to TLS 1.0.
CURL_V=$(curl --version | head -1 | awk '{print $1" "$2}')
CURL_LIB=$(curl --version | head -1 | grep -o 'OpenSSL/[0-9.]*')
run curl "$CURL_V" "$CURL_LIB" OpenSSL curl "" -- sh -c 'curl -sk -o /dev/null --resolve '$SNI':$PORT:127.0.0.1 https://'$SNI':$PORT/'
run curl "$CURL_V" "$CURL_LIB" OpenSSL curl "TLS 1.0" -- sh -c 'curl -sk -o /dev/null --tlsv1.0 --tls-max 1.0 --ciphers DEFAULT:@SECLEVEL=0 --resolve '$SNI':$PORT:127.0.0.1 https://'$SNI':$PORT/'

# Go net/http (crypto/tls): default, and MaxVersion TLS 1.0.
GO_V=$(go version | awk '{print $3}')
(cd "$here/clients" && GOCACHE="$work/gocache" GOPATH="$work/gopath" go build -o "$work/go_client" go_client.go)
run go-net-http "$GO_V" "crypto/tls" "Go crypto/tls" "Go net/http" "" -- "$work/go_client" "$SNI" PORTARG
run go-net-http "$GO_V" "crypto/tls" "Go crypto/tls" "Go net/http" "TLS 1.0" -- "$work/go_client" "$SNI" PORTARG 1.0

# Ruby net/http (Ruby's openssl extension): default, and ssl_version = :TLSv1.
RUBY_V="ruby $(ruby -e 'print RUBY_VERSION')"
RUBY_LIB=$(ruby -ropenssl -e 'print OpenSSL::OPENSSL_LIBRARY_VERSION')
run ruby-net-http "$RUBY_V" "$RUBY_LIB" OpenSSL "Ruby net/http" "" -- ruby "$here/clients/ruby_client.rb" "$SNI" PORTARG
run ruby-net-http "$RUBY_V" "$RUBY_LIB" OpenSSL "Ruby net/http" "TLS 1.0" -- ruby "$here/clients/ruby_client.rb" "$SNI" PORTARG 1.0

# PHP stream wrapper (ext/openssl): default, and crypto_method TLS 1.0.
PHP_V="php $(php -r 'echo PHP_VERSION;')"
PHP_LIB=$(php -r 'echo OPENSSL_VERSION_TEXT;')
run php-stream "$PHP_V" "$PHP_LIB" OpenSSL PHP "" -- php "$here/clients/php_client.php" "$SNI" PORTARG
run php-stream "$PHP_V" "$PHP_LIB" OpenSSL PHP "TLS 1.0" -- php "$here/clients/php_client.php" "$SNI" PORTARG 1.0

# NSS's tstclnt: default, and -V tls1.0:tls1.0.
NSS_V="nss $(dpkg-query -W -f '${Version}' libnss3 2>/dev/null)"
# tstclnt needs a certificate database, even an empty one.
mkdir -p "$work/nssdb" && certutil -N -d "sql:$work/nssdb" --empty-password
run nss-tstclnt "$NSS_V" NSS NSS tstclnt "" -- tstclnt -d "sql:$work/nssdb" -h 127.0.0.1 -p PORTARG -a "$SNI" -o -Q
run nss-tstclnt "$NSS_V" NSS NSS tstclnt "TLS 1.0" -- tstclnt -d "sql:$work/nssdb" -h 127.0.0.1 -p PORTARG -a "$SNI" -o -Q -V tls1.0:tls1.0

# GnuTLS's gnutls-cli pinned to TLS 1.0 (its default is in captures/libraries.pcap).
GNUTLS_V=$(gnutls-cli --version 2>/dev/null | head -1 | awk '{print $1" "$2}')
run gnutls-cli "$GNUTLS_V" GnuTLS GnuTLS gnutls-cli "TLS 1.0" -- gnutls-cli --insecure --sni-hostname="$SNI" \
  --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.0:%LATEST_RECORD_VERSION' -p PORTARG 127.0.0.1

# Java 17 java.net.http.HttpClient: default, and jdk.tls.client.protocols=TLSv1 (with TLS 1.0
# re-enabled in java.security, as an old application's deployment does).
JAVA_V="java $(java -version 2>&1 | head -1 | awk -F'"' '{print $2}')"
printf 'jdk.tls.disabledAlgorithms=SSLv3, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL\n' >"$work/java.security"
javac -d "$work" "$here/clients/JavaHttpClient.java"
run java-httpclient "$JAVA_V" JSSE "Java JSSE" Java "" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" JavaHttpClient "$SNI" PORTARG
run java-httpclient "$JAVA_V" JSSE "Java JSSE" Java "TLS 1.0" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" \
  -Djava.security.properties="$work/java.security" -Djdk.tls.client.protocols=TLSv1 JavaHttpClient "$SNI" PORTARG

# Java 17 HttpsURLConnection: default, and https.protocols=TLSv1 (the older property).
javac -d "$work" "$here/clients/JavaUrlConnection.java"
run java-urlconnection "$JAVA_V" JSSE "Java JSSE" Java "" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" JavaUrlConnection "$SNI" PORTARG
run java-urlconnection "$JAVA_V" JSSE "Java JSSE" Java "TLS 1.0" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" \
  -Djava.security.properties="$work/java.security" -Dhttps.protocols=TLSv1 JavaUrlConnection "$SNI" PORTARG

# Python requests (urllib3 on the ssl module), when installed (pip install requests).
if python3 -c 'import requests' 2>/dev/null; then
  REQ_V="requests $(python3 -c 'import requests; print(requests.__version__)') (urllib3 $(python3 -c 'import urllib3; print(urllib3.__version__)'))"
  run python-requests "$REQ_V" "$(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)')" OpenSSL "Python requests" "" -- \
    python3 -c 'import sys, requests; requests.get("https://" + sys.argv[1] + ":" + sys.argv[2] + "/", verify=False, timeout=5)' "$SNI" PORTARG
fi

# rustls (captures/clients/rustls-client; built with cargo when cargo is there).
if command -v cargo >/dev/null; then
  (cd "$here/clients/rustls-client" && CARGO_TARGET_DIR="${RUSTLS_TARGET:-/tmp/rustls-client-target}" cargo build -q --release)
  RUSTLS_V="rustls $(grep -A1 'name = "rustls"' "$here/clients/rustls-client/Cargo.lock" | grep version | cut -d'"' -f2)"
  run rustls-client "$RUSTLS_V" rustls rustls rustls-client "" -- "${RUSTLS_TARGET:-/tmp/rustls-client-target}/release/rustls-client" "$SNI" PORTARG
fi

sleep 1
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
mkdir -p "$here/stacks"
cp "$work/clients.pcap" "$here/stacks/clients.pcap"
cp "$out" "$here/stacks/expected.jsonl"
wc -l "$here/stacks/expected.jsonl"
