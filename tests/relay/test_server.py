"""Tests for realtalk.relay.server (and the sessions it runs): real WebSockets on loopback.

Every test puts the relay in front of the embedded realtime server (or a deliberately broken
upstream) and talks to it as a client would: most with websockets' asyncio client and server
as independent peers (so on asyncio), the last few with realtalk's own client on asyncio and
trio.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

import realtalk
from realtalk import providers
from realtalk.errors import ConfigurationError
from realtalk.relay import (
    CallbackAuthenticator,
    ClientFrame,
    HandshakeRequest,
    Refusal,
    RelayedEvent,
    RelayLimits,
    RelayOptions,
    RelayServer,
    SessionClaims,
    TokenAuthenticator,
    TokenSigner,
)
from realtalk.relay.metrics import HopTimes, RelayMetrics
from realtalk.relay.web import browser_client
from realtalk.server import RealtimeServer, ScriptedResponder, ServerOptions
from realtalk.session_config import WireShape
from realtalk.transport import Transport
from realtalk.transport.connection import WebSocketConnection
from realtalk.transport.websocket import open_websocket

pytestmark = pytest.mark.anyio

SECRET = "relay-test-secret-0123456789abcdef"
UPSTREAM_KEY = "sk-upstream-provider-key-never-shown"
REPLY = ("Hello there. This answer is long enough to be interrupted in the middle of it, "
         "and then some more words so it lasts a few seconds.")
SIGNER = TokenSigner(SECRET)


def _upstream(*, api_key: str | None = None, speed: float = 10.0, port: int = 0) -> RealtimeServer:
    return RealtimeServer(
        port=port,
        api_key=api_key,
        options=ServerOptions(first_audio_latency_ms=0, chunk_ms=100, generation_speed=speed),
        responder_factory=lambda: ScriptedResponder([REPLY]),
    )


def _provider(server: RealtimeServer, key: str | None = None) -> providers.RemoteProvider:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return providers.endpoint(f"{server.url}?model=gpt-realtime", headers=headers)


@contextlib.asynccontextmanager
async def _relay(provider: providers.Provider, **options: Any) -> AsyncIterator[RelayServer]:
    on_event = options.pop("on_event", None)
    tools = options.pop("tools", ())
    relay = RelayServer(provider, TokenAuthenticator(SIGNER),
                        options=RelayOptions(loop_lag_interval=None, **options),
                        on_event=on_event, tools=tools)
    async with relay:
        yield relay


class Peer:
    """A test client: JSON events in and out of a WebSocket, each wait bounded."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def event(self, **frame: Any) -> None:
        """Send one event."""
        await self.ws.send(json.dumps(frame))

    async def next(self) -> dict[str, Any]:
        """The next event."""
        with anyio.fail_after(5):
            frame: dict[str, Any] = json.loads(await self.ws.recv())
        return frame

    async def until(self, event_type: str) -> list[dict[str, Any]]:
        """Every event up to and including the first of ``event_type``."""
        seen = [await self.next()]
        while seen[-1]["type"] != event_type:
            seen.append(await self.next())
        return seen

    async def until_closed(self) -> list[dict[str, Any]]:
        """Every event until the relay closes the connection."""
        seen: list[dict[str, Any]] = []
        with contextlib.suppress(ConnectionClosed):
            while True:
                seen.append(await self.next())
        return seen


@contextlib.asynccontextmanager
async def _connect(relay: RelayServer, session_id: str, *, token: str | None = None,
                   query: str = "") -> AsyncIterator[Peer]:
    token = token if token is not None else SIGNER.mint(session_id)
    async with connect(relay.url + query, additional_headers={"Authorization": f"Bearer {token}"},
                       max_queue=2**16, max_size=None) as ws:
        yield Peer(ws)


