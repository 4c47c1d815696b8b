"""Fuzzing the server session's frame handling: any frames, in any order, never break it.

Each example feeds a fresh session a few frames (arbitrary text, arbitrary JSON values, and
objects that look like client events but hold arbitrary values). Every frame must be either a
client event the server handles or answered by an ``error`` event; nothing may raise, nothing
may be logged at ERROR, and every event the session sends must encode to valid JSON that the
openai models accept.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from realtalk.errors import EventParseError
from realtalk.server.responder import ScriptedResponder
from realtalk.server.session import ServerOptions, ServerSession
from realtalk.server.voice import SyntheticVoice
from realtalk.session_config import WireShape
from realtalk.wire import (
    CLIENT_EVENT_CLASSES,
    ServerError,
    parse_client_event,
    to_dict,
    wire_type,
)

_REPLY = "Sure, here you are."
_VOICE = SyntheticVoice()  # one voice for all examples: its cache keeps them fast
FrameValidator = Callable[[dict[str, Any], WireShape], None]  # the validate_frame fixture

# The protocol's own words, so that fuzzed fields often hold values that pass the first checks.
_WORDS = st.sampled_from(["message", "user", "assistant", "system", "function_call",
                          "function_call_output", "input_text", "input_audio", "output_text",
                          "output_audio", "text", "audio", "realtime", "server_vad",
                          "semantic_vad", "auto", "none", "inf", "pcm16", "audio/pcm", "AAAA"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6) | _WORDS,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
_TYPES = sorted({wire_type(c) for c in CLIENT_EVENT_CLASSES} | {"response.explode"})


def _obj(*keys: str, **typical: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with any subset of ``keys`` and of ``typical``'s keys. A ``typical`` key's value
    is often one of its own (a strategy, or a tuple of values the protocol uses, so that the
    fuzzing gets past the first checks), else any JSON value, as the other keys' are."""
    fields = dict.fromkeys(keys, _JSON)
    for key, value in typical.items():
        own = st.sampled_from(value) if isinstance(value, tuple) else value
        fields[key] = st.one_of(own, own, own, _JSON)  # mostly its own
    return st.fixed_dictionaries({}, optional=fields)


_PART = _obj("text", "transcript", "audio",
             type=("input_text", "input_audio", "output_text", "output_audio", "text", "audio"))
_ITEM = _obj("id", "status", "call_id", "name", "arguments", "output",
             type=("message", "function_call", "function_call_output"),
             role=("user", "assistant", "system"), content=st.lists(_PART, max_size=2))
_TURN = _obj("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms",
             "create_response", "interrupt_response", type=("server_vad", "semantic_vad"),
             eagerness=("low", "auto"))
_FORMAT = _obj("rate", type=("audio/pcm", "audio/pcmu"))
_AUDIO = _obj(input=_obj("transcription", "noise_reduction", format=_FORMAT, turn_detection=_TURN),
              output=_obj("voice", "speed", format=_FORMAT))
_MODALITIES: tuple[list[str], ...] = (["audio"], ["text"], ["audio", "text"], [])
_SESSION = _obj("model", "instructions", "voice", "input_audio_transcription",
                "input_audio_noise_reduction", "temperature", "max_response_output_tokens",
                "max_output_tokens", "tools", "tool_choice", type=("realtime", "transcription"),
                modalities=_MODALITIES, output_modalities=_MODALITIES,
                input_audio_format=("pcm16", "g711_ulaw"), output_audio_format=("pcm16",),
                audio=_AUDIO, turn_detection=_TURN)
_RESPONSE = _obj("instructions", "voice", "temperature", "input", "output_audio_format",
                 modalities=_MODALITIES, output_modalities=_MODALITIES,
                 max_output_tokens=("inf", 1, 4096, 5000), max_response_output_tokens=("inf", 0),
                 conversation=("auto", "none"), audio=_AUDIO,
                 metadata=st.dictionaries(st.text(max_size=70), _JSON, max_size=3))
