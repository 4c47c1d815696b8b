"""Property tests: no client or upstream frame makes the relay's parsing or checks raise.

The relay runs every client frame through :func:`~realtalk.relay.frames.parse_client_frame`,
the policy and the ownership check, and every upstream frame through
:func:`~realtalk.relay.frames.audio_delta` or :func:`~realtalk.wire.load_json` and
``SessionOwnership.observe_server``. An exception out of any of them would end the session
without an ``error`` event, so each is fed arbitrary text, bytes and JSON, including shapes the
protocol uses with the wrong types in every field.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from realtalk.errors import EventParseError
from realtalk.relay.frames import (
    APPEND,
    AUDIO_DELTA_TYPES,
    INVALID_JSON,
    ClientFrame,
    Refusal,
    audio_delta,
    parse_client_frame,
)
from realtalk.relay.ownership import IdRegistry, SessionOwnership
from realtalk.relay.policy import CLIENT_EVENT_TYPES, REALTALK_NOTES, EventPolicy
from realtalk.relay.tokens import SessionClaims
from realtalk.wire import load_json

# Reproducible (the same examples every run) and free of timing: the machine may be loaded.
FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=400)

CLAIMS = SessionClaims(session_id="s1")
# Field names and values the relay looks at, so the generated frames reach its code paths.
KEYS = st.sampled_from([
    "type", "event_id", "session_id", "response_id", "item_id", "previous_item_id", "session",
    "response", "item", "input", "content", "role", "text", "id", "audio", "output", "format",
    "output_audio_format", "instructions", "tools", "delta",
]) | st.text(max_size=8)
SCALARS = (st.none() | st.booleans() | st.integers()
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["system", "input_text", "item_reference", "root", "realtime",
                              "audio/pcmu", "s1", *sorted(REALTALK_NOTES)]))
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children,
                                                                       max_size=6),
    max_leaves=30,
)
EVENT_TYPES = st.sampled_from(sorted({*CLIENT_EVENT_TYPES, *AUDIO_DELTA_TYPES,
                                      "session.created", "session.updated",
                                      "conversation.item.deleted", "response.done"}))

# Real frames of both directions, with every field the relay reads...
NOTE = sorted(REALTALK_NOTES)[0]
SEEDS: list[dict[str, Any]] = [
    {"type": "conversation.item.create", "previous_item_id": "item_1", "event_id": "e1",
     "item": {"id": "mine", "type": "message", "role": "system",
              "content": [{"type": "input_text", "text": NOTE}]}},
    {"type": "response.create", "response": {
        "input": [
            {"type": "item_reference", "id": "item_1"},
            {"type": "message", "role": "system",
             "content": [{"type": "input_text", "text": NOTE}]}]}},
    {"type": "session.update", "session": {"id": "sess_1", "type": "realtime", "tools": [],
                                            "audio": {"output": {"format": {"type": "pcm16"}}}}},
    {"type": "response.cancel", "response_id": "resp_1", "session_id": "s1"},
    {"type": "conversation.item.truncate", "item_id": "item_1", "audio_end_ms": 10},
    {"type": "input_audio_buffer.append", "audio": "AAAA"},
    {"type": "session.created", "session": {"id": "sess_1", "output_audio_format": "pcm16",
                                            "audio": {"output": {"format": {"type": "pcmu"}}}}},
    {"type": "response.done", "response": {"id": "resp_1", "output": [{"id": "item_2"}]}},
    {"type": "conversation.item.added", "item": {"id": "item_3"}, "item_id": "item_3"},
    {"type": "conversation.item.deleted", "item_id": "item_1"},
    {"type": "response.output_audio.delta", "item_id": "item_2", "delta": "AAAA"},
]


def _paths(value: object, at: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place inside ``value`` (but its ``type``) a value could be put."""
    found: list[tuple[str | int, ...]] = []
    children = (value.items() if isinstance(value, dict)
                else enumerate(value) if isinstance(value, list) else ())
    for key, child in children:
        if at or key != "type":
            found.append((*at, key))
        found.extend(_paths(child, (*at, key)))
    return found


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    """...with anything at all put in one to three places."""
    frame: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(frame)))
        parent: Any = frame
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = draw(JSON)
    return frame


PAYLOADS = _mutated() | st.builds(lambda event_type, rest: {**rest, "type": event_type},
                                  EVENT_TYPES, st.dictionaries(KEYS, JSON, max_size=6))
