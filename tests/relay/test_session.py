"""A relay session between an in-memory client and an in-process upstream, in virtual time,
under asyncio and trio: however the session ends (the client leaves, the upstream drops, the
session is cancelled), it closes its upstream connection cleanly, bounded in time, even when
the provider holds a task group across ``connect()`` as InProcessServer and MemoryProvider do."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from realtalk.errors import ConnectError, ConnectionClosed
from realtalk.providers import Provider
from realtalk.relay import IdRegistry, RelayMetrics, RelayOptions, RelaySession, SessionClaims
from realtalk.server import ServerOptions, ServerSession
from realtalk.server.serving import serve_session
from realtalk.session_config import WireShape
from realtalk.testing import (
    InProcessServer,
    MemoryClientConnection,
    MemoryProvider,
    virtual_backend,
)
from realtalk.transport import MemoryTransport, Transport

pytestmark = pytest.mark.anyio

_SERVER_OPTIONS = ServerOptions(first_audio_latency_ms=20.0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """The session logic is anyio's: each test on both backends, in virtual time."""
    return virtual_backend(request.param)


class _Upstream:
    """An in-process upstream and the server sessions it started."""

    def __init__(self, kind: str) -> None:
        self.provider: Provider
        self._server: InProcessServer | None = None
        self._sessions: list[ServerSession] = []
        if kind == "InProcessServer":
            self._server = self.provider = InProcessServer(options=_SERVER_OPTIONS)
        else:
            self.provider = MemoryProvider(self._serve)

    @property
    def sessions(self) -> list[ServerSession]:
        return self._server.sessions if self._server is not None else self._sessions

    async def _serve(self, end: MemoryTransport) -> None:
        session = ServerSession(now=anyio.current_time(), options=_SERVER_OPTIONS)
        self._sessions.append(session)
        await serve_session(session, end)


@pytest.fixture(params=["InProcessServer", "MemoryProvider"])
def upstream(request: pytest.FixtureRequest) -> _Upstream:
    return _Upstream(request.param)


