"""The one loop that serves a :class:`ServerSession` to a peer, over any transport.

:class:`~realtalk.server.RealtimeServer` runs it for each WebSocket connection (in the caller's
event loop, or on a thread of its own for :func:`realtalk.providers.local`), and
:class:`realtalk.testing.InProcessServer` runs it over an in-memory pair. Each client frame is
stamped with ``anyio.current_time()`` and the writer sleeps until the session's next deadline
or a new frame, so the session's timing follows the event loop's clock: real time on a socket,
virtual time under :mod:`realtalk.testing`, where a conversation against it takes no wall-clock
time to wait for audio.

With a :class:`FaultRunner` (a :class:`~.faults.FaultPlan` applied to the session), the writer
asks it before each event and at each of its deadlines, and performs the faults due: on the
transport (an ``error`` event, a frame of invalid JSON) or through the runner's
:class:`FaultWire` (what only the connection underneath can do: a reset, a cut frame).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import anyio
import attrs

from ..errors import ConnectionClosed
from ..transport.base import Transport
from ..wire import encode, wire_type
from .faults import Drop, DropHow, FaultAction, Garble, SendError, SessionFaults, Stall
from .session import ServerSession

__all__ = ("ClientEventHook", "FaultRunner", "serve_session")

logger = logging.getLogger("realtalk.server")

#: Called with ``(time.perf_counter(), event type)`` as each client frame arrives
#: (``"(invalid)"`` for a frame without a readable type).
ClientEventHook = Callable[[float, str], None]

#: What a garbling fault breaks when no event was due (a fault at a time).
_PLACEHOLDER = '{"type":"response.output_text.delta","delta":"(a frame the network broke)"}'


async def serve_session(session: ServerSession, transport: Transport, *,
                        on_client_event: ClientEventHook | None = None,
                        faults: FaultRunner | None = None) -> None:
    """Serve ``session`` to the peer at the other end of ``transport`` until it hangs up.

    Sends what the session queued (its ``session.created`` first), feeds it every frame the
    peer sends, and releases its audio as each deadline passes, all on the event loop's clock.
    ``on_client_event`` sees each frame as it arrives; a hook that raises is logged, never the
    end of the session. ``faults`` injects the faults of a plan (see :mod:`.faults`). Returns
    when the connection closes, from either end (a fault's drop included), after closing the
    session; the transport is left to its owner to close.
    """
    try:
        # Reading and writing are separate tasks so that a client's cancel is read (and
        # stamped) at once even while a burst of audio is being written.
        async with anyio.create_task_group() as tg:
            served = _Served(session, transport, faults, tg.cancel_scope)
            tg.start_soon(_read, served, on_client_event)
            tg.start_soon(_write, served)
    finally:
        session.close()


class FaultWire(Protocol):
    """What a fault does to the connection under a transport, beyond sending text."""

    async def drop(self, how: DropHow, code: int, reason: str) -> None:
        """End the connection: reset it, close it without a close frame, or close it with
        ``code`` and ``reason`` (``how``: ``"reset"``, ``"eof"``, ``"close"``)."""
        ...

    async def send_invalid_utf8(self) -> None:
        """Send a text frame that is not UTF-8."""
        ...

    async def send_truncated(self, text: str) -> None:
        """Send the first half of ``text``'s frame, then end the connection."""
        ...


class _Outcome(enum.Enum):
    SEND = "send"  # the event that was due goes out as usual
    SKIP = "skip"  # a broken frame went out in its place
    END = "end"  # the connection is over


class FaultRunner:
    """A plan's faults for one connection, performed: the serve loop's side of
    :class:`~.faults.SessionFaults`.

    While a :class:`~.faults.Stall` lasts, :attr:`stalled` is true, the scopes made by
    :meth:`interruptible` (the serve loop's read, the host's keepalive pings) are cancelled,
    and they wait in :meth:`wait_unstalled` before they go on.
    """

    def __init__(self, faults: SessionFaults, wire: FaultWire) -> None:
        self.faults = faults
        self._wire = wire
        self._resumed: anyio.Event | None = None  # set while a stall lasts
        self._scopes: set[anyio.CancelScope] = set()
        self._errors_sent = 0

    @property
    def stalled(self) -> bool:
        """Whether the connection is stalled now."""
        return self._resumed is not None

    async def wait_unstalled(self) -> None:
        """Return once no stall lasts."""
        while self._resumed is not None:
            await self._resumed.wait()

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[anyio.CancelScope]:
        """A cancel scope that a stall cancels when it begins (check ``cancelled_caught``)."""
        with anyio.CancelScope() as scope:
            self._scopes.add(scope)
            try:
                yield scope
            finally:
                self._scopes.discard(scope)

    async def perform(self, actions: list[FaultAction], transport: Transport,
                      text: str | None) -> _Outcome:
        """Perform ``actions`` in order, before ``text`` (the event due, if any) is sent."""
        outcome = _Outcome.SEND
        for action in actions:
            logger.info("fault: %r%s", action, "" if text is None else f" before {text[:60]}")
            if isinstance(action, SendError):
                self._errors_sent += 1
                error = attrs.evolve(action.event(), event_id=f"event_fault{self._errors_sent}")
                await transport.send(encode(error))
            elif isinstance(action, Stall):
                await self._stall(action.seconds)
            elif isinstance(action, Drop):
                await self._wire.drop(action.how, action.code, action.reason)
                return _Outcome.END
            elif isinstance(action, Garble):
                broken = _PLACEHOLDER if text is None else text
                if action.how == "truncated":
                    await self._wire.send_truncated(broken)
                    return _Outcome.END
                if action.how == "invalid_json":
                    await transport.send(broken[: len(broken) // 2])
                else:
                    await self._wire.send_invalid_utf8()
                outcome = _Outcome.SKIP
        return outcome

    async def _stall(self, seconds: float | None) -> None:
        self._resumed = resumed = anyio.Event()
        for scope in self._scopes:
            scope.cancel()
        try:
            if seconds is None:
                await anyio.sleep_forever()
            else:
                await anyio.sleep(seconds)
        finally:
            self._resumed = None
            resumed.set()


@attrs.define
class _Served:
    """What the reader and the writer share: the session, its connection, its faults, the
    scope that ends both, and the writer's current wake-up event (a fresh one per wait, so
    no set() is lost)."""

    session: ServerSession
    transport: Transport
    faults: FaultRunner | None
    scope: anyio.CancelScope
    wakeup: anyio.Event = attrs.field(factory=anyio.Event)


async def _receive(transport: Transport, faults: FaultRunner | None) -> str | bytes | None:
    """The next client frame; ``None`` when a stall interrupted the wait for it."""
    if faults is None:
        return await transport.receive()
    await faults.wait_unstalled()
    with faults.interruptible():
        return await transport.receive()
    return None  # cancelled by a stall: nothing was read


async def _read(served: _Served, on_client_event: ClientEventHook | None) -> None:
    session = served.session
    try:
        while True:
            frame = await _receive(served.transport, served.faults)
            if frame is None:
                continue
            received_at = time.perf_counter()
            event_type = session.receive(frame, anyio.current_time())
            if on_client_event is not None:
                try:
                    on_client_event(received_at, event_type or "(invalid)")
                except Exception:
                    logger.exception("on_client_event hook raised")
            served.wakeup.set()
    except ConnectionClosed:
        pass
    finally:
        served.scope.cancel()  # the peer is gone: stop the writer too


async def _write(served: _Served) -> None:
    session, transport, faults = served.session, served.transport, served.faults
    try:
        while True:
            served.wakeup = anyio.Event()  # before draining: a frame arriving now wakes us
            session.advance(anyio.current_time())
            if faults is None:
                for event in session.events_to_send():
                    await transport.send(encode(event, session.shape))
            elif await _send_faulty(session, transport, faults) is _Outcome.END:
                break
            deadline = _earliest(session.next_deadline(),
                                 None if faults is None else faults.faults.next_deadline())
            if deadline is None:
                await served.wakeup.wait()
            else:
                with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                    await served.wakeup.wait()
    except ConnectionClosed:
        pass
    served.scope.cancel()


async def _send_faulty(session: ServerSession, transport: Transport,
                       faults: FaultRunner) -> _Outcome:
    """Send what the session queued with the faults due before each event (and those due
    by now); ``END`` when a fault ended the connection."""
    plan = faults.faults
    due = plan.due(anyio.current_time())
    if due and await faults.perform(due, transport, None) is _Outcome.END:
        return _Outcome.END
    for event in session.events_to_send():
        text = encode(event, session.shape)
        actions = plan.before_send(wire_type(type(event), session.shape),
                                   anyio.current_time())
        outcome = await faults.perform(actions, transport, text) if actions else _Outcome.SEND
        if outcome is _Outcome.END:
            return outcome
        if outcome is _Outcome.SEND:
            await transport.send(text)
    return _Outcome.SEND


def _earliest(*deadlines: float | None) -> float | None:
    known = [d for d in deadlines if d is not None]
    return min(known) if known else None
