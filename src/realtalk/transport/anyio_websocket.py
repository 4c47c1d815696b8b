"""A WebSocket client connection on anyio streams, driven by websockets' sans-I/O protocol.

websockets ships an asyncio client for every supported Python, but its trio client only from
version 17 (which needs Python 3.11). This module is the thin I/O layer that lets realtalk run
on any anyio backend with any websockets >= 13: anyio does the TCP and TLS, and
:class:`websockets.client.ClientProtocol` does everything WebSocket (handshake, framing,
masking, ping replies, the closing handshake). Fragmented messages are reassembled here.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Iterable
from typing import Any

import anyio
import anyio.abc
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.uri import parse_uri

__all__ = ("AnyioWebSocket", "open_anyio_websocket")

_READ_SIZE = 65536
_CLOSE_TIMEOUT = 2.0


class AnyioWebSocket:
    """An open client WebSocket with ``send`` / ``recv`` / ``aclose`` (one reader at a time).

    Errors are websockets' own (``ConnectionClosed`` and subclasses), as from its asyncio
    client, so one mapping serves both.
    """

    def __init__(self, stream: anyio.abc.ByteStream, protocol: ClientProtocol) -> None:
        self._stream = stream
        self._protocol = protocol
        self._write_lock = anyio.Lock()
        self._messages: list[str | bytes] = []
        self._fragments: list[bytes] = []
        self._fragment_text = False
        self._eof_sent = False

    async def _flush(self) -> None:
        async with self._write_lock:
            for data in self._protocol.data_to_send():
                if data:
                    try:
                        await self._stream.send(data)
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        self._protocol.receive_eof()
                        return
                elif not self._eof_sent:
                    # An empty chunk asks for a half-close; TLS streams cannot, so just stop.
                    self._eof_sent = True
                    if isinstance(self._stream, anyio.abc.SocketStream):
                        with contextlib.suppress(anyio.BrokenResourceError, OSError):
                            await self._stream.send_eof()

    def _accept(self, events: Iterable[Request | Response | Frame]) -> None:
        for event in events:
            if not isinstance(event, Frame):
                continue
            if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                self._fragment_text = event.opcode is Opcode.TEXT
                self._fragments = [bytes(event.data)]
            elif event.opcode is Opcode.CONT:
                self._fragments.append(bytes(event.data))
            else:
                continue  # ping, pong, close: the protocol answers these itself
            if event.fin:
                data = b"".join(self._fragments)
                self._fragments = []
                self._messages.append(data.decode("utf-8") if self._fragment_text else data)

    async def _read_more(self) -> None:
        try:
            data = await self._stream.receive(_READ_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError,
                OSError):
            self._protocol.receive_eof()
        else:
            self._protocol.receive_data(data)
        self._accept(self._protocol.events_received())
        await self._flush()

    async def send(self, message: str) -> None:
        """Send one text message.

        Raises:
            websockets.exceptions.ConnectionClosed: the connection is closed.
        """
        if self._protocol.state is not State.OPEN:
            raise self._closed_exc()
        self._protocol.send_text(message.encode("utf-8"))
        await self._flush()

    async def recv(self) -> str | bytes:
        """The next complete message.

        Raises:
            websockets.exceptions.ConnectionClosed: the connection closed.
        """
        while not self._messages:
            if self._protocol.state is State.CLOSED:
                raise self._closed_exc()
            await self._read_more()
        return self._messages.pop(0)

    def _closed_exc(self) -> Exception:
        exc: Exception = self._protocol.close_exc
        return exc

    async def aclose(self) -> None:
        """Run the closing handshake (bounded in time), then close the stream; idempotent."""
        with anyio.CancelScope(shield=True):
            if self._protocol.state is State.OPEN:
                self._protocol.send_close(1000)
                await self._flush()
            with anyio.move_on_after(_CLOSE_TIMEOUT):
                while self._protocol.state is not State.CLOSED:
                    await self._read_more()
            await self._stream.aclose()


async def open_anyio_websocket(
    url: str, *, headers: dict[str, str], open_timeout: float, user_agent: str,
    logger: logging.Logger | None = None,
) -> AnyioWebSocket:
    """Connect and run the opening handshake.

    Raises:
        websockets.exceptions.InvalidURI: a malformed URL.
        websockets.exceptions.InvalidHandshake: the server refused (``InvalidStatus`` for an
            HTTP error such as 401).
        OSError, TimeoutError: the server could not be reached in ``open_timeout`` seconds.
    """
    wsuri = parse_uri(url)
    protocol = ClientProtocol(wsuri, max_size=None, logger=logger)
    request = protocol.connect()
    for name, value in headers.items():
        request.headers[name] = value
    request.headers["User-Agent"] = user_agent
    protocol.send_request(request)
    with anyio.fail_after(open_timeout):
        tls: dict[str, Any] = {}
        if wsuri.secure:
            tls = {"tls": True, "ssl_context": ssl.create_default_context(),
                   "tls_hostname": wsuri.host}
        stream = await anyio.connect_tcp(wsuri.host, wsuri.port, **tls)
        connection = AnyioWebSocket(stream, protocol)
        try:
            await connection._flush()
            response: Response | None = None
            while response is None:
                try:
                    data = await stream.receive(_READ_SIZE)
                except anyio.EndOfStream:
                    protocol.receive_eof()
                else:
                    protocol.receive_data(data)
                events = protocol.events_received()
                if events and isinstance(events[0], Response):
                    response = events[0]
                    if protocol.handshake_exc is not None:
                        raise protocol.handshake_exc
                    # Frames that came in the same read as the response are not lost, and
                    # what the protocol owes for them (a close reply, a pong) goes out now.
                    connection._accept(events[1:])
                    await connection._flush()
                elif protocol.handshake_exc is not None:
                    raise protocol.handshake_exc
                elif protocol.state is State.CLOSED:
                    raise ConnectionError("server closed the connection during the handshake")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            raise
    return connection
