"""Tests for realtalk.relay.tools: a relay session owning function tools, in front of the
embedded server's session (which calls a tool when the latest user message names it), in
virtual time on asyncio and trio; and RelayTools' rules on their own."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

import realtalk
from realtalk.errors import ConfigurationError
from realtalk.relay import (
    EventPolicy,
    IdRegistry,
    RelayMetrics,
    RelayOptions,
    RelaySession,
    RelayTools,
    SessionClaims,
)
from realtalk.relay.frames import ClientFrame
from realtalk.server import ServerOptions, ServerSession
from realtalk.server.serving import serve_session
from realtalk.testing import MemoryClientConnection, MemoryProvider, virtual_backend
from realtalk.tools import Tool
from realtalk.transport import MemoryTransport

pytestmark = pytest.mark.anyio

_SERVER_OPTIONS = ServerOptions(first_audio_latency_ms=20.0)
_CLAIMS = SessionClaims(session_id="rs_tools")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return virtual_backend(request.param)


@realtalk.tool
async def get_weather(city: str) -> dict[str, str]:
    """Today's forecast for a city (async: a sync tool runs in a worker thread, which virtual
    time does not wait for; the end-to-end test in test_server.py runs a sync one)."""
    return {"forecast": f"sunny in {city}"}


class _Recorded:
    """A server end that notes every frame the relay sends upstream."""

    def __init__(self, end: MemoryTransport, into: list[dict[str, Any]]) -> None:
        self._end = end
        self._into = into

    async def send(self, message: str) -> None:
        await self._end.send(message)

    async def receive(self) -> str:
        message = await self._end.receive()
        self._into.append(json.loads(message))
        return message

    async def aclose(self) -> None:
        await self._end.aclose()


class _Upstream:
    """Embedded server sessions behind a MemoryProvider, and what the relay sent them."""

    def __init__(self) -> None:
        self.provider = MemoryProvider(self._serve)
        self.sessions: list[ServerSession] = []
        self.received: list[dict[str, Any]] = []

    async def _serve(self, end: MemoryTransport) -> None:
        session = ServerSession(now=anyio.current_time(), options=_SERVER_OPTIONS)
        self.sessions.append(session)
        await serve_session(session, _Recorded(end, self.received))

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [f for f in self.received if f["type"] == event_type]

    async def drop(self) -> None:
        """Hang up the current connection from the server's side."""
        assert self.provider.server_end is not None
        await self.provider.server_end.aclose()


@contextlib.asynccontextmanager
async def _session(upstream: _Upstream, tools: list[Tool], *,
                   metrics: RelayMetrics | None = None,
                   **options: Any) -> AsyncIterator[MemoryClientConnection]:
    """A relay session with ``tools`` runs during the block; the client hangs up at its end."""
    client = MemoryClientConnection()
    session = RelaySession(claims=_CLAIMS, client=client, provider=upstream.provider,
                           options=RelayOptions(**options),
                           metrics=metrics if metrics is not None else RelayMetrics(),
                           registry=IdRegistry(), tools=tools)
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.run)
            yield client
            client.hang_up()


