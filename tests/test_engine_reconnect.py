"""The engine across a lost connection, sans-I/O: playback stopped where the user is, the
outage's rules (microphone dropped, app requests held), the restore on the new session, the
budget, and tool calls in flight."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from realtalk import BargeIn
from realtalk import wire as ev
from realtalk.audio import AudioFrame, MemoryOutput
from realtalk.audio.pcm import int16_to_bytes
from realtalk.echo import EchoDefences
from realtalk.engine import ConversationEngine, Effect, Emit, RunTool
from realtalk.reconnect import LostResponse, Reconnect, Reconnected, Reconnecting
from realtalk.rollover import TRANSCRIPT_WAIT_S, OpenNextSession, RolledOver, SwitchSession
from realtalk.session import ErrorOccurred, SendEvent, State, StateChanged
from realtalk.testing import MemoryTranscriptStore
from realtalk.tools import tool
from realtalk.tools.calls import ToolCallCancelled
from realtalk.transcripts import InterruptionMark, TranscriptRecord

RATE = 24_000
WORDS = ["Once", "upon", "a", "time", "there", "was", "a", "king"]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@tool
def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: sunny"


def _new(clock: _Clock, reconnect: Reconnect | None = None, **options: Any
         ) -> ConversationEngine:
    engine = ConversationEngine(
        output=MemoryOutput(RATE, clock=clock), reconnect=reconnect,
        echo=EchoDefences(canceller=None, watch=None, transcript_filters=None), **options)
    engine.open(0.0)
    _drain(engine)
    return engine


def _drain(engine: ConversationEngine) -> list[Effect]:
    """Perform as a shell does: each send reported back, until nothing is left."""
    done: list[Effect] = []
    while effects := engine.effects():
        for effect in effects:
            if isinstance(effect, SendEvent):
                engine.sent(effect, 0.0)
        done.extend(effects)
    return done


def _server(engine: ConversationEngine, *events: ev.ServerEvent) -> list[Effect]:
    for event in events:
        engine.server_frame(ev.encode(event), 0.0)
    return _drain(engine)


def _reply(engine: ConversationEngine, rid: str = "r1", iid: str = "a1") -> None:
    """A reply of 100 ms per word, each word's audio then its transcript delta; not done."""
    chunk = int16_to_bytes(np.full(RATE // 10, 1000, dtype=np.int16))
    _server(engine, ev.ResponseCreated(response=ev.ResponseInfo(id=rid)),
            ev.ResponseOutputItemAdded(response_id=rid, item={
                "id": iid, "type": "message", "role": "assistant"}))
    for n, word in enumerate(WORDS):
        _server(engine, ev.ResponseOutputAudioDelta(response_id=rid, item_id=iid, delta=chunk),
                ev.ResponseOutputAudioTranscriptDelta(response_id=rid, item_id=iid,
                                                      delta=word if n == 0 else " " + word))


def _state(engine: ConversationEngine) -> State:
    """The state now (a call: the type checker would carry an earlier check over)."""
    return engine.state


def _sends(effects: list[Effect]) -> list[ev.ClientEvent]:
    return [e.event for e in effects if isinstance(e, SendEvent)]


def _events(effects: list[Effect], kind: type[Any]) -> list[Any]:
    return [e.event for e in effects if isinstance(e, Emit) and isinstance(e.event, kind)]


def test_a_loss_mid_reply_stops_playback_and_restores_what_was_heard() -> None:
    """Playback stops at the loss; microphone audio is dropped and the app's text held
    during the outage; the new session gets the same session.update, the context (the reply
    cut at what was heard), then the held text; the lost reply is reported, not re-asked."""
    clock = _Clock()
    engine = _new(clock, Reconnect(rng=random.Random(3)))
    configured = engine.session.config
    engine.user_text("Tell me a story")
    _drain(engine)
    _reply(engine)
    assert engine.state is State.SPEAKING
    clock.now = 0.35  # 350 ms of the reply played
    delay = engine.lost("connection closed: reset", 0.35)
    effects = _drain(engine)
    assert delay is not None and 0.125 <= delay <= 0.25
    assert _events(effects, Reconnecting) == [Reconnecting(
        attempt=1, reason="connection closed: reset", delay_s=delay, at=0.35)]
    assert _sends(effects) == []  # no truncate or cancel: the old session is gone
    assert engine.output.buffered_samples() == 0
    assert _state(engine) is State.IDLE and engine.reconnecting

    engine.microphone(AudioFrame(np.zeros(RATE // 2, dtype=np.int16), RATE), 0.5)
    engine.user_text("Are you there?")
    assert _sends(_drain(engine)) == []

    engine.reconnected(1.35)
    effects = _drain(engine)
    sent = _sends(effects)
    assert [type(e) for e in sent] == [ev.SessionUpdate, ev.ConversationItemCreate,
                                       ev.ConversationItemCreate, ev.ConversationItemCreate,
                                       ev.ResponseCreate]
    assert isinstance(sent[0], ev.SessionUpdate) and sent[0].session == configured
    assert [e.item["content"][0]["text"] for e in sent[1:4]  # type: ignore[union-attr]
            ] == ["Tell me a story", "Once upon a", "Are you there?"]
    (reconnected,) = _events(effects, Reconnected)
    assert reconnected == Reconnected(
        attempts=1, downtime_s=1.0, items_restored=2, audio_dropped_ms=500.0, at=1.35,
        lost_response=LostResponse(response_id="r1", item_id="a1", heard_ms=350.0,
                                   heard_text="Once upon a"))
    assert _state(engine) is State.LISTENING and not engine.reconnecting


def test_a_loss_while_the_assistant_has_yielded_leaves_nothing_paused() -> None:
    """The user was talking over the assistant (yielded, the decision pending) when the
    connection went: the held audio goes with the old session, and the new session's first
    reply plays at once instead of being held for a resume that will never come."""
    clock = _Clock()
    engine = _new(clock, Reconnect(rng=random.Random(3)), barge_in=BargeIn(decide=True))
    _reply(engine)
    clock.now = 0.35
    # The detector's confirmed onset, as the engine hands it on; the tick performs the pause.
    engine.session.user_speech(0.35, onset=0.3, source="local")
    engine.tick(0.35)
    _drain(engine)
    assert engine.session.yielded and engine._playback.paused
    engine.lost("connection closed: reset", 0.35)
    _drain(engine)
    engine.reconnected(1.0)
    _drain(engine)
    assert not engine._playback.paused
    _reply(engine, rid="r2", iid="a2")
    assert engine.output.buffered_samples() == len(WORDS) * RATE // 10


def test_the_budget_spent_is_the_fatal_error_naming_the_last_reason() -> None:
    engine = _new(_Clock(), Reconnect(attempts=2, backoff_s=1.0, rng=random.Random(1)))
    first = engine.lost("connection closed: eof", 1.0)
    second = engine.attempt_failed("503 Service Unavailable", 2.0)
    assert first is not None and 0.5 <= first <= 1.0
    assert second is not None and 1.0 <= second <= 2.0
    assert engine.attempt_failed("503 again", 4.0) is None
    effects = _drain(engine)
    assert [e.attempt for e in _events(effects, Reconnecting)] == [1, 2]
    (error,) = _events(effects, ErrorOccurred)
    assert error.fatal and error.message == ("connection lost: 503 again (gave up after 2 "
                                             "reconnect attempts)")
    assert engine.closed and engine.failure == error.message


def test_without_settings_a_loss_is_the_end_as_before() -> None:
    engine = _new(_Clock())
    assert engine.lost("connection closed: reset", 1.0) is None
    (error,) = _events(_drain(engine), ErrorOccurred)
    assert error.fatal and error.message == "connection lost: connection closed: reset"
    assert engine.closed


def test_a_call_in_flight_is_answered_on_the_new_session_only_if_restored() -> None:
    """A complete call still running is restored, and its output follows on the new
    session; a call cut off before its arguments were complete is cancelled, and its output
    (the cancellation) is not sent: the new session has no such call."""
    engine = _new(_Clock(), Reconnect(rng=random.Random(0)), tools=[lookup])
    item = {"type": "function_call", "name": "lookup", "arguments": ""}
    runs = [e for e in _server(
        engine, ev.ResponseCreated(response=ev.ResponseInfo(id="r1")),
        ev.ResponseOutputItemAdded(response_id="r1", item={**item, "id": "f1", "call_id": "c1"}),
        ev.ResponseFunctionCallArgumentsDone(response_id="r1", item_id="f1", call_id="c1",
                                             arguments='{"city": "Oslo"}', name="lookup"),
        ev.ResponseOutputItemAdded(response_id="r1", item={**item, "id": "f2", "call_id": "c2"}),
    ) if isinstance(e, RunTool)]
    assert [r.call.call_id for r in runs] == ["c1"]
    engine.lost("connection closed: reset", 1.0)
    effects = _drain(engine)
    assert [e.call.call_id for e in _events(effects, ToolCallCancelled)] == ["c2"]
    engine.tool_finished("c1", 1.5, result="Oslo: sunny")  # during the outage: held
    assert _sends(_drain(engine)) == []
    engine.reconnected(2.0)
    items = [e.item for e in _sends(_drain(engine)) if isinstance(e, ev.ConversationItemCreate)]
    assert items == [
        {"type": "function_call", "call_id": "c1", "name": "lookup",
         "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "Oslo: sunny"}]


@pytest.mark.parametrize(("settings", "argument"), [
    ({"attempts": 0}, "attempts"), ({"backoff_s": -1.0}, "backoff_s"),
    ({"max_backoff_s": "1"}, "max_backoff_s"), ({"rng": 3}, "rng"),
    ({"rollover_after_s": 0.0}, "rollover_after_s")])
def test_bad_reconnect_settings_are_refused_naming_them(settings: dict[str, Any],
                                                         argument: str) -> None:
    from realtalk.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=argument):
        Reconnect(**settings)


def test_the_backoff_doubles_up_to_its_maximum_with_equal_jitter() -> None:
    """Each delay is half its exponential step fixed and half drawn; the same seed draws
    the same delays."""
    settings = Reconnect(backoff_s=0.5, max_backoff_s=3.0, rng=random.Random(9))
    delays = [settings.delay(n) for n in range(1, 6)]
    for delay, step in zip(delays, [0.5, 1.0, 2.0, 3.0, 3.0], strict=True):
        assert step / 2 <= delay <= step
    again = Reconnect(backoff_s=0.5, max_backoff_s=3.0, rng=random.Random(9))
    assert [again.delay(n) for n in range(1, 6)] == delays


# -- rollover -----------------------------------------------------------------------------------


def _rolling(clock: _Clock, after_s: float = 10.0) -> ConversationEngine:
    return _new(clock, Reconnect(rng=random.Random(1), rollover_after_s=after_s))


def _at(engine: ConversationEngine, now: float, *events: ev.ServerEvent) -> list[Effect]:
    for event in events:
        engine.server_frame(ev.encode(event), now)
    return _drain(engine)


def _due(engine: ConversationEngine, now: float) -> list[Effect]:
    engine.tick(now)
    return _drain(engine)


def test_a_rollover_opens_the_next_session_when_due_and_switches_at_a_quiet_moment() -> None:
    """Due at its age, the next connection is asked for; once open at a quiet moment, the
    switch comes first, then the same session.update and the context, with no state change
    shown to the app."""
    clock = _Clock()
    engine = _rolling(clock)
    assert engine.next_deadline() == 10.0
    engine.user_text("hello", respond=False)
    _drain(engine)
    assert not any(isinstance(e, OpenNextSession) for e in _due(engine, 9.9))
    effects = _due(engine, 10.0)
    assert [e for e in effects if isinstance(e, OpenNextSession)] == [OpenNextSession()]
    assert engine.next_deadline() is None  # opening: not asked twice
    engine.next_session_ready(10.5)
    effects = _drain(engine)
    assert isinstance(effects[0], SwitchSession)
    assert [type(e) for e in _sends(effects)] == [ev.SessionUpdate, ev.ConversationItemCreate]
    assert _events(effects, RolledOver) == [RolledOver(session_age_s=10.5, waited_s=0.5,
                                                       items_restored=1, at=10.5)]
    assert not _events(effects, StateChanged) and engine.state is State.LISTENING
    assert engine.next_deadline() == 20.5  # the new session's own count


def test_a_rollover_waits_for_the_reply_to_play_out() -> None:
    clock = _Clock()
    engine = _rolling(clock)
    clock.now = 9.5
    _reply(engine)  # 800 ms from 9.5 s
    clock.now = 10.0
    _due(engine, 10.0)
    engine.next_session_ready(10.0)
    assert not any(isinstance(e, SwitchSession) for e in _drain(engine))
    _server(engine, ev.ResponseDone(response=ev.ResponseInfo(id="r1", status="completed")))
    clock.now = 10.2  # 100 ms of the reply still to play
    assert not any(isinstance(e, SwitchSession) for e in _due(engine, 10.2))
    clock.now = 10.3  # played to the end
    effects = _due(engine, 10.3)
    assert any(isinstance(e, SwitchSession) for e in effects)
    restored = [e.item["content"][0]["text"] for e in _sends(effects)
                if isinstance(e, ev.ConversationItemCreate)]
    assert restored == [" ".join(WORDS)]  # heard whole


def test_a_rollover_waits_for_the_user_and_their_transcript() -> None:
    """Ready while the server hears the user, then while their turn has no transcript yet:
    the switch waits for each, and restores the turn's words."""
    clock = _Clock()
    engine = _rolling(clock)
    _at(engine, 9.0, ev.InputAudioBufferSpeechStarted(audio_start_ms=0, item_id="u1"))
    _due(engine, 10.0)
    engine.next_session_ready(10.0)
    assert not any(isinstance(e, SwitchSession) for e in _drain(engine))
    effects = _at(engine, 10.5, ev.InputAudioBufferSpeechStopped(audio_end_ms=900, item_id="u1"),
                  ev.InputAudioBufferCommitted(item_id="u1"))
    assert not any(isinstance(e, SwitchSession) for e in effects)
    effects = _at(engine, 11.0, ev.InputAudioTranscriptionCompleted(item_id="u1",
                                                                   transcript="And then?"))
    assert any(isinstance(e, SwitchSession) for e in effects)
    restored = [e.item["content"][0]["text"] for e in _sends(effects)
                if isinstance(e, ev.ConversationItemCreate)]
    assert restored == ["And then?"]


def test_a_transcript_that_never_comes_holds_a_rollover_back_only_so_long() -> None:
    clock = _Clock()
    engine = _rolling(clock)
    _at(engine, 9.0, ev.InputAudioBufferCommitted(item_id="u1"))
    _due(engine, 10.0)
    engine.next_session_ready(10.0)
    assert not any(isinstance(e, SwitchSession) for e in _due(engine, 8.9 + TRANSCRIPT_WAIT_S))
    assert any(isinstance(e, SwitchSession) for e in _due(engine, 9.0 + TRANSCRIPT_WAIT_S))


def test_a_failed_opening_is_retried_with_backoff_then_given_up() -> None:
    clock = _Clock()
    engine = _new(clock, Reconnect(attempts=2, backoff_s=1.0, rng=random.Random(1),
                                   rollover_after_s=10.0))
    _due(engine, 10.0)
    engine.next_session_failed("HTTP 503", 10.0)
    deadline = engine.next_deadline()
    assert deadline is not None and 10.5 <= deadline <= 11.0
    assert any(isinstance(e, OpenNextSession) for e in _due(engine, deadline))
    engine.next_session_failed("HTTP 503", deadline)
    assert engine.next_deadline() is None  # given up: the service's close will be a loss


def test_a_loss_abandons_the_rollover_and_the_restored_session_counts_anew() -> None:
    clock = _Clock()
    engine = _rolling(clock)
    _due(engine, 10.0)
    engine.lost("reset", 10.2)
    engine.next_session_ready(10.3)  # the connection opened for the rollover: unused
    assert not any(isinstance(e, SwitchSession) for e in _drain(engine))
    engine.reconnected(11.0)
    _drain(engine)
    assert engine.next_deadline() == 21.0


def test_rollover_is_off_with_none_and_defaults_to_25_minutes() -> None:
    assert Reconnect().rollover_after_s == 25 * 60
    engine = _new(_Clock(), Reconnect(rollover_after_s=None))
    assert engine.rollover is None and engine.next_deadline() is None


def test_a_barge_in_after_a_reconnect_truncates_at_what_the_new_reply_played() -> None:
    """The output's played count goes on across sessions: the new session's tracker starts
    from it, so a truncate there is what was heard of the new reply, not all of it."""
    clock = _Clock()
    engine = _new(clock, Reconnect(rng=random.Random(3)))
    _reply(engine)
    clock.now = 1.0  # the whole first reply played
    _server(engine, ev.ResponseDone(response=ev.ResponseInfo(id="r1", status="completed")))
    engine.tick(1.0)
    engine.lost("reset", 1.0)
    engine.reconnected(1.2)
    _drain(engine)
    clock.now = 2.0
    _reply(engine, rid="r2", iid="a2")  # 800 ms from 2.0 s
    clock.now = 2.3
    assert engine.interrupt(2.3)
    (truncate,) = [e for e in _sends(_drain(engine)) if isinstance(e, ev.ConversationItemTruncate)]
    assert truncate.item_id == "a2" and 299 <= truncate.audio_end_ms <= 300


# -- the transcript store -------------------------------------------------------------------------


def test_reconnects_and_rollovers_are_marked_in_the_transcript_store() -> None:
    """A reconnect leaves a mark, on the reply the loss cut off, and so does a rollover; a
    store that refuses a mark is a non-fatal error event, and the event itself still
    reaches the app."""
    clock = _Clock()
    store = MemoryTranscriptStore()
    engine = _new(clock, Reconnect(rng=random.Random(3), rollover_after_s=10.0),
                  transcripts=store)
    _reply(engine)
    clock.now = 0.35
    engine.lost("connection closed: reset", 0.35)
    _drain(engine)
    engine.reconnected(1.35)
    _drain(engine)
    assert [(m.kind, m.item_id, m.heard_ms, m.at, m.detail) for m in store.entries()
            if isinstance(m, InterruptionMark)] == [
        ("reconnected", "a1", 350.0, 1.35,
         "attempts=1 downtime_ms=1000 items_restored=1 audio_dropped_ms=0 lost_response=r1")]
    # The reply cut off never finished its transcript: what the user heard of it is stored,
    # an interrupted assistant record just before the mark.
    lost = store.entries()[0]
    assert isinstance(lost, TranscriptRecord) and len(store.entries()) == 2
    assert (lost.role, lost.item_id, lost.interrupted, lost.heard_ms, lost.response_id) == \
        ("assistant", "a1", True, 350.0, "r1")
    assert lost.text == "Once upon a"  # 350 ms heard at 100 ms a word

    _due(engine, 11.35)
    store.fail(times=1, message="database is locked")
    engine.next_session_ready(11.5)
    effects = _drain(engine)
    (error,) = _events(effects, ErrorOccurred)
    assert error.message == "transcript store: database is locked" and not error.fatal
    assert len(_events(effects, RolledOver)) == 1 and not engine.closed
    assert [(m.kind, m.detail) for m in store.refused if isinstance(m, InterruptionMark)] == [
        ("rolled_over", "session_age_s=10.15 waited_s=0.15 items_restored=1")]
    engine.lost("connection closed: eof", 12.0)
    engine.reconnected(12.5)
    _drain(engine)
    assert [m.kind for m in store.entries() if isinstance(m, InterruptionMark)] == \
        ["reconnected", "reconnected"]
