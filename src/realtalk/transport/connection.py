"""One WebSocket connection on an anyio byte stream, driven by websockets' sans-I/O protocol.

Both ends of realtalk's WebSockets use it: the client (:func:`~.websocket.open_websocket`,
with a ``ClientProtocol``) and the host of the embedded server and the relay
(:class:`~.host.WebSocketHost`, with a ``ServerProtocol``). anyio does the TCP (and TLS), so
it runs on asyncio and trio alike; websockets' protocol object does everything WebSocket
(handshake parsing, framing, masking, ping replies, the closing handshake), with any
websockets >= 13. This module only moves bytes between the two and reassembles fragmented
messages.

Reading is pulled, not pushed: bytes are parsed only while a task waits in
:meth:`WebSocketConnection.recv` (or in the closing handshake), and the stream reads at most a
small bounded buffer ahead (:mod:`.tcp`). A peer that sends faster than the application reads
is held back by TCP itself, and nothing runs in the background: a connection is an object,
not a task.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
from collections.abc import Iterable

import anyio
import anyio.abc
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Side, State
from websockets.server import ServerProtocol

from .tcp import reset_on_close, writes_whole

__all__ = ("WebSocketConnection", "CLOSE_TIMEOUT")

logger = logging.getLogger("realtalk.transport")

#: Seconds allowed for a closing handshake before the TCP connection is simply closed.
CLOSE_TIMEOUT = 2.0
_READ_SIZE = 65536
_INVALID_DATA = 1007


def _address(stream: anyio.abc.ByteStream) -> str:
    try:
        address = stream.extra(anyio.abc.SocketAttribute.remote_address)
    except (anyio.TypedAttributeLookupError, OSError):
        return "unknown"
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


class WebSocketConnection:
    """An open WebSocket (client or server side): ``send``, ``recv``, ``ping``, ``close``.

    One task at a time may wait in :meth:`recv`; sends may come from any task (they are
    serialised). Closed connections raise websockets' ``ConnectionClosed`` (``ConnectionClosedOK``
    after a normal closure, ``ConnectionClosedError`` otherwise), as websockets' own
    connections do; realtalk's client maps it to :class:`realtalk.errors.ConnectionClosed`.

    A send cancelled while writing to the socket may have written part of a frame (under trio,
    or over TLS), so the connection is then aborted: closed without a closing handshake, the
    peer sees code 1006. anyio's asyncio TCP streams write a frame whole or not at all, so
    there a cancelled send leaves the connection usable.

    Args:
        stream: the byte stream (a TCP or TLS stream) the handshake goes over.
        protocol: websockets' ``ClientProtocol`` or ``ServerProtocol`` for this connection,
            in its ``CONNECTING`` state until the handshake is done.
        close_timeout: seconds a closing handshake may take before the TCP connection is
            closed anyway (a peer that vanished never answers it).
    """

    def __init__(self, stream: anyio.abc.ByteStream,
                 protocol: ClientProtocol | ServerProtocol, *,
                 close_timeout: float = CLOSE_TIMEOUT) -> None:
        self._stream = stream
        self.protocol = protocol
        self.close_timeout = close_timeout
        #: The handshake request (sent by a client, received by a server).
        self.request: Request | None = None
        #: The handshake response (received by a client, sent by a server).
        self.response: Response | None = None
        self._messages: collections.deque[str | bytes] = collections.deque()
        self._fragments: list[bytes] = []
        self._fragment_opcode = Opcode.TEXT
        self._failed = False  # a message failed the connection: deliver nothing after it
        # One task writes at a time; the others wait for it (a plain flag rather than a lock,
        # whose every acquire and release asks the event loop for the current task).
        self._writing = False
        self._write_done: anyio.Event | None = None  # set after the write in progress
        self._unsent: collections.deque[bytes] = collections.deque()  # popped, not yet written
        self._reading = False
        self._read_done: anyio.Event | None = None  # set after the read in progress
        self._pings: dict[bytes, anyio.Event] = {}
        self._last_received = -math.inf  # when bytes last came in, on the event loop's clock
        self._closed = anyio.Event()
        self._remote_address = _address(stream)  # read now: a closed socket cannot tell
        # See the class docstring: whether a cancelled write can leave part of a frame behind.
        self._partial_writes = not writes_whole(stream)

    def __repr__(self) -> str:
        return f"WebSocketConnection({self.protocol.side.name.lower()}, {self.remote_address})"

    # -----------------------------------------------------------------------------------------
    # State
    # -----------------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """websockets' connection state: ``CONNECTING``, ``OPEN``, ``CLOSING`` or ``CLOSED``."""
        return self.protocol.state

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the handshake settled on, if any."""
        return self.protocol.subprotocol

    @property
    def close_code(self) -> int | None:
        """The close code received from the peer (1006 if none came); ``None`` while open."""
        return self.protocol.close_code

    @property
    def close_reason(self) -> str | None:
        """The close reason received from the peer; ``None`` while open."""
        return self.protocol.close_reason

    @property
    def remote_address(self) -> str:
        """``host:port`` of the peer (for logs)."""
        return self._remote_address

    async def wait_closed(self) -> None:
        """Wait until the connection is closed (by either side, or lost)."""
        await self._closed.wait()

    # -----------------------------------------------------------------------------------------
    # Messages
    # -----------------------------------------------------------------------------------------

    async def send(self, message: str | bytes) -> None:
        """Send one message: a text frame for ``str``, a binary frame for ``bytes``.

        Raises:
            websockets.exceptions.ConnectionClosed: the connection is closed (or closing).
        """
        if self.protocol.state is not State.OPEN:
            await self._raise_closed()
        if isinstance(message, str):
            self.protocol.send_text(message.encode("utf-8"))
        else:
            self.protocol.send_binary(message)
        await self._flush()
        if self.protocol.state is State.CLOSED:  # writing showed the peer had gone
            raise self.protocol.close_exc

    async def recv(self) -> str | bytes:
        """The next complete message (``str`` from a text frame, ``bytes`` from binary).

        Messages that arrived before the connection closed are returned first.

        Raises:
            websockets.exceptions.ConnectionClosed: the connection closed.
        """
        while not self._messages:
            if self.protocol.state is State.CLOSED:
                raise self.protocol.close_exc
            await self._receive()
        return self._messages.popleft()

    async def ping(self) -> anyio.Event:
        """Send a ping; the returned event is set when its pong arrives (while someone reads).

        Raises:
            websockets.exceptions.ConnectionClosed: the connection is closed (or closing).
        """
        if self.protocol.state is not State.OPEN:
            await self._raise_closed()
        data = os.urandom(4)
        while data in self._pings:
            data = os.urandom(4)
        pong = self._pings[data] = anyio.Event()
        self.protocol.send_ping(data)
        await self._flush()
        return pong

    async def wait_silent(self, interval: float, silence: float) -> None:
        """Ping every ``interval`` seconds until the peer falls silent, then return: neither
        the pong nor any other data came within ``silence`` seconds of a ping (or of the last
        data after it). Any data counts, as a pong queued behind a burst of audio on a slow
        link proves as much as the pong itself. What to do then (close, fail) is the
        caller's.

        While it waits for a pong and no other task reads, it reads itself (messages read
        are kept for :meth:`recv`), so a connection whose owner is busy elsewhere is not
        taken for silent.

        Raises:
            websockets.exceptions.ConnectionClosed: the connection closed first.
        """
        while True:
            await anyio.sleep(interval)
            pong = await self.ping()
            heard = anyio.current_time()
            while not pong.is_set():
                heard = max(heard, self._last_received)
                wait = heard + silence - anyio.current_time()
                if wait <= 0:
                    return
                with anyio.move_on_after(wait):
                    while not pong.is_set():
                        if self.protocol.state is State.CLOSED:
                            raise self.protocol.close_exc
                        await self._receive()

    async def fail(self, code: int, reason: str) -> None:
        """Fail the connection: send a close frame with ``code`` and ``reason`` (if it is
        open) and close the TCP connection at once, without waiting for the peer's answer
        (one that stopped answering never sends it); :meth:`recv` and :meth:`send` then raise
        ``ConnectionClosedError`` with that close frame as sent. Idempotent."""
        with anyio.CancelScope(shield=True):
            if self.protocol.state is State.OPEN:
                self.protocol.fail(code, reason)
                with anyio.move_on_after(self.close_timeout):
                    await self._flush()
            await self.abort()

    async def write_raw(self, data: bytes) -> None:
        """Write ``data`` to the stream as it is, after what the protocol has queued: bytes
        outside the WebSocket protocol, for fault injection (:mod:`realtalk.server.faults`).
        Anything but whole frames breaks the connection for the peer."""
        self._unsent.extend(self.protocol.data_to_send())
        self._unsent.append(data)
        await self._flush()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Run the closing handshake with ``code`` and ``reason``, then close the TCP
        connection; within :attr:`close_timeout` seconds, even when cancelled. Idempotent."""
        with anyio.CancelScope(shield=True):
            # The close frame's own send is bounded too: a peer that stopped reading never
            # takes it.
            with anyio.move_on_after(self.close_timeout) as waited:
                if self.protocol.state is State.OPEN:
                    self.protocol.send_close(code, reason)
                    await self._flush()
                while not self._closed.is_set():
                    await self._receive()
            await self.abort(reset=waited.cancelled_caught)

    async def aclose(self) -> None:
        """Close normally (code 1000); see :meth:`close`."""
        await self.close()

    async def abort(self, *, reset: bool = True) -> None:
        """Close the TCP connection now, without a closing handshake. Idempotent.

        With ``reset`` (an abort: the closing handshake did not finish) the connection is
        reset, so the peer learns at once even with bytes still queued for it: a peer that
        stopped reading would otherwise hold the connection open behind them until its own
        timeouts (its keepalive pings: 40 s with websockets' defaults)."""
        with anyio.CancelScope(shield=True):
            if self.protocol.state is not State.CLOSED:
                self.protocol.receive_eof()
            self.protocol.data_to_send()  # nowhere to send it now
            self._unsent.clear()
            if reset and not self._closed.is_set():
                reset_on_close(self._stream)
            with contextlib.suppress(anyio.BrokenResourceError, OSError):
                await self._stream.aclose()
            self._closed.set()

    async def _finish_closing(self) -> None:
        """Read until the peer has finished closing (within :attr:`close_timeout`), then
        close the TCP connection."""
        with anyio.move_on_after(self.close_timeout) as waited:
            while not self._closed.is_set():
                await self._receive()
        await self.abort(reset=waited.cancelled_caught)

    async def _raise_closed(self) -> None:
        # The close code is known only once the closing handshake is over.
        await self._finish_closing()
        raise self.protocol.close_exc

    # -----------------------------------------------------------------------------------------
    # Handshake (used by the client and the host)
    # -----------------------------------------------------------------------------------------

    async def receive_handshake(self) -> None:
        """Send what the protocol has queued (a client's request), then read until the
        handshake's request (server side) or response (client side) is in, or the handshake
        failed (``protocol.handshake_exc``), or the peer hung up."""
        await self._flush()
        server = self.protocol.side is Side.SERVER
        while (self.request if server else self.response) is None:
            if self.protocol.handshake_exc is not None or \
                    self.protocol.state is State.CLOSED:
                return
            await self._receive()

    async def send_response(self, response: Response) -> None:
        """Send a server's handshake response (101 opens the connection)."""
        assert isinstance(self.protocol, ServerProtocol), "only a server sends a response"
        self.response = response
        self.protocol.send_response(response)
        await self._flush()

    # -----------------------------------------------------------------------------------------
    # I/O
    # -----------------------------------------------------------------------------------------

    async def _receive(self) -> None:
        """Read once, or, if another task is reading, wait until its read is done."""
        if self.protocol.state is State.CLOSED:  # a failed write got there first
            await self.abort()
            return
        if not self._reading:
            await self._read()
            return
        if self._read_done is None:
            self._read_done = anyio.Event()
        await self._read_done.wait()

    async def _read(self) -> None:
        self._reading = True
        try:
            data: bytes | None = None
            if self.protocol.close_expected():
                # The peer owes the end of the connection: if it never comes, stop waiting.
                with anyio.move_on_after(self.close_timeout):
                    data = await self._stream.receive(_READ_SIZE)
            else:
                data = await self._stream.receive(_READ_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError,
                OSError):
            data = None
        finally:
            self._reading = False
            if self._read_done is not None:
                self._read_done.set()
                self._read_done = None
        if data is None:
            self.protocol.receive_eof()
        else:
            self._last_received = anyio.current_time()
            self.protocol.receive_data(data)
        self._take(self.protocol.events_received())
        await self._flush()
        if self.protocol.state is State.CLOSED:
            await self.abort()

    async def _flush(self) -> None:
        """Write what the protocol has to send, in order, one writer at a time."""
        # Taken from the protocol at once: a flush cancelled while another task writes
        # leaves its data here, for the next one.
        self._unsent.extend(self.protocol.data_to_send())
        while self._writing:  # its writer writes ours too, or leaves it to us
            if self._write_done is None:
                self._write_done = anyio.Event()
            await self._write_done.wait()
        if not self._unsent:
            return
        self._writing = True
        try:
            while self._unsent:
                chunk = self._unsent.popleft()
                try:
                    if chunk:
                        await self._stream.send(chunk)
                    elif isinstance(self._stream, anyio.abc.SocketStream):
                        # The protocol asks for a half-close. TLS streams cannot: closing
                        # happens when the connection is closed.
                        await self._stream.send_eof()
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    self._unsent.clear()
                    self.protocol.receive_eof()
                    return
                except BaseException:
                    # Cancelled. Where writes are whole or nothing, the chunk is out (or
                    # never started) and the rest waits for the next flush. Elsewhere part
                    # of a frame may be on the wire: the peer could only misread what follows.
                    if self._partial_writes and chunk:
                        logger.debug("a send was interrupted mid-frame; aborting %r", self)
                        await self.abort()
                    raise
        finally:
            self._writing = False
            if self._write_done is not None:
                self._write_done.set()
                self._write_done = None

    def _take(self, events: Iterable[Request | Response | Frame]) -> None:
        for event in events:
            if isinstance(event, Frame):
                self._take_frame(event)
            elif isinstance(event, Request):
                self.request = event
            else:
                self.response = event

    def _take_frame(self, frame: Frame) -> None:
        if self._failed:
            return  # frames parsed in the same read as the one that failed the connection
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:
                self._deliver(opcode, bytes(frame.data))
            else:
                self._fragment_opcode = opcode
                self._fragments = [bytes(frame.data)]
        elif opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data = b"".join(self._fragments)
                self._fragments = []
                self._deliver(self._fragment_opcode, data)
        elif opcode is Opcode.PONG:
            self._acknowledge(bytes(frame.data))
        # ping and close: the protocol has answered them already

    def _deliver(self, opcode: Opcode, data: bytes) -> None:
        if opcode is Opcode.BINARY:
            self._messages.append(data)
            return
        try:
            self._messages.append(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self._failed = True
            if self.protocol.state is State.OPEN:
                self.protocol.fail(_INVALID_DATA, f"invalid UTF-8 at position {exc.start}")

    def _acknowledge(self, data: bytes) -> None:
        if data not in self._pings:
            return  # unsolicited
        # A pong answers its ping and every earlier one.
        for key in list(self._pings):
            self._pings.pop(key).set()
            if key == data:
                break
