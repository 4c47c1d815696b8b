"""The WebSocket client (realtalk's anyio layer over websockets' sans-I/O protocol) on both
backends, against websockets' own threaded server on loopback: an independent peer."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import anyio.abc
import pytest
from websockets.exceptions import ConnectionClosed as WebSocketClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from realtalk.errors import ConnectError, ConnectionClosed
from realtalk.transport import Endpoint, connect_websocket
from realtalk.transport.websocket import WebSocketTransport, open_websocket

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def _server(handler: Callable[[ServerConnection], None], **options: Any) -> Iterator[str]:
    server: Server = serve(handler, "127.0.0.1", 0, max_size=None, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/v1/realtime?model=m"
    finally:
        server.shutdown()
        thread.join(10)


async def test_fragments_pings_and_close_code() -> None:
    """Fragmented messages are reassembled, pings answered, the close code reported."""
    seen: list[str] = []

    def handler(ws: ServerConnection) -> None:
        seen.append(str(ws.recv(timeout=5)))
        ws.send(['{"type":', '"frag', 'mented"}'])  # one text message in three frames
        pong = ws.ping()
        ws.send("pong" if pong.wait(5) else "no pong")
        ws.send("x" * 3_000_000)  # frames over 1 MiB are normal in this protocol
        ws.close(4000, "bye")

    with _server(handler) as url:
        async with connect_websocket(Endpoint(url=url)) as transport:
            await transport.send('{"type":"hello"}')
            with anyio.fail_after(10):
                assert await transport.receive() == '{"type":"fragmented"}'
                assert await transport.receive() == "pong"
                assert len(await transport.receive()) == 3_000_000
                with pytest.raises(ConnectionClosed) as info:
                    await transport.receive()
    assert seen == ['{"type":"hello"}']
    assert info.value.code == 4000
    assert info.value.reason == "bye"


async def test_headers_reach_the_server() -> None:
    """Endpoint headers are sent with the upgrade request."""
    got: dict[str, str] = {}

    def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        got["api-key"] = ws.request.headers.get("api-key", "")
        got["ua"] = ws.request.headers.get("User-Agent", "")

    with _server(handler) as url:
        async with connect_websocket(Endpoint(url=url, headers={"api-key": "k1"})) as t:
            with anyio.fail_after(10), pytest.raises(ConnectionClosed):
                await t.receive()
    assert got == {"api-key": "k1", "ua": "realtalk"}


async def test_credentials_never_reach_a_log_record_even_at_debug(
        caplog: pytest.LogCaptureFixture) -> None:
    """websockets logs every handshake header at DEBUG; the transport's wire logger scrubs
    the key out of them, on both backends, while the handshake itself is still logged."""
    key = "sk-very-secret-key-0123456789"

    def handler(ws: ServerConnection) -> None:
        ws.recv(timeout=5)

    caplog.set_level(logging.DEBUG)
    with _server(handler) as url:
        for headers in ({"Authorization": f"Bearer {key}"}, {"api-key": key}):
            async with connect_websocket(Endpoint(url=url, headers=headers)) as t:
                await t.send("{}")
    # The test's own server (websockets.server) is not realtalk's: its records are left out.
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("realtalk")]
    assert not any(key in message for message in ours)
    assert any("[redacted]" in message for message in ours)  # headers logged, masked


async def test_send_after_close_raises_connection_closed() -> None:
    """Sending on a connection the server closed raises realtalk's ConnectionClosed."""

    def handler(ws: ServerConnection) -> None:
        ws.close(1001, "going away")

    with _server(handler) as url:
        async with connect_websocket(Endpoint(url=url)) as t:
            with anyio.fail_after(10), pytest.raises(ConnectionClosed):
                await t.receive()
            with pytest.raises(ConnectionClosed):
                await t.send("late")


