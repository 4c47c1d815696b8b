# mypy: disable-error-code="comparison-overlap"
# (mypy narrows ClientSession.state after one assert and cannot see a call change it.)
"""The state module's two tables, tested over every pair: TRANSITIONS over every (state,
trigger) on the machine, HANDLING over every (state, input) through the public ClientSession API."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import attrs
import pytest

from realtalk import BargeIn
from realtalk import wire as ev
from realtalk.errors import LocalProtocolError
from realtalk.session import (
    ClientSession,
    DuckPlayback,
    ErrorOccurred,
    FalseInterruption,
    Interrupted,
    Output,
    PlayAudio,
    PlaybackPosition,
    SendEvent,
    StateChanged,
    StopPlayback,
    UserSpeechStarted,
)
from realtalk.session.state import (
    HANDLING,
    TRANSITIONS,
    Handling,
    Input,
    State,
    StateMachine,
    Trigger,
)


def _machine_in(state: State) -> StateMachine:
    machine = StateMachine()
    machine._state = state
    return machine


@pytest.mark.parametrize(("state", "trigger"), list(itertools.product(State, Trigger)))
def test_every_pair(state: State, trigger: Trigger) -> None:
    """Listed pairs reach their target; all others raise and leave the state unchanged."""
    machine = _machine_in(state)
    if (state, trigger) in TRANSITIONS:
        assert machine.can(trigger)
        assert machine.fire(trigger) is TRANSITIONS[state, trigger]
        assert machine.state is TRANSITIONS[state, trigger]
    else:
        assert not machine.can(trigger)
        with pytest.raises(LocalProtocolError, match=trigger.value):
            machine.fire(trigger)
        assert machine.state is state


def test_table_covers_the_design() -> None:
    """The design's states are all reachable from idle and each can return to idle."""
    reachable = {State.IDLE}
    frontier = [State.IDLE]
    while frontier:
        state = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in reachable:
                reachable.add(dst)
                frontier.append(dst)
    assert reachable == set(State)
    for state in (State.LISTENING, State.SPEAKING, State.CANCELLING):
        assert TRANSITIONS[state, Trigger.CLOSED] is State.IDLE


def test_starts_idle() -> None:
    """A new machine is idle."""
    assert StateMachine().state is State.IDLE


# -- the input table ---------------------------------------------------------------------------


def test_the_input_table_is_total() -> None:
    """Every (state, input) pair has a row, and nothing else does."""
    assert set(HANDLING) == set(itertools.product(State, Input))


def test_every_trigger_the_input_table_fires_is_a_transition() -> None:
    """A trigger named for (state, input) has a row for that state in TRANSITIONS, so the
    input table never asks for a move the transition table refuses."""
    for (state, _), handling in HANDLING.items():
        if isinstance(handling, Trigger):
            assert (state, handling) in TRANSITIONS


@pytest.mark.parametrize(("state", "input_"), list(itertools.product(State, Input)))
def test_handling_looks_up_the_table(state: State, input_: Input) -> None:
    """StateMachine.handling returns the row, raises for a refused input, and never moves."""
    machine = _machine_in(state)
    if HANDLING[state, input_] is Handling.REFUSE:
        with pytest.raises(LocalProtocolError, match=f"{input_.value}.*{state.value}"):
            machine.handling(input_)
    else:
        assert machine.handling(input_) is HANDLING[state, input_]
    assert machine.state is state


CHUNK = b"\x01\x00" * 2400  # 100 ms of PCM16 at 24 kHz
CANCEL_TIMEOUT = 2.0
JUDGE_AFTER = 1.0  # false_interruption_s, shorter than the cancel timeout


