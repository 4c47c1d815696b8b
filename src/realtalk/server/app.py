"""The embedded realtime server: a thin websockets shell around :class:`ServerSession`.

``RealtimeServer`` listens on loopback (a free port by default) and accepts the WebSocket URLs
real clients build:

- ``/v1/realtime?model=...``: OpenAI GA (also what the ``openai`` client builds from
  ``base_url="http://HOST:PORT/v1"``);
- ``/openai/v1/realtime?model=...``: Azure GA;
- ``/openai/realtime?api-version=...&deployment=...``: Azure preview, which speaks the beta
  event names and session layout, and reports the model it runs (``options.model``) rather
  than the deployment's name.

Anything else gets HTTP 404, a missing ``model`` / ``deployment`` / ``api-version`` HTTP 400,
and, when ``api_key`` is set, a missing or wrong key HTTP 401 (``Authorization: Bearer <key>``,
``api-key: <key>`` or Azure's ``?api-key=`` are accepted). The key is never logged.

Each connection gets its own :class:`ServerSession`; one task feeds it frames, another sleeps
until its next deadline or a new frame and sends what is due, stamped with the event loop's
clock. A connection's failure never takes the server down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.abc
import attrs
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..errors import LocalProtocolError, TransportError
from ..events import encode
from ..session_config import WireShape
from ..transport.endpoints import netloc
from .responder import PlaceholderTranscriber, Responder, ScriptedResponder, Transcriber
from .session import ServerOptions, ServerSession

__all__ = ("ClientEventHook", "RealtimeServer")

logger = logging.getLogger("realtalk.server")

#: Called with ``(time.perf_counter(), event type)`` as each client frame arrives.
ClientEventHook = Callable[[float, str], None]


_SECRET_HEADERS = frozenset({"authorization", "api-key"})
_SECRET_QUERY = re.compile(r"(api-key=)[^&\s]*", re.IGNORECASE)


if TYPE_CHECKING:
    _LoggerAdapter = logging.LoggerAdapter[logging.Logger]
else:  # LoggerAdapter is subscriptable at runtime only from Python 3.11
    _LoggerAdapter = logging.LoggerAdapter


class _RedactingLogger(_LoggerAdapter):
    """websockets' logger with credentials blanked out.

    At DEBUG level websockets logs every request header and the request path, which carry
    the API key (``Authorization``, ``api-key``, Azure's ``?api-key=``).
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        if len(args) == 2 and str(args[0]).lower() in _SECRET_HEADERS:
            args = (args[0], "[redacted]")
        else:
            args = tuple(_SECRET_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                         for a in args)
        super().log(level, msg, *args, **kwargs)


@attrs.frozen
class _Route:
    shape: WireShape
    model: str | None = None
    problem: str | None = None  # why the request is a 400


def _route(path: str) -> _Route | None:
    """Which protocol a request path speaks; ``None`` for an unknown path (404)."""
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    route = parts.path.rstrip("/")

    def first(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    if route in ("/v1/realtime", "/openai/v1/realtime"):
        model = first("model")
        return _Route("ga", model, None if model else "missing query parameter 'model'")
    if route == "/openai/realtime":
        deployment = first("deployment")
        if first("api-version") is None:
            return _Route("beta", deployment, "missing query parameter 'api-version'")
        return _Route("beta", deployment,
                      None if deployment else "missing query parameter 'deployment'")
    return None


@attrs.define
class _Wakeup:
    """The writer's current wake-up event; a fresh one per wait, so no set() is lost."""

    event: anyio.Event = attrs.field(factory=anyio.Event)


class RealtimeServer:
    """A local stand-in for the OpenAI / Azure OpenAI Realtime service.

    Args:
        host: the address to bind; loopback by default.
        port: the port; 0 picks a free one (read it from :attr:`port` once started).
        api_key: if set, connections must present it (else HTTP 401).
        options: per-session behaviour (latency, chunking, generation speed, ...).
        responder_factory: builds each connection's :class:`~.responder.Responder`.
        transcriber_factory: builds each connection's :class:`~.responder.Transcriber`.
        on_client_event: called with ``(time.perf_counter(), event type)`` when each client
            frame is received, on the server's event loop (keep it quick).

    Use ``async with server:`` (asyncio), :meth:`serve_forever`, or, from any event loop or
    from sync code, ``with server.running_in_thread():``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str | None = None,
        options: ServerOptions | None = None,
        responder_factory: Callable[[], Responder] = ScriptedResponder,
        transcriber_factory: Callable[[], Transcriber] = PlaceholderTranscriber,
        on_client_event: ClientEventHook | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._api_key = api_key
        self.options = options or ServerOptions()
        self._responder_factory = responder_factory
        self._transcriber_factory = transcriber_factory
        self.on_client_event = on_client_event
        self._server: Server | None = None
        self._port: int | None = None
        self._sessions: list[ServerSession] = []

    def __repr__(self) -> str:
        # No api_key here: credentials never appear in reprs.
        return f"RealtimeServer(host={self.host!r}, port={self._port or self._requested_port})"

    # -----------------------------------------------------------------------------------------
    # Addresses and state
    # -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port.

        Raises:
            LocalProtocolError: the server is not listening.
        """
        if self._port is None:
            raise LocalProtocolError("the realtime server is not listening; start it first")
        return self._port

    @property
    def url(self) -> str:
        """The OpenAI GA WebSocket URL, ``ws://HOST:PORT/v1/realtime`` (add ``?model=...``)."""
        return f"ws://{self._netloc()}/v1/realtime"

    @property
    def http_base_url(self) -> str:
        """``http://HOST:PORT/v1``: the ``base_url`` for the official ``openai`` client."""
        return f"http://{self._netloc()}/v1"

    @property
    def sessions(self) -> list[ServerSession]:
        """Every session created so far, oldest first (for stats in tests and benchmarks)."""
        return list(self._sessions)

    def _netloc(self) -> str:
        return netloc(self.host, self.port)

    # -----------------------------------------------------------------------------------------
    # Lifecycle
    # -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening (asyncio).

        Raises:
            TransportError: the address cannot be bound.
        """
        if self._server is not None:
            return
        try:
            server = await serve(
                self._handle,
                self.host,
                self._requested_port,
                process_request=self._process_request,
                max_size=None,  # audio frames over 1 MiB are normal in this protocol
                compression=None,
                logger=_RedactingLogger(logging.getLogger("realtalk.server.websockets")),
            )
        except OSError as exc:
            raise TransportError(
                f"cannot listen on {self.host}:{self._requested_port}: {exc}"
            ) from exc
        self._server = server
        self._port = int(next(iter(server.sockets)).getsockname()[1])
        logger.info("realtime server listening on %s", self.url)

    async def aclose(self) -> None:
        """Stop listening and close every connection (code 1001), then wait for them."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
            logger.info("realtime server on port %s stopped", self._port)

    async def __aenter__(self) -> RealtimeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def serve_forever(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen until cancelled (asyncio), then close.

        ``await task_group.start(server.serve_forever)`` returns once the server listens.

        Raises:
            TransportError: the address cannot be bound.
        """
        await self.start()
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await self.aclose()

    @contextlib.contextmanager
    def running_in_thread(self, *, timeout: float = 10.0) -> Iterator[RealtimeServer]:
        """Run the server on an asyncio loop in a daemon thread for the ``with`` block.

        Usable from sync code and from any event loop (asyncio or trio). Returns once the
        server is listening; on exit it stops the server and joins the thread.

        Raises:
            TransportError: the server could not start within ``timeout`` seconds.
        """
        ready = threading.Event()
        started: dict[str, Any] = {}

        async def main() -> None:
            stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as exc:
                started["error"] = exc
                ready.set()
                raise
            started["loop"], started["stop"] = asyncio.get_running_loop(), stop
            ready.set()
            try:
                await stop.wait()
            finally:
                await self.aclose()

        def run() -> None:
            try:
                asyncio.run(main())
            except Exception:
                if "error" not in started:  # a startup error is re-raised in the caller instead
                    logger.exception("the realtime server thread failed")

        thread = threading.Thread(target=run, name="realtalk-server", daemon=True)
        thread.start()
        if not ready.wait(timeout):
            raise TransportError(f"the realtime server did not start within {timeout} s")
        error = started.get("error")
        if error is not None:
            thread.join(timeout)
            if isinstance(error, TransportError):
                raise error
            raise TransportError(f"the realtime server failed to start: {error}") from error
        try:
            yield self
        finally:
            started["loop"].call_soon_threadsafe(started["stop"].set)
            thread.join(timeout)

    # -----------------------------------------------------------------------------------------
    # Connections
    # -----------------------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        route = _route(request.path)
        path_only = urlsplit(request.path).path  # the query may hold an api-key: never log it
        if route is None:
            logger.info("rejected %s: no realtime endpoint there (404)", path_only)
            return connection.respond(HTTPStatus.NOT_FOUND, f"Not Found: {path_only}\n")
        if not self._authorized(request):
            logger.info("rejected %s: missing or wrong credentials (401)", path_only)
            body = {"error": {"type": "invalid_request_error", "code": "invalid_api_key",
                              "message": "Incorrect API key provided.", "param": None}}
            return connection.respond(HTTPStatus.UNAUTHORIZED, json.dumps(body) + "\n")
        if route.problem is not None:
            logger.info("rejected %s: %s (400)", path_only, route.problem)
            return connection.respond(HTTPStatus.BAD_REQUEST, route.problem + "\n")
        return None

    def _authorized(self, request: Request) -> bool:
        if self._api_key is None:
            return True
        presented: list[str] = []
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            presented.append(authorization[7:].strip())
        presented.extend(request.headers.get_all("api-key"))
        presented.extend(parse_qs(urlsplit(request.path).query).get("api-key", []))
        expected = self._api_key.encode()
        return any(hmac.compare_digest(key.encode(), expected) for key in presented)

    async def _handle(self, connection: ServerConnection) -> None:
        request = connection.request
        assert request is not None  # the handler runs only after a handshake
        route = _route(request.path)
        assert route is not None  # _process_request refused the rest
        session = ServerSession(
            now=anyio.current_time(),
            shape=route.shape,
            options=self.options,
            responder=self._responder_factory(),
            transcriber=self._transcriber_factory(),
            # A preview deployment reports the model it runs (the beta protocol knows only
            # OpenAI's model names), not the deployment's name.
            model=route.model if route.shape == "ga" else None,
        )
        self._sessions.append(session)
        logger.info("session %s opened (%s shape, model %s)", session.id, route.shape,
                    route.model)
        wakeup = _Wakeup()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read, connection, session, wakeup, tg.cancel_scope)
                tg.start_soon(self._write, connection, session, wakeup, tg.cancel_scope)
        except Exception:
            logger.exception("session %s failed", session.id)
        finally:
            session.close()
            logger.info("session %s closed", session.id)

    async def _read(self, connection: ServerConnection, session: ServerSession,
                    wakeup: _Wakeup, scope: anyio.CancelScope) -> None:
        try:
            async for frame in connection:
                received_at = time.perf_counter()
                event_type = session.receive(frame, anyio.current_time())
                if self.on_client_event is not None:
                    try:
                        self.on_client_event(received_at, event_type or "(invalid)")
                    except Exception:
                        logger.exception("on_client_event hook raised")
                wakeup.event.set()
        except ConnectionClosed:
            pass
        finally:
            scope.cancel()  # the peer is gone: stop the writer too

    async def _write(self, connection: ServerConnection, session: ServerSession,
                     wakeup: _Wakeup, scope: anyio.CancelScope) -> None:
        try:
            while True:
                wakeup.event = anyio.Event()  # before draining: a frame arriving now wakes us
                session.advance(anyio.current_time())
                for event in session.events_to_send():
                    await connection.send(encode(event, session.shape))
                deadline = session.next_deadline()
                if deadline is None:
                    await wakeup.event.wait()
                else:
                    with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                        await wakeup.event.wait()
        except ConnectionClosed:
            scope.cancel()
