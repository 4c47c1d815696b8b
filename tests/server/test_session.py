"""Tests for realtalk.server.session: the server's protocol logic, driven with explicit time."""

from __future__ import annotations

import base64
import json
import logging
import math
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.server.responder import ConversationTurn, ScriptedResponder, ScriptedTranscriber
from realtalk.server.session import ServerOptions, ServerSession
from realtalk.server.voice import SyntheticVoice
from realtalk.wire import (
    ConversationItemAdded,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    RateLimitsUpdated,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreated,
    ResponseDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ServerError,
    ServerEvent,
    SessionCreated,
    SessionUpdated,
    StatusDetails,
    encode,
    to_dict,
)

REPLY = "Sure, here is a fairly long answer. It has two sentences, so you can interrupt it."
RATE = 24_000


def _session(*, reply: str = REPLY, vad: bool = False, shape: str = "ga",
             transcription: bool = False, **options: Any) -> ServerSession:
    """A session with manual turns (``vad``: server VAD) that asked for input transcription
    if ``transcription``; its setup events are drained."""
    opts = ServerOptions(**options) if vad else ServerOptions(turn_detection=False, **options)
    session = ServerSession(
        now=0.0,
        shape="beta" if shape == "beta" else "ga",
        options=opts,
        responder=ScriptedResponder([reply]),
        transcriber=ScriptedTranscriber(["what is the weather like"]),
        voice=SyntheticVoice(),
        seed=1,
    )
    session.events_to_send()  # drop session.created
    if transcription:
        _ask_transcription(session)
    return session


def _ask_transcription(session: ServerSession, model: str = "gpt-4o-mini-transcribe") -> None:
    """Turn input transcription on, in the session's dialect."""
    update: dict[str, Any] = (
        {"type": "realtime", "audio": {"input": {"transcription": {"model": model}}}}
        if session.shape == "ga" else {"input_audio_transcription": {"model": model}})
    (updated,) = _send(session, 0.0, type="session.update", session=update)
    assert isinstance(updated, SessionUpdated)


def _send(session: ServerSession, now: float, /, **frame: Any) -> list[ServerEvent]:
    session.receive(json.dumps(frame), now)
    return session.events_to_send()


def _types(events: Sequence[ServerEvent]) -> list[str]:
    return [event.type for event in events]


def _errors(events: Sequence[ServerEvent]) -> list[ServerError]:
    return [event for event in events if isinstance(event, ServerError)]


def _append(session: ServerSession, now: float, samples: npt.NDArray[np.int16],
            chunk_ms: int = 20) -> list[ServerEvent]:
    events: list[ServerEvent] = []
    step = chunk_ms * RATE // 1000
    for index, start in enumerate(range(0, len(samples), step)):
        pcm = samples[start : start + step].astype("<i2").tobytes()
        events += _send(session, now + index * chunk_ms / 1000,
                        type="input_audio_buffer.append",
                        audio=base64.b64encode(pcm).decode())
    return events


