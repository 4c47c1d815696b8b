"""The session core's outputs: every class is an action or a conversation event, the unions
and AUDIO_ACTIONS list each exactly once, and outputs are frozen values."""

from __future__ import annotations

import typing

import attrs
import pytest

from realtalk.session import outputs
from realtalk.session.latency import InterruptionLatency
from realtalk.session.outputs import (
    AUDIO_ACTIONS,
    Action,
    AudioAction,
    ConversationEvent,
    DuckPlayback,
    EndOfAudio,
    Interrupted,
    Output,
    PausePlayback,
    PlayAudio,
    ResumePlayback,
    SendEvent,
    StopPlayback,
    UserTranscript,
)
from realtalk.wire import ResponseCancel


def _classes() -> set[type]:
    values = [getattr(outputs, name) for name in outputs.__all__]
    return {value for value in values if isinstance(value, type)}


def test_the_audio_actions_are_the_audio_action_union() -> None:
    """The engine routes by ``isinstance(action, AUDIO_ACTIONS)``: it must list exactly the
    members of AudioAction, and every action but SendEvent is one."""
    assert typing.get_args(AudioAction) == AUDIO_ACTIONS
    assert set(typing.get_args(Action)) == {SendEvent, *AUDIO_ACTIONS}
    assert set(AUDIO_ACTIONS) == {PlayAudio, StopPlayback, DuckPlayback, EndOfAudio,
                                  PausePlayback, ResumePlayback}


def test_every_output_class_is_an_action_or_a_conversation_event() -> None:
    actions = set(typing.get_args(Action))
    events = set(typing.get_args(ConversationEvent))
    assert not actions & events
    assert _classes() == actions | events
    assert set(typing.get_args(Output)) == actions | events


@pytest.mark.parametrize("cls", sorted(_classes(), key=repr))
def test_every_output_is_a_frozen_attrs_class(cls: type) -> None:
    assert attrs.has(cls)
    instance = cls.__new__(cls)  # no arguments needed: only assignment is tried
    name = attrs.fields(cls)[0].name if attrs.fields(cls) else "at"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(instance, name, None)


def test_events_are_keyword_only_and_compare_by_value() -> None:
    a = UserTranscript(item_id="u1", text="hi", at=1.0)
    assert a == UserTranscript(item_id="u1", text="hi", at=1.0)
    assert a != UserTranscript(item_id="u1", text="hi", at=2.0)
    assert (a.speech_started_at, a.speech_ended_at) == (None, None)
    with pytest.raises(TypeError):
        UserTranscript("u1", "hi", 1.0)  # type: ignore[call-arg]
    assert {SendEvent(ResponseCancel()), SendEvent(ResponseCancel())} == \
        {SendEvent(ResponseCancel())}
    assert StopPlayback() == StopPlayback()


def test_an_interruption_carries_its_latency_marks() -> None:
    latency = InterruptionLatency(onset=1.0, detected=1.1, playback_stopped=1.105)
    event = Interrupted(response_id="r", item_id="i", source="local", heard_ms=900.0,
                        received_ms=3000.0, truncate_ms=900, cancel_sent=True,
                        timed_out=False, latency=latency)
    assert event.latency.stop_ms == pytest.approx(105.0)
