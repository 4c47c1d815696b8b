"""The relay server: a WebSocket endpoint for browser and mobile clients, in front of a provider.

Clients connect with the realtime protocol itself (``ws://HOST:PORT/v1/realtime``), so any
realtime client works, the official ``openai`` one included (``base_url`` the relay's
``http://HOST:PORT/v1``, ``api_key`` a session token). The handshake is where a client is
authenticated and admitted:

======================================  ======  =================================================
refusal                                 status  when
======================================  ======  =================================================
unknown path                            404     not one of :attr:`RelayOptions.paths`
``relay_at_capacity``                   503     :attr:`RelayLimits.max_sessions` are connected
no or bad credential                    401     the :class:`~.auth.Authenticator` refused
``session_mismatch``                    403     ``?session_id=`` is not the credential's session
``session_already_connected``           409     that session id already has a connection
======================================  ======  =================================================

An admitted client gets its own :class:`~.session.RelaySession` and upstream connection. The
provider's credentials stay in this process: the relay never forwards a client's headers
upstream, never sends the provider's to a client, and keeps them out of log records (a
:class:`~.redact.RedactingFilter` scrubs websockets' DEBUG handshake logs on both sides).

Plain HTTP ``GET`` on the same port serves a health check (``/healthz``), the metrics as JSON
(``/metrics``), optionally a directory of static files (the browser client) and, for demos
on loopback only, ``/demo-token``.

The server runs on asyncio (websockets' asyncio server); its sessions use anyio internally.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import urllib.parse
import weakref
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import anyio
import anyio.abc
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Origin, Subprotocol

from ..errors import LocalProtocolError, TransportError
from ..providers import Provider
from ..transport.endpoints import netloc
from ..transport.redact import Redactor, redacting
from .auth import APP_SUBPROTOCOLS, Authenticator, HandshakeRequest, TokenAuthenticator
from .errors import AuthenticationError
from .frames import RELAY_AT_CAPACITY, SESSION_ALREADY_CONNECTED, Refusal, error_frame
from .metrics import RelayMetrics
from .options import RelayOptions
from .ownership import IdRegistry
from .session import EventHook, RelaySession
from .tokens import new_session_id
from .web import StaticSite

__all__ = ("RelayServer",)

logger = logging.getLogger("realtalk.relay")
_WEBSOCKETS_LOGGER = "realtalk.relay.websockets"
_DEMO_TOKEN_TTL = 300.0
_TRY_AGAIN_LATER = 1013
_POLICY_VIOLATION = 1008


def _provider_secrets(provider: Provider) -> list[str]:
    """Credential values in a provider's request headers, to mask if they ever reach a log."""
    endpoint = getattr(provider, "endpoint", None)
    headers = getattr(endpoint, "headers", None) or {}
    found: list[str] = []
    for name, value in headers.items():
        if name.lower() in ("authorization", "api-key") and isinstance(value, str):
            found.append(value)
            scheme, _, rest = value.partition(" ")
            if scheme.lower() == "bearer" and rest:
                found.append(rest.strip())
    return found


def _http(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Connection", "close"),
    ])
    return Response(status.value, status.phrase, headers, body)


def _json(status: HTTPStatus, data: object) -> Response:
    return _http(status, json.dumps(data).encode() + b"\n", "application/json")


def _error_body(status: HTTPStatus, code: str, message: str) -> Response:
    """A refused handshake, with the hosted service's error object as the body."""
    return _json(status, {"error": {"type": "invalid_request_error", "code": code,
                                    "message": message, "param": None}})


