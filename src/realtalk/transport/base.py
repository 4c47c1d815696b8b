"""The Transport protocol: an ordered, message-oriented, bidirectional channel of JSON text."""

from __future__ import annotations

from typing import Protocol

__all__ = ("Transport",)


class Transport(Protocol):
    """What the conversation needs from a connection to a realtime server.

    Implementations: :class:`~realtalk.transport.WebSocketTransport` (real connections) and
    :func:`~realtalk.transport.memory_transport_pair` (in-process, for tests).
    """

    async def send(self, message: str) -> None:
        """Send one text message.

        Raises:
            realtalk.errors.ConnectionClosed: the connection is closed.
        """
        ...

    async def receive(self) -> str:
        """Wait for the next text message.

        Raises:
            realtalk.errors.ConnectionClosed: the connection closed, cleanly or not
                (``code`` and ``reason`` say how).
        """
        ...

    async def aclose(self) -> None:
        """Close the connection; idempotent."""
        ...
