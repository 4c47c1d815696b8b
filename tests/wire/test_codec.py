"""Protocol events: GA and beta names, round trips, malformed and unknown frames."""

from __future__ import annotations

import base64
import json

import attrs
import pytest

from realtalk import wire as ev
from realtalk.errors import EventParseError
from realtalk.session_config import SessionConfig, TurnDetection

PCM = b"\x01\x00\xff\x7f"
B64 = base64.b64encode(PCM).decode()


@pytest.mark.parametrize(
    ("ga", "beta", "cls"),
    [
        ("response.output_audio.delta", "response.audio.delta", ev.ResponseOutputAudioDelta),
        ("response.output_audio.done", "response.audio.done", ev.ResponseOutputAudioDone),
        ("response.output_audio_transcript.delta", "response.audio_transcript.delta",
         ev.ResponseOutputAudioTranscriptDelta),
        ("response.output_audio_transcript.done", "response.audio_transcript.done",
         ev.ResponseOutputAudioTranscriptDone),
        ("conversation.item.added", "conversation.item.created", ev.ConversationItemAdded),
        ("response.output_text.delta", "response.text.delta", ev.ResponseOutputTextDelta),
        ("response.output_text.done", "response.text.done", ev.ResponseOutputTextDone),
    ],
)
def test_beta_names_parse_to_the_ga_class(ga: str, beta: str, cls: type) -> None:
    """A beta-named frame and its GA twin parse to the same class and fields."""
    body = {"response_id": "r", "item_id": "i", "delta": B64, "transcript": "hi",
            "text": "hi", "item": {"id": "i"}}
    a = ev.parse_server_event({"type": ga, **body})
    b = ev.parse_server_event({"type": beta, **body})
    assert type(a) is type(b) is cls
    assert a == b


def test_audio_delta_decodes_base64_to_pcm() -> None:
    """Audio is raw PCM16 bytes inside realtalk."""
    event = ev.parse_server_event(json.dumps({
        "type": "response.output_audio.delta", "response_id": "r", "item_id": "i",
        "output_index": 0, "content_index": 0, "delta": B64}))
    assert isinstance(event, ev.ResponseOutputAudioDelta)
    assert event.delta == PCM


def test_response_done_status_details() -> None:
    """response.done carries status and status_details."""
    event = ev.parse_server_event({"type": "response.done", "response": {
        "id": "resp_1", "status": "cancelled",
        "status_details": {"type": "cancelled", "reason": "turn_detected"}, "output": []}})
    assert isinstance(event, ev.ResponseDone)
    assert event.response.status == "cancelled"
    assert event.response.status_details is not None
    assert event.response.status_details.reason == "turn_detected"


@pytest.mark.parametrize(
    "event",
    [
        ev.InputAudioBufferAppend(audio=PCM),
        ev.InputAudioBufferCommit(event_id="e1"),
        ev.InputAudioBufferClear(),
        ev.ConversationItemCreate(item={"type": "message", "role": "user", "content": []}),
        ev.ConversationItemTruncate(item_id="i", content_index=0, audio_end_ms=1840),
        ev.ResponseCreate(),
        ev.ResponseCreate(response={"instructions": "be brief"}),
        ev.ResponseCancel(),
        ev.ResponseCancel(response_id="r1"),
        ev.SessionUpdate(session=SessionConfig(instructions="x", voice="marin",
                                               turn_detection=TurnDetection(threshold=0.7))),
        ev.SessionUpdate(session=SessionConfig(turn_detection=False), shape="beta"),
    ],
)
def test_client_events_round_trip(event: ev.ClientEvent) -> None:
    """encode -> parse_client_event gives back an equal event."""
    assert ev.parse_client_event(ev.encode(event)) == event


