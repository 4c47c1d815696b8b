"""Tests for realtalk.transport.host: the WebSocket host, on asyncio and trio, with a small echo
host as the subclass and realtalk's client (or plain sockets and urllib) as the peers."""

from __future__ import annotations

import contextlib
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import anyio
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.http11 import Request, Response

from realtalk.errors import LocalProtocolError, TransportError
from realtalk.transport.connection import WebSocketConnection
from realtalk.transport.host import WebSocketHost, http_response
from realtalk.transport.websocket import open_websocket

pytestmark = pytest.mark.anyio

WIRE = "realtalk.test.host.websockets"


class Echo(WebSocketHost):
    """Echoes every message; ``/page`` is a plain HTTP page, ``/boom`` a failing hook,
    ``/deaf`` a handler that never reads."""

    def __init__(self, port: int = 0, **options: Any) -> None:
        super().__init__("127.0.0.1", port, name="the echo host",
                         logger=logging.getLogger("realtalk.test.host"), wire_logger=WIRE,
                         **options)
        self.handled: list[str] = []

    async def _process_request(self, connection: WebSocketConnection,
                               request: Request) -> Response | None:
        if request.path == "/boom":
            raise RuntimeError("boom")
        if request.path == "/page":
            return http_response(HTTPStatus.OK, "hello\n")
        return None

    def _select_subprotocol(self, offered: Sequence[str]) -> str | None:
        return "echo" if "echo" in offered else None

    async def _handle(self, connection: WebSocketConnection) -> None:
        assert connection.request is not None
        self.handled.append(connection.request.path)
        if connection.request.path == "/deaf":
            await anyio.sleep_forever()
        with contextlib.suppress(ConnectionClosed):
            while True:
                await connection.send(await connection.recv())


class _Signal(logging.Handler):
    """Counts log records containing ``text``; ``event`` is set at ``count`` of them."""

    def __init__(self, text: str, count: int = 1) -> None:
        super().__init__()
        self.text, self.count, self.seen = text, count, 0
        self.event = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen += 1
            if self.seen >= self.count:
                self.event.set()


@contextlib.contextmanager
def _signal(logger: str, text: str, count: int = 1) -> Any:
    handler = _Signal(text, count)
    log = logging.getLogger(logger)
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


async def _echoes(url: str, text: str) -> None:
    """Connect, have ``text`` echoed, close."""
    ws = await open_websocket(url)
    try:
        await ws.send(text)
        with anyio.fail_after(5):
            assert await ws.recv() == text
    finally:
        await ws.close()


async def test_echo_with_a_subprotocol() -> None:
    """The host accepts, the hook picks the subprotocol, the handler serves."""
    async with Echo() as host:
        ws = await open_websocket(host.url + "echo", subprotocols=["other", "echo"])
        try:
            assert ws.subprotocol == "echo"
            await ws.send("hello")
            with anyio.fail_after(5):
                assert await ws.recv() == "hello"
        finally:
            await ws.close()
    assert host.handled == ["/echo"]


