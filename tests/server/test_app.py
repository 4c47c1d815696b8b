"""Tests for realtalk.server.app: the real WebSocket server on loopback."""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as sync_connect

from realtalk.errors import LocalProtocolError
from realtalk.server import RealtimeServer, ScriptedResponder, ServerOptions

REPLY = "Hello there. This answer is long enough to be interrupted in the middle of it."
KEY = "sk-local-test-key"

pytestmark = pytest.mark.anyio


def _server(**options: Any) -> RealtimeServer:
    defaults: dict[str, Any] = {"first_audio_latency_ms": 0, "generation_speed": math.inf}
    return RealtimeServer(
        options=ServerOptions(**{**defaults, **options}),
        responder_factory=lambda: ScriptedResponder([REPLY]),
    )


@pytest.fixture
async def server() -> AsyncIterator[RealtimeServer]:
    """A server that sends each response at once."""
    async with _server() as srv:
        yield srv


async def _send(ws: ClientConnection, **frame: Any) -> None:
    await ws.send(json.dumps(frame))


async def _recv(ws: ClientConnection) -> dict[str, Any]:
    with anyio.fail_after(5):
        frame: dict[str, Any] = json.loads(await ws.recv())
    return frame


async def _recv_until(ws: ClientConnection, event_type: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    with anyio.fail_after(5):
        while not frames or frames[-1]["type"] != event_type:
            frames.append(await _recv(ws))
    return frames


async def test_full_response(server: RealtimeServer) -> None:
    """A client gets session.created, then a whole response through response.done."""
    async with connect(server.url + "?model=gpt-realtime", max_size=None) as ws:
        created = await _recv(ws)
        assert created["type"] == "session.created"
        assert created["session"]["model"] == "gpt-realtime"
        await _send(ws, type="conversation.item.create", item={
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]})
        await _send(ws, type="response.create")
        frames = await _recv_until(ws, "response.done")
    types = [f["type"] for f in frames]
    assert types[:2] == ["conversation.item.added", "conversation.item.done"]
    assert types[2] == "response.created"
    audio = b"".join(base64.b64decode(f["delta"]) for f in frames
                     if f["type"] == "response.output_audio.delta")
    assert len(audio) > 48_000  # more than a second of speech
    text = "".join(f["delta"] for f in frames
                   if f["type"] == "response.output_audio_transcript.delta")
    assert text == REPLY
    assert frames[-1]["response"]["status"] == "completed"


async def test_cancel_mid_response_stops_the_deltas() -> None:
    """A cancel after the first delta ends the response; no delta follows its response.done."""
    srv = _server(chunk_ms=100, generation_speed=5.0)
    async with srv, connect(srv.url + "?model=m") as ws:
        await _recv(ws)
        await _send(ws, type="response.create")
        frames = await _recv_until(ws, "response.output_audio.delta")
        await _send(ws, type="response.cancel", event_id="cancel_1")
        frames = await _recv_until(ws, "response.done")
        done = frames[-1]
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {"type": "cancelled",
                                                      "reason": "client_cancelled"}
        # The next frame answers a probe, proving nothing of the response was still queued.
        await _send(ws, type="response.cancel", event_id="probe")
        probe = await _recv(ws)
        assert probe["type"] == "error"
        assert probe["error"]["code"] == "response_cancel_not_active"
        assert probe["error"]["event_id"] == "probe"
        assert srv.sessions[0].stats.responses_cancelled == 1


async def test_truncate_over_the_wire() -> None:
    """Truncating a cancelled item is confirmed; truncating past its audio is an error event."""
    srv = _server(chunk_ms=100, generation_speed=5.0)
    async with srv, connect(srv.url + "?model=m") as ws:
        await _recv(ws)
        await _send(ws, type="response.create")
        frames = await _recv_until(ws, "response.output_audio.delta")
        item_id = next(f["item"]["id"] for f in frames if f["type"] == "conversation.item.added")
        await _send(ws, type="response.cancel")
        await _recv_until(ws, "response.done")
        await _send(ws, type="conversation.item.truncate", item_id=item_id, content_index=0,
                    audio_end_ms=50)
        truncated = await _recv(ws)
        assert truncated == {**truncated, "type": "conversation.item.truncated",
                             "item_id": item_id, "audio_end_ms": 50}
        await _send(ws, type="conversation.item.truncate", item_id=item_id, audio_end_ms=60_000,
                    event_id="too_long")
        error = await _recv(ws)
        assert error["error"]["code"] == "invalid_value"
        assert error["error"]["message"] == "Audio content of 50ms is already shorter than 60000ms"
        assert error["error"]["event_id"] == "too_long"


