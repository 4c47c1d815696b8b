"""The relay's fakes: a relay session serving an in-memory client (in virtual time), a policy
that refuses what it is told to, and an authenticator in front of a real relay."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from realtalk import providers
from realtalk.relay import (
    IdRegistry,
    RelayMetrics,
    RelayOptions,
    RelayServer,
    RelaySession,
    SessionClaims,
)
from realtalk.server import ScriptedResponder, ServerOptions
from realtalk.testing import (
    InProcessServer,
    MemoryClientConnection,
    RecordingAuthenticator,
    ScriptedPolicy,
)

pytestmark = pytest.mark.anyio


async def _next(client: MemoryClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await client.next_message())
    return event


async def test_a_relay_session_serves_an_in_memory_client() -> None:
    """The client's frames pass the scripted policy (a refused one is answered with an
    error event), reach the server, and its reply comes back; when the client hangs up, the
    session ends and closes the upstream connection."""
    client = MemoryClientConnection()
    policy = ScriptedPolicy(refuse=["conversation.item.delete"])
    upstream = InProcessServer(options=ServerOptions(first_audio_latency_ms=20.0),
                               responder_factory=lambda: ScriptedResponder(["Hello there."]))
    session = RelaySession(claims=SessionClaims(session_id="rs_test"), client=client,
                           provider=upstream, options=RelayOptions(policy=policy),
                           metrics=RelayMetrics(), registry=IdRegistry())
    async with anyio.create_task_group() as tg:
        tg.start_soon(session.run)
        with anyio.fail_after(30):
            assert (await _next(client))["type"] == "session.created"
            client.deliver(json.dumps({"type": "conversation.item.delete", "item_id": "x",
                                       "event_id": "ev1"}))
            error = await _next(client)
            client.deliver(json.dumps({"type": "response.create"}))
            types: list[str] = []
            while not types or types[-1] != "response.done":
                types.append((await _next(client))["type"])
            client.hang_up()
    (server,) = upstream.sessions
    assert error["type"] == "error"
    assert error["error"]["code"] == "event_not_allowed"
    assert error["error"]["event_id"] == "ev1"
    assert "response.output_audio.delta" in types
    assert [f.type for f in policy.checked] == ["conversation.item.delete", "response.create"]
    assert [f.type for f in policy.refused] == ["conversation.item.delete"]
    assert server.stats.events_received == {"response.create": 1}
    assert server.closed
    assert json.loads(client.sent[0])["type"] == "session.created"


async def test_the_connection_closes_like_a_websocket() -> None:
    client = MemoryClientConnection()
    await client.send("one")
    await client.close(1008, "too many policy violations")
    await client.close(1000)  # the first close stays
    assert (client.close_code, client.close_reason) == (1008, "too many policy violations")
    assert client.closed_by_relay
    assert await client.next_message() == "one"
    with pytest.raises(anyio.EndOfStream):
        await client.next_message()
    with pytest.raises(Exception, match="1008") as info:
        await client.recv()
    assert type(info.value).__name__ == "ConnectionClosedError"
    hung_up = MemoryClientConnection()
    hung_up.hang_up()
    with pytest.raises(ConnectionClosedOK):
        await hung_up.send("late")
    with pytest.raises(ConnectionClosedOK):
        hung_up.deliver("late")


# A real relay on loopback: real sockets, so the real clock.
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_authenticator_admits_or_refuses_real_clients() -> None:
    auth = RecordingAuthenticator(SessionClaims(session_id="rs_fixed", subject="ann"))
    refusing = RecordingAuthenticator(refuse=403)
    upstream = providers.local()
    options = RelayOptions(loop_lag_interval=None)
    async with RelayServer(upstream, auth, options=options) as relay:
        with anyio.fail_after(10):
            async with connect(relay.url + "?session_id=rs_fixed",
                               additional_headers={"Authorization": "Bearer t0ken"}) as ws:
                created = json.loads(await ws.recv())
    async with RelayServer(upstream, refusing, options=options) as relay:
        with anyio.fail_after(10), pytest.raises(InvalidStatus, match="403"):
            async with connect(relay.url):
                pass
    assert created["type"] == "session.created"
    (request,) = auth.requests
    assert request.credential == "t0ken"
    assert request.requested_session_id == "rs_fixed"
    assert len(refusing.requests) == 1
    assert (await RecordingAuthenticator().authenticate(request)).session_id == "rs_fixed"