async def _next(client: MemoryClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(await client.next_message())
    return event


async def _until(client: MemoryClientConnection, event_type: str) -> list[dict[str, Any]]:
    frames = [await _next(client)]
    while frames[-1]["type"] != event_type:
        frames.append(await _next(client))
    return frames


def _ask(client: MemoryClientConnection, text: str) -> None:
    """A user message, and a request for the reply."""
    client.deliver(json.dumps({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}))
    client.deliver(json.dumps({"type": "response.create"}))


def _said(frames: list[dict[str, Any]]) -> str:
    return "".join(f["transcript"] for f in frames
                   if f["type"] == "response.output_audio_transcript.done")


def _tool_names(session: ServerSession) -> list[str]:
    return [t["name"] for t in session.config.extra["tools"]]


# ---------------------------------------------------------------------------------------------
# A call, its answer and the follow-up
# ---------------------------------------------------------------------------------------------


async def test_a_relay_tool_is_called_answered_and_followed_up() -> None:
    """The relay declares its tool, runs the call, sends the output and asks for the
    follow-up, which speaks the output; the metrics count the call."""
    upstream, metrics = _Upstream(), RelayMetrics()
    async with _session(upstream, [get_weather], metrics=metrics) as client:
        assert (await _next(client))["type"] == "session.created"
        assert (await _next(client))["type"] == "session.updated"  # the relay's declaration
        _ask(client, "What does get weather say?")
        first = await _until(client, "response.done")
        follow_up = await _until(client, "response.done")
    assert _tool_names(upstream.sessions[0]) == ["get_weather"]
    [output] = [f["item"] for f in upstream.of_type("conversation.item.create")
                if f["item"]["type"] == "function_call_output"]
    assert json.loads(output["output"]) == {"forecast": "sunny in example"}
    assert len(upstream.of_type("response.create")) == 2  # the client's, the relay's
    assert first[-1]["response"]["status"] == "completed"
    assert follow_up[0]["type"] == "response.created"
    assert 'The get_weather tool answered: {"forecast": "sunny in example"}' in _said(follow_up)
    assert metrics.snapshot().tool_calls == {"started": 1, "finished": 1}


async def test_the_client_sees_no_call_arguments_or_output() -> None:
    """Every event about the relay's call is dropped; the responses reach the client whole,
    response.done without the call; the relay's tool is left out of session.updated."""
    upstream = _Upstream()
    async with _session(upstream, [get_weather]) as client:
        frames = await _until(client, "session.updated")
        _ask(client, "What does get weather say?")
        frames += await _until(client, "response.done")
        first_done = frames[-1]
        frames += await _until(client, "response.done")
    text = json.dumps(frames)
    assert "function_call" not in text
    assert "arguments" not in text
    assert "sunny in example" not in text.replace(
        'The get_weather tool answered: {\\"forecast\\": \\"sunny in example\\"}', "")
    assert first_done["response"]["output"] == []
    assert frames[1]["session"]["tools"] == []
    types = [f["type"] for f in frames]
    assert types.count("response.created") == types.count("response.done") == 2


async def test_with_show_tool_calls_the_client_sees_the_call_but_cannot_answer_it() -> None:
    """show_tool_calls passes the call's events on; a client answering it is refused with an
    error event naming the call, and the relay's own answer is the one that counts."""
    upstream = _Upstream()
    async with _session(upstream, [get_weather], show_tool_calls=True) as client:
        await _until(client, "session.updated")
        _ask(client, "What does get weather say?")
        frames = await _until(client, "response.function_call_arguments.done")
        call_id = frames[-1]["call_id"]
        assert json.loads(frames[-1]["arguments"]) == {"city": "example"}
        client.deliver(json.dumps({"type": "conversation.item.create", "event_id": "e_mine",
                                   "item": {"type": "function_call_output", "call_id": call_id,
                                            "output": "rain"}}))
        frames = await _until(client, "error")
        follow_up = await _until(client, "response.output_audio_transcript.done")
    error = frames[-1]["error"]
    assert (error["code"], error["param"], error["event_id"]) == (
        "tool_call_not_owned", "item.call_id", "e_mine")
    assert call_id in error["message"]
    outputs = [f["item"]["output"] for f in upstream.of_type("conversation.item.create")
               if f["item"]["type"] == "function_call_output"]
    assert outputs == ['{"forecast": "sunny in example"}']
    assert "rain" not in _said(follow_up)


# ---------------------------------------------------------------------------------------------
# Client tools
# ---------------------------------------------------------------------------------------------

_CLIENT_TOOL = {"type": "function", "name": "set_color", "description": "Paint the page.",
                "parameters": {"type": "object", "properties": {"color": {"type": "string"}}}}


async def test_client_tools_and_relay_tools_are_merged_upstream() -> None:
    """A client's own tools go upstream with the relay's; the client sees its own only."""
    upstream = _Upstream()
    async with _session(upstream, [get_weather],
                        policy=EventPolicy(client_tools=True)) as client:
        await _until(client, "session.updated")
        client.deliver(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "tools": [_CLIENT_TOOL]}}))
        updated = (await _until(client, "session.updated"))[-1]
    assert _tool_names(upstream.sessions[0]) == ["set_color", "get_weather"]
    assert [t["name"] for t in updated["session"]["tools"]] == ["set_color"]