class _Driver:
    """A session taken from state to state through its public API, with a clock and the
    ids of the responses it started and cancelled."""

    def __init__(self, settings: BargeIn) -> None:
        self.s = ClientSession(barge_in=settings, cancel_timeout=CANCEL_TIMEOUT)
        self.now = 0.0
        self.count = 0
        self.response: str | None = None  # the response last started
        self.cancelled: str | None = None  # the response the last barge-in cancelled
        self.ended: str | None = None  # the response that last ended and played out
        self.result: object = None  # what the input's call returned
        self.late_ms = 0.0  # late audio counted before the input

    def step(self) -> float:
        self.now += 0.01
        return self.now

    def delta(self, response_id: str) -> ev.ResponseOutputAudioDelta:
        return ev.ResponseOutputAudioDelta(response_id=response_id, item_id=f"i_{response_id}",
                                           delta=CHUNK)

    def go_to(self, target: State) -> None:
        """Move one standard step at a time until the session is in ``target``."""
        s = self.s
        for _ in range(20):  # a few steps reach any state; more means a step went nowhere
            if s.state is target:
                break
            if target is State.IDLE:
                s.close(self.step())
            elif s.state is State.IDLE:
                s.open(self.step())
            elif s.state is State.LISTENING:
                # A response whose audio arrives without response.created (a server may skip
                # it): the created event would end a false-interruption judgement.
                self.count += 1
                self.response = f"r{self.count}"
                for _ in range(5):
                    s.receive(self.delta(self.response), self.step())
            elif s.state is State.SPEAKING and target is State.CANCELLING:
                s.playback_progress(s.tracker.played + 1200, self.step())
                s.user_speech(self.step())
                s.playback_stopped(self.now, s.tracker.played)
                self.cancelled = self.response
            elif s.state is State.SPEAKING:
                assert self.response is not None
                s.receive(ev.ResponseDone(response=ev.ResponseInfo(id=self.response)),
                          self.step())
                s.playback_progress(s.tracker.written, self.step())
                self.ended = self.response
            else:  # cancelling -> listening: upstream confirms
                assert self.cancelled is not None
                s.receive(ev.ResponseDone(response=ev.ResponseInfo(
                    id=self.cancelled, status="cancelled")), self.step())
        assert s.state is target, f"stuck in {s.state} on the way to {target}"
        s.outputs()

    def time_out_the_cancel(self) -> None:
        """From cancelling, back to listening without the cancelled response's done."""
        self.s.tick(self.now + CANCEL_TIMEOUT + 0.01)
        self.now += CANCEL_TIMEOUT + 0.01
        assert self.s.state is State.LISTENING
        self.s.outputs()


# What a probe saw the input do, in the table's own terms: the trigger it fired, or how it
# was handled (ACT, REPORT, DROP, IGNORE for "nothing happened").
Seen = Trigger | Handling


# Server VAD may barge in (the SERVER_SPEECH rows), and no false-interruption judgement adds
# events to the other rows. User speech stops at once (decide=False): the decision's yield is
# a pause inside SPEAKING, with its own tests (test_decision.py).
_SETTINGS = BargeIn(use_server_vad=True, false_interruption_s=None, decide=False)


@attrs.frozen
class _Probe:
    """How to give a session one input, and how to tell what it did."""

    apply: Callable[[_Driver], object]
    observe: Callable[[_Driver, list[Output]], Seen]
    prepare: Callable[[_Driver, State], None] = lambda d, state: d.go_to(state)
    settings: BargeIn = _SETTINGS


def _has(out: list[Output], kind: type[Output]) -> bool:
    return any(isinstance(o, kind) for o in out)


def _speech(d: _Driver, out: list[Output]) -> Seen:
    if _has(out, StopPlayback):
        return Trigger.BARGE_IN
    return Handling.REPORT if _has(out, UserSpeechStarted) else Handling.IGNORE


def _interrupted(d: _Driver, out: list[Output]) -> Seen:
    interrupted = [o for o in out if isinstance(o, Interrupted)]
    if not interrupted:
        return Handling.IGNORE
    return Trigger.CANCEL_TIMEOUT if interrupted[0].timed_out else Trigger.CANCEL_CONFIRMED


def _moved(trigger: Trigger) -> Callable[[_Driver, list[Output]], Seen]:
    def observe(d: _Driver, out: list[Output]) -> Seen:
        return trigger if _has(out, StateChanged) else Handling.IGNORE
    return observe


