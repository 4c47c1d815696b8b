"""TCP byte streams under the WebSocket connection: anyio's own, except on asyncio.

anyio's asyncio socket stream follows rules a WebSocket connection pays for on every frame:
each ``send`` yields to the event loop even when the kernel took the bytes at once, and each
``receive`` turns the socket's reading on and off again (two ``epoll_ctl`` calls) and so waits
for a loop iteration even when the bytes are already there. A relay pays that twice per
forwarded frame (a receive on one side, a send on the other), and under load every yield
also waits for every other ready task.

:class:`AsyncioSocketStream` is an anyio ``SocketStream`` on the asyncio loop's own transport
without those costs:

- it reads ahead into a small buffer (:data:`READ_AHEAD` bytes; reading pauses while it is
  full, so TCP still holds back a peer that sends faster than the application reads), and a
  ``receive`` with buffered bytes returns them without yielding;
- a ``send`` the kernel takes whole returns without yielding; one it cannot take waits until
  the transport's buffer is empty again (as anyio's does), so a slow peer holds back its
  sender and nothing piles up. A frame is handed to the transport whole, so a cancelled
  ``send`` never leaves part of one behind.

:func:`connect_tcp` and :func:`accept` make these streams when an asyncio loop runs, and
anyio's (trio, or anything else anyio runs on) otherwise. TLS goes over either through anyio's
``TLSStream``, so it is the same code on every backend.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
import struct
from typing import cast

import anyio
import anyio.abc
from anyio.streams.tls import TLSStream

__all__ = ("AsyncioSocketStream", "READ_AHEAD", "accept", "connect_tcp", "reset_on_close",
           "writes_whole")

#: Bytes an :class:`AsyncioSocketStream` reads ahead of its reader before it stops reading.
READ_AHEAD = 65536
#: Seconds before a connection attempt to a host's next address starts (RFC 8305), as anyio.
_HAPPY_EYEBALLS_DELAY = 0.25


def _asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop, or ``None`` (under trio, say)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _StreamProtocol(asyncio.Protocol):
    """Buffers what the transport reads (bounded) and wakes the stream's one reader and one
    writer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.reading_paused = False
        self.writing_paused = False
        self.at_eof = False
        self.lost = False
        self.exception: Exception | None = None
        self.reader: asyncio.Future[None] | None = None
        self.writer: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        # A write the kernel cannot take whole pauses writing: the sender then waits until
        # the transport's buffer is empty.
        self.transport.set_write_buffer_limits(0)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(bytes(data))
        self.buffered += len(data)
        if self.buffered >= READ_AHEAD and not self.reading_paused:
            assert self.transport is not None
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.at_eof = True
        self._wake_reader()
        return True  # half-closed: the closing handshake may still write

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.exception = exc
        self._wake_reader()
        if self.writer is not None and not self.writer.done():
            self.writer.set_result(None)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.writer is not None and not self.writer.done():
            self.writer.set_result(None)

    def _wake_reader(self) -> None:
        if self.reader is not None and not self.reader.done():
            self.reader.set_result(None)

    def took(self, size: int) -> None:
        """The reader took ``size`` buffered bytes; read on once the buffer has room."""
        self.buffered -= size
        if self.reading_paused and self.buffered < READ_AHEAD:
            assert self.transport is not None
            self.reading_paused = False
            self.transport.resume_reading()


