"""Decoding frames from a peer: whatever arrives, the parsers raise only EventParseError."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtalk import wire as ev
from realtalk.errors import EventParseError


@pytest.mark.parametrize("frame", ["[" * 200_000, '{"a":' * 200_000, "[" * 5_000 + "]" * 5_000])
@pytest.mark.parametrize("parse", [ev.load_json, ev.parse_server_event, ev.parse_client_event])
def test_deeply_nested_json_is_a_parse_error(frame: str, parse: Any) -> None:
    """JSON nested past the interpreter's stack (or the depth limit) is an EventParseError."""
    with pytest.raises(EventParseError, match="nested more than 128 levels"):
        parse(frame)


def test_nesting_up_to_the_limit_is_fine() -> None:
    """A frame nested exactly MAX_JSON_DEPTH levels decodes; one more level does not."""
    deepest = "[" * ev.MAX_JSON_DEPTH + "]" * ev.MAX_JSON_DEPTH
    assert ev.load_json(deepest) is not None
    with pytest.raises(EventParseError):
        ev.load_json("[" + deepest + "]")
    assert ev.load_json('{"a": [[1]]}', max_depth=3) == {"a": [[1]]}
    with pytest.raises(EventParseError):
        ev.load_json('{"a": [[1]]}', max_depth=2)


@pytest.mark.parametrize(("frame", "says"), [
    ("{not json", "not valid JSON"),
    ('{"x": NaN}', "NaN is not a JSON number"),
    ('{"x": -Infinity}', "-Infinity is not a JSON number"),
    ('{"x": 1e999}', "1e999 is out of range"),
    ('{"x": ' + "9" * 400 + "}", "400 digits is out of range"),
    (b"\xff\xfe\x00", "not valid JSON"),
    ("1" * 10_000, "not valid JSON"),
])
def test_invalid_json_says_why(frame: str | bytes, says: str) -> None:
    """Invalid JSON, JSON's non-standard constants and undecodable bytes name the problem."""
    with pytest.raises(EventParseError, match=says):
        ev.load_json(frame)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_SERVER_TYPES = sorted({ev.wire_type(c, shape) for c in ev.SERVER_EVENT_CLASSES
                        for shape in ("ga", "beta")})
_FIELDS = sorted({f.name for c in ev.SERVER_EVENT_CLASSES for f in attrs.fields(c)}
                 | {f.name for f in attrs.fields(ev.ResponseInfo)} | {"audio", "modalities"})
# Frames that look like known events but hold arbitrary values in their fields.
_LOOKALIKES = st.builds(
    lambda event_type, fields, response: {**fields, "response": response, "type": event_type},
    st.sampled_from(_SERVER_TYPES),
    st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=6),
    st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=6) | _JSON,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _JSON.map(json.dumps), _LOOKALIKES.map(json.dumps)))
def test_server_event_parser_raises_only_its_own_error(frame: str) -> None:
    """Any text: an event that encodes back to JSON, or EventParseError; nothing else."""
    try:
        event = ev.parse_server_event(frame)
    except EventParseError:
        return
    for shape in ("ga", "beta"):
        json.loads(ev.encode(event, shape))
