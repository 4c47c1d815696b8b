"""serve_session: the one loop serving a ServerSession, tested in the test's own
event loop in virtual time (so every timestamp is exact), on asyncio and trio."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from realtalk.server import ScriptedResponder, ServerOptions, ServerSession
from realtalk.server.serving import serve_session
from realtalk.testing import virtual_backend
from realtalk.transport import MemoryTransport, memory_transport_pair

pytestmark = pytest.mark.anyio

REPLY = "Hello there. This answer is long enough to be interrupted in the middle of it."


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return virtual_backend(request.param)


def _session() -> ServerSession:
    return ServerSession(now=anyio.current_time(), responder=ScriptedResponder([REPLY]),
                         options=ServerOptions(first_audio_latency_ms=250.0, chunk_ms=100,
                                               generation_speed=4.0))


async def _events(client: MemoryTransport, until: str) -> list[tuple[float, dict[str, Any]]]:
    """``(arrival time, event)`` up to and including the first of type ``until``."""
    seen: list[tuple[float, dict[str, Any]]] = []
    while not seen or seen[-1][1]["type"] != until:
        event = json.loads(await client.receive())
        seen.append((anyio.current_time(), event))
    return seen


async def test_audio_is_sent_as_each_chunk_falls_due_on_the_loops_clock() -> None:
    """Every delta leaves at its playout time (250 ms after the request arrived, then one
    100 ms chunk per 25 ms at 4x), read from the event loop's clock, so the timeline is exact
    in virtual time."""
    client, end = memory_transport_pair()
    session = _session()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_session, session, end)
        (_, created), = await _events(client, "session.created")
        await anyio.sleep(1.0)  # the response starts when its request arrives, not before
        start = anyio.current_time()
        await client.send(json.dumps({"type": "response.create"}))
        seen = await _events(client, "response.done")
        await client.aclose()
    await end.aclose()
    deltas = [at - start for at, e in seen if e["type"] == "response.output_audio.delta"]
    assert len(deltas) > 10
    assert deltas == pytest.approx([0.25 + k * 0.025 for k in range(len(deltas))], abs=1e-9)
    assert created["session"]["id"] == session.id
    assert seen[-1][1]["response"]["status"] == "completed"
    assert session.closed  # the peer hung up: serving ended and closed the session


async def test_a_frame_arriving_between_deadlines_is_handled_when_it_arrives() -> None:
    """A cancel sent 0.3 s in is stamped 0.3 s: the response ends then, with no audio after."""
    client, end = memory_transport_pair()
    session = _session()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_session, session, end)
        await _events(client, "session.created")
        start = anyio.current_time()
        await client.send(json.dumps({"type": "response.create"}))
        await anyio.sleep(0.3)
        await client.send(json.dumps({"type": "response.cancel"}))
        seen = await _events(client, "response.done")
        await client.aclose()
    await end.aclose()
    at, done = seen[-1]
    assert done["response"]["status"] == "cancelled"
    assert at - start == pytest.approx(0.3, abs=1e-9)
    deltas = [t - start for t, e in seen if e["type"] == "response.output_audio.delta"]
    assert max(deltas) <= 0.3
    assert session.stats.responses_cancelled == 1


async def test_serving_ends_when_the_owner_closes_the_servers_end() -> None:
    client, end = memory_transport_pair()
    session = _session()
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_session, session, end)
        await _events(client, "session.created")
        await end.aclose()
    assert session.closed
    await client.aclose()
