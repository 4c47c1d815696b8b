"""The embedded server's session hosted in the caller's event loop, over any transport.

:class:`~realtalk.server.RealtimeServer` serves sessions over real sockets (in the caller's
loop, or on a thread of its own for :func:`realtalk.providers.local`), so a conversation against
it waits on the wall clock for its audio. :func:`serve_session` runs a :class:`ServerSession`
over any transport (an in-memory pair, say) as one task of the current event loop: each client
frame is stamped with ``anyio.current_time()``, and between frames the task sleeps until the
session's next deadline. Its timing therefore follows the loop's clock, virtual time included (see
:mod:`realtalk.testing`), and a conversation against it over an in-memory transport
(:class:`realtalk.testing.InProcessServer`) takes no wall-clock time to wait for audio.
"""

from __future__ import annotations

import math

import anyio

from ..errors import ConnectionClosed
from ..transport.base import Transport
from ..wire import encode
from .session import ServerSession

__all__ = ("serve_session",)


async def serve_session(session: ServerSession, transport: Transport) -> None:
    """Serve ``session`` to the peer at the other end of ``transport`` until it hangs up.

    Sends what the session queued (its ``session.created`` first), feeds it every frame the
    peer sends, and releases its audio as each deadline passes, all on the event loop's clock.
    Returns when the connection closes, from either end, after closing the session; the
    transport is left to its owner to close.
    """
    try:
        while True:
            for event in session.events_to_send():
                await transport.send(encode(event, session.shape))
            deadline = session.next_deadline()
            wait = math.inf if deadline is None else max(0.0, deadline - anyio.current_time())
            frame: str | None = None
            # A receive cut short by the deadline loses nothing: the frame stays queued for the
            # next one.
            with anyio.move_on_after(wait):
                frame = await transport.receive()
            if frame is None:
                session.advance(anyio.current_time())
            else:
                session.receive(frame, anyio.current_time())
    except ConnectionClosed:
        pass
    finally:
        session.close()