def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


ENCODED = (st.builds(json.dumps, JSON) | st.builds(json.dumps, PAYLOADS)
           | st.builds(_compact, PAYLOADS))
# Audio appends as clients send them (what the relay forwards without re-encoding)...
APPENDS = st.builds(lambda audio, extra: _compact({"type": APPEND, "audio": audio, **extra}),
                    st.text(), st.dictionaries(KEYS, st.text(max_size=5), max_size=2))
# ...and frames that are nearly JSON or nearly such an append: text spliced in anywhere.
SPLICED = st.builds(
    lambda text, at, junk: text[:at] + junk + text[at:], ENCODED | APPENDS, st.integers(0, 200),
    st.text(max_size=8) | st.sampled_from([',"audio":"x"', ',"type":"session.update"', " ",
                                           "\\u0041", '"', "}", ',"session_id":"s2"']))
FRAMES = ENCODED | APPENDS | SPLICED | st.text()
NESTED = st.builds(lambda opener, depth, closed: (
    '{"type":"session.update","session":' + opener * depth
    + ("" if not closed else "".join("]" if o == "[" else "}" for o in opener * depth)) + "}"),
    st.sampled_from(["[", '{"a":', "[{\"a\":"]), st.integers(1, 3000), st.booleans())


def _check(result: ClientFrame | Refusal) -> None:
    """A refusal is invalid_json; a frame is forwarded exactly as the relay decoded it."""
    if isinstance(result, Refusal):
        assert result.code == INVALID_JSON
        return
    assert result.text == json.dumps(result.payload, separators=(",", ":"), ensure_ascii=False)
    assert load_json(result.text) == result.payload
    result.text.encode("utf-8")  # what the upstream connection will do with it


@FUZZ
@given(FRAMES | NESTED)
def test_no_text_frame_makes_the_client_parser_raise(text: str) -> None:
    """Any text gives an invalid_json refusal, or a frame whose forwarded text is the compact
    encoding of what the relay decoded: a frame forwarded as received never is anything else
    (invalid JSON, a second key, a layout another parser could read differently)."""
    _check(parse_client_frame(text, CLAIMS))


@FUZZ
@given(st.binary() | st.builds(str.encode, FRAMES))
def test_binary_frames_are_refused(data: bytes) -> None:
    """The protocol is text frames: a binary one is refused, whatever it holds."""
    refusal = parse_client_frame(data, CLAIMS)
    assert isinstance(refusal, Refusal) and refusal.code == INVALID_JSON


@FUZZ
@given(FRAMES | NESTED, st.none() | st.integers(1, 100))
def test_decoding_raises_only_event_parse_errors(text: str, max_depth: int | None) -> None:
    """load_json (used on upstream frames too) fails only with EventParseError."""
    with contextlib.suppress(EventParseError):
        load_json(text, max_depth=max_depth)


@FUZZ
@given(st.builds(lambda prefix, rest: prefix + rest,
                 st.sampled_from(['{"type":"' + name + '"' for name in AUDIO_DELTA_TYPES]),
                 st.text(alphabet='"=:,{}item_iddelta AB', max_size=40)) | st.text())
def test_reading_upstream_audio_deltas_never_raises(text: str) -> None:
    """audio_delta reads a frame it does not decode: any text gives a result or None."""
    found = audio_delta(text)
    assert found is None or found[1] >= 0


@FUZZ
@given(PAYLOADS)
def test_the_default_policy_never_raises(payload: dict[str, Any]) -> None:
    """EventPolicy reads fields of any type without raising."""
    frame = ClientFrame(type=payload["type"], payload=payload, text=json.dumps(payload),
                        claims=CLAIMS)
    EventPolicy().check(frame)


@FUZZ
@given(st.lists(PAYLOADS, max_size=6))
def test_ownership_never_raises(payloads: list[dict[str, Any]]) -> None:
    """Learning ids from upstream frames and checking client frames read fields of any type
    without raising."""
    registry = IdRegistry()
    own = SessionOwnership("s1", registry)
    other = SessionOwnership("s2", registry)
    for payload in payloads:
        other.observe_server(payload)
        own.observe_server(payload)
        own.check(payload["type"], payload)
        own.observe_client(payload)
    own.close()
    other.close()
    assert len(registry) == 0