class RelayServer:
    """The relay (see the module docstring).

    Args:
        provider: where each client session's upstream connection goes.
        authenticator: decides who may connect, and to which session.
        options: everything else (address, limits, policy, failure handling, HTTP extras).
        on_event: called with each control frame forwarded, both directions (e.g. to trace
            barge-ins); never with audio. Runs on the relay's loop: keep it quick.
        metrics: where to record (default: a fresh :class:`~.metrics.RelayMetrics`).

    Use ``async with RelayServer(...) as relay:`` or :meth:`serve_forever` (asyncio).
    """

    def __init__(self, provider: Provider, authenticator: Authenticator, *,
                 options: RelayOptions | None = None, on_event: EventHook | None = None,
                 metrics: RelayMetrics | None = None) -> None:
        self.provider = provider
        self.authenticator = authenticator
        self.options = options or RelayOptions()
        self.on_event = on_event
        self.metrics = metrics or RelayMetrics()
        self.registry = IdRegistry()
        self._site = StaticSite(self.options.web_root) if self.options.web_root else None
        self._redactor = Redactor(_provider_secrets(provider))
        self._sessions: dict[str, RelaySession] = {}
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, Any] = (
            weakref.WeakKeyDictionary())
        self._server: Server | None = None
        self._port: int | None = None
        self._cleanup = contextlib.ExitStack()
        self._lag_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        # The provider's repr hides its credentials; the authenticator's hides its secret.
        return f"RelayServer(host={self.options.host!r}, port={self._port or self.options.port})"

    # -----------------------------------------------------------------------------------------
    # Addresses and state
    # -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port.

        Raises:
            LocalProtocolError: the relay is not listening.
        """
        if self._port is None:
            raise LocalProtocolError("the relay is not listening; start it first")
        return self._port

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/v1/realtime``: where clients connect."""
        return f"ws://{self._netloc()}{self.options.paths[0]}"

    @property
    def http_url(self) -> str:
        """``http://HOST:PORT``: the health check, metrics and web pages."""
        return f"http://{self._netloc()}"

    @property
    def http_base_url(self) -> str:
        """``http://HOST:PORT/v1``: the ``base_url`` for the official ``openai`` client."""
        return f"http://{self._netloc()}/v1"

    def _netloc(self) -> str:
        return netloc(self.options.host, self.port)

    def session(self, session_id: str) -> RelaySession | None:
        """The connected session with this id, if any."""
        return self._sessions.get(session_id)

    @property
    def session_ids(self) -> list[str]:
        """The ids of the connected sessions."""
        return list(self._sessions)

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
        limits = self.options.limits
        origins: Sequence[Origin | None] | None = None
        if self.options.allowed_origins is not None:
            origins = [Origin(o) for o in self.options.allowed_origins]
        with contextlib.ExitStack() as stack:
            stack.enter_context(redacting(
                ("websockets.client", "websockets.server", _WEBSOCKETS_LOGGER), self._redactor))
            try:
                server = await serve(
                    self._handle,
                    self.options.host,
                    self.options.port,
                    process_request=self._process_request,
                    select_subprotocol=_select_subprotocol,
                    origins=origins,
                    compression=None,  # base64 audio barely compresses; deflate costs each frame
                    max_size=limits.hard_message_bytes,
                    ping_interval=self.options.ping_interval,
                    close_timeout=2.0,
                    logger=logging.getLogger(_WEBSOCKETS_LOGGER),
                )
            except OSError as exc:
                raise TransportError(
                    f"cannot listen on {self.options.host}:{self.options.port}: {exc}"
                ) from exc
            self._cleanup = stack.pop_all()
        self._server = server
        self._port = int(next(iter(server.sockets)).getsockname()[1])
        if self.options.loop_lag_interval is not None:
            self._probe_loop_lag(self.options.loop_lag_interval)
        logger.info("relay listening on %s", self.url)

    def _probe_loop_lag(self, interval: float) -> None:
        """Measure how late the event loop runs a timer, every ``interval`` seconds.

        A chain of timer callbacks rather than a task: it needs no task group and costs one
        callback per interval.
        """
        loop = asyncio.get_running_loop()
        times = self.metrics.loop_lag

        def tick(due: float) -> None:
            now = loop.time()
            times.add(0, max(0, int((now - due) * 1e9)))
            self._lag_timer = loop.call_at(now + interval, tick, now + interval)

        first = loop.time() + interval
        self._lag_timer = loop.call_at(first, tick, first)

    async def aclose(self) -> None:
        """Stop listening, close every client connection (code 1001) and wait for the
        sessions to end."""
        server, self._server = self._server, None
        if server is None:
            return
        if self._lag_timer is not None:
            self._lag_timer.cancel()
            self._lag_timer = None
        server.close()
        await server.wait_closed()
        self._cleanup.close()
        logger.info("relay on port %s stopped", self._port)

    async def __aenter__(self) -> RelayServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def serve_forever(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen until cancelled, then close. ``await tg.start(relay.serve_forever)`` returns
        once the relay listens.

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

    # -----------------------------------------------------------------------------------------
    # The handshake
    # -----------------------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection,
                               request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self._plain_http(request)
        path = urllib.parse.urlsplit(request.path).path
        remote = _address(connection)
        if path not in self.options.paths:
            return _http(HTTPStatus.NOT_FOUND, b"Not Found\n", "text/plain; charset=utf-8")
        if len(self._sessions) >= self.options.limits.max_sessions:
            return self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, "capacity", RELAY_AT_CAPACITY,
                                "The relay is at capacity; try again later.", remote)
        handshake = HandshakeRequest.from_http(request.path, request.headers.raw_items(),
                                               remote)
        try:
            claims = await self.authenticator.authenticate(handshake)
        except AuthenticationError as exc:
            reason = getattr(exc, "reason", "refused")
            return self._refuse(HTTPStatus(exc.status), f"auth_{reason}", "invalid_session_token",
                                str(exc), remote)
        except Exception:
            logger.exception("the authenticator raised for a client at %s", remote)
            return _error_body(HTTPStatus.INTERNAL_SERVER_ERROR, "server_error",
                               "The relay could not authenticate the client.")
        requested = handshake.requested_session_id
        if requested is not None and requested != claims.session_id:
            logger.warning("refused client at %s: its credential is for session %s, the URL "
                           "names %s", remote, claims.session_id, requested)
            self.metrics.handshakes_refused["session_mismatch"] += 1
            return _error_body(HTTPStatus.FORBIDDEN, "session_mismatch",
                               f"The credential is not for session {requested!r}.")
        if claims.session_id in self._sessions:
            return self._refuse(HTTPStatus.CONFLICT, "already_connected",
                                SESSION_ALREADY_CONNECTED,
                                f"Session {claims.session_id!r} is already connected.", remote)
        self._admitted[connection] = claims
        return None

    def _refuse(self, status: HTTPStatus, reason: str, code: str, message: str,
                remote: str) -> Response:
        self.metrics.handshakes_refused[reason] += 1
        logger.info("refused client at %s (HTTP %d): %s", remote, status.value, message)
        return _error_body(status, code, message)

    def _plain_http(self, request: Request) -> Response:
        path = urllib.parse.urlsplit(request.path).path
        if path == self.options.health_path:
            return _http(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        if path == self.options.metrics_path:
            return _json(HTTPStatus.OK, self.metrics.snapshot().to_dict())
        if path == "/demo-token" and self.options.demo_tokens:
            return self._demo_token()
        if self._site is not None:
            found = self._site.get(request.path)
            if found is not None:
                return _http(HTTPStatus.OK, found.body, found.content_type)
        return _http(HTTPStatus.NOT_FOUND, b"Not Found\n", "text/plain; charset=utf-8")

    def _demo_token(self) -> Response:
        if not isinstance(self.authenticator, TokenAuthenticator):
            return _http(HTTPStatus.NOT_FOUND, b"Not Found\n", "text/plain; charset=utf-8")
        session_id = new_session_id()
        token = self.authenticator.signer.mint(session_id, ttl=_DEMO_TOKEN_TTL)
        return _json(HTTPStatus.OK, {"session_id": session_id, "token": token,
                                     "expires_in": _DEMO_TOKEN_TTL})

    # -----------------------------------------------------------------------------------------
    # Sessions
    # -----------------------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        claims = self._admitted.pop(connection)
        session_id = claims.session_id
        # Another connection for the session, or the last free slot, may have been admitted
        # between this one's handshake and now.
        if session_id in self._sessions:
            await self._turn_away(connection, SESSION_ALREADY_CONNECTED,
                                  f"Session {session_id!r} is already connected.",
                                  _POLICY_VIOLATION)
            return
        if len(self._sessions) >= self.options.limits.max_sessions:
            await self._turn_away(connection, RELAY_AT_CAPACITY,
                                  "The relay is at capacity; try again later.", _TRY_AGAIN_LATER)
            return
        session = RelaySession(claims=claims, client=connection, provider=self.provider,
                               options=self.options, metrics=self.metrics,
                               registry=self.registry, on_event=self.on_event)
        self._sessions[session_id] = session
        self.metrics.sessions_active += 1
        self.metrics.sessions_opened += 1
        logger.info("session %s opened (subject %s, client %s)", session_id, claims.subject,
                    _address(connection))
        try:
            await session.run()
        except Exception:
            logger.exception("session %s failed", session_id)
        finally:
            del self._sessions[session_id]
            self.metrics.sessions_active -= 1
            logger.info("session %s closed", session_id)

    async def _turn_away(self, connection: ServerConnection, code: str, message: str,
                         close_code: int) -> None:
        self.metrics.handshakes_refused[code] += 1
        frame = error_frame(Refusal(code, message))
        try:
            await connection.send(frame)
        finally:
            await connection.close(close_code, message[:120])


def _select_subprotocol(connection: ServerConnection,
                        offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The application protocol a browser offered next to its token (never the token)."""
    for name in APP_SUBPROTOCOLS:
        if name in offered:
            return Subprotocol(name)
    return None


def _address(connection: ServerConnection) -> str:
    address = connection.remote_address
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