_IDS = ("item_a", "item_b", "resp_a")
_EVENT = st.one_of(
    st.fixed_dictionaries({"type": st.just("conversation.item.create"),
                           "item": _ITEM | _obj(type=("message",), role=("user",), id=_IDS,
                                                content=st.lists(_PART, max_size=2))},
                          optional={"previous_item_id": st.sampled_from(_IDS) | _JSON}),
    st.fixed_dictionaries({"type": st.just("session.update"), "session": _SESSION}),
    st.fixed_dictionaries({"type": st.just("response.create")},
                          optional={"response": _RESPONSE}),
    st.fixed_dictionaries({"type": st.sampled_from(["conversation.item.truncate",
                                                    "conversation.item.delete",
                                                    "conversation.item.retrieve"]),
                           "item_id": st.sampled_from(_IDS) | _JSON},
                          optional={"content_index": st.integers(-1, 1) | _JSON,
                                    "audio_end_ms": st.integers(-10, 10_000) | _JSON}),
    st.fixed_dictionaries({"type": st.sampled_from(["response.cancel",
                                                    "input_audio_buffer.commit",
                                                    "input_audio_buffer.clear"])},
                          optional={"response_id": st.sampled_from(_IDS) | _JSON}),
    st.fixed_dictionaries({"type": st.just("input_audio_buffer.append"),
                           "audio": st.binary(max_size=9_600).map(
                               lambda pcm: base64.b64encode(pcm).decode()) | _JSON}),
)
_LOOKALIKE = st.builds(
    lambda event_type, fields: {**fields, "type": event_type},
    st.sampled_from(_TYPES),
    st.fixed_dictionaries({}, optional={
        "event_id": _JSON, "item_id": _JSON, "content_index": _JSON, "audio_end_ms": _JSON,
        "previous_item_id": _JSON, "response_id": _JSON, "audio": _JSON, "item": _ITEM | _JSON,
        "session": _SESSION | _JSON, "response": _RESPONSE | _JSON}),
)
_FRAMES = st.one_of(st.text(max_size=40), _JSON.map(json.dumps), _LOOKALIKE.map(json.dumps),
                    st.binary(max_size=8))


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _errors_logged() -> Iterator[list[logging.LogRecord]]:
    handler = _ErrorRecords()
    logger = logging.getLogger("realtalk")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def _run(shape: WireShape, frames: list[str | bytes], validate_frame: FrameValidator) -> None:
    """Feed a fresh session ``frames``, one per simulated second, checking each answer."""
    session = ServerSession(now=0.0, shape=shape, seed=1, options=ServerOptions(
        first_audio_latency_ms=0, chunk_ms=500, generation_speed=2.0),
        responder=ScriptedResponder([_REPLY]), voice=_VOICE)
    with _errors_logged() as logged:
        for index, frame in enumerate(frames):
            session.events_to_send()
            session.receive(frame, float(index))
            session.advance(index + 0.5)
            sent = session.events_to_send()
            assert _parses(frame) or any(isinstance(e, ServerError) for e in sent), frame
            for event in sent:
                validate_frame(json.loads(json.dumps(to_dict(event, shape))), shape)
    assert logged == []


def _parses(frame: str | bytes) -> bool:
    if isinstance(frame, bytes):
        return False
    try:
        parse_client_event(frame)
    except EventParseError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(shape=st.sampled_from(["ga", "beta"]), frames=st.lists(_FRAMES, min_size=1, max_size=4))
def test_any_frames_are_handled_or_answered_with_an_error(
        shape: WireShape, frames: list[str | bytes], validate_frame: FrameValidator) -> None:
    """No frame raises, logs at ERROR, or goes unanswered unless it was a valid event."""
    _run(shape, frames, validate_frame)


@settings(max_examples=400, deadline=None)
@given(shape=st.sampled_from(["ga", "beta"]),
       events=st.lists(_EVENT, min_size=1, max_size=6))
def test_any_event_sequence_is_handled_or_answered_with_an_error(
        shape: WireShape, events: list[dict[str, Any]], validate_frame: FrameValidator) -> None:
    """Sequences of well-formed-looking events with odd values, against a session whose
    items and responses they create, cancel, truncate and delete."""
    _run(shape, [json.dumps(event) for event in events], validate_frame)
