"""The official ``openai`` Python client, as a real peer of the embedded server."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from openai import AsyncOpenAI
from openai.resources.realtime.realtime import AsyncRealtimeConnection
from openai.types.realtime import (
    RealtimeConversationItemFunctionCall,
    RealtimeErrorEvent,
    RealtimeFunctionToolParam,
    RealtimeSessionCreateRequest,
    ResponseAudioDeltaEvent,
    ResponseAudioTranscriptDeltaEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseDoneEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseTextDeltaEvent,
    SessionCreatedEvent,
    SessionUpdatedEvent,
)
from websockets.exceptions import InvalidStatus

from realtalk.server import RealtimeServer, ScriptedResponder, ServerOptions

KEY = "sk-openai-client-test"
REPLY = "Hi! I am the local server. This reply has a few sentences so it can be cut short."

pytestmark = pytest.mark.anyio


def _server(generation_speed: float) -> RealtimeServer:
    return RealtimeServer(
        api_key=KEY,
        options=ServerOptions(first_audio_latency_ms=0, chunk_ms=100,
                              generation_speed=generation_speed),
        responder_factory=lambda: ScriptedResponder([REPLY]),
    )


@pytest.fixture
async def server() -> AsyncIterator[RealtimeServer]:
    """A keyed server that sends each response at once."""
    async with _server(math.inf) as srv:
        yield srv


async def _next(conn: AsyncRealtimeConnection) -> Any:
    with anyio.fail_after(5):
        return await conn.recv()


async def _until(conn: AsyncRealtimeConnection, event_type: str) -> list[Any]:
    events: list[Any] = []
    with anyio.fail_after(5):
        while not events or events[-1].type != event_type:
            events.append(await conn.recv())
    return events


async def test_openai_client_runs_a_full_response(server: RealtimeServer) -> None:
    """The client connects, updates the session, and receives typed events to response.done."""
    client = AsyncOpenAI(api_key=KEY, base_url=server.http_base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        created = await _next(conn)
        assert isinstance(created, SessionCreatedEvent)
        await conn.session.update(session={"type": "realtime", "instructions": "Be nice.",
                                           "output_modalities": ["audio"]})
        updated = await _next(conn)
        assert isinstance(updated, SessionUpdatedEvent)
        assert isinstance(updated.session, RealtimeSessionCreateRequest)
        assert updated.session.instructions == "Be nice."
        await conn.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "Hello?"}]})
        await conn.response.create()
        events = await _until(conn, "response.done")
    assert any(isinstance(e, ResponseCreatedEvent) for e in events)
    deltas = [e for e in events if isinstance(e, ResponseAudioDeltaEvent)]
    assert deltas
    assert "".join(e.delta for e in events
                   if isinstance(e, ResponseAudioTranscriptDeltaEvent)) == REPLY
    done = events[-1]
    assert isinstance(done, ResponseDoneEvent)
    assert done.response.status == "completed"
    assert done.response.output is not None
    assert done.response.output[0].model_dump()["content"][0]["transcript"] == REPLY
    assert server.sessions[0].stats.events_received == {
        "session.update": 1, "conversation.item.create": 1, "response.create": 1}


async def test_openai_client_cancels_a_response() -> None:
    """response.cancel from the client ends the response as cancelled, without more deltas."""
    async with _server(generation_speed=5.0) as server:
        client = AsyncOpenAI(api_key=KEY, base_url=server.http_base_url)
        await _cancel_with(client)


async def _cancel_with(client: AsyncOpenAI) -> None:
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await _next(conn)
        await conn.response.create()
        await _until(conn, "response.output_audio.delta")
        await conn.response.cancel()
        done = (await _until(conn, "response.done"))[-1]
        assert isinstance(done, ResponseDoneEvent)
        assert done.response.status == "cancelled"
        assert done.response.status_details is not None
        assert done.response.status_details.reason == "client_cancelled"
        await conn.response.cancel(event_id="again")
        error = await _next(conn)
        assert isinstance(error, RealtimeErrorEvent)
        assert error.error.code == "response_cancel_not_active"
        assert error.error.event_id == "again"


async def test_openai_client_gets_its_metadata_back(server: RealtimeServer) -> None:
    """As LiveKit Agents does: a response.create's metadata.client_event_id comes back on the
    response's created and done events, which also carry the token usage."""
    client = AsyncOpenAI(api_key=KEY, base_url=server.http_base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await _next(conn)
        await conn.response.create(event_id="response_create_1", response={
            "metadata": {"client_event_id": "response_create_1"}})
        events = await _until(conn, "response.done")
    (created,) = [e for e in events if isinstance(e, ResponseCreatedEvent)]
    done = events[-1]
    assert isinstance(done, ResponseDoneEvent)
    for response in (created.response, done.response):
        assert response.metadata == {"client_event_id": "response_create_1"}
        assert response.conversation_id is not None
        assert response.output_modalities == ["audio"]
    assert done.response.usage is not None
    assert done.response.usage.output_tokens
    assert done.response.usage.output_token_details is not None
    assert done.response.usage.output_token_details.audio_tokens


async def test_openai_client_text_only_response(server: RealtimeServer) -> None:
    """output_modalities ["text"]: the client receives text events and no audio."""
    client = AsyncOpenAI(api_key=KEY, base_url=server.http_base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await _next(conn)
        await conn.response.create(response={"output_modalities": ["text"]})
        events = await _until(conn, "response.done")
    assert "".join(e.delta for e in events if isinstance(e, ResponseTextDeltaEvent)) == REPLY
    assert not [e for e in events if "audio" in e.type]
    (part,) = [e.part for e in events if isinstance(e, ResponseContentPartDoneEvent)]
    assert (part.type, part.text) == ("text", REPLY)


async def test_openai_client_calls_a_function_and_hears_its_output(
        server: RealtimeServer) -> None:
    """Function calling end to end: declared tools, a call with streamed arguments, the
    client's output, and a spoken reply that quotes it."""
    tool: RealtimeFunctionToolParam = {
        "type": "function", "name": "get_weather", "description": "The forecast.",
        "parameters": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}}}}
    client = AsyncOpenAI(api_key=KEY, base_url=server.http_base_url)
    async with client.realtime.connect(model="gpt-realtime") as conn:
        await _next(conn)
        await conn.session.update(session={"type": "realtime", "tools": [tool],
                                           "tool_choice": "auto"})
        assert isinstance(await _next(conn), SessionUpdatedEvent)
        await conn.conversation.item.create(item={
            "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "What does get weather say for Oslo?"}]})
        await conn.response.create()
        call_events = await _until(conn, "response.done")
        done = call_events[-1]
        assert isinstance(done, ResponseDoneEvent) and done.response.output is not None
        (call,) = done.response.output
        assert isinstance(call, RealtimeConversationItemFunctionCall)
        assert call.call_id is not None
        arguments = "".join(e.delta for e in call_events
                            if isinstance(e, ResponseFunctionCallArgumentsDeltaEvent))
        (args_done,) = [e for e in call_events
                        if isinstance(e, ResponseFunctionCallArgumentsDoneEvent)]
        assert (call.name, call.arguments, args_done.arguments) == (
            "get_weather", arguments, arguments)
        assert json.loads(arguments) == {"city": "example", "unit": "celsius"}
        await conn.conversation.item.create(item={
            "type": "function_call_output", "call_id": call.call_id, "output": "Snow, -3 C"})
        await conn.response.create()
        reply_events = await _until(conn, "response.done")
    assert "".join(e.delta for e in reply_events
                   if isinstance(e, ResponseAudioTranscriptDeltaEvent)) == (
        "The get_weather tool answered: Snow, -3 C.")
    assert any(isinstance(e, ResponseAudioDeltaEvent) for e in reply_events)
    assert server.sessions[0].stats.function_calls == 1


async def test_openai_client_with_wrong_key_is_rejected(server: RealtimeServer) -> None:
    """A wrong API key fails the handshake with HTTP 401."""
    client = AsyncOpenAI(api_key="sk-wrong", base_url=server.http_base_url, max_retries=0)
    with pytest.raises(InvalidStatus) as info:
        async with client.realtime.connect(model="gpt-realtime"):
            pass
    assert info.value.response.status_code == 401

