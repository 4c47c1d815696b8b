"""Tests for realtalk.relay.frames: parsing client frames, cheap recognition of audio frames,
and error events."""

from __future__ import annotations

import base64
import json

import pytest

from realtalk.errors import EventParseError
from realtalk.relay.frames import (
    ClientFrame,
    Refusal,
    audio_delta,
    error_frame,
    parse_client_frame,
)
from realtalk.relay.tokens import SessionClaims
from realtalk.wire import (
    InputAudioBufferAppend,
    ResponseOutputAudioDelta,
    ServerError,
    encode,
    load_json,
    parse_server_event,
)

CLAIMS = SessionClaims(session_id="s1")


def _nested(depth: int) -> str:
    return '{"type":"session.update","session":' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        ("[" * 200_000, "nested more than 64 levels deep"),
        ('{"type":"response.create","response":' + '{"a":' * 100_000,
         "nested more than 64 levels deep"),
        (_nested(64), "more than 64 levels"),  # 65 with the frame's own object
        ("{oops", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"type":"response.cancel"} {"type":"response.cancel"}', "not valid JSON"),
        ('{"type":"response.cancel","x":NaN}', "NaN is not a JSON number"),
        ('{"type":"response.cancel","x":-Infinity}', "-Infinity is not a JSON number"),
        ('{"type":"response.cancel","x":1e999}', "1e999 is out of range"),
        ('{"type":"response.cancel","x":' + "9" * 400 + "}", "400 digits is out of range"),
        ('{"type":"conversation.item.create","item":"\\ud800"}', "lone surrogate"),
        ("[]", "a JSON object with a string 'type'"),
        ('"response.cancel"', "a JSON object with a string 'type'"),
        ('{"type":["response.cancel"]}', "a JSON object with a string 'type'"),
        ('{"type":"response.cancel","event_id":5}', "a string 'event_id', got int"),
        (b'{"type":"response.cancel"}', "binary frame of 26 bytes"),
        (b"\xff\xfe", "binary frame of 2 bytes"),
    ],
)
def test_bad_client_frames_are_refused_not_raised(frame: str | bytes, words: str) -> None:
    """Each kind of unreadable frame is an invalid_json refusal saying what is wrong."""
    refusal = parse_client_frame(frame, CLAIMS)
    assert isinstance(refusal, Refusal), refusal
    assert refusal.code == "invalid_json"
    assert words in refusal.message


def test_frames_are_forwarded_re_encoded_as_checked() -> None:
    """A decoded frame is forwarded as the relay read it: the last of duplicate keys, compact;
    JSON nesting up to the limit passes."""
    frame = parse_client_frame('{"type": "response.create", "type": "response.cancel"}', CLAIMS)
    assert isinstance(frame, ClientFrame)
    assert (frame.type, frame.text) == ("response.cancel", '{"type":"response.cancel"}')
    assert isinstance(parse_client_frame(_nested(63), CLAIMS), ClientFrame)
    assert isinstance(parse_client_frame(_nested(9), CLAIMS, max_depth=10), ClientFrame)
    assert isinstance(parse_client_frame(_nested(10), CLAIMS, max_depth=10), Refusal)


def test_upstream_json_is_decoded_at_any_depth_the_parser_allows() -> None:
    """Without a depth limit load_json takes what it can and fails cleanly past that."""
    assert load_json("[" * 500 + "]" * 500, max_depth=None) is not None
    with pytest.raises(EventParseError, match="nested too deeply for the parser"):
        load_json("[" * 200_000, max_depth=None)


def test_appends_as_clients_encode_them_are_forwarded_as_received() -> None:
    """realtalk's and a browser's compact JSON.stringify layout need no re-encoding; the
    policy still gets the decoded frame."""
    pcm = bytes(range(256)) * 10
    b64 = base64.b64encode(pcm).decode()
    for text in (
        encode(InputAudioBufferAppend(audio=pcm)),
        encode(InputAudioBufferAppend(audio=pcm, event_id="e1")),
        '{"type":"input_audio_buffer.append","audio":"' + b64 + '"}',
        '{"audio":"","event_id":"é","type":"input_audio_buffer.append"}',
    ):
        frame = parse_client_frame(text, CLAIMS)
        assert isinstance(frame, ClientFrame)
        assert frame.text is text
        assert frame.type == "input_audio_buffer.append"
        assert frame.payload == json.loads(text)


