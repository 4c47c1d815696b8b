"""An in-memory transport pair: two connected :class:`Transport` ends, for tests."""

from __future__ import annotations

import math

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ..errors import ConnectionClosed

__all__ = ("MemoryTransport", "memory_transport_pair")


class MemoryTransport:
    """One end of an in-memory connection (see :func:`memory_transport_pair`)."""

    def __init__(
        self, outgoing: MemoryObjectSendStream[str], incoming: MemoryObjectReceiveStream[str]
    ) -> None:
        self._outgoing = outgoing
        self._incoming = incoming
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        """Deliver ``message`` to the other end."""
        try:
            await self._outgoing.send(message)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            raise ConnectionClosed("in-memory connection is closed", code=1006) from exc
        self.sent.append(message)

    async def receive(self) -> str:
        """The next message from the other end."""
        try:
            return await self._incoming.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError) as exc:
            raise ConnectionClosed("in-memory connection closed by peer", code=1000) from exc

    async def aclose(self) -> None:
        """Close both directions of this end; the peer's ``receive`` raises ConnectionClosed."""
        self._outgoing.close()
        self._incoming.close()


def memory_transport_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends: what one sends, the other receives, in order (unbounded buffers)."""
    a_send, b_recv = anyio.create_memory_object_stream[str](math.inf)
    b_send, a_recv = anyio.create_memory_object_stream[str](math.inf)
    return MemoryTransport(a_send, a_recv), MemoryTransport(b_send, b_recv)