def _ducked(gain_restored: bool) -> Callable[[_Driver, list[Output]], Seen]:
    def observe(d: _Driver, out: list[Output]) -> Seen:
        ducks = [o for o in out if isinstance(o, DuckPlayback)]
        done = ducks and (ducks[0].gain == 1.0) is gain_restored
        return Handling.ACT if done else Handling.IGNORE
    return observe


def _audio(d: _Driver, out: list[Output]) -> Seen:
    if _has(out, PlayAudio):
        return Trigger.AUDIO_QUEUED
    if _has(out, ErrorOccurred):
        return Handling.REPORT
    return Handling.DROP if d.s.stats.late_audio_ms_dropped > d.late_ms else Handling.IGNORE


def _live_delta(d: _Driver) -> None:
    """Audio of the response under way, or of a new one where none is (or it was cut)."""
    live = d.response if d.s.state is State.SPEAKING else "r_new"
    assert live is not None
    d.s.receive(d.delta(live), d.step())


def _late_delta(d: _Driver) -> None:
    assert d.ended is not None
    d.s.receive(d.delta(d.ended), d.step())


def _after_an_ended_response(d: _Driver, state: State) -> None:
    d.go_to(State.SPEAKING)
    d.go_to(State.LISTENING)  # that response ended and played out
    d.go_to(state)


def _after_a_barge_in(d: _Driver, state: State) -> None:
    """A response was cut; where the target is not cancelling, its cancel timed out, so its
    response.done (or the server's cancel error) can still arrive."""
    d.go_to(State.SPEAKING)
    d.go_to(State.CANCELLING)
    if state is not State.CANCELLING:
        if state is not State.IDLE:
            d.time_out_the_cancel()
        d.go_to(state)


def _ducked_before(d: _Driver, state: State) -> None:
    """Playback was ducked while speaking; the duck is still remembered unless a barge-in
    cleared it (a close keeps it, so idle and listening are reached through a close)."""
    d.go_to(State.SPEAKING)
    d.s.speech_probable(d.step(), True)
    if state is not State.SPEAKING:
        d.go_to(State.IDLE)
        d.go_to(state)
    d.s.outputs()


def _judgement_pending(d: _Driver, state: State) -> None:
    """A truncating barge-in whose false-interruption judgement is still to come."""
    d.go_to(State.SPEAKING)
    d.go_to(State.CANCELLING)
    if state is not State.CANCELLING:
        d.go_to(state)


def _ready_to_drain(d: _Driver, state: State) -> None:
    d.go_to(state)
    if state is State.SPEAKING:
        assert d.response is not None
        d.s.receive(ev.ResponseDone(response=ev.ResponseInfo(id=d.response)), d.step())
        d.s.outputs()


def _judged(d: _Driver, out: list[Output]) -> Seen:
    judged = [o for o in out if isinstance(o, FalseInterruption)]
    if not judged:
        return Handling.IGNORE
    return Handling.ACT if judged[0].resumed and _has(out, SendEvent) else Handling.REPORT


def _session_update(d: _Driver, out: list[Output]) -> Seen:
    sent = [o.event for o in out if isinstance(o, SendEvent)]
    return Trigger.OPENED if any(isinstance(e, ev.SessionUpdate) for e in sent) \
        else Handling.IGNORE


def _interrupt(d: _Driver) -> object:
    return d.s.interrupt(d.step())


def _seen_interrupt(d: _Driver, out: list[Output]) -> Seen:
    # interrupt() also says whether the assistant was speaking.
    assert d.result is _has(out, StopPlayback)
    return _speech(d, out)


def _progress(d: _Driver) -> None:
    d.s.playback_progress(d.s.tracker.played + 1200, d.step())


def _positions(d: _Driver, out: list[Output]) -> Seen:
    return Handling.REPORT if _has(out, PlaybackPosition) else Handling.IGNORE


def _played_out(d: _Driver) -> None:
    d.s.playback_progress(d.s.tracker.written, d.step())


