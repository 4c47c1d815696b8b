"""Tests for realtalk.server.session's turn-taking, driven with explicit time: what the
``create_response`` and ``interrupt_response`` flags of both turn detection types decide in
both protocol dialects, manual turns, and input transcription only when it was asked for."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.server.responder import ScriptedResponder, ScriptedTranscriber
from realtalk.server.session import ServerOptions, ServerSession
from realtalk.server.voice import SyntheticVoice
from realtalk.session_config import WireShape
from realtalk.wire import (
    InputAudioBufferCommitted,
    InputAudioTranscriptionCompleted,
    ResponseCreated,
    ResponseDone,
    ServerEvent,
    SessionUpdated,
    to_dict,
)

# Long enough that, generated at real time, it is still going when the user's turn ends.
REPLY = " ".join(["This is a long reply that keeps going for a good while."] * 4)
RATE = 24_000
HEARD = "what is the weather like"


def _session(shape: WireShape, turn_detection: dict[str, Any] | None,
             **audio_input: Any) -> ServerSession:
    """A session that generates audio at real time, configured by one ``session.update`` in
    its dialect (``turn_detection`` may be ``None``: manual turns; ``audio_input`` more input
    audio settings, by their GA names)."""
    session = ServerSession(
        now=0.0, shape=shape, seed=2, voice=SyntheticVoice(),
        options=ServerOptions(first_audio_latency_ms=0, generation_speed=1.0),
        responder=ScriptedResponder([REPLY]), transcriber=ScriptedTranscriber([HEARD]))
    session.events_to_send()
    _configure(session, turn_detection=turn_detection, **audio_input)
    return session


_BETA_NAMES = {"turn_detection": "turn_detection", "transcription": "input_audio_transcription"}


def _configure(session: ServerSession, **audio_input: Any) -> dict[str, Any]:
    """Send one session.update of these input audio settings (GA names), in the session's
    dialect; return the session it reports."""
    update: dict[str, Any] = (
        {"type": "realtime", "audio": {"input": audio_input}} if session.shape == "ga"
        else {_BETA_NAMES[name]: value for name, value in audio_input.items()})
    (updated,) = _send(session, 0.0, type="session.update", session=update)
    assert isinstance(updated, SessionUpdated)
    return dict(updated.session)


def _transcription_reported(session: ServerSession, reported: dict[str, Any]) -> object:
    if session.shape == "ga":
        return reported["audio"]["input"]["transcription"]
    return reported["input_audio_transcription"]


def _send(session: ServerSession, now: float, /, **frame: Any) -> list[ServerEvent]:
    session.receive(json.dumps(frame), now)
    return session.events_to_send()


def _append(session: ServerSession, now: float, samples: npt.NDArray[np.int16]) -> list[
        ServerEvent]:
    """Append in 20 ms chunks from ``now`` on, at real time."""
    events: list[ServerEvent] = []
    step = RATE // 50
    for index, start in enumerate(range(0, len(samples), step)):
        pcm = samples[start : start + step].astype("<i2").tobytes()
        events += _send(session, now + index * 0.02, type="input_audio_buffer.append",
                        audio=base64.b64encode(pcm).decode())
    return events


def _turn() -> npt.NDArray[np.int16]:
    """Half a second of silence, the user's words, then long enough a silence to end them."""
    speech = SyntheticVoice(seed=9, pitch_hz=200).synthesize(HEARD).samples
    silence = np.zeros(RATE // 2, np.int16)
    return np.concatenate((silence, speech, silence, silence))


def _wire_types(session: ServerSession, events: Sequence[ServerEvent]) -> list[str]:
    return [to_dict(event, session.shape)["type"] for event in events]


def _user_item_events(shape: WireShape) -> list[str]:
    """What a committed user turn always brings, in the dialect's names."""
    if shape == "ga":
        return ["input_audio_buffer.committed", "conversation.item.added",
                "conversation.item.done"]
    return ["input_audio_buffer.committed", "conversation.item.created"]


def _done(events: Sequence[ServerEvent]) -> list[ResponseDone]:
    return [event for event in events if isinstance(event, ResponseDone)]


def _created(events: Sequence[ServerEvent]) -> list[ResponseCreated]:
    return [event for event in events if isinstance(event, ResponseCreated)]


_COMBINATIONS = [(create, interrupt) for create in (True, False) for interrupt in (True, False)]


@pytest.mark.parametrize("shape", ["ga", "beta"])
@pytest.mark.parametrize("kind", ["server_vad", "semantic_vad"])
@pytest.mark.parametrize(("create_response", "interrupt_response"), _COMBINATIONS)
def test_a_turn_while_idle_is_committed_and_answered_only_with_create_response(
        shape: WireShape, kind: str, create_response: bool, interrupt_response: bool) -> None:
    """The turn is always committed as a user item; a response starts only with
    create_response."""
    session = _session(shape, {"type": kind, "create_response": create_response,
                               "interrupt_response": interrupt_response})
    events = _append(session, 0.0, _turn())
    types = _wire_types(session, events)
    expected = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                *_user_item_events(shape)]
    assert types[: len(expected)] == expected
    committed = next(e for e in events if isinstance(e, InputAudioBufferCommitted))
    assert [item.id for item in session.conversation] [:1] == [committed.item_id]
    assert len(_created(events)) == (1 if create_response else 0)
    assert (session.active_response_id is not None) == create_response