async def test_bad_frames_are_error_events_and_the_connection_survives(
    server: RealtimeServer,
) -> None:
    """Invalid JSON and unknown types get error events; the session keeps working."""
    async with connect(server.url + "?model=m") as ws:
        await _recv(ws)
        await ws.send("{oops")
        assert (await _recv(ws))["error"]["code"] == "invalid_json"
        await _send(ws, type="no.such.event", event_id="e1")
        error = await _recv(ws)
        assert (error["error"]["code"], error["error"]["param"], error["error"]["event_id"]) == (
            "invalid_value", "type", "e1")
        await _send(ws, type="response.create")
        assert (await _recv_until(ws, "response.done"))[-1]["response"]["status"] == "completed"


async def test_frames_over_one_mebibyte_are_accepted(server: RealtimeServer) -> None:
    """A 2 MiB audio append (base64 ~2.7 MB) is accepted and committed."""
    async with connect(server.url + "?model=m", max_size=None) as ws:
        await _recv(ws)
        await _send(ws, type="session.update", session={
            "type": "realtime", "audio": {"input": {"turn_detection": None}}})
        assert (await _recv(ws))["type"] == "session.updated"
        pcm = bytes(2 * 1024 * 1024)
        await _send(ws, type="input_audio_buffer.append", audio=base64.b64encode(pcm).decode())
        await _send(ws, type="input_audio_buffer.commit")
        committed = await _recv(ws)
        assert committed["type"] == "input_audio_buffer.committed"
        frames = await _recv_until(ws, "conversation.item.input_audio_transcription.completed")
        assert frames[-1]["transcript"] == "(user speech, 43.69 s)"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v2/realtime?model=m", 404), ("/", 404), ("/v1/realtime", 400),
     ("/openai/realtime?deployment=d", 400), ("/openai/realtime?api-version=2025-04-01-preview",
                                               400)],
)
async def test_bad_paths_are_rejected(server: RealtimeServer, path: str, status: int) -> None:
    """Unknown paths get 404 and a missing model, deployment or api-version gets 400."""
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"ws://127.0.0.1:{server.port}{path}"):
            pass
    assert info.value.response.status_code == status


