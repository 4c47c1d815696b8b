"""Tests for realtalk.server.app: the real WebSocket server on loopback, served in the test's
own event loop under asyncio and trio, with realtalk's client (and websockets' sync client for
the threaded server)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as sync_connect

from realtalk.errors import ConnectError, ConnectionClosed, LocalProtocolError
from realtalk.server import RealtimeServer, ScriptedResponder, ServerOptions
from realtalk.transport import Endpoint, Transport, connect_websocket
from realtalk.transport.connection import WebSocketConnection
from realtalk.transport.websocket import open_websocket

REPLY = "Hello there. This answer is long enough to be interrupted in the middle of it."
KEY = "sk-local-test-key"

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The server runs in the test's event loop: both backends."""
    backend: str = request.param
    return backend


@contextlib.asynccontextmanager
async def connect(url: str, *, additional_headers: dict[str, str] | None = None,
                  open_timeout: float = 5.0) -> AsyncIterator[WebSocketConnection]:
    """A raw WebSocket client connection (realtalk's own, on either backend)."""
    ws = await open_websocket(url, headers=additional_headers, open_timeout=open_timeout)
    try:
        yield ws
    finally:
        await ws.close()


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


async def _send(ws: WebSocketConnection, **frame: Any) -> None:
    await ws.send(json.dumps(frame))


async def _recv(ws: WebSocketConnection) -> dict[str, Any]:
    with anyio.fail_after(5):
        frame: dict[str, Any] = json.loads(await ws.recv())
    return frame


async def _recv_until(ws: WebSocketConnection, event_type: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    with anyio.fail_after(5):
        while not frames or frames[-1]["type"] != event_type:
            frames.append(await _recv(ws))
    return frames


async def test_full_response(server: RealtimeServer) -> None:
    """A client gets session.created, then a whole response through response.done."""
    async with connect(server.url + "?model=gpt-realtime") as ws:
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
    async with connect(server.url + "?model=m") as ws:
        await _recv(ws)
        await _send(ws, type="session.update", session={
            "type": "realtime", "audio": {"input": {
                "turn_detection": None, "transcription": {"model": "gpt-4o-transcribe"}}}})
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
    with pytest.raises(OSError, match="connection attempts failed"):
        await open_websocket(server.url + "?model=m", open_timeout=2)


def test_port_is_unknown_before_start() -> None:
    """Asking for the address of a server that is not listening is a LocalProtocolError."""
    with pytest.raises(LocalProtocolError, match="not listening"):
        _ = RealtimeServer().url


# ---------------------------------------------------------------------------------------------
# realtalk's client (connect_websocket) against the server, in one event loop
# ---------------------------------------------------------------------------------------------


async def _read_until_closed(transport: Transport) -> ConnectionClosed:
    while True:
        try:
            await transport.receive()
        except ConnectionClosed as exc:
            return exc


async def test_the_client_and_the_server_share_one_event_loop(server: RealtimeServer) -> None:
    """connect_websocket gets session.created and a whole response from a server served by
    the same event loop (no thread), under asyncio and trio."""
    async with connect_websocket(Endpoint(url=server.url + "?model=gpt-realtime")) as t:
        created = json.loads(await t.receive())
        assert created["type"] == "session.created"
        await t.send(json.dumps({"type": "response.create"}))
        with anyio.fail_after(5):
            while json.loads(await t.receive())["type"] != "response.done":
                pass


async def test_the_client_reports_a_wrong_key_as_http_401() -> None:
    """A wrong key: ConnectError naming HTTP 401 and the server's error body, no key in it."""
    async with RealtimeServer(api_key=KEY) as srv:
        endpoint = Endpoint(url=srv.url + "?model=m", headers={"api-key": "sk-wrong-key-123"})
        with pytest.raises(ConnectError) as info:
            async with connect_websocket(endpoint):
                pass
    message = str(info.value)
    assert "HTTP 401" in message and "invalid_api_key" in message
    assert "sk-wrong-key-123" not in message and KEY not in message


async def test_frames_over_one_mebibyte_from_the_server() -> None:
    """A 60 s audio chunk (a long reply's audio in one 2+ MB frame) reaches the client whole."""
    srv = RealtimeServer(options=ServerOptions(first_audio_latency_ms=0, chunk_ms=60_000,
                                               generation_speed=math.inf),
                         responder_factory=lambda: ScriptedResponder([REPLY * 5]))
    async with srv, connect_websocket(Endpoint(url=srv.url + "?model=m")) as t:
        await t.receive()
        await t.send(json.dumps({"type": "response.create"}))
        with anyio.fail_after(10):
            while True:
                frame = await t.receive()
                if '"response.output_audio.delta"' in frame:
                    break
    assert len(frame) > 1_048_576
    assert len(base64.b64decode(json.loads(frame)["delta"])) > 1_000_000


async def test_fragmented_client_messages_are_reassembled(server: RealtimeServer) -> None:
    """A client event sent in three frames is one event to the server."""
    async with connect(server.url + "?model=m") as ws:
        await _recv(ws)
        text = json.dumps({"type": "session.update", "session": {
            "type": "realtime", "instructions": "Be brief."}}).encode()
        ws.protocol.send_text(text[:10], fin=False)
        ws.protocol.send_continuation(text[10:20], fin=False)
        ws.protocol.send_continuation(text[20:], fin=True)
        await ws.send("")  # flushes the three frames, then one empty (invalid) message
        updated = await _recv(ws)
        assert updated["type"] == "session.updated"
        assert updated["session"]["instructions"] == "Be brief."
        assert (await _recv(ws))["error"]["code"] == "invalid_json"


async def test_pings_are_answered(server: RealtimeServer) -> None:
    """The server answers a client's ping while the client reads."""
    async with connect(server.url + "?model=m") as ws:
        await _recv(ws)
        pong = await ws.ping()
        await _send(ws, type="response.cancel")  # something to read meanwhile
        await _recv(ws)
        with anyio.fail_after(5):
            await pong.wait()


async def test_close_codes_both_ways(server: RealtimeServer) -> None:
    """A client closing with 4000 ends its session; a server shutting down closes its
    clients with 1001 (going away), which the client reports as ConnectionClosed."""
    async with connect(server.url + "?model=m") as ws:
        await _recv(ws)
        await ws.close(4000, "done here")
        assert ws.close_code == 4000  # echoed by the server
    async with connect_websocket(Endpoint(url=server.url + "?model=m")) as t:
        await t.receive()
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.aclose)  # while the client reads, as clients do
                closed = await _read_until_closed(t)
    assert closed.code == 1001
    assert [s.closed for s in server.sessions] == [True, True]


async def test_a_server_that_goes_away_mid_response() -> None:
    """The server closing mid-response: the client reads what came, then ConnectionClosed;
    a new connection is refused."""
    async with _server(chunk_ms=100, generation_speed=2.0) as srv:
        url = srv.url + "?model=m"
        async with connect_websocket(Endpoint(url=url)) as t:
            await t.receive()
            await t.send(json.dumps({"type": "response.create"}))
            with anyio.fail_after(5):
                while '"response.output_audio.delta"' not in await t.receive():
                    pass
            with anyio.fail_after(5):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(srv.aclose)
                    await _read_until_closed(t)
        with pytest.raises(ConnectError, match="could not connect"):
            async with connect_websocket(Endpoint(url=url), open_timeout=2):
                pass
