"""The TCP streams under the WebSocket connection: the asyncio loop's own transport (read
ahead, bounded; no yield when bytes are at hand) and anyio's elsewhere, against anyio's own
listener as the peer."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from realtalk.transport.tcp import READ_AHEAD, AsyncioSocketStream, accept, connect_tcp

pytestmark = pytest.mark.anyio


async def _anyios_accept(listener: anyio.abc.SocketListener) -> anyio.abc.SocketStream:
    return await listener.accept()


@contextlib.asynccontextmanager
async def _connected(
    accepting: Callable[[anyio.abc.SocketListener], Awaitable[anyio.abc.SocketStream]]
    = _anyios_accept,
) -> AsyncIterator[tuple[anyio.abc.ByteStream, anyio.abc.SocketStream]]:
    """(ours, the peer): a stream from connect_tcp and the one ``accepting`` took (by default
    anyio's listener, an independent peer)."""
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listeners:
        listener = cast(anyio.abc.SocketListener, listeners.listeners[0])
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            accepted: list[anyio.abc.SocketStream] = []

            async def take() -> None:
                accepted.append(await accepting(listener))

            tg.start_soon(take)
            ours = await connect_tcp("127.0.0.1", port)
        async with ours, accepted[0] as peer:
            yield ours, peer


async def _until(condition: Callable[[], object]) -> None:
    with anyio.fail_after(10):
        while not condition():
            await anyio.lowlevel.checkpoint()


async def test_each_backend_gets_its_stream_and_accept_gives_the_same(anyio_backend: str) -> None:
    """asyncio: the loop's own transport, both ways; trio: anyio's streams."""
    async with _connected(accept) as (ours, theirs):
        expected = anyio_backend == "asyncio"
        assert isinstance(ours, AsyncioSocketStream) is expected
        assert isinstance(theirs, AsyncioSocketStream) is expected
        assert theirs.extra(anyio.abc.SocketAttribute.remote_port) == \
            ours.extra(anyio.abc.SocketAttribute.local_port)
        for stream in (ours, theirs):  # no Nagle delay on small frames, either way
            raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        await ours.send(b"ping")
        assert await theirs.receive() == b"ping"
        await ours.send_eof()
        with pytest.raises(anyio.EndOfStream):
            await theirs.receive()
        await theirs.send(b"still open one way")
        assert await ours.receive() == b"still open one way"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_bytes_at_hand_go_without_a_trip_through_the_event_loop() -> None:
    """A send the kernel takes at once, and a receive of bytes already read ahead, return
    without letting another task run."""
    async with _connected() as (ours, peer):
        assert isinstance(ours, AsyncioSocketStream)
        others_ran: list[str] = []

        async def other() -> None:
            others_ran.append("other")

        await peer.send(b"ahead")
        await _until(lambda: ours._protocol.chunks)
        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            await ours.send(b"out")
            assert await ours.receive() == b"ahead"
            assert others_ran == []
        assert others_ran == ["other"]
        assert await peer.receive() == b"out"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_reading_ahead_stops_when_the_buffer_is_full_and_nothing_is_lost() -> None:
    """A peer sending far more than the reader takes fills the read-ahead buffer, then TCP
    holds it back; every byte arrives, in order, once the reader reads."""
    message = bytes(range(256)) * 4096  # 1 MiB
    count = 16
    async with _connected() as (ours, peer):
        assert isinstance(ours, AsyncioSocketStream)
        protocol = ours._protocol
        async with anyio.create_task_group() as tg:

            async def flood() -> None:
                for _ in range(count):
                    await peer.send(message)

            tg.start_soon(flood)
            await _until(lambda: protocol.reading_paused)
            held = protocol.buffered
            assert READ_AHEAD <= held < READ_AHEAD + len(message)
            for _ in range(100):  # the loop goes on; nothing more is read meanwhile
                await anyio.lowlevel.checkpoint()
            assert protocol.buffered == held
            received = bytearray()
            with anyio.fail_after(10):
                while len(received) < count * len(message):
                    received += await ours.receive(70_000)
                    assert protocol.buffered < READ_AHEAD + len(message)
        assert received == message * count