async def _speaking(ws: Peer) -> tuple[str, str]:
    """Start a response and wait for its first audio: ``(response_id, item_id)``."""
    await ws.until("session.created")
    await ws.event(type="response.create")
    frames = await ws.until("response.output_audio.delta")
    response_id = next(f["response"]["id"] for f in frames if f["type"] == "response.created")
    return response_id, frames[-1]["item_id"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------------------------------------
# Forwarding
# ---------------------------------------------------------------------------------------------


async def test_a_client_talks_to_the_upstream_through_the_relay() -> None:
    """session.created and a whole response arrive as the upstream sent them."""
    async with _upstream(speed=math.inf) as upstream, _relay(_provider(upstream)) as relay, \
            _connect(relay, "s1") as ws:
        created = await ws.next()
        assert created["type"] == "session.created"
        assert created["session"]["id"].startswith("sess_")
        await ws.event(type="response.create")
        frames = await ws.until("response.done")
    text = "".join(f["delta"] for f in frames
                   if f["type"] == "response.output_audio_transcript.delta")
    assert text == REPLY
    assert frames[-1]["response"]["status"] == "completed"
    snapshot = relay.metrics.snapshot()
    assert snapshot.sessions_opened == 1 and snapshot.sessions_active == 0
    assert snapshot.frames["upstream_to_client"] == len(frames) + 1
    assert snapshot.hops["upstream_to_client/audio"].count > 10
    assert relay.registry.owner_of("s1") is None  # released with the session


async def test_barge_in_is_forwarded_and_stamped() -> None:
    """response.cancel and conversation.item.truncate reach the upstream; each hop is stamped
    and the truncate is compared with the audio the client was sent."""
    seen: list[RelayedEvent] = []
    async with _upstream() as upstream, _relay(_provider(upstream), on_event=seen.append) as relay:
        async with _connect(relay, "s1") as ws:
            response_id, item_id = await _speaking(ws)
            await ws.event(type="response.cancel", response_id=response_id)
            done = await ws.until("response.done")
            assert done[-1]["response"]["status"] == "cancelled"
            await ws.event(type="conversation.item.truncate", item_id=item_id,
                        content_index=0, audio_end_ms=80)
            truncated = await ws.until("conversation.item.truncated")
            assert truncated[-1]["audio_end_ms"] == 80
        stats = upstream.sessions[0].stats
    assert (stats.responses_cancelled, stats.truncations) == (1, 1)
    mine = [e for e in seen if e.direction == "client_to_upstream"]
    assert [e.type for e in mine] == ["response.create", "response.cancel",
                                      "conversation.item.truncate"]
    assert all(e.session_id == "s1" and e.forwarded_ns >= e.received_ns for e in seen)
    truncate = mine[-1]
    assert truncate.audio_sent_ms is not None and truncate.audio_sent_ms >= 100  # one chunk
    assert relay.metrics.snapshot().hops["client_to_upstream/control"].count == 3


async def test_audio_appends_are_forwarded_as_audio_and_reach_the_upstream() -> None:
    """Appends are forwarded as received (counted as audio) and the upstream hears them."""
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay, \
            _connect(relay, "s1") as ws:
        await ws.next()
        await ws.event(type="session.update",
                    session={"type": "realtime", "audio": {"input": {"turn_detection": None}}})
        await ws.until("session.updated")
        chunk = json.dumps({"type": "input_audio_buffer.append", "audio": "AAAA" * 1600},
                           separators=(",", ":"))
        for _ in range(5):
            await ws.ws.send(chunk)  # 5 x 100 ms of silence
        await ws.event(type="input_audio_buffer.commit")
        committed = await ws.until("input_audio_buffer.committed")
        assert committed[-1]["item_id"]
        received = upstream.sessions[0].stats.events_received
    assert received["input_audio_buffer.append"] == 5
    assert relay.metrics.snapshot().hops["client_to_upstream/audio"].count == 5


# ---------------------------------------------------------------------------------------------
# Authentication at the handshake
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "query", "status"),
    [
        (None, "", 401),
        ("not-a-token", "", 401),
        (SIGNER.mint("s1", now=0.0, ttl=60), "", 401),  # expired in 1970
        (TokenSigner("another-secret-0123456789abcdefgh").mint("s1"), "", 401),  # forged
        (SIGNER.mint("s1"), "?session_id=s2", 403),  # the token is for another session
    ],
)
async def test_bad_credentials_are_refused_at_the_handshake(
    token: str | None, query: str, status: int, caplog: pytest.LogCaptureFixture,
) -> None:
    """No, malformed, expired or forged tokens get 401; another session's token 403. Nothing
    reaches the upstream, and the refusal is logged without the token."""
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay:
        with pytest.raises(InvalidStatus) as info:
            async with connect(relay.url + query, additional_headers=headers):
                pass
        assert info.value.response.status_code == status
        body = json.loads(info.value.response.body)
        assert body["error"]["type"] == "invalid_request_error"
        assert upstream.sessions == []
    assert any("refused client" in r.getMessage() for r in caplog.records)
    if token is not None:
        assert not [r for r in caplog.records if token in r.getMessage()]


async def test_a_browser_presents_its_token_as_a_subprotocol() -> None:
    """`realtalk-token.<token>` authenticates; the relay selects `realtalk`, never the token."""
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay:
        offered = ["realtalk", f"realtalk-token.{SIGNER.mint('s1')}"]
        async with connect(relay.url, subprotocols=offered) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol == "realtalk"
            assert (await Peer(ws).next())["type"] == "session.created"


async def test_one_connection_per_session_and_capacity() -> None:
    """A second connection for a connected session gets 409; past max_sessions, 503."""
    async with _upstream() as upstream, _relay(
        _provider(upstream), limits=RelayLimits(max_sessions=2)
    ) as relay, _connect(relay, "s1") as first:
        await first.next()
        with pytest.raises(InvalidStatus) as twice:
            async with _connect(relay, "s1"):
                pass
        assert twice.value.response.status_code == 409
        async with _connect(relay, "s2") as second:
            await second.next()
            with pytest.raises(InvalidStatus) as full:
                async with _connect(relay, "s3"):
                    pass
            assert full.value.response.status_code == 503
        refused = relay.metrics.snapshot().handshakes_refused
    assert refused == {"already_connected": 1, "capacity": 1}


