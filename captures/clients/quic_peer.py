#!/usr/bin/env python3
"""An aioquic server or client for captures/record_udp.sh: one QUIC handshake per client run.

  quic_peer.py server PORT CERT KEY --alpn h3 [--retry]
  quic_peer.py client PORT SNI --alpn h3 [--version 1|2] [--timeout S]
"""
import argparse
import asyncio
import ssl

from aioquic.asyncio import connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion

VERSIONS = {"1": QuicProtocolVersion.VERSION_1, "2": QuicProtocolVersion.VERSION_2}


async def run_server(a):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=a.alpn.split(","),
                            supported_versions=[VERSIONS["1"], VERSIONS["2"]])
    cfg.load_cert_chain(a.cert, a.key)
    await serve("127.0.0.1", a.port, configuration=cfg, retry=a.retry)
    await asyncio.Future()


async def run_client(a):
    cfg = QuicConfiguration(is_client=True, alpn_protocols=a.alpn.split(","), server_name=a.sni,
                            verify_mode=ssl.CERT_NONE, supported_versions=[VERSIONS[a.version]])
    async with connect("127.0.0.1", a.port, configuration=cfg) as conn:
        await conn.ping()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("port", type=int)
    p.add_argument("rest", nargs="*")
    p.add_argument("--alpn", default="h3")
    p.add_argument("--retry", action="store_true")
    p.add_argument("--version", default="1")
    p.add_argument("--timeout", type=float, default=3.0)
    a = p.parse_args()
    if a.role == "server":
        a.cert, a.key = a.rest
        asyncio.run(run_server(a))
    else:
        (a.sni,) = a.rest
        try:
            asyncio.run(asyncio.wait_for(run_client(a), a.timeout))
        except Exception as e:  # refused, timed out: the capture is what matters
            print(f"client: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
