"""OnsetDetector: a VAD and a gate per frame, the barge-in policy over frames."""

from __future__ import annotations

import numpy as np

from realtalk.audio import AudioFrame
from realtalk.session.barge_in import BargeIn
from realtalk.vad import OnsetDetector

RATE = 24_000
FRAME = 480  # 20 ms


class Script:
    """A VAD that answers from a list and counts the frames it saw."""

    latency_frames = 0

    def __init__(self, decisions: list[bool]) -> None:
        self.decisions = list(decisions)
        self.seen = 0

    def is_speech(self, frame: AudioFrame) -> bool:
        self.seen += 1
        return self.decisions.pop(0) if self.decisions else False

    def reset(self) -> None:
        self.decisions = []


class Gate:
    def __init__(self, passes: bool) -> None:
        self.answer = passes
        self.seen = 0

    def passes(self, frame: AudioFrame) -> bool:
        self.seen += 1
        return self.answer


def _frame(k: int) -> AudioFrame:
    return AudioFrame(np.zeros(FRAME, np.int16), RATE, k * 0.02)


def test_an_onset_is_confirmed_after_min_speech_ms_at_the_first_speech_frame() -> None:
    vad = Script([False, False, True, True, True, True, True, True])
    detector = OnsetDetector(BargeIn(min_speech_ms=100), vad)
    onsets = [detector.process(_frame(k), k * 0.02) for k in range(8)]
    confirmed = [(k, onset) for k, onset in enumerate(onsets) if onset is not None]
    # Frames 2..6 are 100 ms of speech; the onset is frame 2's capture time.
    assert confirmed == [(6, 0.04)]


def test_probable_speech_is_reported_before_the_confirmation() -> None:
    detector = OnsetDetector(BargeIn(min_speech_ms=100), Script([True, True]))
    assert detector.process(_frame(0), 0.0) is None
    assert detector.probable
    assert detector.heard


def test_the_gate_vetoes_speech_and_both_see_every_frame() -> None:
    """The VAD and the gate keep state, so each runs on every frame, even when the other
    already said no."""
    vad, gate = Script([True] * 10), Gate(passes=False)
    detector = OnsetDetector(BargeIn(min_speech_ms=40), vad, gate)
    assert all(detector.process(_frame(k), k * 0.02) is None for k in range(10))
    assert not detector.heard and not detector.probable
    assert vad.seen == gate.seen == 10


def test_reset_forgets_a_partial_onset() -> None:
    detector = OnsetDetector(BargeIn(min_speech_ms=60), Script([True, True, True, True]))
    detector.process(_frame(0), 0.0)
    detector.process(_frame(1), 0.02)
    detector.reset()
    assert not detector.heard and not detector.probable
