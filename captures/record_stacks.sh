#!/usr/bin/env bash
# Records one ClientHello (or a few) from each TLS client this machine can install, for the
# stack classifier's evidence (src/stacks.toml) and tests/stacks.rs, into captures/stacks/.
#
#   sudo captures/record_stacks.sh      # Debian; installs what it needs with apt-get
#
# A client this machine cannot get is skipped with a message on stderr ("record_stacks.sh:
# X skipped: ..."), and the rest are recorded. Besides Debian's packages it uses PyPI for
# .NET (the `dotnetcore2` runtime and `pythonnet`, in a venv under /var/tmp) and Debian 11's
# OpenSSL 1.1 (fetched with apt-get download, not installed), and cargo for the rustls client.
#
# Like record.sh: a private network namespace ("hs-stk"), openssl s_server on its loopback,
# a self-signed certificate. Every client run gets its own server port, so a flow's port says
# which client sent it. captures/stacks/expected.jsonl says, per port, which program ran, its
# version, the TLS library it is built on as the program itself reports it (`--version`,
# OPENSSL_VERSION), the highest version it was pinned to (null: its default), and the JA4s of
# its hellos as tshark's dissection gives them (stacks_ja4.py). The family and application
# named there come from that identity, never from helloscope's output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ "$(id -u)" = 0 ] || { echo "record_stacks.sh: run as root (tcpdump and network namespaces)" >&2; exit 2; }

need=()
for p in tcpdump:tcpdump openssl:openssl curl:curl wget:wget gnutls-cli:gnutls-bin python3:python3 \
         java:default-jdk-headless node:nodejs go:golang-go ruby:ruby php:php-cli \
         tstclnt:libnss3-tools ip:iproute2 tshark:tshark chromium:chromium firefox-esr:firefox-esr; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
# libcurl's GnuTLS build (driven by clients/curl_gnutls.py).
ldconfig -p | grep -q 'libcurl-gnutls\.so\.4' || need+=(libcurl3-gnutls)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq || true
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
    # One at a time, so that a package this machine cannot get keeps none of the others out.
    for pkg in "${need[@]}"; do
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 ||
        echo "record_stacks.sh: could not install $pkg" >&2
    done
  fi
fi
for c in tcpdump tshark openssl ip python3; do
  command -v "$c" >/dev/null || { echo "record_stacks.sh: $c is needed" >&2; exit 2; }
done
# A client whose program is missing is skipped, saying so; the others are still recorded.
have() {
  command -v "$1" >/dev/null && return 0
  echo "record_stacks.sh: $2 skipped: no $1 on this machine" >&2
  return 1
}
have_lib() {
  ldconfig -p | grep -q "$1" && return 0
  echo "record_stacks.sh: $2 skipped: no $1 on this machine" >&2
  return 1
}

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
if have wget "wget"; then
  WGET_V="wget $(wget --version | head -1 | awk '{print $3}')"
  WGET_LIB=$(wget --version | grep -o '+ssl/[a-z]*' | cut -d/ -f2)
  wget_fam=GnuTLS; [ "$WGET_LIB" = openssl ] && wget_fam=OpenSSL
  run wget "$WGET_V" "$WGET_LIB" "$wget_fam" wget "" -- wget -q -O /dev/null --no-check-certificate --no-hsts "https://$SNI:PORTARG/"
  run wget "$WGET_V" "$WGET_LIB" "$wget_fam" wget "TLS 1.0" -- wget -q -O /dev/null --no-check-certificate --no-hsts --ciphers='NORMAL:-VERS-ALL:+VERS-TLS1.0' "https://$SNI:PORTARG/"
fi

# curl (libcurl on OpenSSL, `curl --version`): default, and pinned to TLS 1.0.
if have curl "curl"; then
  CURL_V=$(curl --version | head -1 | awk '{print $1" "$2}')
  CURL_LIB=$(curl --version | head -1 | grep -o 'OpenSSL/[0-9.]*')
  run curl "$CURL_V" "$CURL_LIB" OpenSSL curl "" -- sh -c 'curl -sk -o /dev/null --resolve '$SNI':$PORT:127.0.0.1 https://'$SNI':$PORT/'
  run curl "$CURL_V" "$CURL_LIB" OpenSSL curl "TLS 1.0" -- sh -c 'curl -sk -o /dev/null --tlsv1.0 --tls-max 1.0 --ciphers DEFAULT:@SECLEVEL=0 --resolve '$SNI':$PORT:127.0.0.1 https://'$SNI':$PORT/'