@pytest.mark.parametrize("shape", ["ga", "beta"])
@pytest.mark.parametrize("kind", ["server_vad", "semantic_vad"])
@pytest.mark.parametrize(("create_response", "interrupt_response"), _COMBINATIONS)
def test_a_turn_during_a_response_follows_both_flags(
        shape: WireShape, kind: str, create_response: bool, interrupt_response: bool) -> None:
    """speech_started cancels the response (turn_detected) only with interrupt_response; the
    turn is committed either way; a new response follows only with create_response, and only
    if the first one was cancelled (one response at a time)."""
    session = _session(shape, {"type": kind, "create_response": create_response,
                               "interrupt_response": interrupt_response})
    (first,) = _created(_send(session, 0.0, type="response.create"))
    events = _append(session, 0.1, _turn())
    types = _wire_types(session, events)
    started = types.index("input_audio_buffer.speech_started")
    committed = types.index("input_audio_buffer.committed")
    assert types[committed : committed + len(_user_item_events(shape))] == \
        _user_item_events(shape)
    done = _done(events)
    if interrupt_response:
        assert [d.response.id for d in done] == [first.response.id]
        assert done[0].response.status == "cancelled"
        assert done[0].response.status_details is not None
        assert done[0].response.status_details.reason == "turn_detected"
        assert started < events.index(done[0]) < committed
    else:
        assert done == []
    created = _created(events)
    if create_response and interrupt_response:
        assert len(created) == 1
        assert events.index(created[0]) > committed
        assert session.active_response_id == created[0].response.id
    else:
        assert created == []
        assert session.active_response_id == (None if interrupt_response else first.response.id)


@pytest.mark.parametrize("shape", ["ga", "beta"])
def test_an_out_of_band_response_is_not_interrupted(shape: WireShape) -> None:
    """interrupt_response cancels only a response of the default conversation: an
    out-of-band one (conversation "none") keeps going through the user's speech."""
    session = _session(shape, {"type": "server_vad", "create_response": False})
    (created,) = _created(_send(session, 0.0, type="response.create",
                                response={"conversation": "none"}))
    events = _append(session, 0.1, _turn())
    assert "input_audio_buffer.speech_started" in _wire_types(session, events)
    assert _done(events) == []
    assert session.active_response_id == created.response.id


@pytest.mark.parametrize("shape", ["ga", "beta"])
def test_without_turn_detection_the_client_commits_and_asks(shape: WireShape) -> None:
    """turn_detection null: speech brings no VAD event and no commit; the client's commit
    adds the user item and starts nothing; its response.create starts the reply."""
    session = _session(shape, None)
    assert _append(session, 0.0, _turn()) == []
    events = _send(session, 5.0, type="input_audio_buffer.commit")
    assert _wire_types(session, events) == _user_item_events(shape)
    assert session.active_response_id is None
    assert len(_created(_send(session, 5.0, type="response.create"))) == 1


# ---------------------------------------------------------------------------------------------
# Input transcription
# ---------------------------------------------------------------------------------------------


def _transcripts(events: Sequence[ServerEvent]) -> list[str]:
    return [e.transcript for e in events if isinstance(e, InputAudioTranscriptionCompleted)]