@pytest.mark.parametrize(
    "event",
    [
        ev.SessionCreated(session={"type": "realtime"}),
        ev.InputAudioBufferSpeechStarted(audio_start_ms=10, item_id="u"),
        ev.InputAudioBufferSpeechStopped(audio_end_ms=900, item_id="u"),
        ev.InputAudioBufferCommitted(item_id="u"),
        ev.ConversationItemTruncated(item_id="i", audio_end_ms=300),
        ev.InputAudioTranscriptionCompleted(item_id="u", transcript="hello"),
        ev.ResponseCreated(response=ev.ResponseInfo(id="r")),
        ev.ResponseOutputAudioDelta(response_id="r", item_id="i", delta=PCM),
        ev.ResponseDone(response=ev.ResponseInfo(
            id="r", status="cancelled",
            status_details=ev.StatusDetails(type="cancelled", reason="client_cancelled"))),
        ev.ServerError(error=ev.ErrorInfo(type="invalid_request_error", message="m",
                                          code="response_cancel_not_active")),
    ],
)
def test_server_events_round_trip(event: ev.ServerEvent) -> None:
    """encode -> parse_server_event gives back an equal event."""
    assert ev.parse_server_event(ev.encode(event)) == event


def test_session_config_shapes() -> None:
    """GA nests audio settings; beta keeps them flat; both parse back to one config."""
    config = SessionConfig(instructions="x", voice="alloy", transcription_model="whisper-1",
                           noise_reduction="far_field",
                           turn_detection=TurnDetection(type="semantic_vad", eagerness="low"))
    ga = config.to_dict("ga")
    beta = config.to_dict("beta")
    assert ga["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
    assert ga["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert ga["audio"]["output"]["voice"] == "alloy"
    assert beta["turn_detection"]["eagerness"] == "low"
    assert beta["input_audio_format"] == "pcm16"
    assert SessionConfig.from_dict(ga) == SessionConfig.from_dict(beta)


def test_turn_detection_false_is_sent_as_null() -> None:
    """turn_detection=False means manual turns: null on the wire."""
    assert SessionConfig(turn_detection=False).to_dict()["audio"]["input"]["turn_detection"] \
        is None


def test_unknown_event_keeps_payload() -> None:
    """An unknown server type becomes UnknownServerEvent with the whole frame."""
    event = ev.parse_server_event('{"type":"response.hologram.delta","frames":[1]}')
    assert isinstance(event, ev.UnknownServerEvent)
    assert event.payload["frames"] == [1]
    assert ev.to_dict(event) == {"type": "response.hologram.delta", "frames": [1]}


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ('{"no_type": 1}', "type"),
        ('{"type": 7}', "type"),
        ('{"type":"response.output_audio.delta","item_id":"i","delta":"AAA="}', "response_id"),
        ('{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":"@@"}',
         "delta"),
        ('{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":"AA=="}',
         "delta"),
        ('{"type":"input_audio_buffer.speech_started","audio_start_ms":"10","item_id":"u"}',
         "audio_start_ms"),
        ('{"type":"response.done","response":{"id":"r","status":"weird"}}', "response.status"),
        ('{"type":"response.done","response":"r"}', "response"),
    ],
)
def test_malformed_frames_raise_naming_the_field(frame: str, field: str | None) -> None:
    """Bad frames raise EventParseError naming the field, never another exception."""
    with pytest.raises(EventParseError) as info:
        ev.parse_server_event(frame)
    assert info.value.field == field
    if field is not None:
        assert field.split(".")[0] in str(info.value)


def test_unknown_client_event_is_an_error() -> None:
    """A server refuses client events it does not know."""
    with pytest.raises(EventParseError, match="unknown client event type"):
        ev.parse_client_event('{"type":"response.explode"}')


def test_bad_session_rate_names_the_field() -> None:
    """A wrong sample rate in session.update names the field and the expected value."""
    frame = {"type": "session.update", "session": {"type": "realtime", "audio": {
        "input": {"format": {"type": "audio/pcm", "rate": 16000}}}}}
    with pytest.raises(EventParseError) as info:
        ev.parse_client_event(frame)
    assert info.value.field == "session.audio.input.format.rate"
    assert "24000" in str(info.value)


