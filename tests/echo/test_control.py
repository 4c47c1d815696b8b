"""EchoControl: the echo defences per microphone frame and per event, as the engine runs them."""

from __future__ import annotations

import numpy as np

from realtalk.audio import AudioFrame
from realtalk.echo import (
    EchoControl,
    EchoDefences,
    EchoGate,
    EchoResult,
    EchoRiskChange,
    EchoRiskLevel,
    EchoRiskWatch,
    EchoTranscriptDropped,
)
from realtalk.session import (
    AssistantTranscript,
    ResponseAudioStarted,
    State,
    UserTranscript,
)
from realtalk.session.barge_in import BargeIn
from realtalk.testing import RecordingEchoFilter
from realtalk.vad import OnsetDetector

RATE = 24_000


class Halve:
    """An echo filter that halves the microphone and says how much echo it left."""

    def process(self, frame: AudioFrame) -> EchoResult:
        cleaned = AudioFrame((frame.samples // 2).astype(np.int16), frame.sample_rate,
                             frame.timestamp, reference=frame.reference)
        return EchoResult(cleaned, residual_echo=1e-6)

    def reset(self) -> None:
        """Stateless."""


class ScriptedWatch(EchoRiskWatch):
    """A watch that moves to the given levels, one per update."""

    def __init__(self, levels: list[EchoRiskLevel]) -> None:
        super().__init__()
        self.levels = levels
        self.current: EchoRiskLevel = "normal"

    def update(self, now: float, mic_power: float, cleaned_power: float,
               reference_power: float, residual_estimate: float | None = None,
               ) -> EchoRiskChange | None:
        if not self.levels:
            return None
        level, previous = self.levels.pop(0), self.current
        self.current = level
        return EchoRiskChange(level=level, previous=previous, reason="scripted", at=now,
                              echo_level_db=0.0, echo_reduction_db=0.0)


def _frame(value: int = 4000, reference: bool = True) -> AudioFrame:
    samples = np.full(480, value, np.int16)
    return AudioFrame(samples, RATE, 0.0, reference=samples if reference else None)


def _control(defences: EchoDefences, barge_in: BargeIn | None = None) -> EchoControl:
    settings = barge_in or BargeIn(min_speech_ms=100)
    detector = OnsetDetector(settings, gate=EchoGate(margin_db=6.0))
    return EchoControl(defences, sample_rate=RATE, detector=detector, barge_in=settings)


def _played(control: EchoControl, text: str, *, started_at: float, said_at: float) -> None:
    """The assistant's item ``a1`` started playing at ``started_at``; its transcript ``text``
    came at ``said_at``. Each event must pass through the control untouched."""
    for event in (ResponseAudioStarted(response_id="r1", item_id="a1", latency_ms=None,
                                       at=started_at),
                  AssistantTranscript(response_id="r1", item_id="a1", text=text,
                                      interrupted=False, heard_ms=None, at=said_at)):
        out, verdicts = control.screen(event)
        assert out is event and verdicts == ()


def test_the_canceller_cleans_the_frame_that_goes_on() -> None:
    control = _control(EchoDefences(canceller=Halve(), watch=None))
    cleaned, change = control.microphone(_frame(4000), 0.0, State.SPEAKING)
    assert change is None
    assert cleaned is not None and int(cleaned.samples[0]) == 2000


def test_the_cancellers_echo_likeness_is_kept_for_the_frame_it_judged() -> None:
    """What the canceller says of a frame (``EchoResult.echo_likeness``) is kept for the
    detector until the next frame; a frame no filter judged has none."""
    control = _control(EchoDefences(canceller=RecordingEchoFilter(echo_likeness=0.9),
                                    watch=None))
    control.microphone(_frame(4000), 0.0, State.SPEAKING)
    assert control.echo_likeness == 0.9
    unjudged = _control(EchoDefences(canceller=None, watch=None))
    unjudged.microphone(_frame(4000), 0.0, State.SPEAKING)
    assert unjudged.echo_likeness is None


def test_half_duplex_mutes_only_while_the_assistant_is_audible() -> None:
    control = _control(EchoDefences(canceller=None, watch=None, half_duplex=True))
    for state, muted in ((State.LISTENING, False), (State.SPEAKING, True),
                         (State.CANCELLING, True)):
        cleaned, _ = control.microphone(_frame(), 0.0, state)
        assert (cleaned is None) == muted, state
    assert control.muted_frames == 2


def test_a_raised_echo_risk_doubles_min_speech_and_widens_the_gate_then_restores() -> None:
    app = BargeIn(min_speech_ms=100)
    watch = ScriptedWatch(["raised", "normal"])
    control = _control(EchoDefences(canceller=Halve(), watch=watch), app)
    detector = control.detector
    assert detector is not None and isinstance(detector.gate, EchoGate)
    margin = detector.gate.margin
    _, change = control.microphone(_frame(), 0.0, State.SPEAKING)
    assert change is not None and change.level == "raised"
    assert detector.policy.settings.min_speech_ms == 200
    assert detector.gate.margin == margin * 4
    _, change = control.microphone(_frame(), 0.02, State.SPEAKING)
    assert change is not None and change.level == "normal"
    assert detector.policy.settings == app
    assert detector.gate.margin == margin


def test_the_half_duplex_level_mutes_while_the_assistant_speaks() -> None:
    control = _control(EchoDefences(canceller=Halve(), watch=ScriptedWatch(["half_duplex"])))
    cleaned, change = control.microphone(_frame(), 0.0, State.SPEAKING)
    assert change is not None and control.level == "half_duplex"
    assert cleaned is None


def test_the_watch_needs_a_reference() -> None:
    watch = ScriptedWatch(["raised"])
    control = _control(EchoDefences(canceller=Halve(), watch=watch))
    _, change = control.microphone(_frame(reference=False), 0.0, State.SPEAKING)
    assert change is None and watch.levels == ["raised"]


def test_a_transcript_of_the_assistants_words_is_dropped_and_others_pass() -> None:
    """The assistant said a sentence; a user transcript of it arriving while it played is
    echo, and a user's own question is kept. Every event teaches the history."""
    control = _control(EchoDefences(canceller=None, watch=None))
    said = "The forecast for Saturday is sunny with a light breeze from the west"
    _played(control, said, started_at=10.0, said_at=14.0)
    echo = UserTranscript(item_id="u1", text=said.lower(), at=14.0, speech_started_at=10.4)
    out, verdicts = control.screen(echo)
    assert isinstance(out, EchoTranscriptDropped) and out.item_id == "u1"
    assert verdicts and any(v.drop for v in verdicts)
    user = UserTranscript(item_id="u2", text="what about sunday then", at=30.0,
                          speech_started_at=28.0)
    out, verdicts = control.screen(user)
    assert out is user and verdicts and not any(v.drop for v in verdicts)


def test_words_the_assistant_has_just_played_are_known() -> None:
    """What a check of short speech asks: were all these words the assistant's own, played
    by a reply still playing or just over? Not once the reply is a few seconds past."""
    control = _control(EchoDefences(canceller=None, watch=None))
    _played(control, "Keep it quiet, and stop by at noon.", started_at=10.0, said_at=10.5)
    assert control.assistant_said("Quiet.", 11.0)
    assert not control.assistant_said("noon", 11.0)  # not played yet
    assert control.assistant_said("stop, noon", 14.0)
    assert not control.assistant_said("Wait.", 14.0)
    assert not control.assistant_said("", 14.0)


def test_words_played_over_a_speech_are_told_from_words_said_before_it() -> None:
    """What a yield's decision asks: were these words what the echo of the playback over
    the user's speech could hold, the words played from shortly (0.8 s) before its onset on?
    A user repeating the assistant quotes words played before they began."""
    control = _control(EchoDefences(canceller=None, watch=None))
    _played(control, "On Tuesday the market opens at nine, and the busy town fills up by ten.",
            started_at=10.0, said_at=10.2)
    now = 14.0
    assert control.assistant_said("Tuesday?", now)  # said lately ...
    assert not control.assistant_said("Tuesday?", now, since=12.5)  # ... not over the speech
    assert control.assistant_said("busy town", now, since=12.5)
    assert not control.assistant_said("busy town, Sunday", now, since=12.5)


def test_uplinked_frames_feed_the_near_end_log() -> None:
    control = _control(EchoDefences(canceller=None, watch=None))
    frame = _frame()
    control.microphone(frame, 1.0, State.SPEAKING)
    control.sent(frame, 1.0)
    assert control.near_end.opinion(1.0, 1.02) is not None
