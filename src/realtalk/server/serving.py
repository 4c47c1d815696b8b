"""The one loop that serves a :class:`ServerSession` to a peer, over any transport.

:class:`~realtalk.server.RealtimeServer` runs it for each WebSocket connection (in the caller's
event loop, or on a thread of its own for :func:`realtalk.providers.local`), and
:class:`realtalk.testing.InProcessServer` runs it over an in-memory pair. Each client frame is
stamped with ``anyio.current_time()`` and the writer sleeps until the session's next deadline
or a new frame, so the session's timing follows the event loop's clock: real time on a socket,
virtual time under :mod:`realtalk.testing`, where a conversation against it takes no wall-clock
time to wait for audio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import anyio
import attrs

from ..errors import ConnectionClosed
from ..transport.base import Transport
from ..wire import encode
from .session import ServerSession

__all__ = ("ClientEventHook", "serve_session")

logger = logging.getLogger("realtalk.server")

#: Called with ``(time.perf_counter(), event type)`` as each client frame arrives
#: (``"(invalid)"`` for a frame without a readable type).
ClientEventHook = Callable[[float, str], None]


async def serve_session(session: ServerSession, transport: Transport, *,
                        on_client_event: ClientEventHook | None = None) -> None:
    """Serve ``session`` to the peer at the other end of ``transport`` until it hangs up.

    Sends what the session queued (its ``session.created`` first), feeds it every frame the
    peer sends, and releases its audio as each deadline passes, all on the event loop's clock.
    ``on_client_event`` sees each frame as it arrives; a hook that raises is logged, never the
    end of the session. Returns when the connection closes, from either end, after closing the
    session; the transport is left to its owner to close.
    """
    wakeup = _Wakeup()
    try:
        # Reading and writing are separate tasks so that a client's cancel is read (and
        # stamped) at once even while a burst of audio is being written.
        async with anyio.create_task_group() as tg:
            tg.start_soon(_read, session, transport, on_client_event, wakeup, tg.cancel_scope)
            tg.start_soon(_write, session, transport, wakeup, tg.cancel_scope)
    finally:
        session.close()


@attrs.define
class _Wakeup:
    """The writer's current wake-up event; a fresh one per wait, so no set() is lost."""

    event: anyio.Event = attrs.field(factory=anyio.Event)


async def _read(session: ServerSession, transport: Transport,
                on_client_event: ClientEventHook | None, wakeup: _Wakeup,
                scope: anyio.CancelScope) -> None:
    try:
        while True:
            frame = await transport.receive()
            received_at = time.perf_counter()
            event_type = session.receive(frame, anyio.current_time())
            if on_client_event is not None:
                try:
                    on_client_event(received_at, event_type or "(invalid)")
                except Exception:
                    logger.exception("on_client_event hook raised")
            wakeup.event.set()
    except ConnectionClosed:
        pass
    finally:
        scope.cancel()  # the peer is gone: stop the writer too


async def _write(session: ServerSession, transport: Transport, wakeup: _Wakeup,
                 scope: anyio.CancelScope) -> None:
    try:
        while True:
            wakeup.event = anyio.Event()  # before draining: a frame arriving now wakes us
            session.advance(anyio.current_time())
            for event in session.events_to_send():
                await transport.send(encode(event, session.shape))
            deadline = session.next_deadline()
            if deadline is None:
                await wakeup.event.wait()
            else:
                with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                    await wakeup.event.wait()
    except ConnectionClosed:
        scope.cancel()