class _Droppable:
    """A provider whose current connection the test can drop, as a lost network would: the
    relay's end closes, the server sees the hang-up and closes its end in turn."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.shape: WireShape = inner.shape
        self._transports: list[Transport] = []

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Transport]:
        async with self.inner.connect() as transport:
            self._transports.append(transport)
            yield transport

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        return self._connect()

    async def drop(self) -> None:
        await self._transports[-1].aclose()


@contextlib.asynccontextmanager
async def _serving(client: MemoryClientConnection, provider: Provider, *,
                   registry: IdRegistry | None = None, metrics: RelayMetrics | None = None,
                   **options: Any) -> AsyncIterator[anyio.CancelScope]:
    """A relay session between ``client`` and ``provider`` runs during the block, which gets
    the scope that cancels it; leaving the block waits for the session to end."""
    session = RelaySession(
        claims=SessionClaims(session_id="rs_test"), client=client, provider=provider,
        options=RelayOptions(**options), metrics=RelayMetrics() if metrics is None else metrics,
        registry=IdRegistry() if registry is None else registry)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.run)
            yield tg.cancel_scope


async def _next(client: MemoryClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await client.next_message())
    return event


async def _turn(client: MemoryClientConnection) -> list[str]:
    """One assistant turn: the types of the events the client got for it."""
    client.deliver(json.dumps({"type": "response.create"}))
    types: list[str] = []
    while not types or types[-1] != "response.done":
        types.append((await _next(client))["type"])
    return types


async def _rest(client: MemoryClientConnection) -> list[dict[str, Any]]:
    """Every frame the client gets until the relay closes the connection."""
    frames = []
    with contextlib.suppress(anyio.EndOfStream):
        while True:
            frames.append(await _next(client))
    return frames


async def test_the_session_ends_when_the_client_leaves(upstream: _Upstream) -> None:
    client, registry = MemoryClientConnection(), IdRegistry()
    async with _serving(client, upstream.provider, registry=registry):
        assert (await _next(client))["type"] == "session.created"
        assert "response.output_audio.delta" in await _turn(client)
        client.hang_up()
    assert [s.closed for s in upstream.sessions] == [True]
    assert not client.closed_by_relay
    assert len(registry) == 0


async def test_the_session_ends_when_the_upstream_drops(upstream: _Upstream) -> None:
    """The client is told (upstream_disconnected) and closed; the upstream connection is
    closed too."""
    client, registry, metrics = MemoryClientConnection(), IdRegistry(), RelayMetrics()
    provider = _Droppable(upstream.provider)
    async with _serving(client, provider, registry=registry, metrics=metrics):
        assert (await _next(client))["type"] == "session.created"
        await _turn(client)
        await provider.drop()
        frames = await _rest(client)
    assert [f["error"]["code"] for f in frames] == ["upstream_disconnected"]
    assert client.close_code == 1011
    assert metrics.snapshot().upstream_failures == {"dropped": 1}
    assert [s.closed for s in upstream.sessions] == [True]
    assert len(registry) == 0


async def test_the_session_ends_when_cancelled_from_outside(upstream: _Upstream) -> None:
    """Cancelled mid-turn, the session still closes its upstream connection."""
    client, registry = MemoryClientConnection(), IdRegistry()
    async with _serving(client, upstream.provider, registry=registry) as scope:
        assert (await _next(client))["type"] == "session.created"
        await _turn(client)
        client.deliver(json.dumps({"type": "response.create"}))
        while (await _next(client))["type"] != "response.output_audio.delta":
            pass
        scope.cancel()
    assert [s.closed for s in upstream.sessions] == [True]
    assert len(registry) == 0


def _user_text(client: MemoryClientConnection, text: str) -> None:
    client.deliver(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}))


def _texts(session: ServerSession) -> list[tuple[str | None, str]]:
    return [(item.role, item.text()) for item in session.conversation]


async def test_reconnect_mode_waits_then_opens_a_new_upstream_session(
        upstream: _Upstream) -> None:
    """The new upstream session gets the conversation back: the client's turn and the reply
    it was sent, before the client's next event."""
    client, registry = MemoryClientConnection(), IdRegistry()
    provider = _Droppable(upstream.provider)
    async with _serving(client, provider, registry=registry, on_upstream_loss="reconnect",
                        reconnect_delay=2.0):
        first = (await _next(client))["session"]["id"]
        _user_text(client, "hello there")
        await _turn(client)
        await provider.drop()
        error = await _next(client)
        told = anyio.current_time()
        created = await _next(client)
        waited = anyio.current_time() - told
        _user_text(client, "and again")
        assert "response.output_audio.delta" in await _turn(client)
        client.hang_up()
    assert error["error"]["code"] == "upstream_disconnected"
    assert "Reconnecting" in error["error"]["message"]
    assert created["type"] == "session.created"
    assert created["session"]["id"] != first
    assert waited == pytest.approx(2.0)
    assert [s.closed for s in upstream.sessions] == [True, True]
    before, after = (_texts(s) for s in upstream.sessions)
    assert before[0] == ("user", "hello there") and before[1][0] == "assistant"
    assert after[:3] == [*before, ("user", "and again")]


async def test_reconnect_mode_restores_a_reply_cut_off_as_far_as_its_transcript_came(
        upstream: _Upstream) -> None:
    client = MemoryClientConnection()
    provider = _Droppable(upstream.provider)
    async with _serving(client, provider, on_upstream_loss="reconnect", reconnect_delay=0.0):
        await _next(client)
        _user_text(client, "tell me a story")
        client.deliver(json.dumps({"type": "response.create"}))
        deltas: list[str] = []
        while len(deltas) < 2:
            event = await _next(client)
            if event["type"] == "response.output_audio_transcript.delta":
                deltas.append(event["delta"])
        await provider.drop()
        while (await _next(client))["type"] != "session.created":
            pass
        _user_text(client, "go on")
        await _turn(client)
        client.hang_up()
    restored = _texts(upstream.sessions[1])[:3]
    assert restored[0] == ("user", "tell me a story") and restored[2] == ("user", "go on")
    role, heard = restored[1]
    assert role == "assistant" and heard.startswith("".join(deltas).strip())