def _cancel_not_active(d: _Driver) -> None:
    d.s.receive(ev.ServerError(error=ev.ErrorInfo(
        type="invalid_request_error", code="response_cancel_not_active",
        message="Cancellation failed: no active response found")), d.step())


def _cancelled_done(d: _Driver) -> None:
    # The response a barge-in cancelled; a session that never cut one has none to hear of.
    d.s.receive(ev.ResponseDone(response=ev.ResponseInfo(
        id=d.cancelled or "r_never", status="cancelled")), d.step())


PROBES: dict[Input, _Probe] = {
    Input.OPEN: _Probe(lambda d: d.s.open(d.step()), _session_update),
    Input.CLOSE: _Probe(lambda d: d.s.close(d.step()), _moved(Trigger.CLOSED)),
    Input.USER_SPEECH: _Probe(lambda d: d.s.user_speech(d.step()), _speech),
    Input.SERVER_SPEECH: _Probe(
        lambda d: d.s.receive(ev.InputAudioBufferSpeechStarted(
            audio_start_ms=0, item_id="u1"), d.step()), _speech),
    Input.INTERRUPT: _Probe(_interrupt, _seen_interrupt),
    Input.SPEECH_PROBABLE: _Probe(lambda d: d.s.speech_probable(d.step(), True),
                                  _ducked(gain_restored=False)),
    Input.SPEECH_WITHDRAWN: _Probe(lambda d: d.s.speech_probable(d.step(), False),
                                   _ducked(gain_restored=True), prepare=_ducked_before),
    Input.AUDIO_DELTA: _Probe(_live_delta, _audio),
    Input.LATE_AUDIO_DELTA: _Probe(_late_delta, _audio, prepare=_after_an_ended_response),
    Input.CANCELLED_DONE: _Probe(_cancelled_done, _interrupted, prepare=_after_a_barge_in),
    Input.CANCEL_NOT_ACTIVE: _Probe(_cancel_not_active, _interrupted,
                                    prepare=_after_a_barge_in),
    Input.CANCEL_TIMEOUT: _Probe(lambda d: d.s.tick(d.now + CANCEL_TIMEOUT + 0.01),
                                 _interrupted, prepare=_after_a_barge_in),
    Input.PLAYBACK_PROGRESS: _Probe(_progress, _positions),
    Input.DRAIN_CHECK: _Probe(_played_out, _moved(Trigger.PLAYBACK_DRAINED),
                              prepare=_ready_to_drain),
    Input.JUDGED_FALSE: _Probe(
        lambda d: d.s.tick(d.now + JUDGE_AFTER), _judged, prepare=_judgement_pending,
        settings=BargeIn(use_server_vad=True, false_interruption_s=JUDGE_AFTER,
                         decide=False)),
}

def test_every_input_has_a_probe() -> None:
    assert set(PROBES) == set(Input)


@pytest.mark.parametrize(("state", "input_"), list(itertools.product(State, Input)))
def test_every_input_in_every_state(state: State, input_: Input) -> None:
    """Through the public ClientSession API, each input does what HANDLING says in each state: a
    trigger's input takes the session where TRANSITIONS says; one that acts, reports or
    drops does that and leaves the state; an ignored one does nothing; a refused one raises
    and leaves the state unchanged."""
    probe = PROBES[input_]
    d = _Driver(probe.settings)
    probe.prepare(d, state)
    assert d.s.state is state
    d.s.outputs()
    d.late_ms = d.s.stats.late_audio_ms_dropped
    handling = HANDLING[state, input_]
    if handling is Handling.REFUSE:
        with pytest.raises(LocalProtocolError, match=f"{input_.value}.*{state.value}"):
            probe.apply(d)
        assert d.s.state is state
        assert d.s.outputs() == []
        return
    d.result = probe.apply(d)
    out = d.s.outputs()
    assert probe.observe(d, out) is handling
    target = TRANSITIONS[state, handling] if isinstance(handling, Trigger) else state
    assert d.s.state is target
