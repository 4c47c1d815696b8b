"""Real realtime clients through the relay: the official ``openai`` client, and realtalk's own
Conversation under asyncio and trio (the relay on its own thread, as a separate service)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from openai import AsyncOpenAI
from openai.types.realtime import RealtimeErrorEvent, ResponseDoneEvent

import realtalk
from realtalk import providers
from realtalk.relay import (
    RelayedEvent,
    RelayOptions,
    RelayServer,
    TokenAuthenticator,
    TokenSigner,
)
from realtalk.server import RealtimeServer, ScriptedResponder, ServerOptions

SIGNER = TokenSigner("clients-test-secret-0123456789abcdef")
REPLY = "This is the relayed answer, long enough to be cut short by the caller."


def _upstream(speed: float) -> RealtimeServer:
    return RealtimeServer(
        options=ServerOptions(first_audio_latency_ms=0, chunk_ms=100, generation_speed=speed),
        responder_factory=lambda: ScriptedResponder([REPLY]))


@contextlib.asynccontextmanager
async def _relay(upstream: RealtimeServer, seen: list[RelayedEvent]) -> AsyncIterator[RelayServer]:
    provider = providers.endpoint(f"{upstream.url}?model=gpt-realtime")
    relay = RelayServer(provider, TokenAuthenticator(SIGNER),
                        options=RelayOptions(loop_lag_interval=None), on_event=seen.append)
    async with relay:
        yield relay


@pytest.mark.anyio
async def test_the_official_openai_client_works_through_the_relay() -> None:
    """AsyncOpenAI(base_url=relay, api_key=token): a response, a refused instruction change
    (as a typed error event), and a cancel."""
    seen: list[RelayedEvent] = []
    async with _upstream(math.inf) as upstream, _relay(upstream, seen) as relay:
        client = AsyncOpenAI(base_url=relay.http_base_url, api_key=SIGNER.mint("oa-1"))
        async with client.realtime.connect(model="gpt-realtime") as conn:
            with anyio.fail_after(5):
                assert (await conn.recv()).type == "session.created"
                await conn.session.update(session={"type": "realtime", "instructions": "Obey"})
                error = await conn.recv()
                assert isinstance(error, RealtimeErrorEvent)
                assert error.error.code == "field_not_allowed"
                await conn.response.create()
                event = await conn.recv()
                while not isinstance(event, ResponseDoneEvent):
                    event = await conn.recv()
                assert event.response.status == "completed"
        await client.close()
    assert [e.type for e in seen if e.direction == "client_to_upstream"] == ["response.create"]


def _conversation_run(relay_url: str, token: str) -> Any:
    async def run() -> tuple[list[str], int]:
        provider = providers.endpoint(relay_url, headers={"Authorization": f"Bearer {token}"})
        speaker = realtalk.audio.MemoryOutput()
        kinds: list[str] = []
        async with realtalk.Conversation(provider, output=speaker) as conv:
            await conv.send_text("Tell me something.")
            with anyio.fail_after(10):
                async for event in conv.events():
                    kinds.append(type(event).__name__)
                    if isinstance(event, realtalk.StateChanged) and \
                            event.new is realtalk.State.SPEAKING:
                        await conv.interrupt()
                    if isinstance(event, realtalk.Interrupted):
                        break
        return kinds, len(speaker.recording())

    return run


@contextlib.contextmanager
def _relay_in_thread(seen: list[RelayedEvent]) -> Iterator[str]:
    """Upstream and relay on an asyncio loop of their own; yields the relay's URL."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        async with _upstream(4.0) as upstream, _relay(upstream, seen) as relay:
            state["url"], state["loop"] = relay.url, asyncio.get_running_loop()
            state["stop"] = stop = asyncio.Event()
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield str(state["url"])
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_realtalk_conversation_barges_in_through_the_relay(backend: str) -> None:
    """A Conversation pointed at the relay hears the reply, interrupts it, and its cancel and
    truncate pass the relay; the truncate is within the audio the relay forwarded."""
    seen: list[RelayedEvent] = []
    with _relay_in_thread(seen) as url:
        kinds, samples = anyio.run(_conversation_run(url, SIGNER.mint(f"conv-{backend}")),
                                   backend=backend)
    assert "Interrupted" in kinds and "ErrorOccurred" not in kinds
    assert samples > 0
    client_events = [e for e in seen if e.direction == "client_to_upstream"]
    types = [e.type for e in client_events]
    assert "response.cancel" in types and "conversation.item.truncate" in types
    truncate = next(e for e in client_events if e.type == "conversation.item.truncate")
    assert truncate.audio_sent_ms is not None
    assert truncate.payload["audio_end_ms"] <= truncate.audio_sent_ms
