"""The WebSocket client, on anyio: the same code under asyncio and trio.

anyio opens the TCP (and TLS) connection and websockets' sans-I/O ``ClientProtocol`` speaks
WebSocket over it (:class:`~.connection.WebSocketConnection`), so a
:class:`~realtalk.Conversation` behaves the same on both backends, on every supported Python
and websockets version. Frames over 1 MiB are normal in this protocol (items carrying audio),
so there is no message size limit. Compression is off: base64 audio barely compresses and
deflate would add latency to every frame, ``response.cancel`` included.

Every connection :func:`connect_websocket` opens is watched (:class:`Keepalive`): a ping every
few seconds, and a server that sends neither the pong nor anything else in time is presumed
gone: the connection is failed and its reader gets a :class:`~realtalk.errors.KeepaliveTimeout`
rather than waiting on a dead socket until TCP gives up (minutes, or never).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence

import anyio
import anyio.abc
import attrs
import websockets.exceptions as wsexc
from websockets.client import ClientProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from .._args import check_number, check_type, validator
from ..errors import ConfigurationError, ConnectError, ConnectionClosed, KeepaliveTimeout
from .connection import CLOSE_TIMEOUT, WebSocketConnection
from .endpoints import Endpoint
from .redact import RedactingFilter, Redactor
from .tcp import connect_tcp

__all__ = ("DEFAULT_KEEPALIVE", "Keepalive", "WebSocketTransport", "connect_websocket",
           "open_websocket")

logger = logging.getLogger("realtalk.transport")
# What websockets logs (handshake headers at DEBUG) goes through this logger, scrubbed.
wire_logger = logging.getLogger("realtalk.transport.wire")
wire_logger.addFilter(RedactingFilter(Redactor()))

_USER_AGENT = "realtalk"


def _closed(exc: wsexc.ConnectionClosed) -> ConnectionClosed:
    frame = exc.rcvd or exc.sent
    code = frame.code if frame is not None else None
    reason = frame.reason if frame is not None else ""
    how = f"code {code}" if code is not None else "no close frame"
    suffix = f": {reason}" if reason else ""
    return ConnectionClosed(f"connection closed ({how}){suffix}", code=code, reason=reason)


@attrs.frozen
class Keepalive:
    """Liveness checks on a WebSocket: a ping every ``interval`` seconds; when neither its
    pong nor any other frame arrives within ``timeout`` seconds of the ping (or of the last
    frame after it), the server is presumed gone and the connection is failed with a
    :class:`~realtalk.errors.KeepaliveTimeout`. A silent server is so detected within
    ``interval + timeout`` seconds of its last frame.

    Raises:
        ConfigurationError: a value that is not a number > 0.
    """

    interval: float = attrs.field(default=5.0, validator=validator(check_number, positive=True))
    timeout: float = attrs.field(default=5.0, validator=validator(check_number, positive=True))


#: What :func:`connect_websocket` and the providers use unless told otherwise: a silent
#: server is noticed within 10 s (websockets' own defaults take 40 s), while a link that
#: drops packets for a few seconds, or a pong stuck behind a burst of audio, is not taken
#: for a dead one (any frame counts as an answer).
DEFAULT_KEEPALIVE = Keepalive()


class WebSocketTransport:
    """A connected realtime WebSocket. Create it with :func:`connect_websocket`."""

    def __init__(self, connection: WebSocketConnection, endpoint: Endpoint) -> None:
        self._ws = connection
        self.endpoint = endpoint
        self._silent: Keepalive | None = None  # the keepalive that found the server silent

    def _closed(self, exc: wsexc.ConnectionClosed) -> ConnectionClosed:
        if self._silent is not None:
            return KeepaliveTimeout(
                f"connection to {self.endpoint.safe_url} lost: no answer to a keepalive "
                f"ping (no pong, no other frame) within {self._silent.timeout:g} s",
                timeout=self._silent.timeout)
        return _closed(exc)

    async def keep_alive(self, keepalive: Keepalive) -> None:
        """Ping the server as ``keepalive`` says until the connection closes; when the
        server falls silent, fail the connection, so that :meth:`receive` and :meth:`send`
        raise :class:`~realtalk.errors.KeepaliveTimeout`. Never raises."""
        try:
            await self._ws.wait_silent(keepalive.interval, keepalive.timeout)
        except wsexc.ConnectionClosed:
            return
        logger.warning("%s sent nothing for %g s after a keepalive ping; closing the "
                       "connection as lost", self.endpoint.safe_url, keepalive.timeout)
        self._silent = keepalive
        await self._ws.fail(1011, "keepalive ping timeout")

    def __repr__(self) -> str:
        return f"WebSocketTransport({self.endpoint.safe_url!r})"

    async def send(self, message: str) -> None:
        """Send one text frame.

        Raises:
            ConnectionClosed: the connection is closed.
        """
        try:
            await self._ws.send(message)
        except wsexc.ConnectionClosed as exc:
            raise self._closed(exc) from exc

    async def receive(self) -> str:
        """The next text frame (a binary frame is decoded as UTF-8 JSON text).

        Raises:
            ConnectionClosed: the connection closed; ``code`` and ``reason`` say how.
        """
        try:
            message = await self._ws.recv()
        except wsexc.ConnectionClosed as exc:
            raise self._closed(exc) from exc
        if isinstance(message, bytes):
            return message.decode("utf-8", errors="replace")
        return message

    async def aclose(self) -> None:
        """Close the connection with a normal close frame; idempotent."""
        await self._ws.close()


async def open_websocket(
    url: str, *, headers: Mapping[str, str] | None = None,
    subprotocols: Sequence[str] | None = None, open_timeout: float = 10.0,
    close_timeout: float = CLOSE_TIMEOUT, max_size: int | None = None,
    logger: logging.Logger = wire_logger,
) -> WebSocketConnection:
    """Connect to ``url`` (``ws://`` or ``wss://``) and run the opening handshake; the caller
    closes the connection. :func:`connect_websocket` is the realtalk-level API on top.

    Args:
        url: where to connect.
        headers: extra headers for the upgrade request.
        subprotocols: subprotocols to offer.
        open_timeout: seconds for the TCP connection, TLS and the handshake together.
        close_timeout: seconds for the closing handshake (see :class:`WebSocketConnection`).
        max_size: the largest message accepted; ``None`` (the default) for no limit.
        logger: where websockets logs the handshake and frames (keep credentials out of it).

    Raises:
        websockets.exceptions.InvalidURI: a malformed URL.
        websockets.exceptions.InvalidHandshake: the server refused (``InvalidStatus`` for an
            HTTP error such as 401) or did not speak WebSocket.
        OSError, TimeoutError: the server could not be reached in ``open_timeout`` seconds.
    """
    wsuri = parse_uri(url)
    offered = [Subprotocol(name) for name in subprotocols] if subprotocols else None
    protocol = ClientProtocol(wsuri, subprotocols=offered, max_size=max_size, logger=logger)
    request = protocol.connect()
    for name, value in (headers or {}).items():
        request.headers[name] = value
    request.headers["User-Agent"] = _USER_AGENT
    protocol.send_request(request)
    with anyio.fail_after(open_timeout):
        # The WebSocket closing handshake ends the connection, so TLS's own closing
        # exchange is not needed (and a server that skips it is no error).
        context = ssl.create_default_context() if wsuri.secure else None
        try:
            stream = await connect_tcp(wsuri.host, wsuri.port, ssl_context=context)
        except (anyio.EndOfStream, anyio.BrokenResourceError) as exc:
            raise ConnectionResetError("the server hung up during the TLS handshake") from exc
        connection = WebSocketConnection(stream, protocol, close_timeout=close_timeout)
        connection.request = request
        try:
            await connection.receive_handshake()
            if protocol.handshake_exc is not None:
                raise protocol.handshake_exc
            if connection.response is None:
                raise wsexc.InvalidMessage("the server closed the connection during the "
                                           "handshake")
        except BaseException:
            await connection.abort()
            raise
    return connection


@contextlib.asynccontextmanager
async def connect_websocket(
    endpoint: Endpoint, *, open_timeout: float = 10.0,
    keepalive: Keepalive | None = DEFAULT_KEEPALIVE,
) -> AsyncIterator[WebSocketTransport]:
    """Open a WebSocket to ``endpoint`` for the duration of the ``async with`` block.

    ``keepalive`` pings the server while the block runs (:class:`Keepalive`; ``None`` for no
    pings): a server that falls silent makes the transport's ``receive`` raise
    :class:`~realtalk.errors.KeepaliveTimeout`.

    Raises:
        ConnectError: the server refused the connection or the handshake (``HTTP 401`` for a
            wrong key), or it could not be reached within ``open_timeout`` seconds.
        ConfigurationError: the URL is malformed.
    """
    check_type("keepalive", keepalive, (Keepalive, type(None)), "a Keepalive or None")
    where = endpoint.safe_url
    try:
        ws = await open_websocket(endpoint.url, headers=endpoint.headers,
                                  open_timeout=open_timeout)
    except wsexc.InvalidURI as exc:
        raise ConfigurationError(f"invalid WebSocket URL {where!r}") from exc
    except wsexc.InvalidStatus as exc:
        status = exc.response.status_code
        hint = " (check the API key or token)" if status in (401, 403) else ""
        body = (exc.response.body or b"").decode("utf-8", "replace").strip()[:300]
        said = f": {body}" if body else ""
        raise ConnectError(
            f"server at {where} rejected the connection with HTTP {status}{hint}{said}"
        ) from exc
    except (wsexc.WebSocketException, OSError, TimeoutError) as exc:
        raise ConnectError(
            f"could not connect to {where}: {type(exc).__name__}: {exc}"
        ) from exc
    logger.debug("connected to %s", where)
    transport = WebSocketTransport(ws, endpoint)
    # Entered by hand, not with `async with`: the body's own exception then leaves as it is,
    # never wrapped in an exception group (the keepalive task never raises).
    watch: anyio.abc.TaskGroup | None = None
    try:
        if keepalive is not None:
            watch = anyio.create_task_group()
            await watch.__aenter__()
            watch.start_soon(transport.keep_alive, keepalive)
        yield transport
    finally:
        try:
            await transport.aclose()
        finally:
            if watch is not None:
                watch.cancel_scope.cancel()
                await watch.__aexit__(None, None, None)