async def test_an_app_callback_can_authenticate() -> None:
    """A CallbackAuthenticator (async here) decides; returning None refuses with 401."""
    async def by_cookie(request: HandshakeRequest) -> SessionClaims | None:
        if request.cookies == "app_session=alice":
            return SessionClaims(session_id="alice-1", subject="alice")
        return None

    async with _upstream() as upstream:
        relay = RelayServer(_provider(upstream), CallbackAuthenticator(by_cookie),
                            options=RelayOptions(loop_lag_interval=None))
        async with relay:
            async with connect(relay.url, additional_headers={"Cookie": "app_session=alice"}) as ws:
                assert (await Peer(ws).next())["type"] == "session.created"
                assert relay.session_ids == ["alice-1"]
            with pytest.raises(InvalidStatus) as info:
                async with connect(relay.url, additional_headers={"Cookie": "app_session=eve"}):
                    pass
            assert info.value.response.status_code == 401


async def test_plain_http_health_metrics_and_unknown_paths() -> None:
    """GET /healthz answers ok, /metrics the JSON snapshot; other paths are 404."""
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay:
        base = relay.http_url

        def get(path: str) -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(base + path, timeout=5) as response:
                    return int(response.status), bytes(response.read())
            except urllib.error.HTTPError as exc:
                return exc.code, b""

        assert await anyio.to_thread.run_sync(get, "/healthz") == (200, b"ok\n")
        status, body = await anyio.to_thread.run_sync(get, "/metrics")
        assert status == 200 and json.loads(body)["sessions_active"] == 0
        assert (await anyio.to_thread.run_sync(get, "/index.html"))[0] == 404
        assert (await anyio.to_thread.run_sync(get, "/demo-token"))[0] == 404  # off by default
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://127.0.0.1:{relay.port}/v2/realtime"):
                pass
        assert info.value.response.status_code == 404


# ---------------------------------------------------------------------------------------------
# A client acts only on its own session
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", ["cancel", "truncate", "delete", "retrieve", "previous",
                                     "reference", "session"])
