"""In-memory audio I/O: clock-driven playback that counts exactly, scripted microphone."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import MemoryInput, MemoryOutput
from realtalk.errors import AudioError


class Clock:
    """A hand-moved clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _tone(n: int, value: int = 1000) -> npt.NDArray[np.int16]:
    return np.full(n, value, dtype=np.int16)


def test_output_plays_in_real_time_and_records() -> None:
    """Played samples follow the clock; the recording is what was played."""
    clock = Clock()
    out = MemoryOutput(24_000, clock=clock)
    out.write(_tone(4800, 1))
    out.write(_tone(4800, 2))
    clock.now = 0.25
    assert out.played_samples() == 6000
    assert out.buffered_samples() == 3600
    rec = out.recording()
    assert len(rec) == 6000
    assert (rec[:4800] == 1).all() and (rec[4800:] == 2).all()


def test_clear_stops_at_once_and_returns_played() -> None:
    """clear() drops the queue and returns the exact played count."""
    clock = Clock()
    out = MemoryOutput(24_000, clock=clock)
    out.write(_tone(24_000))
    clock.now = 0.1234
    assert out.clear() == 2961
    clock.now = 5.0
    assert out.played_samples() == 2961
    assert out.buffered_samples() == 0


def test_underrun_does_not_count_silence_as_played() -> None:
    """Time passing with an empty queue plays nothing; new audio starts when written."""
    clock = Clock()
    out = MemoryOutput(24_000, clock=clock)
    out.write(_tone(2400))
    clock.now = 1.0
    assert out.played_samples() == 2400
    out.write(_tone(2400))
    clock.now = 1.05
    assert out.played_samples() == 3600
    assert out.underruns == 1


def test_output_rejects_wrong_dtype() -> None:
    """Float audio is refused with a clear error."""
    with pytest.raises(AudioError, match="int16"):
        MemoryOutput(clock=Clock()).write(np.zeros(10, dtype=np.float32))


@pytest.mark.anyio
async def test_input_mixes_pushed_audio_into_frames() -> None:
    """Pushed samples appear in the next frames with consecutive timestamps."""
    clock = Clock()
    mic = MemoryInput(24_000, frame_ms=20, clock=clock, realtime=False)
    mic.push(_tone(600, 7))
    frames = []
    async for frame in mic.frames():
        frames.append(frame)
        if len(frames) == 3:
            mic.close()
    assert [len(f.samples) for f in frames] == [480, 480, 480]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.02, 0.04])
    assert (frames[0].samples == 7).all()
    assert (frames[1].samples[:120] == 7).all() and (frames[1].samples[120:] == 0).all()
    assert not frames[2].samples.any()
