"""AllOf: detectors that must agree."""

from __future__ import annotations

import numpy as np
import pytest

from realtalk.audio import AudioFrame
from realtalk.errors import ConfigurationError
from realtalk.sim import load_clip
from realtalk.vad import AllOf, EnergyVAD, Held, SpectralVAD, default_vad


class Fixed:
    """A detector that always answers the same, and counts what it saw."""

    def __init__(self, answer: bool, latency_frames: int = 0) -> None:
        self.answer = answer
        self.latency_frames = latency_frames
        self.seen = 0
        self.resets = 0

    def is_speech(self, frame: AudioFrame) -> bool:
        self.seen += 1
        return self.answer

    def reset(self) -> None:
        self.resets += 1


def test_speech_only_when_all_agree_and_every_detector_sees_every_frame() -> None:
    yes, no = Fixed(True), Fixed(False, latency_frames=2)
    frame = AudioFrame(np.zeros(480, np.int16))
    assert AllOf(yes, Fixed(True)).is_speech(frame)
    both = AllOf(no, yes)
    assert not both.is_speech(frame)
    assert (no.seen, yes.seen) == (1, 2)  # no short cut: each keeps its state current
    assert both.latency_frames == 2
    both.reset()
    assert (no.resets, yes.resets) == (1, 1)
    with pytest.raises(ConfigurationError):
        AllOf()


def _flagged(vad: AllOf | EnergyVAD, name: str) -> int:
    samples, _ = load_clip(name)
    x = np.concatenate((np.zeros(24_000, np.int16), samples))
    return sum(vad.is_speech(AudioFrame(x[i:i + 480])) for i in range(0, len(x) - 480, 480))


def test_the_default_rejects_a_cough_the_energy_detector_takes_for_speech() -> None:
    """The committed cough clip: the energy detector flags frames of it, the default
    (energy and spectral agreeing) none; speech is still heard."""
    assert _flagged(EnergyVAD(), "cough") > 10
    assert _flagged(default_vad(), "cough") == 0
    assert _flagged(default_vad(), "weather_tomorrow") > 40
    held = default_vad(16_000).detectors[1]
    assert isinstance(held, Held)
    assert isinstance(held.detector, SpectralVAD)


def test_held_keeps_a_yes_for_hold_ms() -> None:
    """A flickering yes is held across short gaps, and released after hold_ms."""
    answers = iter([True, False, False, False, False, True])

    class Flicker(Fixed):
        def is_speech(self, frame: AudioFrame) -> bool:
            return next(answers)

    held = Held(Flicker(True), hold_ms=40.0)
    frame = AudioFrame(np.zeros(480, np.int16))  # 20 ms
    assert [held.is_speech(frame) for _ in range(6)] == [True, True, True, False, False, True]
    held.reset()
    with pytest.raises(ConfigurationError):
        Held(Fixed(True), hold_ms=-1.0)