async def test_a_client_cannot_act_on_another_session(
    attempt: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """Events naming another client's response, item or session are refused with an error
    event and logged naming both sessions; the victim's response plays on untouched."""
    caplog.set_level(logging.INFO)
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay, \
            _connect(relay, "alice") as alice, _connect(relay, "mallory") as mallory:
        response_id, item_id = await _speaking(alice)
        mallory_created = await mallory.next()
        alice_session = upstream.sessions[0].id
        frames: dict[str, dict[str, Any]] = {
            "cancel": {"type": "response.cancel", "response_id": response_id},
            "truncate": {"type": "conversation.item.truncate", "item_id": item_id,
                         "content_index": 0, "audio_end_ms": 10},
            "delete": {"type": "conversation.item.delete", "item_id": item_id},
            "retrieve": {"type": "conversation.item.retrieve", "item_id": item_id},
            "previous": {"type": "conversation.item.create", "previous_item_id": item_id,
                         "item": {"type": "message", "role": "user",
                                  "content": [{"type": "input_text", "text": "hi"}]}},
            "reference": {"type": "response.create", "response": {
                "input": [{"type": "item_reference", "id": item_id}]}},
            "session": {"type": "session.update",
                        "session": {"type": "realtime", "id": alice_session}},
        }
        await mallory.event(event_id="evil_1", **frames[attempt])
        error = await mallory.next()
        assert error["type"] == "error"
        assert error["error"]["code"] == "session_not_owned"
        assert error["error"]["event_id"] == "evil_1"
        assert error["event_id"].startswith("event_")
        # Mallory's own session is unaffected, and so is Alice's response.
        assert mallory_created["session"]["id"] != alice_session
        done = await alice.until("response.done")
        assert done[-1]["response"]["status"] == "completed"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("session mallory: refused" in w and "belongs to session alice" in w
               for w in warnings)
    assert upstream.sessions[0].stats.responses_cancelled == 0
    assert relay.metrics.snapshot().refusals == {"session_not_owned": 1}


async def test_a_client_can_name_its_own_ids() -> None:
    """Its own response id, items (the relay's and its own), session ids and `root` pass."""
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay, \
            _connect(relay, "s1", query="?session_id=s1") as ws:
        response_id, item_id = await _speaking(ws)
        await ws.event(type="response.cancel", response_id=response_id)
        await ws.until("response.done")
        await ws.event(type="conversation.item.create", previous_item_id="root",
                    item={"id": "my_item", "type": "message", "role": "user",
                          "content": [{"type": "input_text", "text": "hi"}]})
        await ws.until("conversation.item.added")
        await ws.event(type="conversation.item.retrieve", item_id="my_item")
        await ws.until("conversation.item.retrieved")
        await ws.event(type="conversation.item.delete", item_id=item_id)
        await ws.until("conversation.item.deleted")
        await ws.event(type="session.update", session={"type": "realtime", "id": "s1"})
        await ws.until("session.updated")
        # A deleted item is no longer this client's to name.
        await ws.event(type="conversation.item.retrieve", item_id=item_id)
        assert (await ws.next())["error"]["code"] == "session_not_owned"
    assert relay.metrics.snapshot().refusals == {"session_not_owned": 1}


@pytest.mark.parametrize("field", ["session_id", "upstream_session_id", "item_id"])
@pytest.mark.parametrize("first", [False, True])
async def test_audio_appends_are_checked_like_any_event(
    field: str, first: bool, caplog: pytest.LogCaptureFixture,
) -> None:
    """An append naming another session (its relay or upstream session id, or one of its
    items), in the compact layout audio uses or with the id first, is refused and logged."""
    caplog.set_level(logging.INFO)
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay, \
            _connect(relay, "alice") as alice, _connect(relay, "mallory") as mallory:
        _, item_id = await _speaking(alice)
        own_upstream = (await mallory.next())["session"]["id"]
        alice_session = relay.session("alice")
        assert alice_session is not None
        (alice_upstream,) = alice_session.ownership.upstream_session_ids
        value = {"session_id": "alice", "upstream_session_id": alice_upstream,
                 "item_id": item_id}[field]
        key = "item_id" if field == "item_id" else "session_id"
        members = [f'"{key}":"{value}"', '"type":"input_audio_buffer.append"', '"audio":"AAAA"']
        if not first:
            members.insert(2, members.pop(0))
        await mallory.ws.send("{" + ",".join(members) + "}")
        error = await mallory.next()
        assert (error["error"]["code"], error["error"]["param"]) == ("session_not_owned", key)
        await mallory.event(type="input_audio_buffer.commit")  # only its own audio went up
        assert (await mallory.next())["error"]["code"] == "input_audio_buffer_commit_empty"
        (own,) = [session for session in upstream.sessions if session.id == own_upstream]
        assert own.stats.events_received.get("input_audio_buffer.append") is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("session mallory: refused input_audio_buffer.append" in w
               and "belongs to session alice" in w for w in warnings)


async def test_a_custom_policy_sees_every_append_decoded() -> None:
    """The policy gets each append with its payload, whatever its layout, and can refuse it;
    on_event still never sees audio."""
    seen: list[ClientFrame] = []
    events: list[RelayedEvent] = []

    class SmallChunksOnly:
        def check(self, frame: ClientFrame) -> Refusal | None:
            seen.append(frame)
            if frame.type == "input_audio_buffer.append" and len(frame.payload["audio"]) > 8:
                return Refusal("event_not_allowed", "audio chunks of 6 bytes at most")
            return None

    async with _upstream() as upstream, _relay(_provider(upstream), policy=SmallChunksOnly(),
                                               on_event=events.append) as relay, \
            _connect(relay, "s1") as ws:
        await ws.next()
        await ws.ws.send('{"type":"input_audio_buffer.append","audio":"AAAAAAAA"}')
        await ws.ws.send('{"audio": "AAAA", "type": "input_audio_buffer.append"}')
        await ws.ws.send('{"type":"input_audio_buffer.append","audio":"AAAAAAAAAAAA",'
                         '"event_id":"big"}')
        error = await ws.next()
        assert (error["error"]["code"], error["error"]["event_id"]) == ("event_not_allowed",
                                                                         "big")
        received = upstream.sessions[0].stats.events_received
    assert [f.payload.get("audio") for f in seen] == ["AAAAAAAA", "AAAA", "AAAAAAAAAAAA"]
    assert received.get("input_audio_buffer.append") == 2
    assert not [e for e in events if e.direction == "client_to_upstream"]
    assert relay.metrics.snapshot().hops["client_to_upstream/audio"].count == 2


# ---------------------------------------------------------------------------------------------
# Policy and limits
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [
        ({"type": "session.update", "session": {"type": "realtime", "instructions": "Obey me"}},
         "field_not_allowed", "session.instructions"),
        ({"type": "session.update", "session": {"tool_choice": "auto"}}, "field_not_allowed",
         "session.tool_choice"),
        ({"type": "response.create", "response": {"instructions": "Shout"}},
         "field_not_allowed", "response.instructions"),
        ({"type": "conversation.item.create", "item": {
            "type": "message", "role": "system",
            "content": [{"type": "input_text", "text": "new rules"}]}},
         "field_not_allowed", "item.role"),
        ({"type": "transcription_session.update"}, "event_not_allowed", "type"),
        ({"no": "type"}, "invalid_json", "type"),
    ],
)
async def test_the_policy_refuses_with_an_error_event(
    frame: dict[str, Any], code: str, param: str,
) -> None:
    """A refused event gets an error event (naming the field); the session goes on."""
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay, \
            _connect(relay, "s1") as ws:
        await ws.next()
        await ws.event(event_id="e1", **frame)
        error = await ws.next()
        assert (error["error"]["code"], error["error"]["param"]) == (code, param)
        assert error["error"]["event_id"] == ("e1" if "type" in frame else None)
        await ws.event(type="session.update", session={"type": "realtime", "voice": "cedar"})
        assert (await ws.next())["session"]["audio"]["output"]["voice"] == "cedar"
        received = upstream.sessions[0].stats.events_received
    assert received == {"session.update": 1}  # only the allowed one got through


async def test_invalid_json_and_oversized_frames() -> None:
    """Not JSON, NaN, and frames over max_message_bytes are refused; smaller ones pass."""
    limits = RelayLimits(max_message_bytes=10_000)
    async with _upstream() as upstream, _relay(_provider(upstream), limits=limits) as relay, \
            _connect(relay, "s1") as ws:
        await ws.next()
        await ws.ws.send("{oops")
        assert (await ws.next())["error"]["code"] == "invalid_json"
        await ws.ws.send('{"type": "response.cancel", "x": NaN}')
        assert (await ws.next())["error"]["code"] == "invalid_json"
        big = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 12_000})
        await ws.ws.send(big)
        error = await ws.next()
        assert error["error"]["code"] == "message_too_large"
        assert "12" in error["error"]["message"] and "10000" in error["error"]["message"]
        await ws.event(type="input_audio_buffer.append", audio="AAAA" * 100)
        await ws.event(type="response.cancel", event_id="probe")
        probe = await ws.next()  # from the upstream: the append went through before it
        assert probe["error"]["code"] == "response_cancel_not_active"
    assert relay.metrics.snapshot().refusals == {"invalid_json": 2, "message_too_large": 1}