fi

# Go net/http (crypto/tls): default, and MaxVersion TLS 1.0.
if have go "Go net/http"; then
  GO_V=$(go version | awk '{print $3}')
  (cd "$here/clients" && GOCACHE="$work/gocache" GOPATH="$work/gopath" go build -o "$work/go_client" go_client.go)
  run go-net-http "$GO_V" "crypto/tls" "Go crypto/tls" "Go net/http" "" -- "$work/go_client" "$SNI" PORTARG
  run go-net-http "$GO_V" "crypto/tls" "Go crypto/tls" "Go net/http" "TLS 1.0" -- "$work/go_client" "$SNI" PORTARG 1.0
fi

# Ruby net/http (Ruby's openssl extension): default, and ssl_version = :TLSv1.
if have ruby "Ruby net/http"; then
  RUBY_V="ruby $(ruby -e 'print RUBY_VERSION')"
  RUBY_LIB=$(ruby -ropenssl -e 'print OpenSSL::OPENSSL_LIBRARY_VERSION')
  run ruby-net-http "$RUBY_V" "$RUBY_LIB" OpenSSL "Ruby net/http" "" -- ruby "$here/clients/ruby_client.rb" "$SNI" PORTARG
  run ruby-net-http "$RUBY_V" "$RUBY_LIB" OpenSSL "Ruby net/http" "TLS 1.0" -- ruby "$here/clients/ruby_client.rb" "$SNI" PORTARG 1.0
fi

# PHP stream wrapper (ext/openssl): default, and crypto_method TLS 1.0.
if have php "PHP"; then
  PHP_V="php $(php -r 'echo PHP_VERSION;')"
  PHP_LIB=$(php -r 'echo OPENSSL_VERSION_TEXT;')
  run php-stream "$PHP_V" "$PHP_LIB" OpenSSL PHP "" -- php "$here/clients/php_client.php" "$SNI" PORTARG
  run php-stream "$PHP_V" "$PHP_LIB" OpenSSL PHP "TLS 1.0" -- php "$here/clients/php_client.php" "$SNI" PORTARG 1.0
fi

# NSS's tstclnt: default, and -V tls1.0:tls1.0.
if have tstclnt "NSS tstclnt"; then
  NSS_V="nss $(dpkg-query -W -f '${Version}' libnss3 2>/dev/null)"
  # tstclnt needs a certificate database, even an empty one.
  mkdir -p "$work/nssdb" && certutil -N -d "sql:$work/nssdb" --empty-password
  run nss-tstclnt "$NSS_V" NSS NSS tstclnt "" -- tstclnt -d "sql:$work/nssdb" -h 127.0.0.1 -p PORTARG -a "$SNI" -o -Q
  run nss-tstclnt "$NSS_V" NSS NSS tstclnt "TLS 1.0" -- tstclnt -d "sql:$work/nssdb" -h 127.0.0.1 -p PORTARG -a "$SNI" -o -Q -V tls1.0:tls1.0
fi

# GnuTLS's gnutls-cli pinned to TLS 1.0 (its default is in captures/libraries.pcap).
if have gnutls-cli "gnutls-cli"; then
  GNUTLS_V=$(gnutls-cli --version 2>/dev/null | head -1 | awk '{print $1" "$2}')
  run gnutls-cli "$GNUTLS_V" GnuTLS GnuTLS gnutls-cli "TLS 1.0" -- gnutls-cli --insecure --sni-hostname="$SNI" \
    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.0:%LATEST_RECORD_VERSION' -p PORTARG 127.0.0.1
fi