def _silence(ms: int) -> npt.NDArray[np.int16]:
    return np.zeros(ms * RATE // 1000, dtype=np.int16)


def _user_speech() -> npt.NDArray[np.int16]:
    return SyntheticVoice(seed=9, pitch_hz=200).synthesize("what is the weather like").samples


def _done(events: Sequence[ServerEvent]) -> ResponseDone:
    (done,) = [event for event in events if isinstance(event, ResponseDone)]
    return done


def _full_response(session: ServerSession, now: float = 0.0,
                   response: dict[str, Any] | None = None) -> list[ServerEvent]:
    frame: dict[str, Any] = {} if response is None else {"response": response}
    events = _send(session, now, type="response.create", **frame)
    session.advance(now + 1000.0)
    return events + session.events_to_send()


# ---------------------------------------------------------------------------------------------
# Session configuration
# ---------------------------------------------------------------------------------------------


def test_options_validate_their_values() -> None:
    """Latency must be >= 0 and chunk size and speed > 0; an infinite speed is allowed."""
    assert math.isinf(ServerOptions(generation_speed=math.inf).generation_speed)
    for bad in ({"chunk_ms": 0}, {"generation_speed": 0.0}, {"first_audio_latency_ms": -1.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            ServerOptions(**bad)



def test_created_reports_the_full_ga_session() -> None:
    """session.created carries the whole config, GA nested, with server_vad defaults."""
    session = ServerSession(now=0.0, seed=1, model="my-deployment")
    (created,) = session.events_to_send()
    assert isinstance(created, SessionCreated)
    config = created.session
    assert config["type"] == "realtime"
    assert config["object"] == "realtime.session"
    assert config["id"].startswith("sess_")
    assert config["model"] == "my-deployment"
    assert config["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert config["audio"]["output"]["voice"] == "marin"
    assert config["audio"]["input"]["turn_detection"] == {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
        "silence_duration_ms": 500, "create_response": True, "interrupt_response": True,
    }
    assert created.event_id is not None
    assert created.event_id.startswith("event_")


def test_beta_session_reports_the_flat_shape() -> None:
    """A beta session describes itself in the flat beta layout."""
    session = ServerSession(now=0.0, shape="beta", seed=1)
    (created,) = session.events_to_send()
    assert isinstance(created, SessionCreated)
    assert created.session["input_audio_format"] == "pcm16"
    assert created.session["turn_detection"]["type"] == "server_vad"
    assert "audio" not in created.session


def test_update_is_a_partial_merge() -> None:
    """session.update changes only what it names and replies with the whole config."""
    session = _session(vad=True)
    events = _send(session, 0.0, type="session.update",
                   session={"type": "realtime", "instructions": "Be brief."})
    (updated,) = events
    assert isinstance(updated, SessionUpdated)
    assert updated.session["instructions"] == "Be brief."
    assert updated.session["audio"]["output"]["voice"] == "marin"
    assert updated.session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert session.config.instructions == "Be brief."


def test_update_fills_vad_defaults_and_can_turn_detection_off() -> None:
    """A bare server_vad gets the service defaults; turn_detection null means manual turns."""
    session = _session(vad=True)
    (updated,) = _send(session, 0.0, type="session.update", session={
        "type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad"}}}})
    assert isinstance(updated, SessionUpdated)
    turn = updated.session["audio"]["input"]["turn_detection"]
    assert (turn["threshold"], turn["prefix_padding_ms"], turn["silence_duration_ms"]) == (
        0.5, 300, 500)
    (updated,) = _send(session, 0.0, type="session.update", session={
        "type": "realtime", "audio": {"input": {"turn_detection": None}}})
    assert isinstance(updated, SessionUpdated)
    assert updated.session["audio"]["input"]["turn_detection"] is None
    assert _append(session, 0.0, np.concatenate((_user_speech(), _silence(800)))) == []


@pytest.mark.parametrize(
    ("session_obj", "param", "message"),
    [
        ({"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
         "session.audio.input.format.rate", "16000"),
        ({"type": "realtime", "audio": {"output": {"format": {"type": "audio/pcmu"}}}},
         "session.audio.output.format.type", "audio/pcmu"),
        ({"input_audio_format": "g711_ulaw"}, "session.input_audio_format", "g711_ulaw"),
        ({"type": "realtime",
          "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}}},
         "session.audio.input.turn_detection.threshold", "1.5"),
        ({"type": "realtime", "model": "other-model"}, "session.model", "other-model"),
    ],
)
def test_update_with_a_bad_value_is_an_invalid_value_error(
    session_obj: dict[str, Any], param: str, message: str
) -> None:
    """A wrong rate, format, threshold or model is an invalid_value error naming field and value."""
    session = _session()
    before = session.config
    (error,) = _send(session, 0.0, type="session.update", event_id="evt_1", session=session_obj)
    assert isinstance(error, ServerError)
    assert error.error.type == "invalid_request_error"
    assert error.error.code == "invalid_value"
    assert error.error.param == param
    assert message in error.error.message
    assert error.error.event_id == "evt_1"
    assert session.config == before


# ---------------------------------------------------------------------------------------------
# Bad frames
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_json", None),
        ('{"event_id": "e"}', "missing_required_parameter", "type"),
        ('{"type": "response.explode"}', "invalid_value", "type"),
        ('{"type": "conversation.item.truncate", "audio_end_ms": 5}',
         "missing_required_parameter", "item_id"),
        ('{"type": "conversation.item.truncate", "item_id": 5, "audio_end_ms": 5}',
         "invalid_value", "item_id"),
        ('{"type": "input_audio_buffer.append", "audio": "%%%"}', "invalid_value", "audio"),
        ('{"type": "input_audio_buffer.append", "audio": "AA=="}', "invalid_value", "audio"),
        ("[" * 200_000, "invalid_json", None),
        ('{"type": "response.create", "response": ' + "[" * 2_000 + "]" * 2_000 + "}",
         "invalid_json", None),
        ('{"type": 7}', "invalid_value", "type"),
        ('{"type": "conversation.item.delete"}', "missing_required_parameter", "item_id"),
        ('{"type": "conversation.item.retrieve", "item_id": ["x"]}', "invalid_value",
         "item_id"),
        ('{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
         '"content": [{"type": ["input_text"]}]}}', "invalid_value", "item.content[0].type"),
        ('{"type": "response.create", "response": 3}', "invalid_value", "response"),
        ('"just a string"', "invalid_json", None),
        ("null", "invalid_json", None),
    ],
)
def test_bad_frames_become_error_events(frame: str, code: str, param: str | None,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """Malformed, unknown and bad-field frames give an error event, never an exception, and
    log nothing at ERROR."""
    session = _session()
    session.receive(frame, 0.0)
    (error,) = session.events_to_send()
    assert isinstance(error, ServerError)
    assert error.error.type == "invalid_request_error"
    assert error.error.code == code
    assert error.error.param == param
    assert error.error.message
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _send(session, 0.0, type="input_audio_buffer.clear")[0].type == \
        "input_audio_buffer.cleared"  # and the session goes on


@pytest.mark.parametrize(("frame", "says"), [
    ("[" * 200_000, "nested more than 128 levels"),
    ("{not json", "not valid JSON"),
    (b'{"type": "input_audio_buffer.clear"}', "Binary WebSocket frames are not supported"),
    ("[1, 2]", "got an array"),
    ('{"type": null}', "Missing required parameter: 'type'"),
    ('{"type": false}', "expected a string, but got a boolean"),
])
def test_frame_errors_name_what_was_wrong(frame: str | bytes, says: str) -> None:
    """The error message says what was wrong with the frame."""
    session = _session()
    session.receive(frame, 0.0)
    (error,) = session.events_to_send()
    assert isinstance(error, ServerError)
    assert says in error.error.message


def test_unknown_type_lists_the_supported_ones() -> None:
    """An unknown event type names itself and what is supported."""
    session = _session()
    (error,) = _send(session, 0.0, type="response.explode", event_id="e7")
    assert isinstance(error, ServerError)
    assert "'response.explode'" in error.error.message
    assert "'response.cancel'" in error.error.message
    assert error.error.event_id == "e7"


@pytest.mark.parametrize(("frame_type", "why"), [
    ("output_audio_buffer.clear", "WebRTC and SIP"),
    ("transcription_session.update", "not transcription sessions"),
])
def test_protocol_events_the_server_refuses_say_why(frame_type: str, why: str) -> None:
    """WebRTC-only and transcription-session events are refused with the reason."""
    session = _session()
    (error,) = _send(session, 0.0, type=frame_type, session={}, event_id="e8")
    assert isinstance(error, ServerError)
    assert error.error.code == "invalid_value"
    assert frame_type in error.error.message
    assert why in error.error.message
    assert error.error.event_id == "e8"


def test_receive_returns_the_frame_type() -> None:
    """receive() reports the type it read, for the server's on_client_event hook."""
    session = _session()
    assert session.receive('{"type": "response.cancel"}', 0.0) == "response.cancel"
    assert session.receive("garbage", 0.0) is None


# ---------------------------------------------------------------------------------------------
# Input audio buffer, manual turns
# ---------------------------------------------------------------------------------------------


def test_commit_of_empty_buffer_is_an_error() -> None:
    """Committing less than 100 ms is input_audio_buffer_commit_empty."""
    session = _session()
    (error,) = _send(session, 0.0, type="input_audio_buffer.commit", event_id="c1")
    assert isinstance(error, ServerError)
    assert error.error.code == "input_audio_buffer_commit_empty"
    assert "0.00ms" in error.error.message
    assert error.error.event_id == "c1"


def test_commit_creates_a_user_item_and_its_transcript() -> None:
    """A commit gives committed, item added/done and the transcription, in that order."""
    session = _session(transcription=True)
    assert _append(session, 0.0, _user_speech()) == []
    events = _send(session, 1.0, type="input_audio_buffer.commit")
    assert _types(events) == [
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
    ]
    committed, added, _, transcript = events
    assert isinstance(committed, InputAudioBufferCommitted)
    assert isinstance(added, ConversationItemAdded)
    assert isinstance(transcript, InputAudioTranscriptionCompleted)
    assert added.item["id"] == committed.item_id == transcript.item_id
    assert added.item["role"] == "user"
    assert added.item["content"] == [{"type": "input_audio", "transcript": None}]
    assert transcript.transcript == "what is the weather like"
    (item,) = list(session.conversation)
    assert len(item.audio) == 2 * len(_user_speech())


def test_placeholder_transcript_names_the_duration() -> None:
    """Without a scripted transcriber the transcript honestly says how long the user spoke."""
    session = ServerSession(now=0.0, options=ServerOptions(turn_detection=False))
    session.events_to_send()
    _ask_transcription(session, "whisper-1")
    _append(session, 0.0, _silence(1240), chunk_ms=1240)
    events = _send(session, 0.0, type="input_audio_buffer.commit")
    transcript = events[-1]
    assert isinstance(transcript, InputAudioTranscriptionCompleted)
    assert transcript.transcript == "(user speech, 1.24 s)"


def test_clear_drops_the_buffer() -> None:
    """clear empties the buffer, so a following commit is empty."""
    session = _session()
    _append(session, 0.0, _user_speech())
    (cleared,) = _send(session, 1.0, type="input_audio_buffer.clear")
    assert isinstance(cleared, InputAudioBufferCleared)
    (error,) = _send(session, 1.0, type="input_audio_buffer.commit")
    assert isinstance(error, ServerError)
    assert error.error.code == "input_audio_buffer_commit_empty"


# ---------------------------------------------------------------------------------------------
# Conversation items
# ---------------------------------------------------------------------------------------------


def test_item_create_stores_and_echoes_the_item() -> None:
    """conversation.item.create gives added and done with a server id, and is stored."""
    session = _session()
    events = _send(session, 0.0, type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]})
    assert _types(events) == ["conversation.item.added", "conversation.item.done"]
    added = events[0]
    assert isinstance(added, ConversationItemAdded)
    assert added.item["id"].startswith("item_")
    assert added.item["object"] == "realtime.item"
    assert added.item["content"] == [{"type": "input_text", "text": "hi"}]
    assert session.conversation.turns() == [ConversationTurn("user", "hi")]