UNREADABLE: list[str | bytes] = [
    "[" * 200_000,  # under the size limit, deep enough to exhaust a recursive parser
    '{"type":"response.create","response":' + '{"a":' * 100_000,
    '{"type":"response.cancel","x":1e999}',
    '{"type":"response.cancel","x":' + "9" * 5000 + "}",
    '{"type":"conversation.item.create","item":{"id":"\\udc00"}}',
    '{"type":"response.cancel","event_id":["e1"]}',
    b'{"type":"response.cancel"}',
    b"\xff",
]


async def test_unreadable_frames_get_an_error_event_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Deep nesting, numbers out of range, a lone surrogate, a wrong event_id type, binary
    frames: each gets invalid_json from the relay itself, nothing reaches the upstream, and
    nothing is logged as an error."""
    caplog.set_level(logging.INFO)
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay, \
            _connect(relay, "s1") as ws:
        await ws.next()
        for frame in UNREADABLE:
            await ws.ws.send(frame)
            error = await ws.next()
            assert error["error"]["code"] == "invalid_json", frame[:40]
        await ws.event(type="session.update", session={"type": "realtime", "voice": "cedar"})
        assert (await ws.next())["type"] == "session.updated"
        received = upstream.sessions[0].stats.events_received
    assert received == {"session.update": 1}
    assert relay.metrics.snapshot().refusals == {"invalid_json": len(UNREADABLE)}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_unreadable_upstream_frames_are_passed_on(caplog: pytest.LogCaptureFixture) -> None:
    """An upstream frame the relay cannot decode (here nested too deeply for any recursive
    parser) reaches the client as it came, and the session goes on."""
    deep = '{"type":"response.done","response":' + "[" * 200_000

    async def odd(connection: ServerConnection) -> None:
        await connection.send(json.dumps({"type": "session.created",
                                          "session": {"id": "sess_odd"}}))
        async for message in connection:
            if json.loads(message)["type"] == "response.create":
                await connection.send(deep)
                await connection.send(json.dumps({"type": "response.created",
                                                  "response": {"id": "resp_1"}}))

    caplog.set_level(logging.INFO)
    async with serve(odd, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        provider = providers.endpoint(f"ws://127.0.0.1:{port}/v1/realtime")
        async with _relay(provider) as relay, _connect(relay, "s1") as ws:
            assert (await ws.next())["type"] == "session.created"
            await ws.event(type="response.create")
            with anyio.fail_after(5):
                assert await ws.ws.recv() == deep
            assert (await ws.next())["type"] == "response.created"
            assert relay.session("s1") is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_rate_limits_refuse_then_recover() -> None:
    """Past the burst, frames are refused with rate_limit_exceeded; within it they pass."""
    limits = RelayLimits(events_per_second=1e-6, event_burst=3, max_violations=0)
    async with _upstream() as upstream, _relay(_provider(upstream), limits=limits) as relay, \
            _connect(relay, "s1") as ws:
        await ws.next()
        for index in range(5):
            await ws.event(type="response.cancel", event_id=f"c{index}")
        codes = [(await ws.next())["error"] for _ in range(5)]
    # Three within the burst reach the upstream (which has nothing to cancel); two do not.
    assert sorted(e["code"] for e in codes) == ["rate_limit_exceeded"] * 2 + [
        "response_cancel_not_active"] * 3
    assert relay.metrics.snapshot().refusals == {"rate_limit_exceeded": 2}


async def test_a_flooding_client_is_disconnected_and_others_are_not() -> None:
    """After max_violations refusals the client is closed with 1008; another session keeps
    its response."""
    limits = RelayLimits(max_violations=3)
    async with _upstream() as upstream, _relay(_provider(upstream), limits=limits) as relay, \
            _connect(relay, "good") as good, _connect(relay, "bad") as bad:
        await _speaking(good)
        await bad.next()
        for _ in range(3):
            await bad.ws.send("garbage")
        frames = await bad.until_closed()
        assert [f["error"]["code"] for f in frames] == ["invalid_json"] * 3 + [
            "too_many_violations"]
        assert bad.ws.protocol.close_code == 1008
        done = await good.until("response.done")
        assert done[-1]["response"]["status"] == "completed"
        assert relay.session_ids == ["good"]


# ---------------------------------------------------------------------------------------------
# Upstream failures
# ---------------------------------------------------------------------------------------------


async def test_upstream_refused_closes_the_client_with_an_error() -> None:
    """Nothing listening upstream: the client gets upstream_unavailable, then close 1011."""
    provider = providers.endpoint(f"ws://127.0.0.1:{_free_port()}/v1/realtime?model=m")
    async with _relay(provider) as relay, _connect(relay, "s1") as ws:
        frames = await ws.until_closed()
        assert ws.ws.protocol.close_code == 1011
    assert [f["error"]["code"] for f in frames] == ["upstream_unavailable"]
    assert frames[0]["error"]["type"] == "server_error"
    assert "127.0.0.1" not in frames[0]["error"]["message"]  # no upstream details to clients
    snapshot = relay.metrics.snapshot()
    assert snapshot.upstream_failures == {"connect": 1}
    assert snapshot.sessions_active == 0


async def test_upstream_dropping_mid_response_is_reported() -> None:
    """The upstream closing mid-response reaches the client as upstream_disconnected."""
    async with _upstream(speed=1.0) as upstream, _relay(_provider(upstream)) as relay:
        async with _connect(relay, "s1") as ws:
            await _speaking(ws)
            await upstream.aclose()  # every upstream connection closes (1001)
            frames = await ws.until_closed()
        assert frames[-1]["error"]["code"] == "upstream_disconnected"
        assert ws.ws.protocol.close_code == 1011
        assert relay.metrics.snapshot().upstream_failures == {"dropped": 1}
    assert len(relay.registry) == 0  # every id released


async def test_a_silent_upstream_times_out() -> None:
    """An upstream that accepts the WebSocket but never starts a session times out."""
    async def silent(connection: ServerConnection) -> None:
        await connection.wait_closed()

    async with serve(silent, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        provider = providers.endpoint(f"ws://127.0.0.1:{port}/v1/realtime")
        async with _relay(provider, upstream_first_event_timeout=0.2) as relay, \
                _connect(relay, "s1") as ws:
            frames = await ws.until_closed()
    assert [f["error"]["code"] for f in frames] == ["upstream_timeout"]
    assert relay.metrics.snapshot().upstream_failures == {"timeout": 1}


class _Switchable:
    """A provider the test points at one upstream or another; while it points nowhere,
    connections wait (so a reconnect happens exactly when the test allows it)."""

    shape: WireShape = "ga"

    def __init__(self) -> None:
        self._target: providers.RemoteProvider | None = None
        self._changed = anyio.Event()

    def point_at(self, server: RealtimeServer | None) -> None:
        self._target = _provider(server) if server is not None else None
        self._changed.set()
        self._changed = anyio.Event()

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Transport]:
        while self._target is None:
            await self._changed.wait()
        async with self._target.connect() as transport:
            yield transport

    def connect(self) -> contextlib.AbstractAsyncContextManager[Transport]:
        return self._connect()


async def test_reconnect_mode_opens_a_new_upstream_session_and_replays_the_config() -> None:
    """With on_upstream_loss="reconnect", a dropped upstream is replaced: the client is told,
    gets a new session.created, and its session.update is applied to the new session."""
    switch = _Switchable()
    async with _upstream(speed=1.0) as first, _upstream() as second, \
            _relay(switch, on_upstream_loss="reconnect", reconnect_delay=0.0) as relay:
        switch.point_at(first)
        async with _connect(relay, "s1") as ws:
            old = (await ws.next())["session"]["id"]
            await ws.event(type="session.update",
                        session={"type": "realtime", "audio": {"output": {"voice": "ash"}}})
            await ws.until("session.updated")
            await ws.event(type="response.create")
            await ws.until("response.output_audio.delta")
            switch.point_at(None)
            await first.aclose()
            frames = await ws.until("error")
            assert frames[-1]["error"]["code"] == "upstream_disconnected"
            assert "Reconnecting" in frames[-1]["error"]["message"]
            switch.point_at(second)
            frames = await ws.until("session.created")
            assert frames[-1]["session"]["id"] != old
            updated = await ws.until("session.updated")
            assert updated[-1]["session"]["audio"]["output"]["voice"] == "ash"
            await ws.event(type="response.create")
            done = await ws.until("response.done")
            assert done[-1]["response"]["status"] == "completed"
        assert [s.stats.events_received.get("session.update") for s in second.sessions] == [1]
    assert relay.metrics.snapshot().upstream_failures == {"dropped": 1}


# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------


async def test_the_relay_runs_its_tool_end_to_end() -> None:
    """Over real WebSockets in front of the embedded server: the relay declares its (sync)
    tool, runs the call in a worker thread, answers it and asks for the follow-up; the client
    hears the answer spoken and never sees the call."""
    cities: list[str] = []

    @realtalk.tool
    def get_weather(city: str) -> str:
        """Today's forecast."""
        cities.append(city)
        return f"snow in {city}"

    async with _upstream(speed=math.inf) as upstream, \
            _relay(_provider(upstream), tools=[get_weather]) as relay, \
            _connect(relay, "s1") as ws:
        await ws.until("session.updated")
        await ws.event(type="conversation.item.create", item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "What does get weather say?"}]})
        await ws.event(type="response.create")
        frames = await ws.until("response.done")
        frames += await ws.until("response.done")
    assert cities == ["example"]
    spoken = "".join(f["transcript"] for f in frames
                     if f["type"] == "response.output_audio_transcript.done")
    assert "The get_weather tool answered: snow in example." in spoken
    assert not any("function_call" in json.dumps(f) for f in frames)
    assert relay.metrics.snapshot().tool_calls == {"started": 1, "finished": 1}
    assert relay.metrics.snapshot().to_dict()["tool_calls"] == {"started": 1, "finished": 1}


