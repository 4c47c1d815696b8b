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
:class:`~realtalk.transport.redact.RedactingFilter` scrubs websockets' DEBUG handshake logs
on both sides).

Plain HTTP ``GET`` on the same port serves a health check (``/healthz``), the metrics as JSON
(``/metrics``), optionally a directory of static files (the browser client) and, for demos
on loopback only, ``/demo-token``.

Listening, handshakes, keepalive pings and shutdown are
:class:`~realtalk.transport.host.WebSocketHost`'s: the relay runs in the caller's event loop,
under asyncio or trio, and its hooks here only decide (who is admitted, which page to serve).
"""

from __future__ import annotations

import logging
import urllib.parse
import weakref
from collections.abc import Sequence
from http import HTTPStatus

import anyio
from websockets.http11 import Request, Response

from ..providers import Provider
from ..tools import Tool
from ..tools.calls import DEFAULT_MAX_TOOL_STEPS, ToolCalls
from ..transport.connection import WebSocketConnection
from ..transport.host import WebSocketHost, http_response, json_response
from .auth import APP_SUBPROTOCOLS, Authenticator, HandshakeRequest, TokenAuthenticator
from .errors import AuthenticationError
from .frames import RELAY_AT_CAPACITY, SESSION_ALREADY_CONNECTED, Refusal, error_frame
from .metrics import RelayMetrics
from .options import RelayOptions
from .ownership import IdRegistry
from .session import EventHook, RelaySession
from .tokens import SessionClaims, new_session_id
from .web import StaticSite

__all__ = ("RelayServer",)

logger = logging.getLogger("realtalk.relay")
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


def _not_found() -> Response:
    return http_response(HTTPStatus.NOT_FOUND, b"Not Found\n")


def _error_body(status: HTTPStatus, code: str, message: str) -> Response:
    """A refused handshake, with the hosted service's error object as the body."""
    return json_response(status, {"error": {"type": "invalid_request_error", "code": code,
                                            "message": message, "param": None}})