async def test_a_client_tool_named_like_a_relay_tool_is_refused() -> None:
    upstream = _Upstream()
    async with _session(upstream, [get_weather],
                        policy=EventPolicy(client_tools=True)) as client:
        await _until(client, "session.updated")
        client.deliver(json.dumps({"type": "session.update", "event_id": "e1", "session": {
            "type": "realtime", "tools": [_CLIENT_TOOL, {**_CLIENT_TOOL, "name": "get_weather"}]}}))
        error = (await _next(client))["error"]
    assert (error["code"], error["param"], error["event_id"]) == (
        "tool_name_reserved", "session.tools[1].name", "e1")
    assert "'get_weather'" in error["message"]
    assert len(upstream.of_type("session.update")) == 1  # the relay's own only
    assert _tool_names(upstream.sessions[0]) == ["get_weather"]


async def test_the_default_policy_refuses_client_tools() -> None:
    upstream = _Upstream()
    async with _session(upstream, [get_weather]) as client:
        await _until(client, "session.updated")
        client.deliver(json.dumps({"type": "response.create", "response": {
            "tools": [_CLIENT_TOOL]}}))
        error = (await _next(client))["error"]
    assert (error["code"], error["param"]) == ("field_not_allowed", "response.tools")
    assert upstream.of_type("response.create") == []


# ---------------------------------------------------------------------------------------------
# Interruptions and time
# ---------------------------------------------------------------------------------------------


async def test_a_barge_in_stops_a_cancel_policy_tool() -> None:
    """The client's response.cancel counts as user speech: the running call whose tool says
    on_interrupt="cancel" is stopped and answered at once, and no follow-up starts over the
    user."""
    started, stopped = anyio.Event(), anyio.Event()

    @realtalk.tool(name="get_weather", on_interrupt="cancel", timeout_s=None)
    async def slow_weather(city: str) -> str:
        started.set()
        try:
            await anyio.sleep(3600)
        finally:
            stopped.set()
        return "never"

    upstream, metrics = _Upstream(), RelayMetrics()
    async with _session(upstream, [slow_weather], metrics=metrics) as client:
        await _until(client, "session.updated")
        _ask(client, "What does get weather say?")
        await started.wait()
        began = anyio.current_time()
        client.deliver(json.dumps({"type": "response.cancel"}))
        await stopped.wait()
        stopped_after = anyio.current_time() - began
        await anyio.sleep(5)  # time enough for a follow-up, were there one
    [output] = [f["item"]["output"] for f in upstream.of_type("conversation.item.create")
                if f["item"]["type"] == "function_call_output"]
    assert "the user interrupted" in output
    assert stopped_after < 0.1
    assert len(upstream.of_type("response.create")) == 1  # the client's only
    assert metrics.snapshot().tool_calls == {"started": 1, "cancelled": 1}


async def test_a_call_past_its_timeout_is_answered_with_an_error() -> None:
    @realtalk.tool(name="get_weather", timeout_s=5.0)
    async def stuck_weather(city: str) -> str:
        await anyio.sleep(3600)
        return "never"

    upstream, metrics = _Upstream(), RelayMetrics()
    async with _session(upstream, [stuck_weather], metrics=metrics) as client:
        await _until(client, "session.updated")
        _ask(client, "What does get weather say?")
        await _until(client, "response.done")
        began = anyio.current_time()
        follow_up = await _until(client, "response.created")
        waited = anyio.current_time() - began
        follow_up += await _until(client, "response.done")
    assert waited == pytest.approx(5.0, abs=0.2)
    assert "get_weather timed out after 5 s" in _said(follow_up)
    assert metrics.snapshot().tool_calls == {"started": 1, "errors": 1}


# ---------------------------------------------------------------------------------------------
# Upstream sessions
# ---------------------------------------------------------------------------------------------