@pytest.mark.parametrize(
    ("headers", "query", "accepted"),
    [
        ({}, "", False),
        ({"Authorization": "Bearer wrong"}, "", False),
        ({"api-key": "wrong"}, "", False),
        ({"Authorization": f"Bearer {KEY}"}, "", True),
        ({"api-key": KEY}, "", True),
        ({}, f"&api-key={KEY}", True),
    ],
)
async def test_api_key_is_required_when_set(
    headers: dict[str, str], query: str, accepted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """With api_key set, only a matching bearer token or api-key is let in; others get 401."""
    caplog.set_level(logging.DEBUG)
    async with RealtimeServer(api_key=KEY) as srv:
        url = srv.url + "?model=m" + query
        if accepted:
            async with connect(url, additional_headers=headers) as ws:
                assert (await _recv(ws))["type"] == "session.created"
        else:
            with pytest.raises(InvalidStatus) as info:
                async with connect(url, additional_headers=headers):
                    pass
            assert info.value.response.status_code == 401
        assert KEY not in repr(srv)
    server_logs = [r.getMessage() for r in caplog.records if r.name.startswith("realtalk")]
    assert server_logs  # the handshake was logged at DEBUG, headers included...
    assert not [line for line in server_logs if KEY in line]  # ...but never the key


async def test_azure_preview_path_speaks_beta() -> None:
    """/openai/realtime?api-version&deployment gets beta names and the flat session."""
    async with _server() as srv, connect(
        f"ws://127.0.0.1:{srv.port}/openai/realtime?api-version=2025-04-01-preview"
        "&deployment=my-dep"
    ) as ws:
        created = await _recv(ws)
        assert created["session"]["model"] == "gpt-realtime"  # the model, not the deployment
        assert created["session"]["input_audio_format"] == "pcm16"
        await _send(ws, type="response.create")
        types = {f["type"] for f in await _recv_until(ws, "response.done")}
    assert {"response.audio.delta", "response.audio_transcript.delta",
            "conversation.item.created"} <= types
    assert "response.output_audio.delta" not in types


async def test_azure_ga_path_speaks_ga(server: RealtimeServer) -> None:
    """/openai/v1/realtime?model=... gets GA names."""
    async with connect(f"ws://127.0.0.1:{server.port}/openai/v1/realtime?model=dep") as ws:
        created = await _recv(ws)
        assert created["session"]["type"] == "realtime"
        await _send(ws, type="response.create")
        types = {f["type"] for f in await _recv_until(ws, "response.done")}
    assert "response.output_audio.delta" in types


async def test_on_client_event_hook_sees_each_frame() -> None:
    """on_client_event is called with a perf_counter stamp and the type of each frame."""
    seen: list[tuple[float, str]] = []
    async with _server() as srv:
        srv.on_client_event = lambda stamp, kind: seen.append((stamp, kind))
        async with connect(srv.url + "?model=m") as ws:
            await _recv(ws)
            await _send(ws, type="response.cancel")
            await ws.send("nonsense")
            await _recv(ws)
            await _recv(ws)
    assert [kind for _, kind in seen] == ["response.cancel", "(invalid)"]
    assert seen[0][0] <= seen[1][0]


async def test_client_dropping_mid_response_is_cleaned_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client vanishing mid-response ends its session quietly; others are still served."""
    caplog.set_level(logging.WARNING)
    async with _server(chunk_ms=100, generation_speed=2.0) as srv:
        async with connect(srv.url + "?model=m") as ws:
            await _recv(ws)
            await _send(ws, type="response.create")
            await _recv_until(ws, "response.output_audio.delta")
        async with connect(srv.url + "?model=m") as ws:
            await _recv(ws)
            await _send(ws, type="response.cancel")
            assert (await _recv(ws))["error"]["code"] == "response_cancel_not_active"
    assert [s.closed for s in srv.sessions] == [True, True]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_running_in_thread_from_sync_code() -> None:
    """running_in_thread() serves sync clients and stops cleanly on exit."""
    server = _server()
    with server.running_in_thread() as srv, sync_connect(srv.url + "?model=m") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "session.created"
        ws.send(json.dumps({"type": "response.create"}))
        while json.loads(ws.recv(timeout=5))["type"] != "response.done":
            pass
    with pytest.raises(ConnectionRefusedError):  # nothing listens any more
        sync_connect(f"ws://127.0.0.1:{server.port}/v1/realtime?model=m", open_timeout=2)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_running_in_thread_under_trio() -> None:
    """A trio program can run the server in a thread and talk to it."""

    def talk(url: str) -> str:
        with sync_connect(url) as ws:
            return str(json.loads(ws.recv(timeout=5))["type"])

    with _server().running_in_thread() as srv:
        assert await anyio.to_thread.run_sync(talk, srv.url + "?model=m") == "session.created"


async def test_serve_forever_until_cancelled() -> None:
    """serve_forever() reports when it listens, serves, and closes when cancelled."""
    server = _server()
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve_forever)
        async with connect(server.url + "?model=m") as ws:
            assert (await _recv(ws))["type"] == "session.created"
        tg.cancel_scope.cancel()
    assert [s.closed for s in server.sessions] == [True]
    with pytest.raises(ConnectionRefusedError):
        await connect(server.url + "?model=m", open_timeout=2)


def test_port_is_unknown_before_start() -> None:
    """Asking for the address of a server that is not listening is a LocalProtocolError."""
    with pytest.raises(LocalProtocolError, match="not listening"):
        _ = RealtimeServer().url