@contextlib.asynccontextmanager
async def _hanging_up(reply: bytes) -> AsyncIterator[int]:
    """A plain TCP listener that reads once, sends ``reply`` and hangs up; yields its port."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")

    async def hang_up(stream: anyio.abc.SocketStream) -> None:
        await stream.receive()
        if reply:
            await stream.send(reply)
        await stream.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, hang_up)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.cancel_scope.cancel()
    await listener.aclose()


async def test_not_a_websocket_server_is_a_connect_error() -> None:
    """A plain TCP listener that hangs up: ConnectError, not a hang or a raw exception."""
    async with _hanging_up(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n") as port:
        with anyio.fail_after(10), pytest.raises(ConnectError, match="500"):
            async with connect_websocket(Endpoint(url=f"ws://127.0.0.1:{port}/")):
                pass


async def test_a_refused_handshake_is_a_connect_error_with_the_status() -> None:
    """HTTP 401 at the handshake: ConnectError naming the status, a hint and the body."""

    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(401, "Incorrect API key provided.\n")

    with _server(lambda ws: None, process_request=refuse) as url, anyio.fail_after(10), \
            pytest.raises(ConnectError) as info:
        async with connect_websocket(Endpoint(url=url, headers={"api-key": "k"})):
            pass
    message = str(info.value)
    assert "HTTP 401" in message and "check the API key" in message
    assert "Incorrect API key provided." in message


async def test_unreachable_and_malformed_urls() -> None:
    """Nothing listening: ConnectError. Not a WebSocket URL: ConfigurationError."""
    from realtalk.errors import ConfigurationError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with anyio.fail_after(10), pytest.raises(ConnectError, match="could not connect"):
        async with connect_websocket(Endpoint(url=f"ws://127.0.0.1:{port}/v1/realtime")):
            pass
    with pytest.raises(ConfigurationError, match="invalid WebSocket URL"):
        async with connect_websocket(Endpoint(url="http://127.0.0.1/v1/realtime")):
            pass


async def test_a_server_that_goes_away_is_connection_closed_without_a_code() -> None:
    """The TCP connection dropping (no close frame) ends receive() with ConnectionClosed,
    code None."""

    def vanish(ws: ServerConnection) -> None:
        ws.send("last words")
        ws.socket.shutdown(socket.SHUT_RDWR)

    with _server(vanish) as url:
        async with connect_websocket(Endpoint(url=url)) as transport:
            with anyio.fail_after(10):
                assert await transport.receive() == "last words"
                with pytest.raises(ConnectionClosed) as info:
                    await transport.receive()
    assert info.value.code is None
    assert "no close frame" in str(info.value)


class _ServerEnd:
    """The test server's side of one connection: reads until it closes, notes the code."""

    def __init__(self) -> None:
        self._codes: list[int | None] = []
        self._done = threading.Event()

    def read_until_closed(self, ws: ServerConnection) -> None:
        with contextlib.suppress(WebSocketClosed):
            while True:
                ws.recv(timeout=10)
        self._codes.append(ws.protocol.close_code)
        self._done.set()

    async def close_code(self) -> int | None:
        assert await anyio.to_thread.run_sync(self._done.wait, 10)
        return self._codes[0]


async def test_closing_while_another_task_reads() -> None:
    """aclose() while a task waits in receive(): the closing handshake completes through
    the reader's reads, the reader gets ConnectionClosed (1000), nothing hangs."""
    server_side = _ServerEnd()

    with _server(server_side.read_until_closed) as url:
        async with connect_websocket(Endpoint(url=url)) as transport:
            outcome: list[BaseException] = []

            async def read() -> None:
                try:
                    await transport.receive()
                except ConnectionClosed as exc:
                    outcome.append(exc)

            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(read)
                    await anyio.wait_all_tasks_blocked()
                    await transport.aclose()
        assert await server_side.close_code() == 1000
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionClosed)
    assert outcome[0].code == 1000


