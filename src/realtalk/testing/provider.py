"""Providers for tests: :class:`MemoryProvider`, whose server is a coroutine of the test's,
and :class:`InProcessServer`, the embedded server in the test's own event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from .._args import check_choice, check_methods, check_number, check_type
from ..errors import ConnectError, ConnectionClosed
from ..server import (
    FaultPlan,
    PlaceholderTranscriber,
    Responder,
    ScriptedResponder,
    ServerOptions,
    ServerSession,
    Transcriber,
)
from ..server.faults import DropHow
from ..server.serving import FaultRunner, serve_session
from ..session_config import WireShape
from ..transport import MemoryTransport, Transport, memory_transport_pair

__all__ = ("MemoryProvider", "ServerScript", "InProcessServer")

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


class InProcessServer:
    """The embedded realtime server, hosted in the caller's event loop: a provider.

    Each connection gets its own :class:`~realtalk.server.ServerSession` (as on
    :class:`~realtalk.server.RealtimeServer`), served over an in-memory transport by
    :func:`~realtalk.server.serving.serve_session`, so its timing follows the event loop's
    clock: under virtual time (:func:`~realtalk.testing.run_virtual`) a conversation with
    seconds of assistant audio takes no wall-clock time to wait for it. Every frame goes
    through the JSON codec, as on a socket; there is no network delay.

    Args:
        options: per-session behaviour (latency, chunking, generation speed, turn detection).
        responder_factory: builds each connection's :class:`~realtalk.server.Responder`.
        transcriber_factory: builds each connection's :class:`~realtalk.server.Transcriber`.
        shape: the protocol shape spoken: ``"ga"``, or ``"beta"`` (Azure's preview).
        seed: seeds each session's ids (the same in every session), for reproducible tests;
            ``None``: random ids.
        faults: faults to inject (:class:`~realtalk.server.FaultPlan`). The in-memory
            connection carries whole text messages, so every way of ending it (a reset, a
            close without a frame or with a code, a frame that is not UTF-8 or cut off)
            ends it alike: the client's ``receive`` raises ``ConnectionClosed``. Handshakes
            to refuse are refused with :class:`~realtalk.errors.ConnectError`.

    Raises:
        ConfigurationError: an argument of the wrong type.
    """

    def __init__(
        self,
        *,
        options: ServerOptions | None = None,
        responder_factory: Callable[[], Responder] = ScriptedResponder,
        transcriber_factory: Callable[[], Transcriber] = PlaceholderTranscriber,
        shape: WireShape = "ga",
        seed: int | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        check_type("options", options, (ServerOptions, type(None)), "a ServerOptions or None")
        for name, factory in (("responder_factory", responder_factory),
                              ("transcriber_factory", transcriber_factory)):
            check_methods(name, factory, ("__call__",), "a callable")
        check_choice("shape", shape, ("ga", "beta"))
        check_number("seed", seed, integer=True, optional=True)
        check_type("faults", faults, (FaultPlan, type(None)), "a FaultPlan or None")
        self.faults = faults
        self._refused = 0
        self.options = options or ServerOptions()
        self._responder_factory = responder_factory
        self._transcriber_factory = transcriber_factory
        self._seed = seed
        self._memory = MemoryProvider(self._serve, shape=shape)
        self.sessions: list[ServerSession] = []
        """Every session created so far, oldest first (their ``stats`` and ``conversation``
        are what the server saw)."""

    def __repr__(self) -> str:
        return f"InProcessServer(shape={self.shape!r})"

    @property
    def shape(self) -> WireShape:
        """The protocol shape the server speaks."""
        return self._memory.shape

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        """Start a session in this event loop and connect to it; it ends when the connection
        closes.

        Raises:
            ConnectError: the fault plan refuses this connection.
        """
        plan = self.faults
        if plan is not None and self._refused < plan.refuse_handshakes:
            self._refused += 1
            return _refused(plan.refuse_status)
        return self._memory.connect()

    async def _serve(self, end: MemoryTransport) -> None:
        session = ServerSession(now=anyio.current_time(), shape=self.shape,
                                options=self.options, responder=self._responder_factory(),
                                transcriber=self._transcriber_factory(), seed=self._seed)
        self.sessions.append(session)
        faults = None if self.faults is None else FaultRunner(
            self.faults.for_session(len(self.sessions), anyio.current_time()), _MemoryWire(end))
        await serve_session(session, end, faults=faults)


@contextlib.asynccontextmanager
async def _refused(status: int) -> AsyncIterator[Transport]:
    raise ConnectError(f"the in-process server rejected the connection with HTTP {status} "
                       "(injected fault)")
    yield  # an async generator, for asynccontextmanager  # pragma: no cover


class _MemoryWire:
    """What a fault does to an in-memory connection: any end of it is the end."""

    def __init__(self, end: MemoryTransport) -> None:
        self._end = end

    async def drop(self, how: DropHow, code: int, reason: str) -> None:
        await self._end.aclose()

    async def send_invalid_utf8(self) -> None:
        await self._end.aclose()

    async def send_truncated(self, text: str) -> None:
        await self._end.aclose()
