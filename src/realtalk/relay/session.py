"""One client's relay session: its upstream connection and the two pumps between them.

:class:`RelaySession` runs for as long as the client stays connected:

- the *client pump* reads client frames, applies the limits, the policy and the ownership
  check, answers a refused frame with an ``error`` event, and forwards the rest upstream;
- the *upstream loop* opens the upstream connection (one per client session), forwards
  everything it sends to the client while noting the ids and the audio it carries, and when
  it fails, tells the client with an ``error`` event and then closes the client's connection
  or opens a new upstream session, as configured.

In the reconnect mode, the session keeps the conversation's context
(:class:`~realtalk.session.context.ConversationContext`, the same ledger a
:class:`~realtalk.Conversation` keeps), fed from the events it forwards both ways, and
recreates it on each new upstream session after the client's ``session.update``. The relay
does not know what the client played: a reply the loss cut off goes back as far as its
transcript had come (a client's ``conversation.item.truncate`` before that still cuts it).

With tools of its own (:mod:`~.tools`), the session also runs their calls: a task per call,
a timer for their timeouts, and the outputs and follow-ups sent upstream in order.

Either side ending ends the session: the other side is closed, and nothing (tasks,
connections, ids in the registry) outlives it. Each upstream connection is opened and closed by
a task of its own, since a provider's ``connect()`` may hold a task group across its ``yield``;
the pumps only borrow its transport.

Sends are not wrapped in timeouts one by one (a cancel scope with a deadline costs about as
much as forwarding a small frame): each pump notes when its current send began, and a
watchdog task, waking a few times per timeout, acts on a send that has taken too long. A
stalled upstream fails like a dropped one; a client that stopped reading is disconnected.

The client connection and the upstream transport are both Protocols, so any WebSocket
server's connections fit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import anyio
import anyio.abc
import attrs
from websockets.exceptions import ConnectionClosed as ClientConnectionClosed

from ..errors import ConnectError, ConnectionClosed, EventParseError
from ..providers import Provider
from ..session.context import ConversationContext
from ..tools import Tool
from ..tools.calls import DEFAULT_MAX_TOOL_STEPS
from ..tools.running import ToolRunner
from ..transport import Transport
from ..wire import encode, load_json, parse_client_event, parse_server_event
from .frames import (
    APPEND,
    AUDIO_DELTA_TYPES,
    TOO_MANY_VIOLATIONS,
    UPSTREAM_DISCONNECTED,
    UPSTREAM_TIMEOUT,
    UPSTREAM_UNAVAILABLE,
    Refusal,
    audio_delta,
    error_frame,
    parse_client_frame,
)
from .limits import RateLimiter
from .metrics import RelayedEvent, RelayMetrics
from .options import RelayOptions
from .ownership import IdRegistry, OwnershipViolation, SessionOwnership
from .tokens import SessionClaims
from .tools import RelayTools

__all__ = ("ClientConnection", "RelaySession", "EventHook", "UpstreamFailure")

logger = logging.getLogger("realtalk.relay.session")

#: Called with each control frame the relay forwards (never for audio), on the relay's loop.
EventHook = Callable[[RelayedEvent], None]

_POLICY_VIOLATION = 1008
_INTERNAL_ERROR = 1011


class ClientConnection(Protocol):
    """The client side of a relay session (websockets' ``ServerConnection`` fits).

    ``recv`` and ``send`` raise ``websockets.exceptions.ConnectionClosed`` once the client is
    gone.
    """

    async def recv(self) -> str | bytes: ...
    async def send(self, message: str) -> None: ...
    async def close(self, code: int = 1000, reason: str = "") -> None: ...


@attrs.frozen
class UpstreamFailure:
    """Why an upstream connection ended.

    Attributes:
        kind: ``"connect"`` (refused or unreachable), ``"dropped"`` (closed mid-session) or
            ``"timeout"`` (too slow to start or to accept a frame).
        detail: for the log: a close code or the failure's message (never a credential).
        established: whether the upstream session had started (sent its first event).
    """

    kind: str
    detail: str
    established: bool


class _ClientGone(Exception):
    """The client disconnected, or was disconnected: the session ends."""


#: The client events that change the conversation's items (what the context notes).
_CONTEXT_CLIENT_TYPES = frozenset({"conversation.item.create", "conversation.item.truncate",
                                   "conversation.item.delete"})

_UPSTREAM_CODES = {"connect": UPSTREAM_UNAVAILABLE, "dropped": UPSTREAM_DISCONNECTED,
                   "timeout": UPSTREAM_TIMEOUT}
_UPSTREAM_WORDS = {
    "connect": "The relay could not open a session with the upstream realtime service.",
    "dropped": "The upstream realtime service closed the session.",
    "timeout": "The upstream realtime service did not respond in time.",
}


async def _drain(upstream: Transport) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await upstream.receive()


class _UpstreamConnection:
    """One upstream connection, owned from connect to close by a task of its own.

    A provider's ``connect()`` may hold a task group or a cancel scope across its ``yield``,
    and a context must be exited in the task and cancel-scope nesting it was entered in: the
    session's tasks only borrow the transport, and :meth:`close` asks the owner to exit.

    The close is shielded from the session's cancellation (a close handshake cut short would
    leave the upstream session open until the service times it out) but bounded by
    ``close_timeout``. Frames still arriving meanwhile are read and dropped: a WebSocket
    client that stops reading stops reading the peer's close frame too, and waits out its
    timeout.
    """

    def __init__(self, provider: Provider, close_timeout: float) -> None:
        self._provider = provider
        self._close_timeout = close_timeout
        self._scope = anyio.CancelScope(shield=True)
        self._transport: Transport | None = None
        self._error: Exception | None = None
        self._opened = anyio.Event()
        self._closing = anyio.Event()
        self._closed = anyio.Event()

    async def run(self) -> None:
        """The owner task: connect, hand the transport out, close when asked."""
        try:
            with self._scope:
                async with anyio.create_task_group() as tg:
                    try:
                        async with self._provider.connect() as transport:
                            self._transport = transport
                            self._opened.set()
                            await self._closing.wait()
                            tg.start_soon(_drain, transport)
                    except Exception as exc:
                        if self._transport is not None:
                            raise
                        self._error = exc  # could not connect: for opened() to raise
                    finally:
                        tg.cancel_scope.cancel()
        finally:
            self._opened.set()
            self._closed.set()

    async def opened(self) -> Transport:
        """The transport, once connected.

        Raises:
            Exception: whatever ``connect()`` raised (``ConnectError`` and the like).
        """
        await self._opened.wait()
        if self._transport is None:
            assert self._error is not None
            raise self._error
        return self._transport

    def close(self) -> None:
        """Ask for the close; it goes on, within the close timeout, even if the asking task is
        cancelled. Not yet connected, the connecting is given up at once."""
        if self._closing.is_set():
            return
        self._closing.set()
        if self._transport is None:
            self._scope.cancel()
        else:
            self._scope.deadline = anyio.current_time() + self._close_timeout

    async def wait_closed(self) -> None:
        """Wait until the owner task has ended (the connection closed, or never opened)."""
        await self._closed.wait()


class RelaySession:
    """One client session (see the module docstring).

    Args:
        claims: who the client is (its relay session id).
        client: the client's connection.
        provider: opens the upstream connection.
        options: limits, policy, timeouts, upstream failure handling.
        metrics: where stamps and counters go.
        registry: the relay-wide id registry.
        on_event: called with each control frame forwarded (optional).
        tools: function tools the relay declares upstream and runs (see :mod:`~.tools`).
        max_tool_steps: follow-ups in a chain of tool calls between user turns.

    Raises:
        ConfigurationError: two tools share a name, or ``max_tool_steps`` is below 1.
    """

    def __init__(self, *, claims: SessionClaims, client: ClientConnection, provider: Provider,
                 options: RelayOptions, metrics: RelayMetrics, registry: IdRegistry,
                 on_event: EventHook | None = None, tools: Sequence[Tool] = (),
                 max_tool_steps: int = DEFAULT_MAX_TOOL_STEPS) -> None:
        self.claims = claims
        self.id = claims.session_id
        self.ownership = SessionOwnership(claims.session_id, registry)
        self._client = client
        self._provider = provider
        self._options = options
        self._metrics = metrics
        self._on_event = on_event
        self._limiter = RateLimiter(options.limits, time.monotonic())
        self._violations = 0
        self._logged_codes: set[str] = set()
        self._upstream: Transport | None = None
        self._ready = anyio.Event()
        self._upstream_scope: anyio.CancelScope | None = None
        self._send_failure: UpstreamFailure | None = None
        self._last_session_update: str | None = None
        self.context = ConversationContext() if options.on_upstream_loss == "reconnect" \
            else None
        """What a new upstream session is given back (``None`` unless reconnecting)."""
        # When the send in progress began (time.monotonic), per direction; the watchdog's input.
        self._upstream_send_began: float | None = None
        self._client_send_began: float | None = None
        self._pump_scope: anyio.CancelScope | None = None
        self._session_scope: anyio.CancelScope | None = None
        self._client_stalled = False
        self._hop_up_audio = metrics.hop("client_to_upstream", "audio")
        self._hop_up_control = metrics.hop("client_to_upstream", "control")
        self._hop_down_audio = metrics.hop("upstream_to_client", "audio")
        self._hop_down_control = metrics.hop("upstream_to_client", "control")
        self._tools = RelayTools(tools, shape=provider.shape, show_calls=options.show_tool_calls,
                                 max_tool_steps=max_tool_steps, metrics=metrics,
                                 session_id=self.id) if tools else None
        self._runner: ToolRunner | None = None
        self._tool_wake = anyio.Event()
        self._tool_frames: deque[str] = deque()
        self._tool_send_lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"RelaySession({self.id!r})"

    async def run(self) -> None:
        """Serve the client until it leaves or its session cannot go on; then clean up."""
        try:
            async with anyio.create_task_group() as tg:
                self._session_scope = tg.cancel_scope
                tg.start_soon(self._client_pump, tg.cancel_scope)
                tg.start_soon(self._watchdog)
                if self._tools is not None:
                    self._runner = ToolRunner(tg.start_soon, self._tool_finished)
                    tg.start_soon(self._tool_timer, self._tools)
                with contextlib.suppress(_ClientGone):
                    await self._upstream_loop(tg)
                tg.cancel_scope.cancel()
        finally:
            if self._client_stalled:
                await self._close_client(_POLICY_VIOLATION, "client too slow")
            self.ownership.close()

    async def _watchdog(self) -> None:
        """End sends that take too long (see the module docstring)."""
        options = self._options
        period = min(options.upstream_send_timeout, options.client_send_timeout) / 4
        while True:
            await anyio.sleep(period)
            now = time.monotonic()
            began = self._client_send_began
            if began is not None and now - began > options.client_send_timeout:
                logger.warning("session %s: the client did not read for %g s; disconnecting it",
                               self.id, options.client_send_timeout)
                self._client_stalled = True
                assert self._session_scope is not None
                self._session_scope.cancel()
                return
            began = self._upstream_send_began
            if began is not None and now - began > options.upstream_send_timeout:
                self._send_failure = UpstreamFailure(
                    "timeout", f"a frame was not accepted within {options.upstream_send_timeout:g}"
                    " s", True)
                if self._upstream_scope is not None:
                    self._upstream_scope.cancel()
                if self._pump_scope is not None:  # the stuck send; the pump starts over
                    self._pump_scope.cancel()
                self._upstream_send_began = None

    # -----------------------------------------------------------------------------------------
    # Client -> upstream
    # -----------------------------------------------------------------------------------------

    async def _client_pump(self, session_scope: anyio.CancelScope) -> None:
        try:
            while True:
                # A fresh scope each time the watchdog had to cut a stalled upstream send.
                with anyio.CancelScope() as self._pump_scope:
                    while True:
                        message = await self._client.recv()
                        await self._from_client(message, time.perf_counter_ns())
        except (ClientConnectionClosed, _ClientGone):
            return
        finally:
            session_scope.cancel()

    async def _from_client(self, message: str | bytes, received: int) -> None:
        refusal = self._limiter.admit(len(message), received / 1e9)
        if refusal is not None:
            await self._refuse(refusal, None, "(any)")
            return
        frame = parse_client_frame(message, self.claims,
                                   max_depth=self._options.limits.max_json_depth)
        if isinstance(frame, Refusal):
            await self._refuse(frame, None, "(invalid)")
            return
        event_type, payload = frame.type, frame.payload
        client_event_id = payload.get("event_id")
        refusal = self._options.policy.check(frame)
        if refusal is not None:
            await self._refuse(refusal, client_event_id, event_type)
            return
        tools = self._tools
        if tools is not None:
            refusal = tools.check_client(frame)
            if refusal is not None:
                await self._refuse(refusal, client_event_id, event_type)
                return
        violation = self.ownership.check(event_type, payload)
        if violation is not None:
            self._log_violation(event_type, violation)
            await self._refuse(violation.refusal, client_event_id, event_type)
            return
        text = frame.text if tools is None else tools.forwarding(frame)
        forwarded = await self._to_upstream(text)
        if forwarded is None:
            return
        if event_type == APPEND:
            self._hop_up_audio.add(received, forwarded)
            return
        self._hop_up_control.add(received, forwarded)
        self.ownership.observe_client(payload)
        if self.context is not None:
            self._note_sent(payload)
        if event_type == "session.update":
            self._last_session_update = text  # replayed to a replacement upstream
        if tools is not None:
            tools.client_event(event_type, payload, anyio.current_time())
            await self._perform_tools(tools)
        if self._on_event is not None:
            audio_ms = None
            if event_type == "conversation.item.truncate":
                item_id = payload.get("item_id")
                audio_ms = self.ownership.audio_ms(item_id) if isinstance(item_id, str) else None
            self._emit(RelayedEvent(session_id=self.id, direction="client_to_upstream",
                                    type=event_type, payload=payload, received_ns=received,
                                    forwarded_ns=forwarded, audio_sent_ms=audio_ms))

    async def _to_upstream(self, message: str) -> int | None:
        """Send to the current upstream (waiting through a reconnect); the time it was
        accepted, or ``None`` if the upstream failed (the upstream loop takes it from there)."""
        while self._upstream is None:
            await self._ready.wait()
        return await self._send_upstream(self._upstream, self._upstream_scope, message)

    async def _send_upstream(self, upstream: Transport, scope: anyio.CancelScope | None,
                             message: str) -> int | None:
        # The first of overlapping sends (the client pump's, a tool's) is the one the watchdog
        # watches: a stalled upstream stalls it too.
        watched = self._upstream_send_began is None
        if watched:
            self._upstream_send_began = time.monotonic()
        try:
            await upstream.send(message)
        except ConnectionClosed as exc:
            if self._upstream is upstream and scope is not None:
                self._send_failure = UpstreamFailure("dropped", f"code {exc.code}", True)
                scope.cancel()
            return None
        finally:
            if watched:
                self._upstream_send_began = None
        return time.perf_counter_ns()

    async def _refuse(self, refusal: Refusal, client_event_id: object, event_type: str) -> None:
        self._metrics.refusals[refusal.code] += 1
        self._violations += 1
        if refusal.code not in self._logged_codes:  # a flood logs once per code at INFO
            self._logged_codes.add(refusal.code)
            level = logging.INFO
        else:
            level = logging.DEBUG
        logger.log(level, "session %s: refused %s (%s): %s", self.id, event_type, refusal.code,
                   refusal.message)
        event_id = client_event_id if isinstance(client_event_id, str) else None
        await self._send_client(error_frame(refusal, event_id))
        limit = self._options.limits.max_violations
        if limit and self._violations >= limit:
            logger.warning("session %s: disconnected after %d refused frames", self.id,
                           self._violations)
            await self._send_client(error_frame(Refusal(
                TOO_MANY_VIOLATIONS,
                f"Disconnected after {self._violations} refused events.")))
            await self._close_client(_POLICY_VIOLATION, "too many policy violations")
            raise _ClientGone

    def _log_violation(self, event_type: str, violation: OwnershipViolation) -> None:
        if violation.owner is not None:
            logger.warning("session %s: refused %s naming %s %r, which belongs to session %s",
                           self.id, event_type, violation.field, violation.value, violation.owner)
        else:
            logger.warning("session %s: refused %s naming %s %r, which is not its own",
                           self.id, event_type, violation.field, violation.value)

    # -----------------------------------------------------------------------------------------
    # Upstream -> client
    # -----------------------------------------------------------------------------------------

    async def _upstream_loop(self, tg: anyio.abc.TaskGroup) -> None:
        attempt = 0
        while True:
            connection = _UpstreamConnection(self._provider,
                                              self._options.upstream_close_timeout)
            # In the session's task group, whose end waits for the close even if the
            # session is cancelled.
            tg.start_soon(connection.run)
            try:
                failure = await self._run_upstream(connection)
                if failure.established:
                    attempt = 0
                reconnect = await self._report(failure, attempt)
                if not reconnect:
                    await self._close_client(_INTERNAL_ERROR, "upstream unavailable")
                    return
            finally:
                # Only now, with the client told: closing a stalled upstream can take a while.
                connection.close()
            await connection.wait_closed()
            await anyio.sleep(self._options.reconnect_delay * 2 ** attempt)
            attempt += 1

    async def _report(self, failure: UpstreamFailure, attempt: int) -> bool:
        """Count and log an upstream failure and tell the client; whether to reconnect."""
        self._metrics.upstream_failures[failure.kind] += 1
        reconnect = (self._options.on_upstream_loss == "reconnect"
                     and attempt < self._options.reconnect_attempts)
        logger.warning("session %s: upstream %s (%s); %s", self.id, failure.kind,
                       failure.detail, "reconnecting" if reconnect else "closing the client")
        then = (" Reconnecting: a new upstream session will start." if reconnect
                else " Closing this session.")
        await self._send_client(error_frame(Refusal(
            _UPSTREAM_CODES[failure.kind], _UPSTREAM_WORDS[failure.kind] + then,
            error_type="server_error")))
        return reconnect

    async def _run_upstream(self, connection: _UpstreamConnection) -> UpstreamFailure:
        """Wait for ``connection`` to open (the caller closes it) and forward from it until it
        fails."""
        established = False
        self._send_failure = None
        try:
            upstream = await connection.opened()
            with anyio.fail_after(self._options.upstream_first_event_timeout):
                first = await upstream.receive()
            established = True
            received = time.perf_counter_ns()
            # A reconnect restores the client's config and the conversation; the relay's
            # tools are declared on every upstream session.
            replay = [self._last_session_update] if self._last_session_update else []
            if self._tools is not None:
                replay = [self._tools.declaration(self._last_session_update)]
            if self.context is not None:
                shape = self._provider.shape
                replay += [encode(e, shape) for e in self.context.restore_events(shape)]
            for message in replay:
                with anyio.fail_after(self._options.upstream_send_timeout):
                    await upstream.send(message)
            if self.context is not None:
                self.context.restored()
            with anyio.CancelScope() as scope:
                self._upstream, self._upstream_scope = upstream, scope
                self._ready.set()
                await self._from_upstream(first, received)
                while True:
                    message = await upstream.receive()
                    await self._from_upstream(message, time.perf_counter_ns())
            assert self._send_failure is not None  # set by whoever cancelled the scope
            return self._send_failure
        except ConnectError as exc:
            return UpstreamFailure("connect", str(exc), False)
        except TimeoutError:
            what = ("a frame was not accepted in time" if established
                    else "no session.created within "
                    f"{self._options.upstream_first_event_timeout:g} s")
            return UpstreamFailure("timeout", what, established)
        except ConnectionClosed as exc:
            return UpstreamFailure("dropped", f"code {exc.code}", established)
        finally:
            self._upstream = self._upstream_scope = None
            self._upstream_send_began = None
            if self._ready.is_set():  # a client pump waiting on an unset one must keep it
                self._ready = anyio.Event()
            if established:
                self.ownership.forget_upstream()
                self._forget_tool_calls()
                if self.context is not None:
                    # Everything received was forwarded: a reply cut off keeps what came.
                    self.context.connection_lost(lambda key: (math.inf, math.inf))

    async def _from_upstream(self, message: str, received: int) -> None:
        delta = audio_delta(message)
        if delta is not None:
            self._audio(*delta)
            await self._send_client(message)
            self._hop_down_audio.add(received, time.perf_counter_ns())
            return
        try:
            payload = load_json(message, max_depth=None)
        except EventParseError:
            payload = None  # the upstream's problem; the client sees the frame as it came
        if not isinstance(payload, dict):
            await self._send_client(message)
            self._hop_down_control.add(received, time.perf_counter_ns())
            return
        event_type = payload.get("type")
        if event_type in AUDIO_DELTA_TYPES:
            item_id, audio = payload.get("item_id"), payload.get("delta")
            if isinstance(item_id, str) and isinstance(audio, str):
                self._audio(item_id, len(audio) * 3 // 4 - audio.count("=", -2))
            await self._send_client(message)
            self._hop_down_audio.add(received, time.perf_counter_ns())
            return
        self.ownership.observe_server(payload)
        if self.context is not None:
            # One that does not parse goes to the client as it came: nothing to learn.
            with contextlib.suppress(EventParseError):
                self.context.server_event(parse_server_event(payload))
        tools = self._tools
        if tools is not None:
            shown = tools.upstream_event(payload, anyio.current_time())
            if shown is None:  # about a relay call: the client never sees it
                await self._perform_tools(tools)
                return
            if shown is not payload:
                message, payload = json.dumps(shown, separators=(",", ":")), shown
        await self._send_client(message)
        forwarded = time.perf_counter_ns()
        self._hop_down_control.add(received, forwarded)
        if self._on_event is not None:
            self._emit(RelayedEvent(session_id=self.id, direction="upstream_to_client",
                                    type=str(event_type), payload=payload, received_ns=received,
                                    forwarded_ns=forwarded))
        if tools is not None:
            await self._perform_tools(tools)

    # -----------------------------------------------------------------------------------------
    # The relay's tools
    # -----------------------------------------------------------------------------------------

    async def _perform_tools(self, tools: RelayTools) -> None:
        """Start and stop runs, and send what the ledger has for the upstream, in its order
        whichever task gets here (the pumps, a run, the timer)."""
        assert self._runner is not None
        for effect in tools.outputs():
            if isinstance(effect, str):
                self._tool_frames.append(effect)
            else:
                self._runner.perform(effect)
                self._tool_wake.set()  # a new deadline, maybe
        if not self._tool_frames:
            return
        async with self._tool_send_lock:
            while self._tool_frames:
                upstream = self._upstream
                if upstream is None:  # gone, and the calls with its conversation
                    self._tool_frames.clear()
                    return
                frame = self._tool_frames.popleft()
                sent = await self._send_upstream(upstream, self._upstream_scope, frame)
                if sent is not None and self.context is not None:
                    self._note_sent(load_json(frame, max_depth=None))

    async def _tool_finished(self, call_id: str, result: Any, error: str | None) -> None:
        assert self._tools is not None
        self._tools.finished(call_id, anyio.current_time(), result, error)
        await self._perform_tools(self._tools)

    async def _tool_timer(self, tools: RelayTools) -> None:
        """Time out the calls that run too long."""
        while True:
            deadline = tools.next_deadline()
            delay = math.inf if deadline is None else max(0.0, deadline - anyio.current_time())
            with anyio.move_on_after(delay):
                await self._tool_wake.wait()
            self._tool_wake = anyio.Event()
            tools.tick(anyio.current_time())
            await self._perform_tools(tools)

    def _audio(self, item_id: str, n_bytes: int) -> None:
        self.ownership.add_audio(item_id, n_bytes)
        if self.context is not None:
            self.context.audio_received(item_id, n_bytes)

    def _note_sent(self, payload: Any) -> None:
        """A client event went upstream: the context notes the items it adds, cuts or
        deletes. (One the upstream cannot parse either is answered with an error there.)"""
        if self.context is None or not isinstance(payload, dict) \
                or payload.get("type") not in _CONTEXT_CLIENT_TYPES:
            return
        with contextlib.suppress(EventParseError):
            self.context.sent(parse_client_event(payload))

    def _forget_tool_calls(self) -> None:
        """The upstream session ended, its calls with it: stop their runs, drop their
        answers."""
        if self._tools is None or self._runner is None:
            return
        self._tools.upstream_lost()
        self._runner.cancel_all()
        self._tool_frames.clear()
        self._tool_wake.set()

    # -----------------------------------------------------------------------------------------
    # The client connection
    # -----------------------------------------------------------------------------------------

    async def _send_client(self, message: str) -> None:
        self._client_send_began = time.monotonic()
        try:
            await self._client.send(message)
        except ClientConnectionClosed:
            raise _ClientGone from None
        finally:
            self._client_send_began = None

    async def _close_client(self, code: int, reason: str) -> None:
        with anyio.move_on_after(self._options.client_send_timeout, shield=True):
            await self._client.close(code, reason)

    def _emit(self, event: RelayedEvent) -> None:
        assert self._on_event is not None
        try:
            self._on_event(event)
        except Exception:
            logger.exception("session %s: the on_event hook raised", self.id)