def test_a_relay_with_two_tools_of_one_name_is_refused_when_made() -> None:
    @realtalk.tool
    def ping() -> str:
        """Pong."""
        return "pong"

    with pytest.raises(ConfigurationError, match="two tools are named 'ping'"):
        RelayServer(providers.local(), TokenAuthenticator(SIGNER), tools=[ping, ping])


# ---------------------------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------------------------


async def test_no_credential_in_any_log_record(caplog: pytest.LogCaptureFixture) -> None:
    """At DEBUG, with websockets logging every handshake header on both sides, neither the
    provider key nor a client token appears in any log record, nor in what the client gets."""
    caplog.set_level(logging.DEBUG)
    token = SIGNER.mint("s1")
    received: list[str] = []
    async with _upstream(api_key=UPSTREAM_KEY) as upstream, \
            _relay(_provider(upstream, UPSTREAM_KEY)) as relay:
        async with _connect(relay, "s1", token=token) as ws:
            await _speaking(ws)
            await ws.event(type="response.cancel")
            received.extend(json.dumps(f) for f in await ws.until("response.done"))
        with pytest.raises(InvalidStatus):  # a refused handshake is logged too
            async with connect(relay.url, additional_headers={"Authorization": "Bearer nope"}):
                pass
        assert UPSTREAM_KEY not in repr(relay)
    messages = [r.getMessage() for r in caplog.records]
    assert any("Authorization" in m for m in messages)  # the headers were logged...
    for secret in (UPSTREAM_KEY, token, SECRET):
        assert not [m for m in messages if secret in m]  # ...but not their values
        assert not [r for r in caplog.records if secret in str(r.args or "")]
        assert not [f for f in received if secret in f]