# Java 17 java.net.http.HttpClient: default, and jdk.tls.client.protocols=TLSv1 (with TLS 1.0
# re-enabled in java.security, as an old application's deployment does).
if have javac "Java HttpClient"; then
  JAVA_V="java $(java -version 2>&1 | head -1 | awk -F'"' '{print $2}')"
  printf 'jdk.tls.disabledAlgorithms=SSLv3, RC4, DES, MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL\n' >"$work/java.security"
  javac -d "$work" "$here/clients/JavaHttpClient.java"
  run java-httpclient "$JAVA_V" JSSE "Java JSSE" Java "" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" JavaHttpClient "$SNI" PORTARG
  run java-httpclient "$JAVA_V" JSSE "Java JSSE" Java "TLS 1.0" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" \
    -Djava.security.properties="$work/java.security" -Djdk.tls.client.protocols=TLSv1 JavaHttpClient "$SNI" PORTARG
fi

# Java 17 HttpsURLConnection: default, and https.protocols=TLSv1 (the older property).
if have javac "Java HttpsURLConnection"; then
  javac -d "$work" "$here/clients/JavaUrlConnection.java"
  run java-urlconnection "$JAVA_V" JSSE "Java JSSE" Java "" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" JavaUrlConnection "$SNI" PORTARG
  run java-urlconnection "$JAVA_V" JSSE "Java JSSE" Java "TLS 1.0" -- java -cp "$work" -Djdk.net.hosts.file="$work/hosts" \
    -Djava.security.properties="$work/java.security" -Dhttps.protocols=TLSv1 JavaUrlConnection "$SNI" PORTARG
fi

# Python requests (urllib3 on the ssl module), when installed (pip install requests).
if python3 -c 'import requests' 2>/dev/null; then
  REQ_V="requests $(python3 -c 'import requests; print(requests.__version__)') (urllib3 $(python3 -c 'import urllib3; print(urllib3.__version__)'))"
  run python-requests "$REQ_V" "$(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)')" OpenSSL "Python requests" "" -- \
    python3 -c 'import sys, requests; requests.get("https://" + sys.argv[1] + ":" + sys.argv[2] + "/", verify=False, timeout=5)' "$SNI" PORTARG
else
  echo "record_stacks.sh: Python requests skipped: not installed for python3 (pip install requests)" >&2
fi

# rustls (captures/clients/rustls-client; built with cargo when cargo is there).
if command -v cargo >/dev/null; then
  (cd "$here/clients/rustls-client" && CARGO_TARGET_DIR="${RUSTLS_TARGET:-/tmp/rustls-client-target}" cargo build -q --release)
  RUSTLS_V="rustls $(grep -A1 'name = "rustls"' "$here/clients/rustls-client/Cargo.lock" | grep version | cut -d'"' -f2)"
  run rustls-client "$RUSTLS_V" rustls rustls rustls-client "" -- "${RUSTLS_TARGET:-/tmp/rustls-client-target}/release/rustls-client" "$SNI" PORTARG
else
  echo "record_stacks.sh: rustls skipped: no cargo on this machine" >&2
fi

# Python urllib.request at its defaults (http.client adds ALPN http/1.1 to the ssl module's
# default context): the Python on PATH, its OpenSSL as ssl.OPENSSL_VERSION says.
PY_V="python $(python3 -c 'import platform; print(platform.python_version())')"
PY_LIB=$(python3 -c 'import ssl; print(ssl.OPENSSL_VERSION)')
run python-urllib "$PY_V" "$PY_LIB" OpenSSL "Python urllib" "" -- python3 "$here/clients/python_urllib.py" "$SNI" PORTARG

# Node.js https.get: default, and minVersion/maxVersion TLSv1 (process.versions.openssl is the
# OpenSSL Node is built with).
if have node "Node.js"; then
  NODE_V="node $(node --version)"
  NODE_LIB="OpenSSL $(node -p process.versions.openssl)"
  run node-https "$NODE_V" "$NODE_LIB" OpenSSL "Node.js" "" -- node "$here/clients/node_https.js" "$SNI" PORTARG
  run node-https "$NODE_V" "$NODE_LIB" OpenSSL "Node.js" "TLS 1.0" -- node "$here/clients/node_https.js" "$SNI" PORTARG 1.0
fi

