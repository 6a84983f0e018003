# libcurl's GnuTLS build (Debian's libcurl3-gnutls, libcurl-gnutls.so.4) driven through ctypes,
# as a program linked against it would: GET https://SNI:PORT/ via 127.0.0.1, certificate not
# checked. With a third argument "1.0" the offer is pinned to TLS 1.0 (CURLOPT_SSLVERSION
# TLSv1_0 | MAX_TLSv1_0). `curl_version()` says which TLS library the build uses; with
# "--version" this prints it and exits.
import ctypes
import sys

lib = ctypes.CDLL("libcurl-gnutls.so.4")
lib.curl_version.restype = ctypes.c_char_p
if sys.argv[1] == "--version":
    print(lib.curl_version().decode())
    sys.exit(0)

sni, port = sys.argv[1:3]
pin = sys.argv[3] if len(sys.argv) > 3 else ""
# From curl/curl.h.
CURLOPT_URL, CURLOPT_RESOLVE = 10002, 10203
CURLOPT_SSL_VERIFYPEER, CURLOPT_SSL_VERIFYHOST = 64, 81
CURLOPT_SSLVERSION, CURLOPT_TIMEOUT, CURLOPT_NOBODY = 32, 13, 44
CURL_SSLVERSION_TLSv1_0, CURL_SSLVERSION_MAX_TLSv1_0 = 4, 4 << 16

lib.curl_easy_init.restype = ctypes.c_void_p
lib.curl_slist_append.restype = ctypes.c_void_p
lib.curl_slist_append.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
h = lib.curl_easy_init()
setopt = lib.curl_easy_setopt


def opt(code, value):
    if isinstance(value, bytes):
        setopt(ctypes.c_void_p(h), ctypes.c_int(code), ctypes.c_char_p(value))
    elif isinstance(value, ctypes.c_void_p):
        setopt(ctypes.c_void_p(h), ctypes.c_int(code), value)
    else:
        setopt(ctypes.c_void_p(h), ctypes.c_int(code), ctypes.c_long(value))


resolve = ctypes.c_void_p(lib.curl_slist_append(None, f"{sni}:{port}:127.0.0.1".encode()))
opt(CURLOPT_URL, f"https://{sni}:{port}/".encode())
opt(CURLOPT_RESOLVE, resolve)
opt(CURLOPT_SSL_VERIFYPEER, 0)
opt(CURLOPT_SSL_VERIFYHOST, 0)
opt(CURLOPT_TIMEOUT, 5)
opt(CURLOPT_NOBODY, 1)
if pin == "1.0":
    opt(CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_0)
lib.curl_easy_perform(ctypes.c_void_p(h))