def test_item_create_honours_previous_item_id() -> None:
    """previous_item_id inserts after that item; an unknown one is an error."""
    session = _session()
    for text, item_id in (("first", "item_a"), ("second", "item_b")):
        _send(session, 0.0, type="conversation.item.create", item={
            "id": item_id, "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]})
    _send(session, 0.0, type="conversation.item.create", previous_item_id="item_a", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "middle"}]})
    assert [t.text for t in session.conversation.turns()] == ["first", "middle", "second"]
    (error,) = _send(session, 0.0, type="conversation.item.create", previous_item_id="nope",
                     item={"type": "message", "role": "user", "content": []})
    assert isinstance(error, ServerError)
    assert error.error.param == "previous_item_id"


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "telepathy"}, "item.type"),
        ({"type": "message", "role": "robot", "content": []}, "item.role"),
        ({"type": "message", "role": "user", "content": [{"type": "output_audio"}]},
         "item.content[0].type"),
        ({"type": "message", "role": "user", "content": [{"type": "input_text"}]},
         "item.content[0].text"),
    ],
)
def test_item_create_rejects_bad_items(item: dict[str, Any], param: str) -> None:
    """A bad item type, role or content part is an invalid_value error naming the field."""
    session = _session()
    (error,) = _send(session, 0.0, type="conversation.item.create", item=item)
    assert isinstance(error, ServerError)
    assert error.error.code == "invalid_value"
    assert error.error.param == param
    assert len(session.conversation) == 0


