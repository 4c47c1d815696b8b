"""The embedded realtime server: :class:`ServerSession` behind the WebSocket host.

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

With a :class:`~.faults.FaultPlan` (``faults=``), the server refuses the plan's first
handshakes and injects its faults into the sessions it accepts, numbered from 1 in the order
their handshakes were accepted.

Listening, handshakes, keepalive pings, shutdown and the scrubbing of handshake logs are
:class:`~realtalk.transport.host.WebSocketHost`'s, so the server runs in the caller's event
loop under asyncio or trio. Each connection gets its own :class:`ServerSession`, served by
:func:`~realtalk.server.serving.serve_session` (the loop the in-process server runs too), on
the event loop's clock. A connection's failure never takes the server down.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import anyio
import attrs
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from .._args import check_type
from ..session_config import WireShape
from ..transport.connection import WebSocketConnection
from ..transport.endpoints import Endpoint
from ..transport.host import WebSocketHost, http_response, json_response
from ..transport.websocket import WebSocketTransport
from .faults import DropHow, FaultPlan
from .responder import PlaceholderTranscriber, Responder, ScriptedResponder, Transcriber
from .serving import ClientEventHook, FaultRunner, serve_session
from .session import ServerOptions, ServerSession

__all__ = ("ClientEventHook", "RealtimeServer")

logger = logging.getLogger("realtalk.server")


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


class RealtimeServer(WebSocketHost):
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
        faults: faults to inject (:class:`~.faults.FaultPlan`): handshakes to refuse, drops,
            stalls, broken frames and error events in chosen sessions at chosen points.

    It serves in the caller's event loop, asyncio or trio: ``async with server:`` or
    :meth:`serve_forever`; or on a thread of its own, from any event loop or from sync code,
    ``with server.running_in_thread():``.
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
        faults: FaultPlan | None = None,
    ) -> None:
        check_type("faults", faults, (FaultPlan, type(None)), "a FaultPlan or None")
        super().__init__(
            host, port, name="the realtime server", logger=logger,
            wire_logger="realtalk.server.websockets", secrets=[api_key] if api_key else [],
            max_size=None,  # audio frames over 1 MiB are normal in this protocol
        )
        self._api_key = api_key
        self.options = options or ServerOptions()
        self._responder_factory = responder_factory
        self._transcriber_factory = transcriber_factory
        self.on_client_event = on_client_event
        self._sessions: list[ServerSession] = []
        self.faults = faults
        self._refused = 0  # handshakes refused for the fault plan
        self._accepted = 0  # handshakes accepted: the number of the next session, less one
        self._fault_runners: dict[WebSocketConnection, FaultRunner] = {}

    @property
    def url(self) -> str:
        """The OpenAI GA WebSocket URL, ``ws://HOST:PORT/v1/realtime`` (add ``?model=...``)."""
        return f"ws://{self._netloc()}/v1/realtime"

    @property
    def sessions(self) -> list[ServerSession]:
        """Every session created so far, oldest first (for stats in tests and benchmarks)."""
        return list(self._sessions)

    # -----------------------------------------------------------------------------------------
    # Connections
    # -----------------------------------------------------------------------------------------

    async def _process_request(self, connection: WebSocketConnection,
                               request: Request) -> Response | None:
        route = _route(request.path)
        path_only = urlsplit(request.path).path  # the query may hold an api-key: never log it
        if route is None:
            logger.info("rejected %s: no realtime endpoint there (404)", path_only)
            return http_response(HTTPStatus.NOT_FOUND, f"Not Found: {path_only}\n")
        if not self._authorized(request):
            logger.info("rejected %s: missing or wrong credentials (401)", path_only)
            return json_response(HTTPStatus.UNAUTHORIZED, {"error": {
                "type": "invalid_request_error", "code": "invalid_api_key",
                "message": "Incorrect API key provided.", "param": None}})
        if route.problem is not None:
            logger.info("rejected %s: %s (400)", path_only, route.problem)
            return http_response(HTTPStatus.BAD_REQUEST, route.problem + "\n")
        plan = self.faults
        if plan is not None and self._refused < plan.refuse_handshakes:
            self._refused += 1
            logger.info("refused %s: fault plan, refusal %d of %d (%d)", path_only,
                        self._refused, plan.refuse_handshakes, plan.refuse_status)
            return _refusal(plan.refuse_status)
        self._accepted += 1
        if plan is not None:
            self._fault_runners[connection] = FaultRunner(
                plan.for_session(self._accepted, anyio.current_time()),
                _WebSocketWire(connection))
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

    async def _handle(self, connection: WebSocketConnection) -> None:
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
        endpoint = Endpoint(f"ws://{self._netloc()}{request.path}", shape=route.shape)
        try:
            await serve_session(session, WebSocketTransport(connection, endpoint),
                                on_client_event=self.on_client_event,
                                faults=self._fault_runners.get(connection))
        except Exception:
            logger.exception("session %s failed", session.id)
        finally:
            self._fault_runners.pop(connection, None)
            logger.info("session %s closed", session.id)

    async def _keepalive(self, connection: WebSocketConnection, interval: float) -> None:
        runner = self._fault_runners.get(connection)
        if runner is None:
            await super()._keepalive(connection, interval)
            return
        # A stalled server sends nothing, its own pings included; they start over after.
        while True:
            await runner.wait_unstalled()
            with runner.interruptible() as scope:
                await super()._keepalive(connection, interval)
            if not scope.cancelled_caught:
                return


def _refusal(status: int) -> Response:
    """The response refusing a handshake for a fault plan, with an error body shaped as the
    hosted service's."""
    code = HTTPStatus(status)
    if code is HTTPStatus.TOO_MANY_REQUESTS:
        error_type, error_code = "requests", "rate_limit_exceeded"
    else:
        error_type = "server_error" if status >= 500 else "invalid_request_error"
        error_code = code.phrase.lower().replace(" ", "_")
    return json_response(code, {"error": {
        "type": error_type, "code": error_code, "param": None,
        "message": f"{code.phrase}: the server cannot take the connection now (injected "
                   "fault)."}})


class _WebSocketWire:
    """What a fault does to a WebSocket connection, below the protocol where it must."""

    def __init__(self, connection: WebSocketConnection) -> None:
        self._connection = connection

    async def drop(self, how: DropHow, code: int, reason: str) -> None:
        if how == "close":
            await self._connection.close(code, reason)
        else:
            await self._connection.abort(reset=how == "reset")

    async def send_invalid_utf8(self) -> None:
        frame = Frame(Opcode.TEXT, b'{"type":"\xff\xfe"}')
        await self._connection.write_raw(frame.serialize(mask=False))

    async def send_truncated(self, text: str) -> None:
        data = Frame(Opcode.TEXT, text.encode("utf-8")).serialize(mask=False)
        await self._connection.write_raw(data[: len(data) // 2])
        await self._connection.abort(reset=False)