@pytest.mark.parametrize("shape", ["ga", "beta"])
@pytest.mark.parametrize("turn_detection", [None, {"type": "server_vad"}])
def test_no_transcription_unless_asked(shape: WireShape,
                                       turn_detection: dict[str, Any] | None) -> None:
    """As on the hosted service (off by default), a session that asked for no transcription
    gets no transcription event, and its user items carry no transcript."""
    session = _session(shape, turn_detection)
    events = _append(session, 0.0, _turn())
    if turn_detection is None:
        events += _send(session, 5.0, type="input_audio_buffer.commit")
    assert "input_audio_buffer.committed" in _wire_types(session, events)
    assert not any("input_audio_transcription" in t for t in _wire_types(session, events))
    (item,) = [i for i in session.conversation if i.role == "user"]
    assert item.parts[0].transcript is None


@pytest.mark.parametrize("shape", ["ga", "beta"])
@pytest.mark.parametrize("model", ["gpt-4o-mini-transcribe", "whisper-1", "my-own-asr"])
def test_transcription_when_asked_with_any_model(shape: WireShape, model: str) -> None:
    """Asked for with any model name, each turn's transcript follows its commit; the session
    reports the model."""
    session = _session(shape, None)
    turn = {"type": "server_vad", "create_response": False}
    reported = _configure(session, turn_detection=turn, transcription={"model": model})
    assert _transcription_reported(session, reported) == {"model": model}
    events = _append(session, 0.0, _turn())
    types = _wire_types(session, events)
    committed = types.index("input_audio_buffer.committed")
    assert types.index("conversation.item.input_audio_transcription.completed") > committed
    assert _transcripts(events) == [HEARD]


def test_a_transcription_latency_brings_the_words_after_the_reply_has_started() -> None:
    """With ``transcription_latency_ms``, a turn's transcript comes that long after its
    commit, as on the hosted service, where it can follow the start of the reply to it;
    the item holds no transcript until then, and ``next_deadline`` wakes the caller for it."""
    session = ServerSession(
        now=0.0, shape="ga", seed=2, voice=SyntheticVoice(),
        options=ServerOptions(first_audio_latency_ms=0, generation_speed=1.0,
                              transcription_latency_ms=400.0),
        responder=ScriptedResponder([REPLY]), transcriber=ScriptedTranscriber([HEARD]))
    session.events_to_send()
    _configure(session, turn_detection={"type": "server_vad"},
               transcription={"model": "whisper-1"})
    samples, step = _turn(), RATE // 50
    committed_at: float | None = None
    for index, start in enumerate(range(0, len(samples), step)):
        now = index * 0.02
        pcm = samples[start:start + step].astype("<i2").tobytes()
        events = _send(session, now, type="input_audio_buffer.append",
                       audio=base64.b64encode(pcm).decode())
        if any(isinstance(e, InputAudioBufferCommitted) for e in events):
            committed_at = now
            assert "response.created" in _wire_types(session, events)
            assert _transcripts(events) == []
            break
    assert committed_at is not None
    (item,) = [i for i in session.conversation if i.role == "user"]
    deadline = session.next_deadline()
    assert deadline is not None and deadline <= committed_at + 0.4
    session.advance(committed_at + 0.39)
    assert _transcripts(session.events_to_send()) == []
    assert item.parts[0].transcript is None
    session.advance(committed_at + 0.4)
    assert _transcripts(session.events_to_send()) == [HEARD]
    assert item.parts[0].transcript == HEARD


@pytest.mark.parametrize("shape", ["ga", "beta"])
def test_transcription_set_to_null_stops(shape: WireShape) -> None:
    """Transcription turned off again (null) sends no more transcripts, and session.updated
    reports it null."""
    session = _session(shape, None, transcription={"model": "whisper-1"})
    _append(session, 0.0, _turn())
    assert _transcripts(_send(session, 5.0, type="input_audio_buffer.commit")) == [HEARD]
    assert _transcription_reported(session, _configure(session, transcription=None)) is None
    _append(session, 5.0, _turn())
    events = _send(session, 10.0, type="input_audio_buffer.commit")
    assert "input_audio_buffer.committed" in _wire_types(session, events)
    assert _transcripts(events) == []