class AsyncioSocketStream(anyio.abc.SocketStream):
    """A TCP stream on an asyncio transport (see the module docstring). One task at a time
    may receive, and one may send."""

    def __init__(self, transport: asyncio.Transport, protocol: _StreamProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False

    @property
    def _raw_socket(self) -> socket.socket:
        # A TransportSocket: it has what anyio's socket attributes read (family, addresses).
        return cast(socket.socket, self._transport.get_extra_info("socket"))

    async def receive(self, max_bytes: int = 65536) -> bytes:
        protocol = self._protocol
        if self._closed:
            raise anyio.ClosedResourceError
        if not protocol.chunks and not protocol.at_eof and not protocol.lost:
            if protocol.reader is not None:
                raise anyio.BusyResourceError("reading from")
            protocol.reader = asyncio.get_running_loop().create_future()
            try:
                await protocol.reader
            finally:
                protocol.reader = None
        if not protocol.chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if protocol.exception is not None:
                raise anyio.BrokenResourceError from protocol.exception
            raise anyio.EndOfStream
        chunk = protocol.chunks.popleft()
        if len(chunk) > max_bytes:
            chunk, rest = chunk[:max_bytes], chunk[max_bytes:]
            protocol.chunks.appendleft(rest)
        protocol.took(len(chunk))
        return chunk

    async def send(self, item: bytes) -> None:
        protocol = self._protocol
        if self._closed:
            raise anyio.ClosedResourceError
        if protocol.lost or self._transport.is_closing():
            raise anyio.BrokenResourceError from protocol.exception
        if protocol.writer is not None:
            raise anyio.BusyResourceError("writing to")
        self._transport.write(item)
        if not protocol.writing_paused:
            return
        protocol.writer = asyncio.get_running_loop().create_future()
        try:
            await protocol.writer
        finally:
            protocol.writer = None
        if self._closed:
            raise anyio.ClosedResourceError  # aclose() dropped what was not sent
        if protocol.writing_paused:  # the connection was lost before the buffer emptied
            raise anyio.BrokenResourceError from protocol.exception

    async def send_eof(self) -> None:
        if self._transport.can_write_eof() and not self._transport.is_closing():
            with contextlib.suppress(OSError):
                self._transport.write_eof()

    async def aclose(self) -> None:
        self._closed = True
        self._transport.abort()


def reset_on_close(stream: anyio.abc.ByteStream) -> None:
    """Make closing ``stream`` reset the TCP connection (``SO_LINGER`` 0) instead of leaving
    the kernel to deliver what is still queued first: for an abort, where the peer may have
    stopped reading. A stream without a socket (in memory) is left as it is."""
    sock = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def writes_whole(stream: anyio.abc.ByteStream) -> bool:
    """Whether ``stream`` hands each ``send`` to its transport whole, so that a cancelled
    send cannot leave part of it behind (asyncio's transports buffer what they take)."""
    return isinstance(stream, AsyncioSocketStream) or (
        isinstance(stream, anyio.abc.SocketStream)
        and type(stream).__module__.endswith("._asyncio"))


async def connect_tcp(host: str, port: int, *,
                      ssl_context: ssl.SSLContext | None = None) -> anyio.abc.ByteStream:
    """Connect to ``host:port`` (trying its addresses as anyio does), with TLS if
    ``ssl_context`` is given; no TLS closing exchange (the WebSocket closing handshake ends
    the connection).

    Raises:
        OSError: the connection failed (``ssl.SSLError`` for a TLS failure).
        anyio.EndOfStream, anyio.BrokenResourceError: the server hung up during the TLS
            handshake.
    """
    loop = _asyncio_loop()
    if loop is None:
        if ssl_context is None:
            return await anyio.connect_tcp(host, port)
        return await anyio.connect_tcp(host, port, tls=True, ssl_context=ssl_context,
                                       tls_hostname=host, tls_standard_compatible=False)
    try:
        transport, protocol = await loop.create_connection(
            _StreamProtocol, host, port, happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY)
    except OSError as exc:
        # Worded as anyio words it, so the error reads the same on every backend.
        raise OSError(f"All connection attempts failed: {exc}") from exc
    stream = AsyncioSocketStream(transport, protocol)
    if ssl_context is None:
        return stream
    try:
        return await TLSStream.wrap(stream, hostname=host, ssl_context=ssl_context,
                                    standard_compatible=False)
    except BaseException:
        await stream.aclose()
        raise


async def accept(listener: anyio.abc.SocketListener) -> anyio.abc.SocketStream:
    """The next connection to one listening socket of anyio's.

    Raises:
        anyio.ClosedResourceError: the listener was closed.
        OSError: accepting failed (out of file descriptors, say).
    """
    loop = _asyncio_loop()
    if loop is None:
        return await listener.accept()
    listening = listener.extra(anyio.abc.SocketAttribute.raw_socket)
    if listening.fileno() < 0:
        raise anyio.ClosedResourceError
    try:
        sock, _ = await loop.sock_accept(listening)
    except asyncio.CancelledError:
        # Some Python versions leave the listening socket's reader behind (bpo-41317).
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(listening)
        raise
    except OSError:
        if listening.fileno() < 0:
            raise anyio.ClosedResourceError from None
        raise
    try:
        # Small frames go out at once (asyncio sets this on the sockets it connects, not on
        # those it is given).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport, protocol = await loop.connect_accepted_socket(_StreamProtocol, sock)
    except BaseException:
        sock.close()
        raise
    return AsyncioSocketStream(transport, protocol)
