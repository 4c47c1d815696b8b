"""WindowedDetector: a frame's speech probability is the highest of the windows it completes,
or the last window's when it completes none; speech is that probability at the threshold or
above."""

from __future__ import annotations

import numpy as np

from realtalk.audio import AudioFrame
from realtalk.vad import VoiceActivityDetector
from realtalk.vad.base import WindowedDetector


class Scripted(WindowedDetector):
    """Each frame completes the windows the script gives next, with those probabilities."""

    latency_frames = 0

    def __init__(self, script: list[list[float]], threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._last = 0.0
        self._script = list(script)

    def probabilities(self, frame: AudioFrame) -> list[float]:
        out = self._script.pop(0)
        if out:
            self._last = out[-1]
        return out

    def reset(self) -> None:
        self._last = 0.0


FRAME = AudioFrame(np.zeros(160, np.int16), 16_000)


def test_the_highest_window_of_a_frame_counts() -> None:
    detector = Scripted([[0.2, 0.9, 0.1]])
    assert detector.probability(FRAME) == 0.9


def test_a_frame_completing_no_window_repeats_the_last_one() -> None:
    """The last window's probability, not the highest of the frame before."""
    detector = Scripted([[0.9, 0.3], []])
    detector.probability(FRAME)
    assert detector.probability(FRAME) == 0.3


def test_speech_is_at_the_threshold_or_above() -> None:
    detector = Scripted([[0.69], [0.7], [], [0.1]], threshold=0.7)
    assert [detector.is_speech(FRAME) for _ in range(4)] == [False, True, True, False]


def test_a_subclass_with_latency_and_reset_is_a_voice_activity_detector() -> None:
    detector: VoiceActivityDetector = Scripted([[1.0]])
    assert detector.is_speech(FRAME)
