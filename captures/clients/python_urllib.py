# Python's urllib.request.urlopen("https://SNI:PORT/") at its defaults: http.client makes the
# default context itself (certificate checked, so against the recording's self-signed server
# it fails after the handshake starts; only the hello is wanted) and adds ALPN http/1.1 and
# post-handshake authentication to it, which a bare ssl socket does not send.
import sys
import urllib.request

sni, port = sys.argv[1:3]
try:
    urllib.request.urlopen(f"https://{sni}:{port}/", timeout=5).read()
except Exception:
    pass
