"""In-memory audio I/O: clock-driven playback that counts exactly, scripted microphone."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import AudioFrame, MemoryInput, MemoryOutput
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
    frames = await _frames(mic, 3)
    assert [len(f.samples) for f in frames] == [480, 480, 480]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.02, 0.04])
    assert (frames[0].samples == 7).all()
    assert (frames[1].samples[:120] == 7).all() and (frames[1].samples[120:] == 0).all()
    assert not frames[2].samples.any()


@pytest.mark.parametrize(("samples", "sample_rate", "message"), [
    (np.zeros((480, 2), dtype=np.int16), None,
     r"MemoryInput\.push: expected mono samples of shape \(n,\), got shape \(480, 2\); "
     r"downmix"),
    (np.zeros(480, dtype=np.float32), None,
     r"expected int16 PCM samples, got float32; convert it with .*float_to_int16"),
    (np.zeros(480, dtype=np.float64), None, r"got float64; convert it with .*float_to_int16"),
    (np.zeros(480, dtype=np.int32), None, r"expected int16 PCM samples, got int32"),
    (np.zeros(480, dtype=np.int16), 16_000,
     r"audio at 16000 Hz pushed into a microphone at 24000 Hz; resample it first .*"
     r"or create MemoryInput\(16000\)"),
    (AudioFrame(np.zeros(320, dtype=np.int16), 16_000), None, r"audio at 16000 Hz"),
])
@pytest.mark.anyio
async def test_push_refuses_audio_it_cannot_play_and_says_why(
        samples: npt.NDArray[np.int16] | AudioFrame, sample_rate: int | None,
        message: str) -> None:
    """Stereo, float, other integer widths and other rates are refused at push, naming what
    was wrong and what was expected; nothing is queued."""
    mic = MemoryInput(24_000, clock=Clock(), realtime=False)
    with pytest.raises(AudioError, match=message):
        mic.push(samples, sample_rate=sample_rate)
    mic.push(_tone(480, 5))
    (frame,) = await _frames(mic, 1)
    assert (frame.samples == 5).all()  # what came after, alone


@pytest.mark.anyio
async def test_push_takes_a_frame_at_its_rate_downmixed() -> None:
    """An AudioFrame at the microphone's rate is pushed as mono (its channels' mean)."""
    mic = MemoryInput(24_000, clock=Clock(), realtime=False)
    stereo = np.column_stack([np.full(480, 100, np.int16), np.full(480, 300, np.int16)])
    mic.push(AudioFrame(stereo, 24_000))
    mic.push(_tone(480, 7), sample_rate=24_000)
    first, second = await _frames(mic, 2)
    assert (first.samples == 200).all()
    assert (second.samples == 7).all()


async def _frames(mic: MemoryInput, n: int) -> list[AudioFrame]:
    frames = []
    async for frame in mic.frames():
        frames.append(frame)
        if len(frames) == n:
            mic.close()
    return frames
