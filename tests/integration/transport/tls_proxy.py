"""A TLS front for a plaintext server, as a managed service puts one before its brokers:
it terminates TLS with the test CA's server certificate, asks for a client certificate
signed by that CA (mTLS) if told to, and pipes the bytes to the server behind it. For the
servers of the local stack that speak no TLS themselves (Tansu, Temporal's dev server)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

from localstack.ports import free_port
from tests.unit.transport.pki import Pki

HOST = "127.0.0.1"


def server_context(
    pki: Pki, *, require_client_cert: bool, alpn: list[str] | None
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.load_verify_locations(pki.ca)
        context.verify_mode = ssl.CERT_REQUIRED
    if alpn:
        context.set_alpn_protocols(alpn)  # gRPC speaks HTTP/2 only
    return context


class TlsFront:
    def __init__(self, port: int) -> None:
        self.port = port
        self.address = f"{HOST}:{port}"
        self.handshakes = 0  # TLS sessions that completed (the client's certificate checked)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
            writer.close()


@contextlib.asynccontextmanager
async def tls_front(
    backend_port: int,
    pki: Pki,
    *,
    port: int | None = None,
    require_client_cert: bool = True,
    alpn: list[str] | None = None,
) -> AsyncIterator[TlsFront]:
    front = TlsFront(port or free_port())
    tasks: set[asyncio.Task[None]] = set()

    async def serve(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        front.handshakes += 1
        backend_reader, backend_writer = await asyncio.open_connection(HOST, backend_port)
        await asyncio.gather(
            _pipe(client_reader, backend_writer), _pipe(backend_reader, client_writer)
        )

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(serve(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    context = server_context(pki, require_client_cert=require_client_cert, alpn=alpn)
    server = await asyncio.start_server(track, HOST, front.port, ssl=context)
    try:
        yield front
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