async def test_invalid_utf8_closes_with_1007() -> None:
    """A text frame that is not UTF-8 fails the connection with 1007 instead of raising
    a decoding error."""
    server_side = _ServerEnd()

    def handler(ws: ServerConnection) -> None:
        ws.socket.sendall(b"\x81\x02\xff\xfe")  # FIN + text, two bytes, unmasked
        server_side.read_until_closed(ws)

    with _server(handler) as url:
        async with connect_websocket(Endpoint(url=url)) as transport:
            with anyio.fail_after(10), pytest.raises(ConnectionClosed) as info:
                await transport.receive()
        assert await server_side.close_code() == 1007
    assert info.value.code == 1007


async def test_binary_frames_and_subprotocols() -> None:
    """The connection layer offers subprotocols and carries binary messages as bytes."""

    def handler(ws: ServerConnection) -> None:
        ws.send(ws.recv(timeout=10))

    with _server(handler, subprotocols=["realtalk"]) as url:
        ws = await open_websocket(url, subprotocols=["realtalk", "other"])
        try:
            assert ws.subprotocol == "realtalk"
            await ws.send(b"\x00\x01")
            with anyio.fail_after(10):
                assert await ws.recv() == b"\x00\x01"
        finally:
            await ws.close()
        assert ws.close_code == 1000


async def test_a_send_cancelled_on_a_full_socket(anyio_backend: str) -> None:
    """A send cancelled while the socket is full: under trio part of a frame may be on the
    wire, so the connection is aborted and the next send raises ConnectionClosed; under
    asyncio a frame is written whole or not at all, so the connection goes on and the peer
    gets every frame intact."""
    release = threading.Event()
    got: list[str] = []

    def handler(ws: ServerConnection) -> None:
        release.wait(10)  # does not read for now: the client's socket fills up
        with contextlib.suppress(WebSocketClosed):
            while got[-1:] != ["after"]:
                got.append(str(ws.recv(timeout=10)))

    async def flood(transport: WebSocketTransport) -> None:
        while True:
            await transport.send("x" * 1_000_000)

    with _server(handler, close_timeout=0.5) as url:
        async with connect_websocket(Endpoint(url=url)) as transport:
            async with anyio.create_task_group() as tg:
                tg.start_soon(flood, transport)
                await anyio.wait_all_tasks_blocked()  # the flood waits on a full socket
                tg.cancel_scope.cancel()
            release.set()
            if anyio_backend == "trio":
                with pytest.raises(ConnectionClosed):
                    await transport.send("after")
                return
            await transport.send("after")
            with anyio.fail_after(10), pytest.raises(ConnectionClosed):
                await transport.receive()  # the server hangs up once it has read "after"
    assert got[-1] == "after"
    assert len(got) > 2 and all(message == "x" * 1_000_000 for message in got[:-1])


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_on_asyncio_a_send_the_socket_takes_lets_no_other_task_run() -> None:
    """A send the socket takes at once returns without a trip through the event loop: under
    load each such trip waits for every ready task, once per hop of a relayed frame."""

    def echo(ws: ServerConnection) -> None:
        ws.send(ws.recv(timeout=10))
        with contextlib.suppress(WebSocketClosed):
            ws.recv(timeout=10)

    others_ran: list[str] = []

    async def other() -> None:
        others_ran.append("other")

    with _server(echo) as url:
        async with connect_websocket(Endpoint(url=url)) as transport:
            async with anyio.create_task_group() as tg:
                tg.start_soon(other)
                await transport.send("echo")
                assert others_ran == []
            assert others_ran == ["other"]
            with anyio.fail_after(10):
                assert await transport.receive() == "echo"


async def test_a_server_hanging_up_during_the_tls_handshake_is_a_connect_error() -> None:
    """wss:// to a listener that hangs up at once: ConnectError, not anyio's EndOfStream."""
    async with _hanging_up(b"") as port:
        with anyio.fail_after(10), pytest.raises(ConnectError, match="TLS handshake"):
            async with connect_websocket(Endpoint(url=f"wss://127.0.0.1:{port}/")):
                pass