def test_item_delete_and_retrieve() -> None:
    """conversation.item.retrieve returns the item; delete removes it; unknown ids are errors."""
    session = _session()
    _send(session, 0.0, type="conversation.item.create", item={
        "id": "item_x", "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "hi"}]})
    (retrieved,) = _send(session, 0.0, type="conversation.item.retrieve", item_id="item_x")
    assert isinstance(retrieved, ConversationItemRetrieved)
    assert retrieved.item["id"] == "item_x"
    (deleted,) = _send(session, 0.0, type="conversation.item.delete", item_id="item_x")
    assert isinstance(deleted, ConversationItemDeleted)
    assert deleted.item_id == "item_x"
    assert len(session.conversation) == 0
    (error,) = _send(session, 0.0, type="conversation.item.delete", item_id="item_x")
    assert isinstance(error, ServerError)
    assert error.error.param == "item_id"


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------

_RESPONSE_TAIL = [
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "rate_limits.updated",
    "response.done",
]


def test_response_plays_out_on_schedule() -> None:
    """Audio starts after first_audio_latency_ms and chunks come every chunk_ms / speed."""
    session = _session(first_audio_latency_ms=250, chunk_ms=100, generation_speed=4.0)
    events = _send(session, 10.0, type="response.create")
    assert _types(events) == ["response.created", "response.output_item.added",
                              "conversation.item.added", "response.content_part.added"]
    assert session.next_deadline() == pytest.approx(10.25)
    session.advance(10.249)
    assert session.events_to_send() == []
    session.advance(10.25)
    first = session.events_to_send()
    assert _types(first) == ["response.output_audio.delta",
                             "response.output_audio_transcript.delta"]
    delta = first[0]
    assert isinstance(delta, ResponseOutputAudioDelta)
    assert len(delta.delta) == 100 * 48
    assert session.next_deadline() == pytest.approx(10.275)
    session.advance(10.30)
    assert _types(session.events_to_send()).count("response.output_audio.delta") == 2


def test_full_response_event_sequence() -> None:
    """A completed response sends every delta, then the done events in protocol order."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    events = _full_response(session)
    types = _types(events)
    assert types[:4] == ["response.created", "response.output_item.added",
                         "conversation.item.added", "response.content_part.added"]
    assert types[-len(_RESPONSE_TAIL):] == _RESPONSE_TAIL
    audio = b"".join(e.delta for e in events if isinstance(e, ResponseOutputAudioDelta))
    speech = SyntheticVoice().synthesize(REPLY)
    assert len(audio) == len(speech.pcm())
    text = "".join(e.delta for e in events if isinstance(e, ResponseOutputAudioTranscriptDelta))
    assert text == REPLY
    done = _done(events)
    assert done.response.status == "completed"
    assert done.response.status_details is None
    assert done.response.output[0]["content"][0]["transcript"] == REPLY
    assert done.response.output[0]["status"] == "completed"
    assert session.next_deadline() is None
    assert session.stats.responses_completed == 1


def test_transcript_delta_travels_with_the_chunk_where_the_word_starts() -> None:
    """Each word's transcript delta follows the audio delta of the chunk where the word starts."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf, chunk_ms=100)
    words = iter(SyntheticVoice().synthesize(REPLY).words)
    chunk = -1
    for event in _full_response(session):
        if isinstance(event, ResponseOutputAudioDelta):
            chunk += 1
        elif isinstance(event, ResponseOutputAudioTranscriptDelta):
            assert int(next(words).start_ms // 100) == chunk


def test_second_response_while_active_is_an_error() -> None:
    """response.create during a response is conversation_already_has_active_response."""
    session = _session()
    _send(session, 0.0, type="response.create")
    (error,) = _send(session, 0.01, type="response.create", event_id="r2")
    assert isinstance(error, ServerError)
    assert error.error.code == "conversation_already_has_active_response"
    assert session.active_response_id is not None
    assert session.active_response_id in error.error.message
    assert error.error.event_id == "r2"


def test_cancel_stops_the_response_at_once() -> None:
    """response.cancel ends the response: done events, cancelled, nothing released after."""
    session = _session(first_audio_latency_ms=0, chunk_ms=100, generation_speed=1.0)
    _send(session, 0.0, type="response.create")
    session.advance(0.35)
    session.events_to_send()
    events = _send(session, 0.36, type="response.cancel")
    assert _types(events) == _RESPONSE_TAIL
    done = _done(events)
    assert done.response.status == "cancelled"
    assert done.response.status_details is not None
    assert done.response.status_details.type == "cancelled"
    assert done.response.status_details.reason == "client_cancelled"
    assert done.response.output[0]["status"] == "incomplete"
    assert done.response.output[0]["content"][0]["transcript"] == "Sure,"
    assert session.next_deadline() is None
    session.advance(100.0)
    assert session.events_to_send() == []
    assert session.stats.responses_cancelled == 1


def test_cancel_checks_the_response_id() -> None:
    """Cancel with nothing active, or naming another response, is response_cancel_not_active."""
    session = _session()
    (error,) = _send(session, 0.0, type="response.cancel", event_id="c9")
    assert isinstance(error, ServerError)
    assert error.error.code == "response_cancel_not_active"
    assert error.error.message == "Cancellation failed: no active response found"
    assert error.error.event_id == "c9"
    _send(session, 0.0, type="response.create")
    (error,) = _send(session, 0.0, type="response.cancel", response_id="resp_other")
    assert isinstance(error, ServerError)
    assert error.error.code == "response_cancel_not_active"
    assert error.error.param == "response_id"
    assert "resp_other" in error.error.message
    active = session.active_response_id
    events = _send(session, 0.0, type="response.cancel", response_id=active)
    assert _done(events).response.id == active


def test_cancel_after_completion_is_the_benign_error() -> None:
    """A cancel that arrives after everything was due finds no active response."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    _send(session, 0.0, type="response.create")
    (error,) = _send(session, 0.1, type="response.cancel")
    assert isinstance(error, ServerError)
    assert error.error.code == "response_cancel_not_active"


def test_responder_sees_the_conversation() -> None:
    """The responder gets the turns so far, latest last, with user text and transcripts."""
    seen: list[list[ConversationTurn]] = []

    class Echo:
        def reply(self, conversation: Sequence[ConversationTurn]) -> str:
            seen.append(list(conversation))
            return "You said: " + conversation[-1].text

    session = ServerSession(now=0.0, options=ServerOptions(
        turn_detection=False, first_audio_latency_ms=0, generation_speed=math.inf),
        responder=Echo())
    _send(session, 0.0, type="conversation.item.create", item={
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": "ping"}]})
    events = _full_response(session)
    assert seen == [[ConversationTurn("user", "ping")]]
    assert _done(events).response.output[0]["content"][0]["transcript"] == "You said: ping"


def test_failing_responder_is_a_server_error_event() -> None:
    """A responder that raises gives a server_error event and no response."""

    class Broken:
        def reply(self, conversation: Sequence[ConversationTurn]) -> str:
            raise RuntimeError("boom")

    session = ServerSession(now=0.0, responder=Broken())
    session.events_to_send()
    (error,) = _send(session, 0.0, type="response.create")
    assert isinstance(error, ServerError)
    assert error.error.code == "server_error"
    assert session.active_response_id is None


# ---------------------------------------------------------------------------------------------
# The response object: metadata, modalities, limits, usage, rate limits
# ---------------------------------------------------------------------------------------------


def _created(events: Sequence[ServerEvent]) -> ResponseCreated:
    (created,) = [event for event in events if isinstance(event, ResponseCreated)]
    return created


def test_response_object_carries_every_field_the_service_sends() -> None:
    """created and done report conversation, modalities, voice, format, limit and metadata;
    the metadata is the request's, as LiveKit Agents matches replies by it."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    metadata = {"client_event_id": "response_create_7"}
    events = _full_response(session, response={"metadata": metadata})
    created, done = _created(events).response, _done(events).response
    for response in (created, done):
        assert response.metadata == metadata
        assert response.conversation_id is not None
        assert response.conversation_id == "conv_" + session.id.removeprefix("sess_")
        assert response.output_modalities == ("audio",)
        assert response.max_output_tokens == "inf"
        assert response.voice == "marin"
        assert response.output_audio_format == {"type": "audio/pcm", "rate": 24000}
        assert response.id == created.id
    assert (created.status, created.usage, created.output) == ("in_progress", None, ())
    assert done.status == "completed"
    ga = to_dict(_done(events))["response"]
    assert ga["audio"] == {"output": {"format": {"type": "audio/pcm", "rate": 24000},
                                      "voice": "marin"}}
    assert ga["metadata"] == metadata
    assert ga["usage"]["total_tokens"] > 0


def test_beta_response_object_uses_beta_fields() -> None:
    """A beta session's responses report modalities, voice, output_audio_format, temperature."""
    session = _session(shape="beta", first_audio_latency_ms=0, generation_speed=math.inf)
    events = _full_response(session, response={"metadata": {"k": "v"}, "temperature": 0.7,
                                               "max_response_output_tokens": 4096})
    beta = to_dict(_done(events), "beta")["response"]
    assert beta["modalities"] == ["audio"]
    assert beta["voice"] == "marin"
    assert beta["output_audio_format"] == "pcm16"
    assert beta["temperature"] == 0.7
    assert beta["max_output_tokens"] == 4096
    assert beta["metadata"] == {"k": "v"}
    assert beta["conversation_id"].startswith("conv_")
    assert "audio" not in beta and "output_modalities" not in beta


def test_usage_counts_what_was_heard_and_said() -> None:
    """Output tokens are the reply's text and audio; input tokens grow with the conversation."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    _send(session, 0.0, type="conversation.item.create", item={
        "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "What is the weather like?"}]})
    first = _done(_full_response(session)).response.usage
    speech_ms = SyntheticVoice().synthesize(REPLY).duration_ms
    assert first is not None
    assert first.output_token_details == {"text_tokens": math.ceil(len(REPLY) / 4),
                                          "audio_tokens": math.ceil(speech_ms / 50)}
    assert first.output_tokens == math.ceil(len(REPLY) / 4) + math.ceil(speech_ms / 50)
    assert first.input_tokens is not None and first.output_tokens is not None
    assert first.total_tokens == first.input_tokens + first.output_tokens
    instructions = ServerOptions().instructions
    assert first.input_token_details is not None
    assert first.input_token_details["text_tokens"] == math.ceil(len(instructions) / 4) + \
        math.ceil(len("What is the weather like?") / 4)
    second = _done(_full_response(session, now=10.0)).response.usage
    assert second is not None and second.input_tokens is not None
    # The first reply is now context: its audio (a spoken reply is read back as audio).
    assert second.input_tokens == first.input_tokens + math.ceil(speech_ms / 50)


def test_cancelled_response_counts_only_what_was_generated() -> None:
    """A response cancelled early reports fewer output tokens than a whole one."""
    session = _session(first_audio_latency_ms=0, chunk_ms=100, generation_speed=1.0)
    _send(session, 0.0, type="response.create")
    session.advance(0.35)
    usage = _done(_send(session, 0.36, type="response.cancel")).response.usage
    assert usage is not None and usage.output_token_details is not None
    assert usage.output_token_details["audio_tokens"] == 8  # 400 ms generated, 50 ms a token


def test_rate_limits_follow_each_response_and_refill() -> None:
    """rate_limits.updated comes just before response.done, with the response's tokens
    taken; the bucket refills at the per-minute rate."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf,
                       tokens_per_minute=6_000)

    def respond(now: float) -> tuple[list[ServerEvent], int]:
        events = _send(session, now, type="response.create")  # done at once: infinite speed
        usage = _done(events).response.usage
        assert usage is not None and usage.total_tokens is not None
        return events, usage.total_tokens

    events, first = respond(0.0)
    assert _types(events)[-2:] == ["rate_limits.updated", "response.done"]
    assert _tokens_limit(events) == {"name": "tokens", "limit": 6_000,
                                     "remaining": 6_000 - first,
                                     "reset_seconds": pytest.approx(first / 100)}
    events, second = respond(1.0)  # a second on: 100 tokens came back
    assert _tokens_limit(events)["remaining"] == 6_000 - (first - 100) - second
    events, third = respond(200.0)  # minutes on: the bucket was full again
    assert _tokens_limit(events)["remaining"] == 6_000 - third


def _tokens_limit(events: Sequence[ServerEvent]) -> Mapping[str, Any]:
    (limits,) = [event for event in events if isinstance(event, RateLimitsUpdated)]
    (tokens,) = limits.rate_limits
    return tokens


@pytest.mark.parametrize("shape", ["ga", "beta"])
def test_text_only_session_sends_text_events_only(shape: str) -> None:
    """output_modalities ["text"] on the session: text deltas and a text part, no audio."""
    session = _session(shape=shape, first_audio_latency_ms=0, generation_speed=math.inf)
    key = "output_modalities" if shape == "ga" else "modalities"
    session_obj: dict[str, Any] = {key: ["text"]}
    if shape == "ga":
        session_obj["type"] = "realtime"
    (updated,) = _send(session, 0.0, type="session.update", session=session_obj)
    assert updated.session[key] == ["text"]  # type: ignore[union-attr]
    events = _full_response(session)
    _assert_text_response(events, shape)


def test_text_only_response_then_audio_again() -> None:
    """output_modalities ["text"] on one response.create affects that response only."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    _assert_text_response(_full_response(session, response={"output_modalities": ["text"]}),
                          "ga")
    audio = _full_response(session, now=10.0)
    assert "response.output_audio.delta" in _types(audio)
    assert _done(audio).response.output_modalities == ("audio",)


def _assert_text_response(events: Sequence[ServerEvent], shape: str) -> None:
    names = [to_dict(e, "beta" if shape == "beta" else "ga")["type"] for e in events]
    text_delta = "response.output_text.delta" if shape == "ga" else "response.text.delta"
    assert text_delta in names
    assert not [n for n in names if "audio" in n], names
    text = "".join(e.delta for e in events if isinstance(e, ResponseOutputTextDelta))
    assert text == REPLY
    (text_done,) = [e for e in events if isinstance(e, ResponseOutputTextDone)]
    assert text_done.text == REPLY
    parts = [e.part for e in events if isinstance(e, ResponseContentPartAdded |
                                                  ResponseContentPartDone)]
    assert parts == [{"type": "text", "text": ""}, {"type": "text", "text": REPLY}]
    done = _done(events).response
    assert done.output_modalities == ("text",)
    content_type = "output_text" if shape == "ga" else "text"
    assert done.output[0]["content"] == [{"type": content_type, "text": REPLY}]
    assert done.usage is not None and done.usage.output_token_details is not None
    assert done.usage.output_token_details["audio_tokens"] == 0


def test_max_output_tokens_cuts_the_reply_short() -> None:
    """A reply longer than max_output_tokens stops there, as an incomplete response."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    events = _full_response(session, response={"max_output_tokens": 40})
    done = _done(events).response
    assert done.status == "incomplete"
    assert done.status_details == StatusDetails(type="incomplete", reason="max_output_tokens")
    assert done.max_output_tokens == 40
    assert done.usage is not None and done.usage.output_tokens is not None
    assert 0 < done.usage.output_tokens <= 40
    transcript = done.output[0]["content"][0]["transcript"]
    assert transcript and REPLY.startswith(transcript) and transcript != REPLY
    assert done.output[0]["status"] == "incomplete"


def test_out_of_band_response_stays_out_of_the_conversation() -> None:
    """conversation: "none" gives a response with no conversation id and no items added."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    events = _full_response(session, response={"conversation": "none"})
    assert not any(isinstance(e, ConversationItemAdded | ConversationItemDone) for e in events)
    assert _done(events).response.conversation_id is None
    assert len(session.conversation) == 0


@pytest.mark.parametrize(("response", "code", "param"), [
    ({"metadata": {"k": 1}}, "invalid_value", "response.metadata.k"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "invalid_value", "response.metadata"),
    ({"metadata": "m"}, "invalid_value", "response.metadata"),
    ({"max_output_tokens": 0}, "invalid_value", "response.max_output_tokens"),
    ({"max_output_tokens": 4097}, "invalid_value", "response.max_output_tokens"),
    ({"output_modalities": ["video"]}, "invalid_value", "response.output_modalities"),
    ({"output_modalities": "text"}, "invalid_value", "response.output_modalities"),
    ({"conversation": "conv_other"}, "invalid_value", "response.conversation"),
    ({"audio": {"output": {"format": {"type": "audio/pcmu"}}}}, "invalid_value",
     "response.audio.output.format.type"),
])
def test_bad_response_params_are_errors(response: dict[str, Any], code: str,
                                        param: str) -> None:
    """A bad per-response setting is an error naming it, and no response starts."""
    session = _session()
    (error,) = _send(session, 0.0, type="response.create", response=response, event_id="rc")
    assert isinstance(error, ServerError)
    assert (error.error.code, error.error.param, error.error.event_id) == (code, param, "rc")
    assert session.active_response_id is None


@pytest.mark.parametrize(("session_obj", "code", "param"), [
    ({"type": "realtime", "tracks": 2}, "unknown_parameter", "session.tracks"),
    ({"type": "realtime", "temperature": 0.8}, "unknown_parameter", "session.temperature"),
    ({"type": "realtime", "tools": {}}, "invalid_value", "session.tools"),
    ({"type": "realtime", "tools": [{"type": "function", "name": 3}]}, "invalid_value",
     "session.tools[0].name"),
    ({"type": "realtime", "tools": [{"type": "function", "strict": True}]},
     "unknown_parameter", "session.tools[0].strict"),
    ({"type": "realtime", "tool_choice": {"type": "function"}}, "invalid_value",
     "session.tool_choice"),
    ({"type": "realtime", "max_output_tokens": "lots"}, "invalid_value",
     "session.max_output_tokens"),
    ({"type": "realtime", "output_modalities": []}, "invalid_value",
     "session.output_modalities"),
    ({"type": "realtime", "truncation": {"type": "retention_ratio"}},
     "invalid_value", "session.truncation"),
])
def test_bad_session_fields_are_errors(session_obj: dict[str, Any], code: str,
                                       param: str) -> None:
    """Unknown session fields and bad values of the stored ones are refused, naming them."""
    session = _session()
    before = session.config
    (error,) = _send(session, 0.0, type="session.update", session=session_obj)
    assert isinstance(error, ServerError)
    assert (error.error.code, error.error.param) == (code, param)
    assert session.config == before


def test_stored_session_fields_are_echoed() -> None:
    """Valid tools, tool_choice, tracing and truncation are kept and reported back."""
    session = _session()
    tools = [{"type": "function", "name": "weather", "description": "Weather",
              "parameters": {"type": "object", "properties": {}}}]
    (updated,) = _send(session, 0.0, type="session.update", session={
        "type": "realtime", "tools": tools, "tool_choice": "required", "tracing": "auto",
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5}})
    assert isinstance(updated, SessionUpdated)
    assert updated.session["tools"] == tools
    assert updated.session["tool_choice"] == "required"
    assert updated.session["truncation"]["retention_ratio"] == 0.5


def test_transcription_reports_its_usage() -> None:
    """The transcript carries token usage: audio in at 10 tokens a second, text out."""
    session = _session(transcription=True)
    _append(session, 0.0, _silence(1000), chunk_ms=1000)
    (transcript,) = [e for e in _send(session, 1.0, type="input_audio_buffer.commit")
                     if isinstance(e, InputAudioTranscriptionCompleted)]
    assert transcript.usage == {
        "type": "tokens", "input_tokens": 10, "output_tokens": 6, "total_tokens": 16,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 10}}


# ---------------------------------------------------------------------------------------------
# Truncation
# ---------------------------------------------------------------------------------------------


def _cancelled_item(session: ServerSession, heard_until: float) -> str:
    """Start a real-time response, cancel it at ``heard_until`` s; return its item id."""
    events = _send(session, 0.0, type="response.create")
    session.advance(heard_until)
    _send(session, heard_until, type="response.cancel")
    (added,) = [e for e in events if isinstance(e, ConversationItemAdded)]
    return str(added.item["id"])


def test_truncate_cuts_audio_and_transcript_to_the_words_heard() -> None:
    """Truncation keeps the audio up to audio_end_ms and only the words that ended by then."""
    session = _session(first_audio_latency_ms=0, chunk_ms=100, generation_speed=1.0)
    item_id = _cancelled_item(session, 3.0)
    words = SyntheticVoice().synthesize(REPLY).words
    cut = int(words[3].end_ms) + 10  # inside the gap after the fourth word
    (truncated,) = _send(session, 3.0, type="conversation.item.truncate", item_id=item_id,
                         content_index=0, audio_end_ms=cut)
    assert isinstance(truncated, ConversationItemTruncated)
    assert (truncated.item_id, truncated.audio_end_ms) == (item_id, cut)
    item = session.conversation.get(item_id)
    assert item is not None
    assert len(item.audio) == cut * 48
    assert item.parts[0].transcript == " ".join(w.word for w in words[:4])
    assert session.stats.truncations == 1


def test_truncated_text_is_what_the_next_reply_sees() -> None:
    """After a truncation the conversation holds only the heard words of the assistant turn."""
    session = _session(first_audio_latency_ms=0, chunk_ms=100, generation_speed=1.0)
    item_id = _cancelled_item(session, 3.0)
    _send(session, 3.0, type="conversation.item.truncate", item_id=item_id, audio_end_ms=0)
    assert session.conversation.turns() == [ConversationTurn("assistant", "")]


def test_truncate_longer_than_the_audio_is_an_error() -> None:
    """audio_end_ms beyond the generated audio gives the service's 'already shorter' error."""
    session = _session(first_audio_latency_ms=0, chunk_ms=100, generation_speed=1.0)
    item_id = _cancelled_item(session, 0.45)  # chunks at 0.0 .. 0.4: 500 ms generated
    (error,) = _send(session, 1.0, type="conversation.item.truncate", item_id=item_id,
                     audio_end_ms=2000, event_id="t1")
    assert isinstance(error, ServerError)
    assert error.error.code == "invalid_value"
    assert error.error.message == "Audio content of 500ms is already shorter than 2000ms"
    assert error.error.param == "audio_end_ms"
    assert error.error.event_id == "t1"


def test_truncate_rejects_unknown_and_non_audio_items() -> None:
    """Truncating an unknown item or a user item is an error naming item_id."""
    session = _session()
    (error,) = _send(session, 0.0, type="conversation.item.truncate", item_id="item_nope",
                     audio_end_ms=0)
    assert isinstance(error, ServerError)
    assert "item_nope" in error.error.message
    _send(session, 0.0, type="conversation.item.create", item={
        "id": "item_u", "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "hi"}]})
    (error,) = _send(session, 0.0, type="conversation.item.truncate", item_id="item_u",
                     audio_end_ms=0)
    assert isinstance(error, ServerError)
    assert "Only model output audio messages can be truncated" in error.error.message
    assert error.error.param == "item_id"


def test_truncate_during_generation_cancels_first() -> None:
    """Truncating the item of a response still generating cancels it, then truncates."""
    session = _session(first_audio_latency_ms=0, chunk_ms=100, generation_speed=1.0)
    events = _send(session, 0.0, type="response.create")
    (added,) = [e for e in events if isinstance(e, ConversationItemAdded)]
    session.advance(1.0)
    session.events_to_send()
    events = _send(session, 1.0, type="conversation.item.truncate", item_id=added.item["id"],
                   audio_end_ms=500)
    assert _types(events) == [*_RESPONSE_TAIL, "conversation.item.truncated"]
    assert session.active_response_id is None


# ---------------------------------------------------------------------------------------------
# Server VAD
# ---------------------------------------------------------------------------------------------


def test_server_vad_turn_commits_and_responds() -> None:
    """Speech then silence gives started, stopped, the committed item, its text and a response."""
    session = _session(vad=True, transcription=True)
    speech = _user_speech()
    events = _append(session, 0.0, np.concatenate((_silence(500), speech, _silence(700))))
    types = _types(events)
    assert types[:7] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
    ]
    started, stopped, committed = events[:3]
    assert isinstance(started, InputAudioBufferSpeechStarted)
    assert isinstance(stopped, InputAudioBufferSpeechStopped)
    assert isinstance(committed, InputAudioBufferCommitted)
    assert 480 <= started.audio_start_ms <= 540
    assert started.item_id == stopped.item_id == committed.item_id
    assert stopped.audio_end_ms > started.audio_start_ms
    # The item keeps prefix_padding_ms before the onset and ends where the stop was decided.
    item = session.conversation.get(committed.item_id)
    assert item is not None
    expected_ms = stopped.audio_end_ms + 500 - (started.audio_start_ms - 300)
    assert item.audio_ms == pytest.approx(expected_ms, abs=1)


def test_server_vad_interrupts_an_active_response() -> None:
    """User speech during a response cancels it with reason turn_detected."""
    session = _session(vad=True, first_audio_latency_ms=0, generation_speed=1.0)
    _send(session, 0.0, type="response.create")
    session.events_to_send()
    events = _append(session, 0.5, _user_speech())
    started = next(e for e in events if isinstance(e, InputAudioBufferSpeechStarted))
    done = next(e for e in events if isinstance(e, ResponseDone))
    assert events.index(started) < events.index(done)
    assert done.response.status == "cancelled"
    assert done.response.status_details is not None
    assert done.response.status_details.reason == "turn_detected"
    # Nothing of the cancelled response follows its response.done.
    after = events[events.index(done) + 1 :]
    assert not any(isinstance(e, ResponseOutputAudioDelta) for e in after)


def test_server_vad_respects_interrupt_and_create_flags() -> None:
    """interrupt_response=false keeps the response; create_response=false starts none."""
    session = _session(vad=True, first_audio_latency_ms=0, generation_speed=1.0)
    _send(session, 0.0, type="session.update", session={"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "server_vad", "interrupt_response": False,
                           "create_response": False}}}})
    _send(session, 0.0, type="response.create")
    active = session.active_response_id
    events = _append(session, 0.1, np.concatenate((_user_speech(), _silence(700))))
    assert "input_audio_buffer.speech_started" in _types(events)
    assert "input_audio_buffer.committed" in _types(events)
    assert not any(isinstance(e, ResponseDone | ResponseCreated) for e in events)
    assert session.active_response_id == active