# libcurl built on GnuTLS (Debian's libcurl3-gnutls, as programs linked with -lcurl-gnutls use
# it): default, and CURL_SSLVERSION pinned to TLS 1.0. curl_version() names the backend.
if have_lib libcurl-gnutls.so.4 "libcurl-gnutls"; then
  CURLG_V=$(python3 "$here/clients/curl_gnutls.py" --version | awk '{print $1}')
  CURLG_LIB=$(python3 "$here/clients/curl_gnutls.py" --version | grep -o 'GnuTLS/[0-9.]*')
  run libcurl-gnutls "$CURLG_V" "$CURLG_LIB" GnuTLS curl "" -- python3 "$here/clients/curl_gnutls.py" "$SNI" PORTARG
  run libcurl-gnutls "$CURLG_V" "$CURLG_LIB" GnuTLS curl "TLS 1.0" -- python3 "$here/clients/curl_gnutls.py" "$SNI" PORTARG 1.0
fi

# Headless Chromium (BoringSSL inside the browser; `chromium --version`): default, and
# --ssl-version-max=tls1.2 (Chromium has no TLS 1.0/1.1 any more: that is its lowest pin).
if have chromium "Chromium"; then
  CHROMIUM_V=$(chromium --version 2>/dev/null | awk '{print $1" "$2}')
  chromium_run() { # port [extra flags]
    local p=$1; shift
    timeout 20 chromium --headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$work/chromium-$p" --ignore-certificate-errors "$@" \
      --host-resolver-rules="MAP $SNI 127.0.0.1" --dump-dom "https://$SNI:$p/"
  }
  run chromium "$CHROMIUM_V" BoringSSL BoringSSL Chromium "" -- bash -c "$(declare -f chromium_run); work=$work SNI=$SNI chromium_run PORTARG"
  run chromium "$CHROMIUM_V" BoringSSL BoringSSL Chromium "TLS 1.2" -- bash -c "$(declare -f chromium_run); work=$work SNI=$SNI chromium_run PORTARG --ssl-version-max=tls1.2"
fi

# Firefox ESR, headless, each run with a fresh profile (its NSS is its own copy, in the
# program's directory; the version is the one the library carries). The certificate is not
# accepted: the page fails after the handshake, and only the hello is wanted. Default, and
# security.tls.version.max = 1 (TLS 1.0) with .min = 1, as an old deployment's policy pins it.
if have firefox-esr "Firefox ESR"; then
  FF_V=$(firefox-esr --version 2>/dev/null | awk '{print $2" "$3}')
  FF_NSS=$(strings "$(dirname "$(readlink -f "$(command -v firefox-esr)")")/libnss3.so" 2>/dev/null | grep -o 'NSS 3\.[0-9.]*' | head -1 || true)
  FF_NSS=${FF_NSS:-NSS}
  firefox_run() { # port [max version]
    local prof="$work/firefox-$1"
    mkdir -p "$prof"
    {
      echo 'user_pref("browser.shell.checkDefaultBrowser", false);'
      echo 'user_pref("network.trr.mode", 5);'
      echo 'user_pref("network.captive-portal-service.enabled", false);'
      echo 'user_pref("network.connectivity-service.enabled", false);'
      echo 'user_pref("app.normandy.enabled", false);'
      echo 'user_pref("datareporting.policy.dataSubmissionEnabled", false);'
      echo 'user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);'
      if [ -n "${2:-}" ]; then
        echo "user_pref(\"security.tls.version.min\", $2);"
        echo "user_pref(\"security.tls.version.max\", $2);"
      fi
    } >"$prof/user.js"
    HOME="$work" timeout 20 firefox-esr --headless --no-remote --profile "$prof" "https://$SNI:$1/"
  }
  run firefox-esr "$FF_V" "$FF_NSS" NSS Firefox "" -- bash -c "$(declare -f firefox_run); work=$work SNI=$SNI firefox_run PORTARG"
  run firefox-esr "$FF_V" "$FF_NSS" NSS Firefox "TLS 1.0" -- bash -c "$(declare -f firefox_run); work=$work SNI=$SNI firefox_run PORTARG 1"
fi