async def test_a_reconnect_declares_the_tools_again() -> None:
    """A new upstream session gets the client's last session.update with the relay's tools
    and the client's own; calls work there as before."""
    upstream = _Upstream()
    async with _session(upstream, [get_weather], on_upstream_loss="reconnect",
                        reconnect_delay=0.0, policy=EventPolicy(client_tools=True)) as client:
        await _until(client, "session.updated")
        client.deliver(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "tools": [_CLIENT_TOOL],
            "audio": {"output": {"voice": "ash"}}}}))
        await _until(client, "session.updated")
        await upstream.drop()
        assert (await _next(client))["error"]["code"] == "upstream_disconnected"
        assert (await _next(client))["type"] == "session.created"
        updated = (await _until(client, "session.updated"))[-1]
        _ask(client, "What does get weather say?")
        await _until(client, "response.done")
        follow_up = await _until(client, "response.done")
    assert len(upstream.sessions) == 2
    assert _tool_names(upstream.sessions[1]) == ["set_color", "get_weather"]
    assert upstream.sessions[1].config.voice == "ash"
    assert [t["name"] for t in updated["session"]["tools"]] == ["set_color"]
    assert "The get_weather tool answered" in _said(follow_up)


async def test_a_fresh_upstream_session_gets_the_relays_declaration() -> None:
    """Without a session.update of the client's, the relay declares its tools itself, in the
    upstream's protocol shape."""
    upstream = _Upstream()
    upstream.provider = MemoryProvider(upstream._serve, shape="beta")
    async with _session(upstream, [get_weather]) as client:
        await _until(client, "session.created")
    [update] = upstream.of_type("session.update")
    assert "type" not in update["session"]  # beta has no session.type
    assert [t["name"] for t in update["session"]["tools"]] == ["get_weather"]


# ---------------------------------------------------------------------------------------------
# RelayTools on its own
# ---------------------------------------------------------------------------------------------


def _frame(payload: dict[str, Any]) -> ClientFrame:
    return ClientFrame(type=payload["type"], payload=payload, text=json.dumps(payload),
                       claims=_CLAIMS)


def test_a_client_cannot_answer_or_touch_a_hidden_relay_call() -> None:
    """Even a call the client was not shown (its id guessed or leaked) is the relay's."""
    tools = RelayTools([get_weather])
    call = {"type": "function_call", "id": "item_1", "call_id": "call_1", "name": "get_weather",
            "arguments": ""}
    assert tools.upstream_event({"type": "response.output_item.added", "response_id": "r1",
                                 "output_index": 0, "item": call}, 0.0) is None
    answer = _frame({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_1", "output": "x"}})
    refusal = tools.check_client(answer)
    assert refusal is not None and refusal.code == "tool_call_not_owned"
    for event_type in ("conversation.item.retrieve", "conversation.item.delete"):
        refusal = tools.check_client(_frame({"type": event_type, "item_id": "item_1"}))
        assert refusal is not None and refusal.param == "item_id"
    other = _frame({"type": "conversation.item.create", "item": {
        "type": "function_call_output", "call_id": "call_2", "output": "x"}})
    assert tools.check_client(other) is None


def test_the_ledger_leaves_client_calls_to_the_client() -> None:
    """A call of a client tool reaches the client and is never answered by the relay."""
    tools = RelayTools([get_weather])
    call = {"type": "function_call", "id": "item_1", "call_id": "call_1", "name": "set_color",
            "arguments": "{}", "status": "completed"}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": "r1", "status": "in_progress"}},
        {"type": "response.output_item.done", "response_id": "r1", "output_index": 0,
         "item": call},
        {"type": "response.done", "response": {"id": "r1", "status": "completed",
                                               "output": [call]}},
    ]
    for event in events:
        assert tools.upstream_event(event, 0.0) is event
    assert tools.outputs() == []


def test_bad_tools_are_refused_when_the_relay_is_made() -> None:
    with pytest.raises(ConfigurationError, match="two tools are named 'get_weather'"):
        RelayTools([get_weather, get_weather])