class RelayServer(WebSocketHost):
    """The relay (see the module docstring).

    Args:
        provider: where each client session's upstream connection goes.
        authenticator: decides who may connect, and to which session.
        options: everything else (address, limits, policy, failure handling, HTTP extras).
        on_event: called with each control frame forwarded, both directions (e.g. to trace
            barge-ins); never with audio. Runs on the relay's loop: keep it quick.
        metrics: where to record (default: a fresh :class:`~.metrics.RelayMetrics`).
        tools: function tools (:func:`realtalk.tool`) the relay declares in every upstream
            session, next to the client's own, and runs itself: one call ledger per session,
            clients never see the calls unless ``options.show_tool_calls`` (see
            :mod:`~.tools`).
        max_tool_steps: follow-ups in a chain of tool calls between user turns.

    Raises:
        ConfigurationError: two tools share a name, or ``max_tool_steps`` is below 1.

    It serves in the caller's event loop, asyncio or trio: ``async with RelayServer(...) as
    relay:`` or :meth:`serve_forever`; or on a thread of its own with
    :meth:`running_in_thread`.
    """

    def __init__(self, provider: Provider, authenticator: Authenticator, *,
                 options: RelayOptions | None = None, on_event: EventHook | None = None,
                 metrics: RelayMetrics | None = None, tools: Sequence[Tool] = (),
                 max_tool_steps: int = DEFAULT_MAX_TOOL_STEPS) -> None:
        options = options or RelayOptions()
        ToolCalls(tools, max_tool_steps)  # refuses bad tools now, not in each session
        super().__init__(
            options.host, options.port, name="the relay", logger=logger,
            wire_logger="realtalk.relay.websockets", secrets=_provider_secrets(provider),
            # The upstream handshakes carry the provider's key; websockets' default loggers
            # are scrubbed too, for any other websockets client or server in the process.
            redact_also=("realtalk.transport.wire", "websockets.client", "websockets.server"),
            max_size=options.limits.hard_message_bytes, origins=options.allowed_origins,
            ping_interval=options.ping_interval,
        )
        self.provider = provider
        self.authenticator = authenticator
        self.options = options
        self.on_event = on_event
        self.tools = tuple(tools)
        self.max_tool_steps = max_tool_steps
        self.metrics = metrics or RelayMetrics()
        self.registry = IdRegistry()
        self._site = StaticSite(options.web_root) if options.web_root else None
        self._sessions: dict[str, RelaySession] = {}
        self._admitted: weakref.WeakKeyDictionary[WebSocketConnection, SessionClaims] = (
            weakref.WeakKeyDictionary())

    # -----------------------------------------------------------------------------------------
    # Addresses and state
    # -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://HOST:PORT/v1/realtime``: where clients connect."""
        return f"ws://{self._netloc()}{self.options.paths[0]}"

    @property
    def http_url(self) -> str:
        """``http://HOST:PORT``: the health check, metrics and web pages."""
        return f"http://{self._netloc()}"

    def session(self, session_id: str) -> RelaySession | None:
        """The connected session with this id, if any."""
        return self._sessions.get(session_id)

    @property
    def session_ids(self) -> list[str]:
        """The ids of the connected sessions."""
        return list(self._sessions)

    async def _run_alongside(self) -> None:
        """Measure how late the event loop wakes a sleeping task, every
        ``options.loop_lag_interval`` seconds."""
        interval = self.options.loop_lag_interval
        if interval is None:
            return
        times = self.metrics.loop_lag
        due = anyio.current_time() + interval
        while True:
            await anyio.sleep_until(due)
            now = anyio.current_time()
            times.add(0, max(0, int((now - due) * 1e9)))
            due = now + interval

    # -----------------------------------------------------------------------------------------
    # The handshake
    # -----------------------------------------------------------------------------------------

    async def _process_request(self, connection: WebSocketConnection,
                               request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return self._plain_http(request)
        path = urllib.parse.urlsplit(request.path).path
        remote = connection.remote_address
        if path not in self.options.paths:
            return _not_found()
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
            return http_response(HTTPStatus.OK, b"ok\n")
        if path == self.options.metrics_path:
            return json_response(HTTPStatus.OK, self.metrics.snapshot().to_dict())
        if path == "/demo-token" and self.options.demo_tokens:
            return self._demo_token()
        if self._site is not None:
            found = self._site.get(request.path)
            if found is not None:
                return http_response(HTTPStatus.OK, found.body, found.content_type)
        return _not_found()

    def _demo_token(self) -> Response:
        if not isinstance(self.authenticator, TokenAuthenticator):
            return _not_found()
        session_id = new_session_id()
        token = self.authenticator.signer.mint(session_id, ttl=_DEMO_TOKEN_TTL)
        return json_response(HTTPStatus.OK, {"session_id": session_id, "token": token,
                                             "expires_in": _DEMO_TOKEN_TTL})

    def _select_subprotocol(self, offered: Sequence[str]) -> str | None:
        """The application protocol a browser offered next to its token (never the token)."""
        for name in APP_SUBPROTOCOLS:
            if name in offered:
                return name
        return None

    # -----------------------------------------------------------------------------------------
    # Sessions
    # -----------------------------------------------------------------------------------------

    async def _handle(self, connection: WebSocketConnection) -> None:
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
                               registry=self.registry, on_event=self.on_event,
                               tools=self.tools, max_tool_steps=self.max_tool_steps)
        self._sessions[session_id] = session
        self.metrics.sessions_active += 1
        self.metrics.sessions_opened += 1
        logger.info("session %s opened (subject %s, client %s)", session_id, claims.subject,
                    connection.remote_address)
        try:
            await session.run()
        except Exception:
            logger.exception("session %s failed", session_id)
        finally:
            del self._sessions[session_id]
            self.metrics.sessions_active -= 1
            logger.info("session %s closed", session_id)

    async def _turn_away(self, connection: WebSocketConnection, code: str, message: str,
                         close_code: int) -> None:
        self.metrics.handshakes_refused[code] += 1
        frame = error_frame(Refusal(code, message))
        try:
            await connection.send(frame)
        finally:
            await connection.close(close_code, message[:120])

