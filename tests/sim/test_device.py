"""The simulated sound card: the speaker's output reaches the mic through the room."""

from __future__ import annotations

import numpy as np
import pytest

from realtalk.sim import EchoPath, Room, RoomConfig, SimulatedDevice, VirtualClock


def _room(delay_ms: float = 10.0) -> Room:
    return Room(RoomConfig(echo=EchoPath(delay_ms=delay_ms, gain_db=-6.0, rt60_s=0.05,
                                         rir_ms=20.0), noise_dbfs=None))


def test_speaker_audio_reaches_the_mic_after_the_room_delay() -> None:
    """A click played at a block start shows up in the mic after the echo path's delay."""
    clock = VirtualClock()
    device = SimulatedDevice(_room(delay_ms=10.0), clock=clock, realtime=False)
    click = np.zeros(480, dtype=np.int16)
    click[0] = 20_000
    device.output.write(click)
    frame = device.step()
    assert frame.timestamp == 0.0
    peak = int(np.argmax(np.abs(frame.samples)))
    assert peak == 240  # 10 ms at 24 kHz


def test_played_count_follows_the_blocks() -> None:
    """A block counts as played once its time has passed; clear() silences the next block."""
    clock = VirtualClock()
    device = SimulatedDevice(_room(), clock=clock, realtime=False)
    device.output.write(np.full(2400, 1000, dtype=np.int16))
    device.step()
    assert device.output.played_samples() == 0
    clock.advance(0.02)
    assert device.output.played_samples() == 480
    assert device.output.clear() == 480
    device.step()
    clock.advance(0.02)
    assert device.output.played_samples() == 480


@pytest.mark.anyio
async def test_input_frames_step_the_device() -> None:
    """input.frames() yields one stamped frame per block."""
    clock = VirtualClock()
    device = SimulatedDevice(_room(), clock=clock, realtime=False)
    stamps = []
    async for frame in device.input.frames():
        stamps.append(frame.timestamp)
        if len(stamps) == 3:
            device.close()
    assert stamps == pytest.approx([0.0, 0.02, 0.04])
