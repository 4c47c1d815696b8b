"""Fakes for testing apps built on realtalk, without a server or a sound card.

- :class:`MemoryProvider` -- a provider whose "server" is your coroutine, talking over an
  in-memory transport pair: script exactly what the server says and check what it received.
- :class:`~realtalk.audio.MemoryInput` / :class:`~realtalk.audio.MemoryOutput` -- a scripted
  microphone and a speaker that records what it played (re-exported here).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from .audio.memory import MemoryInput, MemoryOutput
from .errors import ConnectionClosed
from .session_config import WireShape
from .transport import MemoryTransport, Transport, memory_transport_pair

__all__ = ("MemoryProvider", "ServerScript", "MemoryInput", "MemoryOutput")

ServerScript = Callable[[MemoryTransport], Awaitable[None]]
"""A fake server: receives the server end of the connection and plays its part."""


class MemoryProvider:
    """A provider that runs ``script`` as the server, over an in-memory transport.

    The script runs in a task for as long as the connection is open; when it returns, the
    server end closes (the client sees the connection close, as if the server hung up).
    """

    def __init__(self, script: ServerScript, *, shape: WireShape = "ga") -> None:
        self.script = script
        self._shape: WireShape = shape
        self.server_end: MemoryTransport | None = None

    @property
    def shape(self) -> WireShape:
        """The protocol shape the fake server speaks."""
        return self._shape

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Transport]:
        client, server = memory_transport_pair()
        self.server_end = server

        async def run() -> None:
            try:
                # The client hanging up is the normal end of a server's script.
                with contextlib.suppress(ConnectionClosed):
                    await self.script(server)
            finally:
                await server.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            try:
                yield client
            finally:
                await client.aclose()
                tg.cancel_scope.cancel()

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        """Connect to the scripted server."""
        return self._connect()
