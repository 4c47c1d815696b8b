"""A WebSocket server on anyio, in the caller's event loop (asyncio or trio): the one host of
the embedded realtime server and of the relay.

:class:`WebSocketHost` does what every server needs, once: bind the address, accept
connections, run each opening handshake (websockets' sans-I/O ``ServerProtocol`` over the
connection, :class:`~.connection.WebSocketConnection`), keep connections alive with pings,
and shut down (stop listening, close every connection with 1001, wait for the handlers). It
also keeps credentials out of websockets' handshake logs. A subclass decides the rest through
hooks:

- :meth:`~WebSocketHost._process_request`: answer a request itself (a refusal, a plain HTTP
  page) or let the handshake go on (``None``);
- :meth:`~WebSocketHost._select_subprotocol`: which offered subprotocol to accept;
- :meth:`~WebSocketHost._handle`: serve one open connection;
- :meth:`~WebSocketHost._run_alongside`: background work while serving.

A host serves inside ``async with host:``, during :meth:`~WebSocketHost.serve_forever`, or
on its own thread and event loop with :meth:`~WebSocketHost.running_in_thread` (for sync
code, and to keep its work off the caller's loop).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import anyio.from_thread
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Origin, Subprotocol

from ..errors import LocalProtocolError, TransportError
from .connection import CLOSE_TIMEOUT, WebSocketConnection
from .endpoints import netloc
from .redact import Redactor, redacting
from .tcp import accept

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("WebSocketHost", "http_response", "json_response")


def http_response(status: HTTPStatus, body: bytes | str,
                  content_type: str = "text/plain; charset=utf-8") -> Response:
    """A complete HTTP response that closes the connection and is never cached or sniffed."""
    data = body.encode() if isinstance(body, str) else body
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Connection", "close"),
    ])
    return Response(status.value, status.phrase, headers, data)


def json_response(status: HTTPStatus, data: object) -> Response:
    """:func:`http_response` with ``data`` as JSON."""
    return http_response(status, json.dumps(data) + "\n", "application/json")


class WebSocketHost:
    """A WebSocket server (see the module docstring); subclasses implement :meth:`_handle`.

    Args:
        host: the address to bind.
        port: the port; 0 picks a free one (read it from :attr:`port` once started).
        name: what the host is called in messages ("the relay").
        logger: where the host logs (listening, failures).
        wire_logger: the name of the logger websockets' protocol logs to (the handshake's
            headers at DEBUG); while the host is started, a redacting filter scrubs it.
        secrets: credential values to mask in those logs, besides the usual patterns.
        redact_also: other loggers to scrub with the same filter while the host is started.
        max_size: the largest message accepted from a client; ``None`` for no limit.
        origins: if set, the ``Origin`` values browsers may connect from (else HTTP 403).
        ping_interval: seconds between keepalive pings to each client; ``None`` for none.
        ping_timeout: seconds a pong (or any other data) may take after a ping before the
            connection is closed (1011).
        open_timeout: seconds a client may take to send its handshake request.
        close_timeout: seconds a closing handshake may take.
    """

    def __init__(
        self, host: str, port: int, *, name: str, logger: logging.Logger, wire_logger: str,
        secrets: Iterable[str] = (), redact_also: Sequence[str] = (),
        max_size: int | None = None, origins: Sequence[str] | None = None,
        ping_interval: float | None = 20.0, ping_timeout: float = 20.0,
        open_timeout: float = 10.0, close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._name = name
        self._logger = logger
        self._wire_logger = logging.getLogger(wire_logger)
        self._redacted_loggers = (wire_logger, *redact_also)
        self._redactor = Redactor(secrets)
        self._max_size = max_size
        self._origins = None if origins is None else [Origin(o) for o in origins]
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self._port: int | None = None
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        self._redacting = contextlib.ExitStack()
        self._task_group: anyio.abc.TaskGroup | None = None
        self._acceptors: anyio.abc.TaskGroup | None = None
        self._connection_tasks: anyio.abc.TaskGroup | None = None
        self._served: anyio.Event | None = None
        self._open: set[WebSocketConnection] = set()

    def __repr__(self) -> str:
        port = self._port or self._requested_port  # and never a credential
        return f"{type(self).__name__}(host={self.host!r}, port={port})"

    # -----------------------------------------------------------------------------------------
    # Hooks
    # -----------------------------------------------------------------------------------------

    async def _process_request(self, connection: WebSocketConnection,
                               request: Request) -> Response | None:
        """Answer ``request`` (a refusal, a plain HTTP page) or return ``None`` to go on with
        the WebSocket handshake. Called for every request, WebSocket or not."""
        return None

    def _select_subprotocol(self, offered: Sequence[str]) -> str | None:
        """The subprotocol to accept among those a client offered, or ``None``."""
        return None

    async def _handle(self, connection: WebSocketConnection) -> None:
        """Serve one open connection; it is closed (1000) when this returns."""
        raise NotImplementedError

    async def _run_alongside(self) -> None:
        """Background work for as long as the host serves (cancelled at shutdown)."""

    # -----------------------------------------------------------------------------------------
    # Addresses
    # -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port.

        Raises:
            LocalProtocolError: the host is not listening.
        """
        if self._port is None:
            raise LocalProtocolError(f"{self._name} is not listening; start it first")
        return self._port

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/``."""
        return f"ws://{self._netloc()}/"

    @property
    def http_base_url(self) -> str:
        """``http://HOST:PORT/v1``: the ``base_url`` for the official ``openai`` client."""
        return f"http://{self._netloc()}/v1"

    def _netloc(self) -> str:
        return netloc(self.host, self.port)

    # -----------------------------------------------------------------------------------------
    # Lifecycle
    # -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the address, so :attr:`port` and :attr:`url` are known; idempotent.

        Clients are served while the host serves: inside ``async with``, during
        :meth:`serve_forever` or :meth:`running_in_thread` (each starts it first).

        Raises:
            TransportError: the address cannot be bound.
        """
        if self._listener is not None:
            return
        try:
            listener = await anyio.create_tcp_listener(local_host=self.host,
                                                       local_port=self._requested_port)
        except OSError as exc:
            # "address already in use", not "[Errno 98] Address already in use"
            reason = exc.strerror or str(exc)
            raise TransportError(f"cannot listen on {self.host}:{self._requested_port}: "
                                 f"{reason[:1].lower()}{reason[1:]}") from exc
        self._listener = listener
        self._port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
        self._redacting.enter_context(redacting(self._redacted_loggers, self._redactor))
        self._logger.info("%s listening on %s", self._name, self.url)

    async def aclose(self) -> None:
        """Stop listening, close every connection (code 1001) and wait for their handlers
        (those still running after the close timeout are cancelled); idempotent."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        with anyio.CancelScope(shield=True):
            if self._acceptors is not None:
                self._acceptors.cancel_scope.cancel()
            await listener.aclose()
            async with anyio.create_task_group() as closing:
                for connection in list(self._open):
                    closing.start_soon(connection.close, 1001, "")
            if self._connection_tasks is not None:
                self._connection_tasks.cancel_scope.deadline = (
                    anyio.current_time() + self._close_timeout)
            if self._served is not None:
                await self._served.wait()
            self._redacting.close()
            self._logger.info("%s on port %s stopped", self._name, self._port)

    async def __aenter__(self) -> Self:
        await self.start()
        assert self._listener is not None
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._served = anyio.Event()
        task_group.start_soon(self._serve, self._listener, self._served)
        self._task_group = task_group
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task_group, self._task_group = self._task_group, None
        with anyio.CancelScope(shield=True):
            await self.aclose()
        if task_group is not None:
            # The body's own exception, if any, propagates as it is, never in a group.
            await task_group.__aexit__(None, None, None)

    async def serve_forever(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until cancelled, then close. ``await task_group.start(host.serve_forever)``
        returns once the host listens.

        Raises:
            TransportError: the address cannot be bound.
        """
        if self._task_group is not None:  # already serving, inside `async with`
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await self.aclose()
        async with self:
            task_status.started()
            await anyio.sleep_forever()

    @contextlib.contextmanager
    def running_in_thread(self, *, timeout: float = 10.0) -> Iterator[Self]:
        """Serve on an asyncio event loop in a new thread for the ``with`` block.

        Usable from sync code and from any event loop (asyncio or trio), whose own work it
        then never delays. Returns once the host listens; on exit it stops the host and
        joins the thread.

        Raises:
            TransportError: the host could not start within ``timeout`` seconds.
        """
        with anyio.from_thread.start_blocking_portal() as portal:
            served, _ = portal.start_task(self._serve_in_thread, timeout)
            try:
                yield self
            finally:
                served.cancel()

    async def _serve_in_thread(
        self, start_within: float, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        try:
            with anyio.fail_after(start_within):
                await self.start()
        except TimeoutError as exc:
            raise TransportError(
                f"{self._name} did not start within {start_within} s") from exc
        await self.serve_forever(task_status=task_status)

    # -----------------------------------------------------------------------------------------
    # Serving
    # -----------------------------------------------------------------------------------------

    async def _serve(self, listener: anyio.abc.Listener[anyio.abc.SocketStream],
                     served: anyio.Event) -> None:
        try:
            if self._listener is not listener:  # closed before this task got to run
                return
            async with anyio.create_task_group() as connections:
                self._connection_tasks = connections
                async with anyio.create_task_group() as acceptors:
                    self._acceptors = acceptors
                    acceptors.start_soon(self._accept, listener, connections)
                    acceptors.start_soon(self._run_alongside)
                # Shutting down: the connections are closing (see aclose).
        finally:
            self._acceptors = self._connection_tasks = None
            served.set()

    async def _accept(self, listener: anyio.abc.Listener[anyio.abc.SocketStream],
                      connections: anyio.abc.TaskGroup) -> None:
        listeners = getattr(listener, "listeners", [listener])
        if len(listeners) > 1:  # one address family each (localhost: IPv4 and IPv6)
            async with anyio.create_task_group() as tg:
                for one in listeners:
                    tg.start_soon(self._accept, one, connections)
            return
        while True:
            try:
                stream = await accept(listeners[0])
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            except OSError as exc:  # out of file descriptors, say: keep serving the others
                self._logger.warning("%s could not accept a connection: %s", self._name, exc)
                await anyio.sleep(0.1)
                continue
            connections.start_soon(self._connection, stream)

    async def _connection(self, stream: anyio.abc.SocketStream) -> None:
        protocol = ServerProtocol(
            origins=self._origins,
            select_subprotocol=lambda _, offered: self._subprotocol(offered),
            max_size=self._max_size,
            logger=self._wire_logger,
        )
        connection = WebSocketConnection(stream, protocol, close_timeout=self._close_timeout)
        try:
            if await self._handshake(connection):
                await self._serve_connection(connection)
        except Exception:
            self._logger.exception("%s: the connection from %s failed", self._name,
                                   connection.remote_address)
        finally:
            if connection.request is None:  # nothing to say to a peer that said nothing
                await connection.abort()
            else:
                await connection.close()

    def _subprotocol(self, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        chosen = self._select_subprotocol(offered)
        return None if chosen is None else Subprotocol(chosen)

    async def _handshake(self, connection: WebSocketConnection) -> bool:
        """Run the opening handshake; whether the connection is open."""
        with anyio.move_on_after(self._open_timeout):
            await connection.receive_handshake()
        request = connection.request
        if request is None:  # not HTTP, too slow, or gone; the protocol answered if it could
            return False
        try:
            response = await self._process_request(connection, request)
        except Exception:
            self._logger.exception("%s: answering a request from %s failed", self._name,
                                   connection.remote_address)
            response = http_response(HTTPStatus.INTERNAL_SERVER_ERROR,
                                     "Failed to open a WebSocket connection.\n")
        if response is None:
            assert isinstance(connection.protocol, ServerProtocol)
            response = connection.protocol.accept(request)
        await connection.send_response(response)
        return connection.state is State.OPEN

    async def _serve_connection(self, connection: WebSocketConnection) -> None:
        self._open.add(connection)
        try:
            if self._ping_interval is None:
                await self._handle(connection)
                return
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keepalive, connection, self._ping_interval)
                await self._handle(connection)
                tg.cancel_scope.cancel()
        finally:
            self._open.discard(connection)

    async def _keepalive(self, connection: WebSocketConnection, interval: float) -> None:
        """Ping every ``interval`` seconds; close (1011) a connection whose peer falls
        silent (:meth:`~.connection.WebSocketConnection.wait_silent`)."""
        try:
            await connection.wait_silent(interval, self._ping_timeout)
        except ConnectionClosed:
            return
        self._logger.info("%s: %s did not answer a ping within %g s; closing it",
                          self._name, connection.remote_address, self._ping_timeout)
        await connection.close(1011, "keepalive ping timeout")
