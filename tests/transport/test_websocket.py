"""The WebSocket transport on both backends (asyncio: websockets' client; trio: the anyio layer
over websockets' sans-I/O protocol), against a real server on loopback."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

import anyio
import anyio.abc
import pytest
from websockets.sync.server import Server, ServerConnection, serve

from realtalk.errors import ConnectError, ConnectionClosed
from realtalk.transport import Endpoint, connect_websocket

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def _server(handler: Callable[[ServerConnection], None]) -> Iterator[str]:
    server: Server = serve(handler, "127.0.0.1", 0, max_size=None)
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


async def test_not_a_websocket_server_is_a_connect_error() -> None:
    """A plain TCP listener that hangs up: ConnectError, not a hang or a raw exception."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def hang_up(stream: anyio.abc.SocketStream) -> None:
        await stream.receive()
        await stream.send(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
        await stream.aclose()

    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, hang_up)
        with anyio.fail_after(10), pytest.raises(ConnectError, match="500"):
            async with connect_websocket(Endpoint(url=f"ws://127.0.0.1:{port}/")):
                pass
        tg.cancel_scope.cancel()
    await listener.aclose()