async def test_plain_http_and_a_failing_hook() -> None:
    """A hook's response is sent as it is; a hook that raises is a 500, logged, and the host
    keeps serving."""

    def get(url: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, b""

    async with Echo() as host:
        base = f"http://127.0.0.1:{host.port}"
        assert await anyio.to_thread.run_sync(get, base + "/page") == (200, b"hello\n")
        assert (await anyio.to_thread.run_sync(get, base + "/boom"))[0] == 500
        assert (await anyio.to_thread.run_sync(get, base + "/"))[0] == 426  # not a WebSocket
        with pytest.raises(InvalidStatus) as info:
            await open_websocket(host.url + "boom")
        assert info.value.response.status_code == 500
        ws = await open_websocket(host.url)
        await ws.close()


async def test_garbage_and_silence_do_not_hurt_the_host() -> None:
    """A peer that sends no HTTP, or nothing within the open timeout, is dropped; others are
    served."""
    async with Echo(open_timeout=0.2) as host:
        garbage = await anyio.connect_tcp("127.0.0.1", host.port)
        await garbage.send(b"\x16\x03\x01 not http at all\r\n\r\n")
        silent = await anyio.connect_tcp("127.0.0.1", host.port)
        with anyio.fail_after(5):
            for stream in (garbage, silent):
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
                    while True:
                        await stream.receive()
                await stream.aclose()
        await _echoes(host.url, "still here")
    assert host.handled == ["/"]


async def test_origins_are_checked() -> None:
    """With origins set, a browser from elsewhere gets 403; one from the list gets in."""
    async with Echo(origins=["https://app.example"]) as host:
        with pytest.raises(InvalidStatus) as info:
            await open_websocket(host.url, headers={"Origin": "https://evil.example"})
        assert info.value.response.status_code == 403
        ws = await open_websocket(host.url, headers={"Origin": "https://app.example"})
        await ws.close()


async def test_a_client_that_does_not_answer_pings_is_closed_with_1011() -> None:
    """Keepalive: pings every ping_interval; no pong within ping_timeout closes the
    connection (1011)."""
    async with Echo(ping_interval=0.05, ping_timeout=0.05) as host:
        ws = await open_websocket(host.url)  # never reads, so never answers
        with _signal("realtalk.test.host", "did not answer a ping") as signal, \
                anyio.fail_after(5):
            await signal.event.wait()
        with anyio.fail_after(5), pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1011
        await ws.close()


async def test_a_client_that_reads_survives_keepalive_pings() -> None:
    """A client waiting in recv() answers each ping, and the connection stays open."""
    async with Echo(ping_interval=0.02, ping_timeout=1.0) as host:
        with _signal(WIRE, "< PONG", count=3) as pongs:  # before the connection: DEBUG on
            ws = await open_websocket(host.url)
            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:

                    async def read() -> None:
                        assert await ws.recv() == "ping survived"

                    tg.start_soon(read)
                    await pongs.event.wait()
                    await ws.send("ping survived")
        await ws.close()
        assert ws.close_code == 1000


async def test_shutdown_closes_with_1001_and_cancels_stuck_handlers() -> None:
    """aclose() closes every connection with 1001 and, after the close timeout, cancels a
    handler that does not end by itself; then nothing listens."""
    host = Echo(close_timeout=0.2)
    async with host:
        ws = await open_websocket(host.url + "deaf")
        port = host.port
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(host.aclose)
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1001
    with pytest.raises(OSError, match="connection attempts failed"):
        await anyio.connect_tcp("127.0.0.1", port)


async def test_a_busy_port_is_a_transport_error() -> None:
    """Binding a port in use raises TransportError naming the address."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(TransportError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with Echo(port):
                pass


async def test_start_binds_and_aclose_unbinds_without_serving() -> None:
    """start() alone makes the port known; aclose() frees it; the port of a host that never
    started is an error."""
    with pytest.raises(LocalProtocolError, match="the echo host is not listening"):
        _ = Echo().port
    host = Echo()
    await host.start()
    assert host.url == f"ws://127.0.0.1:{host.port}/"
    await host.aclose()
    await host.aclose()  # idempotent
    with pytest.raises(OSError, match="connection attempts failed"):
        await anyio.connect_tcp("127.0.0.1", host.port)


async def test_serve_forever_in_a_task_group() -> None:
    """task_group.start(host.serve_forever) returns once it listens; cancelling stops it."""
    host = Echo()
    async with anyio.create_task_group() as tg:
        await tg.start(host.serve_forever)
        await _echoes(host.url, "x")
        tg.cancel_scope.cancel()
    with pytest.raises(OSError, match="connection attempts failed"):
        await anyio.connect_tcp("127.0.0.1", host.port)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_running_in_thread_from_trio() -> None:
    """A trio program can run the host on its own asyncio thread and talk to it."""
    with Echo().running_in_thread() as host:
        await _echoes(host.url, "across threads")


def test_running_in_thread_reports_a_startup_error() -> None:
    """A host that cannot bind raises TransportError from running_in_thread()."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(TransportError, match="cannot listen"), \
                Echo(taken.getsockname()[1]).running_in_thread():
            pass


async def test_closing_before_serving_began_and_serve_forever_inside_async_with() -> None:
    """Leaving `async with` at once: the serving task, not yet run, never starts (nor its
    background hook, which would only end at the close timeout); serve_forever() inside
    `async with` serves the same host."""
    class Busy(Echo):
        alongside = 0

        async def _run_alongside(self) -> None:
            self.alongside += 1
            await anyio.sleep_forever()

    with anyio.fail_after(5):
        async with Busy() as busy:
            pass
        assert busy.alongside == 0
        async with Echo() as host, anyio.create_task_group() as tg:
            await tg.start(host.serve_forever)
            await _echoes(host.url, "once")
            tg.cancel_scope.cancel()