@pytest.mark.parametrize(
    ("text", "forwarded"),
    [
        # a second type key, plain or escaped, which an upstream parser might read instead
        ('{"type":"input_audio_buffer.append","type":"session.update","session":{}}',
         '{"type":"session.update","session":{}}'),
        ('{"type":"input_audio_buffer.append","typ\\u0065":"session.update"}',
         '{"type":"session.update"}'),
        ('{"type":"input_audio_buffer.append","audio":"A","audio":"B"}',
         '{"type":"input_audio_buffer.append","audio":"B"}'),
        # other layouts and values
        ('{"type": "input_audio_buffer.append", "audio": ""}',
         '{"type":"input_audio_buffer.append","audio":""}'),
        ('{"type":"input_audio_buffer.append","audio":"\\u0041"}',
         '{"type":"input_audio_buffer.append","audio":"A"}'),
        ('{"type":"input_audio_buffer.append","x":{"type":"nested"}}',
         '{"type":"input_audio_buffer.append","x":{"type":"nested"}}'),
        ('{"type":"response.cancel","n":1.50}', '{"type":"response.cancel","n":1.5}'),
    ],
)
def test_anything_else_is_forwarded_re_encoded(text: str, forwarded: str) -> None:
    """What is forwarded is what the relay decoded (and checked), in one compact layout."""
    frame = parse_client_frame(text, CLAIMS)
    assert isinstance(frame, ClientFrame)
    assert frame.text == forwarded
    assert frame.payload == json.loads(forwarded)


@pytest.mark.parametrize("n_bytes", [0, 1, 2, 3, 4, 4800, 4801, 4802])
def test_audio_deltas_are_measured_without_decoding(n_bytes: int) -> None:
    """audio_delta reads the item id and the exact PCM byte count (padding included)."""
    frame = encode(ResponseOutputAudioDelta(response_id="resp_1", item_id="item_9",
                                            delta=b"\x01" * n_bytes, event_id="event_1"))
    assert audio_delta(frame) == ("item_9", n_bytes)
    beta = frame.replace('"response.output_audio.delta"', '"response.audio.delta"')
    assert audio_delta(beta) == ("item_9", n_bytes)


def test_frames_that_are_not_plain_deltas_are_left_to_the_decoder() -> None:
    """Other types, other layouts and truncated frames give None."""
    assert audio_delta('{"type":"response.output_audio_transcript.delta","item_id":"i",'
                       '"delta":"hi"}') is None
    assert audio_delta('{"type": "response.output_audio.delta", "item_id": "i", '
                       '"delta": "AAAA"}') is None
    assert audio_delta('{"type":"response.output_audio.delta","delta":"AAAA"}') is None
    assert audio_delta('{"type":"response.output_audio.delta","item_id":"i","delta":"AA') \
        is None


def test_error_frames_look_like_the_hosted_services() -> None:
    """type/code/message/param, the client's event_id inside, a fresh event_id outside."""
    refusal = Refusal("session_not_owned", "not yours", param="item_id")
    frame = json.loads(error_frame(refusal, "client_7"))
    assert frame["type"] == "error" and frame["event_id"].startswith("event_")
    assert frame["error"] == {"type": "invalid_request_error", "code": "session_not_owned",
                              "message": "not yours", "param": "item_id",
                              "event_id": "client_7"}
    parsed = parse_server_event(error_frame(Refusal("x", "y", error_type="server_error")))
    assert isinstance(parsed, ServerError) and parsed.error.type == "server_error"
    assert parsed.error.event_id is None
    assert json.loads(error_frame(refusal))["event_id"] != frame["event_id"]
