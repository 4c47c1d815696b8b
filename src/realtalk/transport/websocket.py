"""A WebSocket transport on ``websockets``, under asyncio or trio.

Under asyncio the transport uses websockets' asyncio client; under another anyio backend
(trio), :mod:`realtalk.transport.anyio_websocket`, which drives websockets' sans-I/O protocol
over anyio streams. So a :class:`~realtalk.Conversation` works the same on both backends, on
every supported Python and websockets version. Frames over 1 MiB are normal in this protocol (items
carrying audio), so there is no message size limit. Compression is off: base64 audio barely
compresses and deflate would add latency to every frame, ``response.cancel`` included.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any, Protocol

import websockets.exceptions as wsexc

from ..errors import ConfigurationError, ConnectError, ConnectionClosed
from .anyio_websocket import open_anyio_websocket
from .endpoints import Endpoint
from .redact import RedactingFilter, Redactor

__all__ = ("WebSocketTransport", "connect_websocket")

logger = logging.getLogger("realtalk.transport")
# What websockets logs (handshake headers at DEBUG) goes through this logger, scrubbed.
wire_logger = logging.getLogger("realtalk.transport.wire")
wire_logger.addFilter(RedactingFilter(Redactor()))

_USER_AGENT = "realtalk"


class _Connection(Protocol):
    async def send(self, message: str) -> None: ...
    async def recv(self) -> str | bytes: ...
    # websockets' asyncio connection has close(), AnyioWebSocket aclose(): see aclose().


def _running_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _closed(exc: wsexc.ConnectionClosed) -> ConnectionClosed:
    frame = exc.rcvd or exc.sent
    code = frame.code if frame is not None else None
    reason = frame.reason if frame is not None else ""
    how = f"code {code}" if code is not None else "no close frame"
    suffix = f": {reason}" if reason else ""
    return ConnectionClosed(f"connection closed ({how}){suffix}", code=code, reason=reason)


class WebSocketTransport:
    """A connected realtime WebSocket. Create it with :func:`connect_websocket`."""

    def __init__(self, connection: _Connection, endpoint: Endpoint) -> None:
        self._ws = connection
        self.endpoint = endpoint

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
            raise _closed(exc) from exc

    async def receive(self) -> str:
        """The next text frame (a binary frame is decoded as UTF-8 JSON text).

        Raises:
            ConnectionClosed: the connection closed; ``code`` and ``reason`` say how.
        """
        try:
            message = await self._ws.recv()
        except wsexc.ConnectionClosed as exc:
            raise _closed(exc) from exc
        if isinstance(message, bytes):
            return message.decode("utf-8", errors="replace")
        return message

    async def aclose(self) -> None:
        """Close the connection with a normal close frame; idempotent."""
        # websockets' asyncio connection calls it close(), AnyioWebSocket aclose().
        close = getattr(self._ws, "aclose", None) or getattr(self._ws, "close")  # noqa: B009
        with contextlib.suppress(wsexc.WebSocketException, OSError):
            await close()


@contextlib.asynccontextmanager
async def connect_websocket(
    endpoint: Endpoint, *, open_timeout: float = 10.0
) -> AsyncIterator[WebSocketTransport]:
    """Open a WebSocket to ``endpoint`` for the duration of the ``async with`` block.

    Under asyncio this is websockets' asyncio client; under any other anyio backend (trio),
    realtalk's anyio layer over websockets' sans-I/O protocol. Both behave the same here.

    Raises:
        ConnectError: the server refused the connection or the handshake (``HTTP 401`` for a
            wrong key), or it could not be reached within ``open_timeout`` seconds.
        ConfigurationError: the URL is malformed.
    """
    where = endpoint.safe_url
    async with contextlib.AsyncExitStack() as stack:
        try:
            ws = await _open(stack, endpoint, open_timeout)
        except wsexc.InvalidURI as exc:
            raise ConfigurationError(f"invalid WebSocket URL {where!r}") from exc
        except wsexc.InvalidStatus as exc:
            status = exc.response.status_code
            hint = " (check the API key or token)" if status in (401, 403) else ""
            body = exc.response.body.decode("utf-8", "replace").strip()[:300]
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
        try:
            yield transport
        finally:
            await transport.aclose()


async def _open(stack: contextlib.AsyncExitStack, endpoint: Endpoint,
                open_timeout: float) -> _Connection:
    headers = dict(endpoint.headers)
    if not _running_asyncio():
        return await open_anyio_websocket(endpoint.url, headers=headers,
                                          open_timeout=open_timeout, user_agent=_USER_AGENT,
                                          logger=wire_logger)
    from websockets.asyncio.client import connect

    options: dict[str, Any] = {
        "additional_headers": headers,
        "max_size": None,
        "compression": None,
        "open_timeout": open_timeout,
        "user_agent_header": _USER_AGENT,
        "logger": wire_logger,
    }
    # websockets >= 15 honours proxy environment variables; never for loopback.
    if _is_loopback(endpoint.url) and "proxy" in inspect.signature(connect).parameters:
        options["proxy"] = None
    connection: _Connection = await stack.enter_async_context(connect(endpoint.url, **options))
    return connection