# ---------------------------------------------------------------------------------------------
# Shapes, ids, stats
# ---------------------------------------------------------------------------------------------


def test_beta_session_uses_beta_names() -> None:
    """A beta session's events encode with beta names, and it sends no conversation.item.done."""
    session = _session(shape="beta", first_audio_latency_ms=0, generation_speed=math.inf)
    events = _full_response(session)
    assert not any(isinstance(e, ConversationItemDone) for e in events)
    names = [to_dict(e, session.shape)["type"] for e in events]
    assert "response.audio.delta" in names
    assert "response.audio_transcript.delta" in names
    assert "conversation.item.created" in names
    item = to_dict(_done(events), "beta")["response"]["output"][0]
    assert item["content"][0]["type"] == "audio"


def test_ids_look_like_the_service() -> None:
    """Event, item and response ids carry the service's prefixes and are unique."""
    session = _session(first_audio_latency_ms=0, generation_speed=math.inf)
    events = _full_response(session)
    event_ids = [json.loads(encode(e))["event_id"] for e in events]
    assert all(i.startswith("event_") for i in event_ids)
    assert len(set(event_ids)) == len(event_ids)
    created = events[0]
    assert isinstance(created, ResponseCreated)
    assert created.response.id.startswith("resp_")


def test_stats_count_what_happened() -> None:
    """Stats count received types, errors, responses and truncations."""
    session = _session(first_audio_latency_ms=0, chunk_ms=100, generation_speed=1.0)
    item_id = _cancelled_item(session, 1.0)
    _send(session, 1.0, type="conversation.item.truncate", item_id=item_id, audio_end_ms=100)
    _send(session, 1.0, type="response.cancel")
    _full_response(session, 2.0)
    stats = session.stats
    assert stats.events_received == {"response.create": 2, "response.cancel": 2,
                                     "conversation.item.truncate": 1}
    assert stats.errors_sent == {"response_cancel_not_active": 1}
    assert (stats.responses_created, stats.responses_completed, stats.responses_cancelled,
            stats.truncations) == (2, 1, 1, 1)


