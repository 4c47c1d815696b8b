"""A simulated full-duplex sound card standing in a virtual room.

Each device block, the speaker renders its next block (the same :class:`DeviceOutput` a real
sound card uses: jitter buffer, exact played count by DAC time), the room hears it, and the
microphone captures the same period: echo of what the speaker played, the user, the noise.
:meth:`SimulatedDevice.step` does one block; the offline driver calls it on a virtual clock, and
``input.frames()`` calls it in real time for a live :class:`~realtalk.Conversation`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import numpy as np

from ..audio.device import DeviceOutput
from ..audio.frame import AudioFrame
from ..errors import ConfigurationError
from .room import Room

__all__ = ("SimulatedDevice",)


class _DeviceInput:
    """The microphone side: an :class:`~realtalk.audio.AudioInput` that steps the device."""

    def __init__(self, device: SimulatedDevice) -> None:
        self._device = device
        self.sample_rate = device.sample_rate

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """One frame per device block, paced by the clock when the device is real-time."""
        device = self._device
        while not device.closed:
            frame = device.step()
            if device.realtime:
                assert frame.timestamp is not None
                delay = frame.timestamp + frame.duration - device.clock()
                if delay > 0:
                    await anyio.sleep(delay)
            else:
                await anyio.lowlevel.checkpoint()
            yield frame


class SimulatedDevice:
    """A sound card whose speaker and microphone are in ``room``.

    Args:
        room: the virtual room (its sample rate is the device's).
        block_ms: device block length: the microphone frame size, and how soon a clear()
            silences the speaker.
        jitter_buffer_ms: audio queued before a response starts playing.
        output_latency_ms: time from a block being rendered to it reaching the speaker.
        clock: monotonic seconds (a :class:`~realtalk.sim.VirtualClock` offline);
            default ``anyio.current_time``.
        realtime: whether ``input.frames()`` waits for each block's real time to pass.
    """

    def __init__(
        self,
        room: Room,
        *,
        block_ms: float = 20.0,
        jitter_buffer_ms: float = 0.0,
        output_latency_ms: float = 0.0,
        clock: Callable[[], float] | None = None,
        realtime: bool = True,
    ) -> None:
        self.room = room
        self.sample_rate = room.sample_rate
        self.block = round(self.sample_rate * block_ms / 1000)
        if self.block <= 0:
            raise ConfigurationError(f"block_ms={block_ms} gives no samples per block")
        self.output_latency = output_latency_ms / 1000.0
        self.clock: Callable[[], float] = clock if clock is not None else anyio.current_time
        self.realtime = realtime
        self.output = DeviceOutput(self.sample_rate, jitter_buffer_ms=jitter_buffer_ms,
                                   clock=self.clock)
        self.input = _DeviceInput(self)
        self.closed = False
        self._next_block_time: float | None = None
        self._speaker_block = np.zeros(self.block, dtype=np.int16)

    def step(self) -> AudioFrame:
        """Run one device block: render the speaker, let the room hear it, capture the mic.

        The block covers ``[t, t + block)`` where ``t`` is the clock when the first block ran
        plus a whole number of blocks (so timestamps never drift); the frame is stamped ``t``.
        """
        if self._next_block_time is None:
            self._next_block_time = self.clock()
        t = self._next_block_time
        self._next_block_time = t + self.block / self.sample_rate
        self.output.render(self._speaker_block, t + self.output_latency)
        self.room.speaker_played(self._speaker_block)
        mic = self.room.mic_frame(self.block)
        return AudioFrame(mic, self.sample_rate, t, reference=self._speaker_block.copy())

    def close(self) -> None:
        """End ``input.frames()``."""
        self.closed = True