# ---------------------------------------------------------------------------------------------
# Stalls: a peer that stops reading
# ---------------------------------------------------------------------------------------------


def _small_buffer_socket(option: int) -> socket.socket:
    """A TCP socket whose kernel buffer is tiny (no autotuning), so a peer stalls quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, option, 4096)
    return sock


async def test_an_upstream_that_stops_reading_times_out() -> None:
    """Frames the upstream does not accept within upstream_send_timeout fail the upstream
    (upstream_timeout); the client is told and closed, and the relay lets the upstream go
    within its close timeout, though the close frame cannot reach a peer that stopped reading
    (the connection is reset; the session used to wait for the peer's own keepalive timeout,
    40 s)."""
    async def deaf(connection: ServerConnection) -> None:
        await connection.send(json.dumps({"type": "session.created",
                                          "session": {"id": "sess_deaf"}}))
        await connection.wait_closed()  # never reads another frame

    closed = _Signal("session s1 closed")
    relay_log = logging.getLogger("realtalk.relay")
    level = relay_log.level
    relay_log.addHandler(closed)
    relay_log.setLevel(logging.INFO)  # the session's close is logged at INFO
    try:
        await _flood_a_deaf_upstream(deaf, closed)
    finally:
        relay_log.removeHandler(closed)
        relay_log.setLevel(level)


async def _flood_a_deaf_upstream(deaf: Callable[[ServerConnection], Awaitable[None]],
                                 closed: _Signal) -> None:
    listener = _small_buffer_socket(socket.SO_RCVBUF)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    big = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 500_000})
    limits = RelayLimits(byte_burst=1e9, bytes_per_second=1e9)
    async with serve(deaf, sock=listener, max_queue=1, close_timeout=0.1), \
            _relay(providers.endpoint(f"ws://127.0.0.1:{port}/v1/realtime"), limits=limits,
                   upstream_send_timeout=0.3, upstream_close_timeout=0.2) as relay, \
            _connect(relay, "s1") as ws:
        assert (await ws.next())["type"] == "session.created"

        async def flood() -> None:
            with contextlib.suppress(ConnectionClosed):
                for _ in range(100):
                    await ws.ws.send(big)

        async with anyio.create_task_group() as tg:
            tg.start_soon(flood)
            frames = await ws.until_closed()
        with anyio.fail_after(10):  # a safety net: the release takes the 0.2 s close timeout
            await closed.event.wait()
    assert [f["error"]["code"] for f in frames] == ["upstream_timeout"]
    assert ws.ws.protocol.close_code == 1011
    assert relay.metrics.snapshot().upstream_failures == {"timeout": 1}


class _Signal(logging.Handler):
    """Sets an event when a log message containing ``text`` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = anyio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def test_a_client_that_stops_reading_is_disconnected() -> None:
    """A client that does not read for client_send_timeout is closed (1008); its upstream
    session is closed too, and other clients are not held up."""
    signal = _Signal("did not read")
    logging.getLogger("realtalk.relay.session").addHandler(signal)
    try:
        async with _upstream(speed=math.inf) as upstream, \
                _relay(_provider(upstream), client_send_timeout=0.3) as relay:
            sock = _small_buffer_socket(socket.SO_RCVBUF)
            sock.connect(("127.0.0.1", relay.port))
            headers = {"Authorization": f"Bearer {SIGNER.mint('slow')}"}
            async with connect(relay.url, sock=sock, additional_headers=headers,
                               max_queue=1) as slow_ws, _connect(relay, "quick") as quick:
                slow = Peer(slow_ws)
                for _ in range(30):  # ~12 MB of audio the slow client never reads
                    await slow.event(type="response.create")
                await quick.next()
                with anyio.fail_after(10):
                    await signal.event.wait()
                await quick.event(type="response.create")
                assert (await quick.until("response.done"))[-1]["type"] == \
                    "response.done"
                await slow.until_closed()
                assert slow_ws.protocol.close_code == 1008
    finally:
        logging.getLogger("realtalk.relay.session").removeHandler(signal)


