"""Tests for realtalk.relay.frames: cheap recognition of audio frames, and error events."""

from __future__ import annotations

import base64
import json

import pytest

from realtalk.events import (
    InputAudioBufferAppend,
    ResponseOutputAudioDelta,
    ServerError,
    encode,
    parse_server_event,
)
from realtalk.relay.frames import Refusal, audio_delta, error_frame, is_plain_append


def test_appends_as_clients_encode_them_take_the_fast_path() -> None:
    """realtalk's and a browser's compact JSON.stringify layout are recognised."""
    pcm = bytes(range(256)) * 10
    assert is_plain_append(encode(InputAudioBufferAppend(audio=pcm)))
    b64 = base64.b64encode(pcm).decode()
    assert is_plain_append('{"type":"input_audio_buffer.append","audio":"' + b64 + '"}')
    assert is_plain_append('{"type":"input_audio_buffer.append","audio":"","event_id":"e"}')


@pytest.mark.parametrize(
    "frame",
    [
        # not an append at all
        '{"type":"session.update","session":{}}',
        '{"type":"input_audio_buffer.appendix","audio":""}',
        # a second type key, plain or escaped, which an upstream parser might read instead
        '{"type":"input_audio_buffer.append","type":"session.update","session":{}}',
        '{"type":"input_audio_buffer.append","typ\\u0065":"session.update"}',
        '{"type":"input_audio_buffer.append","x":{"type":"nested"}}',
        # other layouts: decoded instead (still correct, just slower)
        '{"type": "input_audio_buffer.append", "audio": ""}',
        '{"audio":"","type":"input_audio_buffer.append"}',
    ],
)
def test_anything_else_is_decoded(frame: str) -> None:
    """Only a frame that provably is an append skips decoding."""
    assert not is_plain_append(frame)


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