class _SlowUpstream:
    """An upstream whose connection holds a task group. Connecting takes ``connect_time``
    seconds (then fails if ``refuse``); closing takes ``close_time`` seconds, after sending
    ``goodbye`` (which waits for the relay to read it: the in-memory connection has no
    buffer). ``drop()`` hangs up from the server's side."""

    shape: WireShape = "ga"

    def __init__(self, *, connect_time: float = 0.0, close_time: float = 0.0,
                 goodbye: bool = False, refuse: bool = False) -> None:
        self.connect_time = connect_time
        self.close_time = close_time
        self.goodbye = goodbye
        self.refuse = refuse
        self.closed = anyio.Event()
        self._server_end: MemoryTransport | None = None

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Transport]:
        await anyio.sleep(self.connect_time)
        if self.refuse:
            raise ConnectError("connection refused")
        to_relay, relay_in = anyio.create_memory_object_stream[str](0)
        to_server, server_in = anyio.create_memory_object_stream[str](math.inf)
        relay, server = MemoryTransport(to_server, relay_in), MemoryTransport(to_relay, server_in)
        self._server_end = server
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.send, json.dumps({"type": "session.created",
                                                   "session": {"id": "sess_slow"}}))
            try:
                yield relay
            finally:
                try:
                    if self.goodbye:
                        with contextlib.suppress(ConnectionClosed):
                            await server.send(json.dumps({"type": "goodbye"}))
                    await anyio.sleep(self.close_time)
                    self.closed.set()
                finally:  # cut short or not
                    await relay.aclose()
                    await server.aclose()

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        return self._connect()

    async def drop(self) -> None:
        assert self._server_end is not None
        await self._server_end.aclose()


async def test_the_client_is_told_before_a_slow_close_which_is_bounded() -> None:
    """A dropped upstream is reported at once; its close, which would take minutes, is cut at
    upstream_close_timeout, and the session ends."""
    client = MemoryClientConnection()
    provider = _SlowUpstream(close_time=600.0)
    async with _serving(client, provider, upstream_close_timeout=3.0):
        assert (await _next(client))["type"] == "session.created"
        began = anyio.current_time()
        await provider.drop()
        error = await _next(client)
        told = anyio.current_time() - began
    ended = anyio.current_time() - began
    assert error["error"]["code"] == "upstream_disconnected"
    assert told < 1.0
    assert ended == pytest.approx(3.0, abs=0.5)
    assert not provider.closed.is_set()


async def test_a_cancelled_session_finishes_a_slow_close_in_time() -> None:
    """Cancelled, the session lets its upstream's close run (shielded) when it fits within
    upstream_close_timeout."""
    client = MemoryClientConnection()
    provider = _SlowUpstream(close_time=2.0)
    async with _serving(client, provider, upstream_close_timeout=3.0) as scope:
        assert (await _next(client))["type"] == "session.created"
        began = anyio.current_time()
        scope.cancel()
    assert provider.closed.is_set()
    assert anyio.current_time() - began == pytest.approx(2.0, abs=0.5)


async def test_frames_arriving_while_the_upstream_closes_are_read() -> None:
    """The relay reads (and drops) what the upstream still sends while closing: a peer whose
    close waits for its last frames to be read is not left waiting for the timeout."""
    client = MemoryClientConnection()
    provider = _SlowUpstream(goodbye=True)
    async with _serving(client, provider, upstream_close_timeout=3.0):
        assert (await _next(client))["type"] == "session.created"
        began = anyio.current_time()
        client.hang_up()
    assert provider.closed.is_set()
    assert anyio.current_time() - began < 1.0


async def test_a_reconnect_waits_for_the_old_connection_to_close() -> None:
    """One upstream connection at a time: the new one opens after the old one closed, and
    after the reconnect delay."""
    client = MemoryClientConnection()
    provider = _SlowUpstream(close_time=2.0)
    async with _serving(client, provider, on_upstream_loss="reconnect",
                        reconnect_delay=0.5):
        assert (await _next(client))["type"] == "session.created"
        began = anyio.current_time()
        await provider.drop()
        assert (await _next(client))["error"]["code"] == "upstream_disconnected"
        assert (await _next(client))["type"] == "session.created"
        reconnected = anyio.current_time() - began
        client.hang_up()
    assert reconnected == pytest.approx(2.5)


async def test_a_client_leaving_while_the_upstream_connects_ends_the_session_at_once() -> None:
    client = MemoryClientConnection()
    provider = _SlowUpstream(connect_time=600.0)
    began = anyio.current_time()
    async with _serving(client, provider, upstream_close_timeout=3.0):
        await anyio.sleep(1.0)
        client.hang_up()
    assert anyio.current_time() - began == pytest.approx(1.0)
    assert client.sent == []


async def test_a_refused_connection_is_reported() -> None:
    client, metrics = MemoryClientConnection(), RelayMetrics()
    async with _serving(client, _SlowUpstream(refuse=True), metrics=metrics):
        frames = await _rest(client)
    assert [f["error"]["code"] for f in frames] == ["upstream_unavailable"]
    assert client.close_code == 1011
    assert metrics.snapshot().upstream_failures == {"connect": 1}