# .NET on Linux: HttpClient, whose SslStream builds the hello with OpenSSL. No .NET SDK or
# runtime is reachable here from packages.microsoft.com or the dotnet-install script; PyPI's
# `dotnetcore2` wheel ships the .NET Core 3.1 runtime, and `pythonnet` hosts it and calls
# HttpClient (captures/clients/dotnet_client.py). .NET Core 3.1 loads OpenSSL 1.1 only, so
# Debian 11's libssl1.1 is fetched with apt-get download into the venv, not installed (with
# that release's openssl program, for its s_client at the same library's defaults).
# Default (SslProtocols.None), SslProtocols.Tls12, SslProtocols.Tls. DOTNET_VENV to reuse one.
DOTNET_VENV=${DOTNET_VENV:-/var/tmp/helloscope-dotnet}
dotnet_setup() {
  [ "$(uname -m)" = x86_64 ] || { echo "no dotnetcore2 wheel for $(uname -m)"; return 1; }
  if [ ! -x "$DOTNET_VENV/bin/python" ]; then
    python3 -m venv "$DOTNET_VENV" || return 1
  fi
  "$DOTNET_VENV/bin/pip" install -q dotnetcore2==3.1.23 pythonnet==3.2.1 || return 1
  local lib="$DOTNET_VENV/libssl1.1"
  if [ ! -f "$lib/usr/lib/x86_64-linux-gnu/libssl.so.1.1" ] || [ ! -x "$lib/usr/bin/openssl" ]; then
    local a="$DOTNET_VENV/apt"
    mkdir -p "$a/lists/partial" "$a/archives/partial"
    echo 'deb http://deb.debian.org/debian-security bullseye-security main' >"$a/sources.list"
    local o=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$a/lists" -o "Dir::Cache::Archives=$a/archives")
    apt-get "${o[@]}" update -qq || return 1
    # The version asked for by name: the machine's own openssl 3 would win otherwise.
    local v
    v=$(apt-cache "${o[@]}" show libssl1.1 | awk '/^Version:/ {print $2; exit}')
    (cd "$a" && apt-get "${o[@]}" download "libssl1.1=$v" "openssl=$v" 2>/dev/null) || return 1
    dpkg-deb -x "$a"/libssl1.1_*.deb "$lib" && dpkg-deb -x "$a"/openssl_*.deb "$lib" || return 1
  fi
}
dotnet_client=(env LD_LIBRARY_PATH="$DOTNET_VENV/libssl1.1/usr/lib/x86_64-linux-gnu"
  DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 "$DOTNET_VENV/bin/python" "$here/clients/dotnet_client.py")
if dotnet_msg=$(dotnet_setup 2>&1) && DOTNET_ID=$("${dotnet_client[@]}" --version 2>&1); then
  DOTNET_V=${DOTNET_ID%%$'\t'*}
  DOTNET_LIB=${DOTNET_ID#*$'\t'}
  for pin in "" 1.2 1.0; do
    run dotnet-httpclient "$DOTNET_V" "$DOTNET_LIB" OpenSSL "" "${pin:+TLS $pin}" -- \
      "${dotnet_client[@]}" "$SNI" PORTARG $pin
  done
  # The same OpenSSL's own s_client at its defaults: is .NET's hello its own, or the library's?
  ossl11=(env LD_LIBRARY_PATH="$DOTNET_VENV/libssl1.1/usr/lib/x86_64-linux-gnu" "$DOTNET_VENV/libssl1.1/usr/bin/openssl")
  OSSL11_V=$("${ossl11[@]}" version | awk '{print $1" "$2}')
  run openssl-s_client "$OSSL11_V" "$OSSL11_V" OpenSSL "" "" -- \
    "${ossl11[@]}" s_client -connect 127.0.0.1:PORTARG -servername "$SNI"
else
  echo "record_stacks.sh: .NET skipped: ${DOTNET_ID:-$dotnet_msg}" >&2
fi

sleep 1
kill "$tcpdump_pid"; wait "$tcpdump_pid" 2>/dev/null || true
mkdir -p "$here/stacks"
cp "$work/clients.pcap" "$here/stacks/clients.pcap"
cp "$out" "$here/stacks/expected.jsonl"
python3 "$here/stacks_ja4.py" "$here/stacks/clients.pcap" "$here/stacks/expected.jsonl"
wc -l "$here/stacks/expected.jsonl"