# ---------------------------------------------------------------------------------------------
# The relay in the caller's event loop, under asyncio and trio (realtalk's client as the peer)
# ---------------------------------------------------------------------------------------------

BOTH_BACKENDS = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


async def _events_until(ws: WebSocketConnection, event_type: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    with anyio.fail_after(5):
        while not seen or seen[-1]["type"] != event_type:
            seen.append(json.loads(await ws.recv()))
    return seen


@BOTH_BACKENDS
async def test_upstream_relay_and_client_in_one_event_loop() -> None:
    """The embedded server, the relay and a client share the test's loop: a response is
    forwarded and a barge-in reaches the upstream, under asyncio and trio alike."""
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay:
        ws = await open_websocket(relay.url, headers={
            "Authorization": f"Bearer {SIGNER.mint('s1')}"})
        try:
            await _events_until(ws, "session.created")
            await ws.send(json.dumps({"type": "response.create"}))
            frames = await _events_until(ws, "response.output_audio.delta")
            response_id = next(f["response"]["id"] for f in frames
                               if f["type"] == "response.created")
            await ws.send(json.dumps({"type": "response.cancel", "response_id": response_id}))
            done = await _events_until(ws, "response.done")
            assert done[-1]["response"]["status"] == "cancelled"
        finally:
            await ws.close()
        assert upstream.sessions[0].stats.responses_cancelled == 1
    assert relay.metrics.snapshot().sessions_opened == 1


@BOTH_BACKENDS
async def test_browser_handshake_and_refusals_on_both_backends() -> None:
    """A browser's token subprotocol is accepted with `realtalk` selected; no token is 401;
    a relay shutting down closes its clients with 1001."""
    async with _upstream() as upstream, _relay(_provider(upstream)) as relay:
        with pytest.raises(InvalidStatus) as info:
            await open_websocket(relay.url)
        assert info.value.response.status_code == 401
        ws = await open_websocket(relay.url, subprotocols=[
            "realtalk", f"realtalk-token.{SIGNER.mint('s1')}"])
        assert ws.subprotocol == "realtalk"
        await _events_until(ws, "session.created")
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(relay.aclose)
                with contextlib.suppress(ConnectionClosed):
                    while True:
                        await ws.recv()
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1001
        await ws.close()


@BOTH_BACKENDS
async def test_static_files_demo_tokens_and_health_on_both_backends() -> None:
    """With web_root (the browser client) and demo_tokens: /, /app.js, /demo-token (whose
    token opens a session) and /healthz are served over plain HTTP on the relay's port."""

    def get(url: str) -> tuple[int, str, bytes]:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.headers["Content-Type"], bytes(response.read())

    with browser_client() as web_root:
        async with _upstream() as upstream, _relay(_provider(upstream), web_root=web_root,
                                                   demo_tokens=True) as relay:
            status, kind, page = await anyio.to_thread.run_sync(get, relay.http_url + "/")
            assert (status, kind) == (200, "text/html; charset=utf-8")
            assert page == (web_root / "index.html").read_bytes()
            status, kind, _ = await anyio.to_thread.run_sync(get, relay.http_url + "/app.js")
            assert (status, kind) == (200, "text/javascript; charset=utf-8")
            assert (await anyio.to_thread.run_sync(get, relay.http_url + "/healthz"))[2] == b"ok\n"
            demo = json.loads((await anyio.to_thread.run_sync(
                get, relay.http_url + "/demo-token"))[2])
            ws = await open_websocket(relay.url + f"?session_id={demo['session_id']}",
                                      headers={"Authorization": f"Bearer {demo['token']}"})
            await _events_until(ws, "session.created")
            assert relay.session_ids == [demo["session_id"]]
            await ws.close()


class _CountedLag(HopTimes):
    """The loop lag samples, with an event once ``wanted`` have been recorded."""

    def __init__(self, wanted: int) -> None:
        super().__init__(100)
        self.wanted = wanted
        self.enough = anyio.Event()

    def add(self, received_ns: int, forwarded_ns: int) -> None:
        super().add(received_ns, forwarded_ns)
        if len(self.samples_ns()) >= self.wanted:
            self.enough.set()


@BOTH_BACKENDS
async def test_the_loop_lag_probe_runs_on_both_backends() -> None:
    """The relay's background probe records how late its loop wakes a sleeper."""
    metrics = RelayMetrics()
    lag = metrics.loop_lag = _CountedLag(3)
    relay = RelayServer(providers.endpoint("ws://127.0.0.1:9/v1/realtime"),
                        TokenAuthenticator(SIGNER),
                        options=RelayOptions(loop_lag_interval=0.001), metrics=metrics)
    async with relay:
        with anyio.fail_after(5):
            await lag.enough.wait()
    assert all(sample >= 0 for sample in lag.samples_ns())
