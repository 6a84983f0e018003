# .NET's HttpClient (System.Net.Http, SslStream on Linux, which builds its hello with OpenSSL)
# GET https://SNI:PORT/ via the namespace's hosts file, certificate not checked. Run from a
# Python venv holding the .NET runtime (PyPI `dotnetcore2`) and `pythonnet`, which hosts that
# runtime and calls HttpClient as a C# program would; no SDK needed. With a third argument
# "1.2" or "1.0", HttpClientHandler.SslProtocols is set to Tls12 / Tls (as old code pins it);
# without, the runtime's default (SslProtocols.None: the OS's choice). With "--version" it
# prints the runtime's version and the OpenSSL it loaded, and exits.
import json
import os
import sys
import tempfile

import dotnetcore2
from clr_loader import get_coreclr
from pythonnet import set_runtime

root = os.path.join(os.path.dirname(dotnetcore2.__file__), "bin")
fw = os.listdir(os.path.join(root, "shared", "Microsoft.NETCore.App"))[0]
cfg = os.path.join(tempfile.mkdtemp(), "client.runtimeconfig.json")
with open(cfg, "w") as f:
    json.dump({"runtimeOptions": {"framework": {"name": "Microsoft.NETCore.App", "version": fw}}}, f)
set_runtime(get_coreclr(runtime_config=cfg, dotnet_root=root))

import clr  # noqa: E402

clr.AddReference("System.Net.Http")
clr.AddReference("System.Net.Security")
clr.AddReference("System.Security.Cryptography.OpenSsl")
from System import Environment, TimeSpan  # noqa: E402
from System.Security.Cryptography import SafeEvpPKeyHandle  # noqa: E402
from System.Net.Http import HttpClient, HttpClientHandler  # noqa: E402
from System.Security.Authentication import SslProtocols  # noqa: E402

if sys.argv[1] == "--version":
    # OpenSslVersion is OpenSSL's own OPENSSL_VERSION_NUMBER (0xMNNFFPPS) of the libssl loaded.
    n = SafeEvpPKeyHandle.OpenSslVersion
    patch = chr(ord("a") - 1 + ((n >> 4) & 0xFF)) if (n >> 4) & 0xFF else ""
    print(f".NET {Environment.Version}\tOpenSSL {n >> 28}.{(n >> 20) & 0xFF}.{(n >> 12) & 0xFF}{patch}")
    sys.exit(0)

sni, port = sys.argv[1:3]
pin = sys.argv[3] if len(sys.argv) > 3 else ""
handler = HttpClientHandler()
handler.ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator
if pin == "1.2":
    handler.SslProtocols = SslProtocols.Tls12
elif pin == "1.0":
    handler.SslProtocols = SslProtocols.Tls
client = HttpClient(handler)
client.Timeout = TimeSpan.FromSeconds(5)
try:
    client.GetStringAsync(f"https://{sni}:{port}/").Wait()
except Exception:
    pass