def test_each_voice_name_sounds_different() -> None:
    """The session voice picks the synthetic voice: 'alloy' and 'marin' differ."""
    audio: dict[str, bytes] = {}
    for voice in ("alloy", "marin"):
        session = ServerSession(now=0.0, options=ServerOptions(
            voice=voice, first_audio_latency_ms=0, generation_speed=math.inf))
        events = _full_response(session)
        audio[voice] = b"".join(e.delta for e in events
                                if isinstance(e, ResponseOutputAudioDelta))
    assert audio["alloy"] != audio["marin"]


def test_session_logic_imports_no_io_library() -> None:
    """Importing the sans-I/O session does not pull in the server's I/O shell (websockets)."""
    # Stand in for the top-level package, whose __init__ wires the I/O layers on purpose.
    # (anyio is not checked: lower layers such as realtalk.audio use it legitimately.)
    code = (
        "import importlib.util, sys, types\n"
        "spec = importlib.util.find_spec('realtalk')\n"
        "package = types.ModuleType('realtalk')\n"
        "package.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['realtalk'] = package\n"
        "import realtalk.server.session\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'websockets'"
        " or m == 'realtalk.server.app'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_closed_session_ignores_input() -> None:
    """After close() nothing is received or released."""
    session = _session(first_audio_latency_ms=0, generation_speed=1.0)
    _send(session, 0.0, type="response.create")
    session.close()
    assert session.receive('{"type": "response.create"}', 1.0) is None
    session.advance(100.0)
    assert session.events_to_send() == []
    assert session.next_deadline() is None


def test_the_old_name_of_the_server_stats_still_works_with_a_warning() -> None:
    """ServerStats was SessionStats, the name of the client core's counters too."""
    import realtalk.server

    with pytest.warns(DeprecationWarning, match="ServerStats"):
        old = realtalk.server.SessionStats
    assert old is realtalk.server.ServerStats
