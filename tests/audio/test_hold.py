"""Pausing the output at the exact sample: nothing lost, nothing repeated."""

from __future__ import annotations

import numpy as np

from realtalk.audio.hold import PlaybackHold
from realtalk.audio.memory import MemoryOutput

RATE = 1000  # one sample a millisecond keeps the arithmetic readable


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_pause_and_resume_play_every_sample_once_in_order() -> None:
    clock = _Clock()
    output = MemoryOutput(RATE, clock=clock)
    hold = PlaybackHold(output)
    audio = np.arange(1, 3001, dtype=np.int16)
    hold.write(audio[:1000])
    hold.write(audio[1000:2000])
    clock.now = 0.7  # 700 samples have played
    hold.forget_played()
    assert hold.pause() == 700
    assert hold.paused
    hold.write(audio[2000:])  # the reply keeps arriving while paused
    clock.now = 1.2
    assert output.played_samples() == 700  # nothing plays while paused
    assert hold.held_samples == 2300
    hold.resume()
    clock.now = 10.0
    assert output.played_samples() == 3000
    assert np.array_equal(output.recording(), audio)


def test_a_stop_while_paused_drops_what_was_held() -> None:
    clock = _Clock()
    output = MemoryOutput(RATE, clock=clock)
    hold = PlaybackHold(output)
    hold.write(np.ones(1000, dtype=np.int16))
    clock.now = 0.4
    hold.pause()
    hold.write(np.ones(500, dtype=np.int16))
    assert hold.clear() == 400
    assert not hold.paused and hold.held_samples == 0
    clock.now = 5.0
    assert output.played_samples() == 400
