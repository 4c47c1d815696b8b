"""Tests for realtalk.server.session's function calling, driven with explicit time: calls, their
arguments as a stream, outputs and the spoken answer, cancel, and the errors around them."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import pytest

from realtalk.server.responder import ScriptedResponder, ScriptedTranscriber
from realtalk.server.session import ServerOptions, ServerSession
from realtalk.server.voice import SyntheticVoice
from realtalk.wire import (
    ConversationItemAdded,
    ConversationItemDone,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ServerError,
    ServerEvent,
    SessionUpdated,
)

REPLY = "Here is an ordinary reply."
RATE = 24_000
WEATHER = {"type": "function", "name": "get_weather", "description": "Today's forecast.",
           "parameters": {"type": "object", "properties": {
               "city": {"type": "string", "description": "Where."},
               "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
               "days": {"type": "integer", "default": 2}}, "required": ["city"]}}
TIME = {"type": "function", "name": "current_time", "parameters": {}}
ARGUMENTS = {"city": "example", "unit": "celsius", "days": 2}


def _session(*, shape: str = "ga", vad: bool = False, speed: float = 4.0,
             tools: Sequence[dict[str, Any]] = (WEATHER, TIME), **session: Any) -> ServerSession:
    options = ServerOptions(first_audio_latency_ms=100, generation_speed=speed)
    if not vad:
        options = attrs.evolve(options, turn_detection=False)
    server = ServerSession(now=0.0, shape="beta" if shape == "beta" else "ga", options=options,
                           responder=ScriptedResponder([REPLY]),
                           transcriber=ScriptedTranscriber(["Get weather in Paris, please."]),
                           voice=SyntheticVoice(), seed=5)
    server.events_to_send()
    update = {"tools": list(tools), **session}
    if shape == "ga":
        update["type"] = "realtime"
    (updated,) = _send(server, 0.0, type="session.update", session=update)
    assert isinstance(updated, SessionUpdated)
    return server


def _send(session: ServerSession, now: float, /, **frame: Any) -> list[ServerEvent]:
    session.receive(json.dumps(frame), now)
    return session.events_to_send()


def _say(session: ServerSession, text: str, now: float = 0.0) -> None:
    _send(session, now, type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})


def _respond(session: ServerSession, now: float = 0.0, **response: Any) -> list[ServerEvent]:
    frame: dict[str, Any] = {"response": response} if response else {}
    events = _send(session, now, type="response.create", **frame)
    session.advance(now + 100.0)
    return events + session.events_to_send()


def _output(session: ServerSession, call_id: str, output: str) -> list[ServerEvent]:
    return _send(session, 0.0, type="conversation.item.create", item={
        "type": "function_call_output", "call_id": call_id, "output": output})


def _types(events: Sequence[ServerEvent]) -> list[str]:
    return [event.type for event in events]


def _done(events: Sequence[ServerEvent]) -> ResponseDone:
    (done,) = [event for event in events if isinstance(event, ResponseDone)]
    return done


def _call(events: Sequence[ServerEvent]) -> dict[str, Any]:
    """The function_call item of a finished response."""
    (item,) = _done(events).response.output
    assert item["type"] == "function_call"
    return dict(item)


def _transcript(events: Sequence[ServerEvent]) -> str:
    (done,) = [e for e in events if isinstance(e, ResponseOutputAudioTranscriptDone)]
    return done.transcript


# ---------------------------------------------------------------------------------------------
# The call
# ---------------------------------------------------------------------------------------------


def test_a_named_tool_is_called_with_the_events_of_the_service() -> None:
    """A user message naming a tool gets a function_call response: item added in progress with
    empty arguments, argument deltas, arguments done, item done, response done; no audio."""
    session = _session()
    _say(session, "What's the Get Weather for Paris?")
    events = _respond(session)
    assert _types(events) == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        *["response.function_call_arguments.delta"] * (len(events) - 8),
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "rate_limits.updated",
        "response.done",
    ]
    added = events[1]
    assert isinstance(added, ResponseOutputItemAdded)
    call_id = added.item["call_id"]
    assert call_id.startswith("call_")
    assert {k: added.item[k] for k in ("type", "status", "name", "arguments")} == {
        "type": "function_call", "status": "in_progress", "name": "get_weather", "arguments": ""}
    assert isinstance(events[2], ConversationItemAdded)
    assert events[2].item == added.item
    deltas = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDelta)]
    assert len(deltas) >= 3  # streamed, not sent in one piece
    assert {(d.item_id, d.call_id, d.response_id) for d in deltas} == {
        (added.item["id"], call_id, added.response_id)}
    arguments = "".join(d.delta for d in deltas)
    assert json.loads(arguments) == ARGUMENTS
    (args_done,) = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDone)]
    assert (args_done.arguments, args_done.name, args_done.call_id) == (
        arguments, "get_weather", call_id)
    (item_done,) = [e for e in events if isinstance(e, ResponseOutputItemDone)]
    assert item_done.item == {**added.item, "status": "completed", "arguments": arguments}
    (conversation_done,) = [e for e in events if isinstance(e, ConversationItemDone)]
    assert conversation_done.item == item_done.item
    done = _done(events)
    assert done.response.status == "completed"
    assert done.response.output == (item_done.item,)
    stored = session.conversation.get(added.item["id"])
    assert stored is not None and stored.fields["arguments"] == arguments
    assert session.stats.function_calls == 1


def test_arguments_stream_on_the_generation_schedule() -> None:
    """Deltas are released by advance() at their deadlines, after the first-audio latency."""
    session = _session(speed=2.0)  # a delta every 100 ms / 2 = 50 ms
    _say(session, "get weather")
    events = _send(session, 1.0, type="response.create")
    assert _types(events) == ["response.created", "response.output_item.added",
                              "conversation.item.added"]
    for due in (1.1, 1.15):
        deadline = session.next_deadline()
        assert deadline is not None and deadline == pytest.approx(due)
        session.advance(deadline - 0.001)
        assert session.events_to_send() == []
        session.advance(deadline)
        assert _types(session.events_to_send()) == ["response.function_call_arguments.delta"]
    session.advance(10.0)
    assert _types(session.events_to_send())[-1] == "response.done"
    assert session.next_deadline() is None


def test_beta_shape_sends_its_own_events() -> None:
    """Beta: conversation.item.created, no conversation.item.done, no name on arguments.done."""
    session = _session(shape="beta")
    _say(session, "current time please")
    events = _respond(session)
    types = _types(events)
    assert "conversation.item.done" not in types
    (args_done,) = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDone)]
    assert args_done.name is None
    assert json.loads(args_done.arguments) == {}
    assert _call(events)["name"] == "current_time"


def test_a_spoken_turn_naming_a_tool_calls_it() -> None:
    """Under server VAD, what the user said names the tool: the model hears the audio, so no
    input transcription needs to be asked for (and none is sent)."""
    session = _session(vad=True)
    speech = SyntheticVoice(seed=9, pitch_hz=200).synthesize("get weather in paris").samples
    samples = np.concatenate((np.zeros(RATE // 2, np.int16), speech, np.zeros(RATE, np.int16)))
    events: list[ServerEvent] = []
    step = RATE // 50
    for index, start in enumerate(range(0, len(samples), step)):
        pcm = samples[start : start + step].astype("<i2").tobytes()
        events += _send(session, index * 0.02, type="input_audio_buffer.append",
                        audio=base64.b64encode(pcm).decode())
    session.advance(100.0)
    events += session.events_to_send()
    assert "input_audio_buffer.committed" in _types(events)
    assert not any(t.startswith("conversation.item.input_audio_transcription")
                   for t in _types(events))
    assert _call(events)["name"] == "get_weather"


def test_a_message_naming_no_tool_gets_the_ordinary_reply() -> None:
    """With tools declared but none named, under auto, the reply is spoken as before."""
    session = _session()
    _say(session, "Hello there")
    events = _respond(session)
    assert "response.function_call_arguments.delta" not in _types(events)
    assert _transcript(events) == REPLY
    assert session.stats.function_calls == 0


@pytest.mark.parametrize(("choice", "text", "called"), [
    ("none", "get weather", None),
    ("required", "hello", "get_weather"),
    ("required", "what is the current time", "current_time"),
    ({"type": "function", "name": "current_time"}, "get weather", "current_time"),
])
def test_session_tool_choice_is_honoured(choice: object, text: str, called: str | None) -> None:
    """none never calls; required calls the named tool or the first; a named function wins."""
    session = _session(tool_choice=choice)
    _say(session, text)
    output = _done(_respond(session)).response.output[0]
    assert (output["name"] if output["type"] == "function_call" else None) == called


def test_beta_names_a_function_by_a_plain_string() -> None:
    """Beta's tool_choice is a string: a tool's name forces that tool."""
    session = _session(shape="beta", tool_choice="current_time")
    _say(session, "hello")
    assert _call(_respond(session))["name"] == "current_time"


def test_response_create_may_bring_its_own_tools_and_tool_choice() -> None:
    """A response's tools and tool_choice override the session's for that response only."""
    session = _session()
    _say(session, "get weather")
    assert _done(_respond(session, tool_choice="none")).response.output[0]["type"] == "message"
    _say(session, "hello")
    call = _call(_respond(session, tools=[TIME], tool_choice="required"))
    assert call["name"] == "current_time"
    _say(session, "hello")
    assert _done(_respond(session)).response.output[0]["type"] == "message"


def test_out_of_band_call_stays_out_of_the_conversation() -> None:
    """conversation: none makes the call but adds no item; an output for it is refused."""
    session = _session()
    _say(session, "get weather")
    events = _respond(session, conversation="none")
    call = _call(events)
    assert "conversation.item.added" not in _types(events)
    assert session.conversation.get(call["id"]) is None
    (error,) = _output(session, call["call_id"], "sunny")
    assert isinstance(error, ServerError)


# ---------------------------------------------------------------------------------------------
# Outputs and the spoken answer
# ---------------------------------------------------------------------------------------------


def test_an_output_is_added_and_the_next_response_speaks_it() -> None:
    """The output is stored and echoed; response.create then speaks it, audio and transcript."""
    session = _session()
    _say(session, "get weather in paris")
    call = _call(_respond(session))
    added, done = _output(session, call["call_id"], '{"forecast": "sunny, 21 C"}')
    assert isinstance(added, ConversationItemAdded) and isinstance(done, ConversationItemDone)
    assert {k: added.item[k] for k in ("type", "call_id", "output")} == {
        "type": "function_call_output", "call_id": call["call_id"],
        "output": '{"forecast": "sunny, 21 C"}'}
    assert added.previous_item_id == call["id"]
    events = _respond(session)
    assert _transcript(events) == 'The get_weather tool answered: {"forecast": "sunny, 21 C"}.'
    assert "response.output_audio.delta" in _types(events)
    assert "response.function_call_arguments.delta" not in _types(events)
    # The request was answered: under auto, the next response does not call again.
    assert _transcript(_respond(session)) == REPLY


def test_several_outputs_are_quoted_in_order() -> None:
    """Two calls answered, then one response: each output quoted, in conversation order."""
    session = _session(tool_choice="required")
    _say(session, "current time and get weather")
    first = _call(_respond(session))
    second = _call(_respond(session))
    _send(session, 0.0, type="session.update", session={"type": "realtime", "tool_choice": "auto"})
    _output(session, first["call_id"], "noon.")
    _output(session, second["call_id"], "")
    assert _transcript(_respond(session)) == (
        f"The {first['name']} tool answered: noon. The {second['name']} tool answered with "
        "nothing.")


def test_a_long_output_is_trimmed_for_speech() -> None:
    """Only the start of a long output is spoken."""
    session = _session()
    _say(session, "get weather")
    call = _call(_respond(session))
    _output(session, call["call_id"], "rain " * 500)
    transcript = _transcript(_respond(session))
    assert transcript.startswith("The get_weather tool answered: rain rain")
    assert transcript.endswith("...") and len(transcript) < 300


def test_an_output_for_an_unknown_call_is_an_error() -> None:
    """An output whose call_id matches no function_call item is refused, naming the id."""
    session = _session()
    (error,) = _output(session, "call_nope", "sunny")
    assert isinstance(error, ServerError)
    assert (error.error.code, error.error.param) == ("invalid_value", "item.call_id")
    assert "call_nope" in error.error.message
    assert len(session.conversation) == 0


def test_a_client_function_call_item_can_be_answered() -> None:
    """A function_call item the client created (a restored history) takes outputs too."""
    session = _session()
    _send(session, 0.0, type="conversation.item.create", item={
        "type": "function_call", "call_id": "call_old", "name": "get_weather",
        "arguments": "{}"})
    assert [e.type for e in _output(session, "call_old", "cloudy")] == [
        "conversation.item.added", "conversation.item.done"]
    assert _transcript(_respond(session)) == "The get_weather tool answered: cloudy."


# ---------------------------------------------------------------------------------------------
# Cancel, truncate, delete
# ---------------------------------------------------------------------------------------------


def test_cancel_midway_keeps_the_call_incomplete_with_what_was_sent() -> None:
    """A cancel during the arguments ends the response cancelled; the item stays in the
    conversation, incomplete, with the arguments sent so far; no arguments.done."""
    session = _session(speed=1.0)  # a delta every 100 ms
    _say(session, "get weather")
    started = _send(session, 0.0, type="response.create")
    session.advance(0.2)  # two deltas out
    sent = session.events_to_send()
    events = _send(session, 0.25, type="response.cancel")
    assert _types(events) == ["response.output_item.done", "conversation.item.done",
                              "rate_limits.updated", "response.done"]
    partial = "".join(e.delta for e in sent if isinstance(e, ResponseFunctionCallArgumentsDelta))
    assert 0 < len(partial) < len(json.dumps(ARGUMENTS))
    done = _done(events)
    assert done.response.status == "cancelled"
    assert done.response.status_details is not None
    assert done.response.status_details.reason == "client_cancelled"
    (item,) = done.response.output
    assert (item["status"], item["arguments"]) == ("incomplete", partial)
    added = started[1]
    assert isinstance(added, ResponseOutputItemAdded)
    stored = session.conversation.get(added.item["id"])
    assert stored is not None and stored.status == "incomplete"
    session.advance(100.0)
    assert session.events_to_send() == []  # nothing of the cancelled call after its done
    assert session.stats.responses_cancelled == 1


def test_truncating_a_function_call_is_an_error() -> None:
    """Only audio can be truncated: a function_call item is refused, naming item_id."""
    session = _session()
    _say(session, "get weather")
    call = _call(_respond(session))
    (error,) = _send(session, 0.0, type="conversation.item.truncate", item_id=call["id"],
                     content_index=0, audio_end_ms=0)
    assert isinstance(error, ServerError)
    assert error.error.param == "item_id"
    assert "function_call" in error.error.message


def test_deleting_the_call_being_generated_cancels_it() -> None:
    """Deleting the active function_call item cancels the response first, then deletes it."""
    session = _session(speed=1.0)
    _say(session, "get weather")
    added = _send(session, 0.0, type="response.create")[1]
    assert isinstance(added, ResponseOutputItemAdded)
    assert added.item["type"] == "function_call"
    events = _send(session, 0.05, type="conversation.item.delete", item_id=added.item["id"])
    assert _types(events)[-2:] == ["response.done", "conversation.item.deleted"]
    assert _done(events).response.status == "cancelled"
    assert session.conversation.get(added.item["id"]) is None
    assert session.active_response_id is None


# ---------------------------------------------------------------------------------------------
# Malformed tools, usage
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tools", "choice", "code", "param"), [
    ([{"type": "function", "description": "no name"}], "auto", "missing_required_parameter",
     "session.tools[0].name"),
    ([{**WEATHER, "parameters": {"type": "object", "properties": {"city": {"type": "place"}}}}],
     "auto", "invalid_value", "session.tools[0].parameters.properties.city.type"),
    ([WEATHER], {"type": "function", "name": "nope"}, "invalid_value",
     "session.tool_choice.name"),
])
def test_malformed_tools_are_refused_and_nothing_changes(tools: list[dict[str, Any]],
                                                         choice: object, code: str,
                                                         param: str) -> None:
    """A session.update with a malformed tool is an error naming the field; the session keeps
    its tools."""
    session = _session()
    before = session.config
    (error,) = _send(session, 0.0, type="session.update", event_id="evt_1", session={
        "type": "realtime", "tools": tools, "tool_choice": choice})
    assert isinstance(error, ServerError)
    assert (error.error.type, error.error.code, error.error.param, error.error.event_id) == (
        "invalid_request_error", code, param, "evt_1")
    assert session.config == before


def test_bad_response_tools_are_refused() -> None:
    """response.create's tools are checked the same way, under response.*."""
    session = _session()
    (error,) = _send(session, 0.0, type="response.create", response={
        "tools": [{"type": "function", "name": "x", "parameters": {"type": "array"}}]})
    assert isinstance(error, ServerError)
    assert error.error.param == "response.tools[0].parameters.type"
    assert session.active_response_id is None


def test_usage_counts_the_call_as_text() -> None:
    """A call's output tokens are its name and arguments, as text; no audio."""
    session = _session(speed=math.inf)
    _say(session, "get weather")
    usage = _done(_respond(session)).response.usage
    assert usage is not None and usage.output_token_details is not None
    expected = math.ceil(len(f"get_weather {json.dumps(ARGUMENTS)}") / 4)
    assert usage.output_token_details == {"text_tokens": expected, "audio_tokens": 0}
    assert usage.output_tokens == expected