def test_response_object_renders_in_each_shape() -> None:
    """One ResponseInfo: GA nests voice and format under audio.output; beta keeps them flat,
    names the format pcm16 and the modalities "modalities"; both parse back to the same value."""
    info = ev.ResponseInfo(
        id="resp_1", status="completed", conversation_id="conv_1", output_modalities=("audio",),
        max_output_tokens="inf", metadata={"client_event_id": "c1"}, voice="marin",
        output_audio_format={"type": "audio/pcm", "rate": 24000},
        usage=ev.ResponseUsage(total_tokens=30, input_tokens=10, output_tokens=20,
                               output_token_details={"audio_tokens": 18, "text_tokens": 2}))
    ga = ev.to_dict(ev.ResponseDone(response=info))["response"]
    assert ga["audio"] == {"output": {"format": {"type": "audio/pcm", "rate": 24000},
                                      "voice": "marin"}}
    assert ga["output_modalities"] == ["audio"]
    assert ga["usage"] == {"total_tokens": 30, "input_tokens": 10, "output_tokens": 20,
                           "output_token_details": {"audio_tokens": 18, "text_tokens": 2}}
    beta = ev.to_dict(ev.ResponseDone(response=attrs.evolve(info, temperature=0.8)),
                      "beta")["response"]
    assert (beta["voice"], beta["output_audio_format"], beta["modalities"]) == (
        "marin", "pcm16", ["audio"])
    assert beta["temperature"] == 0.8
    assert "audio" not in beta
    for frame in (ga, beta):
        parsed = ev.parse_server_event({"type": "response.done", "response": frame})
        assert isinstance(parsed, ev.ResponseDone)
        assert attrs.evolve(parsed.response, temperature=None) == info


def test_beta_audio_formats_map_to_ga_ones() -> None:
    """g711 formats and unknown names survive a beta round trip."""
    for name, ga in (("g711_ulaw", {"type": "audio/pcmu"}), ("g711_alaw", {"type": "audio/pcma"}),
                     ("opus_future", {"type": "opus_future"})):
        event = ev.parse_server_event({"type": "response.created", "response": {
            "id": "r", "output_audio_format": name}})
        assert isinstance(event, ev.ResponseCreated)
        assert event.response.output_audio_format == ga
        assert ev.to_dict(event, "beta")["response"]["output_audio_format"] == name


@pytest.mark.parametrize(("response", "field"), [
    ({"id": "r", "metadata": {"k": 1}}, "response.metadata"),
    ({"id": "r", "max_output_tokens": "lots"}, "response.max_output_tokens"),
    ({"id": "r", "output_modalities": "audio"}, "response.output_modalities"),
    ({"id": "r", "audio": {"output": "marin"}}, "response.audio"),
    ({"id": "r", "audio": {"output": {"format": "pcm16"}}}, "response.audio.output.format"),
    ({"id": "r", "usage": 5}, "response.usage"),
    ({"id": "r", "conversation_id": 5}, "response.conversation_id"),
])
def test_bad_response_fields_name_the_field(response: dict[str, object], field: str) -> None:
    """A mistyped response field is an EventParseError naming it."""
    with pytest.raises(EventParseError) as info:
        ev.parse_server_event({"type": "response.done", "response": response})
    assert info.value.field == field


def test_wire_type_names_each_shape() -> None:
    """wire_type gives the GA or beta name of an event class."""
    assert ev.wire_type(ev.ResponseOutputAudioDelta) == "response.output_audio.delta"
    assert ev.wire_type(ev.ResponseOutputAudioDelta, "beta") == "response.audio.delta"
    assert ev.wire_type(ev.ResponseContentPartAdded, "beta") == "response.content_part.added"
    with pytest.raises(TypeError, match="UnknownServerEvent"):
        ev.wire_type(ev.UnknownServerEvent)
