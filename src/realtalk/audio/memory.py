"""In-memory audio I/O driven by a clock: a microphone you script and a speaker you inspect.

:class:`MemoryOutput` "plays" in real time against a clock (``anyio.current_time`` by default,
or any callable, such as a virtual clock): the number of samples played is computed from the
time since playback started, exactly, with no task and no per-sample work. What was played is
recorded, so a test can check what the user heard.

:class:`MemoryInput` yields fixed-size frames paced by the same kind of clock; audio pushed
with :meth:`MemoryInput.push` is mixed into the frames that follow, over silence.
"""

from __future__ import annotations

import collections
import math
from collections.abc import AsyncIterator, Callable

import anyio
import anyio.lowlevel
import numpy as np
import numpy.typing as npt

from .._args import check_clock, check_flag, check_number, check_sample_rate
from ..errors import AudioError
from .frame import AudioFrame
from .gain import GainRamp
from .pcm import mono_int16

__all__ = ("MemoryInput", "MemoryOutput")

Clock = Callable[[], float]


class MemoryOutput:
    """A speaker in memory that plays against ``clock`` and records what it played.

    Args:
        sample_rate: samples per second.
        clock: seconds, monotonic; default ``anyio.current_time`` (needs a running loop).
    """

    def __init__(self, sample_rate: int = 24_000, *, clock: Clock | None = None) -> None:
        check_sample_rate(sample_rate)
        check_clock(clock)
        self.sample_rate = sample_rate
        self._clock: Clock = clock if clock is not None else anyio.current_time
        self._queue: collections.deque[npt.NDArray[np.int16]] = collections.deque()
        self._queue_offset = 0  # samples of _queue[0] already played
        self._buffered = 0
        self._played = 0
        self._run_start_time = 0.0  # when the current uninterrupted run began
        self._run_start_played = 0
        self._recorded: list[npt.NDArray[np.int16]] = []
        self._gain = GainRamp(sample_rate)
        self.underruns = 0
        self.clears = 0

    def _advance(self) -> None:
        if not self._buffered:
            return
        now = self._clock()
        due = self._run_start_played + math.floor((now - self._run_start_time) * self.sample_rate)
        n = min(max(due - self._played, 0), self._buffered)
        while n:
            head = self._queue[0]
            take = min(n, len(head) - self._queue_offset)
            self._recorded.append(
                self._gain.apply(head[self._queue_offset:self._queue_offset + take]))
            self._queue_offset += take
            n -= take
            self._played += take
            self._buffered -= take
            if self._queue_offset == len(head):
                self._queue.popleft()
                self._queue_offset = 0
        if not self._buffered:
            self.underruns += 1

    def write(self, samples: npt.NDArray[np.int16]) -> None:
        """Queue ``samples``; playback starts at once if the speaker was idle."""
        arr = mono_int16(samples)
        if not len(arr):
            return
        self._advance()
        if not self._buffered:
            self._run_start_time = self._clock()
            self._run_start_played = self._played
        self._queue.append(arr)
        self._buffered += len(arr)

    def clear(self) -> int:
        """Stop now, drop the queue, return the cumulative played count."""
        self._advance()
        self._queue.clear()
        self._queue_offset = 0
        self._buffered = 0
        self._gain.reset()
        self.clears += 1
        return self._played

    def set_gain(self, gain: float, ramp_ms: float = 10.0) -> None:
        """Scale what plays from now on by ``gain``, ramped (the recording shows it)."""
        self._advance()
        self._gain.set(gain, ramp_ms)

    def mark_end(self) -> None:
        """Nothing to do: a memory speaker has no jitter buffer and plays what it gets."""

    def played_samples(self) -> int:
        """Cumulative samples played, as of the clock's now."""
        self._advance()
        return self._played

    def buffered_samples(self) -> int:
        """Samples queued and not played yet, as of the clock's now."""
        self._advance()
        return self._buffered

    def recording(self) -> npt.NDArray[np.int16]:
        """Everything played so far, in order: what the listener heard."""
        self._advance()
        if not self._recorded:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._recorded)


class MemoryInput:
    """A scripted microphone yielding ``frame_ms`` frames paced by ``clock``.

    Args:
        sample_rate: samples per second.
        frame_ms: frame length in milliseconds.
        clock: seconds, monotonic; default ``anyio.current_time``.
        realtime: pace frames at the clock's rate (``False``: yield as fast as consumed,
            timestamps still advance by one frame each).
        noise_dbfs: level of background white noise under everything (``None``: digital silence).
        seed: seed of the noise generator.
    """

    def __init__(
        self,
        sample_rate: int = 24_000,
        *,
        frame_ms: int = 20,
        clock: Clock | None = None,
        realtime: bool = True,
        noise_dbfs: float | None = None,
        seed: int = 0,
    ) -> None:
        check_sample_rate(sample_rate)
        check_number("frame_ms", frame_ms, integer=True, positive=True)
        check_clock(clock)
        check_flag("realtime", realtime)
        check_number("noise_dbfs", noise_dbfs, maximum=0.0, optional=True)
        check_number("seed", seed, integer=True, minimum=0)
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self._clock: Clock = clock if clock is not None else anyio.current_time
        self._realtime = realtime
        self._pending: collections.deque[npt.NDArray[np.int16]] = collections.deque()
        self._noise_amp = None if noise_dbfs is None else 32768.0 * 10 ** (noise_dbfs / 20)
        self._rng = np.random.default_rng(seed)
        self._closed = False
        self.frames_yielded = 0

    def push(self, samples: npt.NDArray[np.int16] | AudioFrame, *,
             sample_rate: int | None = None) -> None:
        """Speak ``samples`` into the microphone, starting with the next frame.

        Args:
            samples: 1-D int16 PCM at this microphone's rate, or an :class:`AudioFrame`
                (downmixed to mono; its rate must be this microphone's).
            sample_rate: the rate of ``samples``, checked against this microphone's when
                given.

        Raises:
            AudioError: audio that is not 1-D int16 or is at another rate, saying which
                and what to do; nothing is pushed.
        """
        if isinstance(samples, AudioFrame):
            sample_rate = samples.sample_rate if sample_rate is None else sample_rate
            samples = samples.mono().samples
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise AudioError(
                f"MemoryInput.push: audio at {sample_rate!r} Hz pushed into a microphone at "
                f"{self.sample_rate} Hz; resample it first "
                f"(realtalk.audio.resample.resample(samples, {sample_rate!r}, "
                f"{self.sample_rate})) or create MemoryInput({sample_rate!r})")
        arr = np.asarray(samples)
        if arr.dtype != np.int16:
            hint = ("convert it with realtalk.audio.float_to_int16(samples)"
                    if np.issubdtype(arr.dtype, np.floating) else "convert it to int16 PCM")
            raise AudioError(f"MemoryInput.push: expected int16 PCM samples, got {arr.dtype}; "
                             f"{hint}")
        if arr.ndim != 1:
            raise AudioError(
                f"MemoryInput.push: expected mono samples of shape (n,), got shape "
                f"{arr.shape}; downmix it first, e.g. AudioFrame(samples, rate).mono().samples")
        self._pending.append(arr)

    def close(self) -> None:
        """End the frame stream after the current frame."""
        self._closed = True

    def _next_block(self) -> npt.NDArray[np.int16]:
        block = np.zeros(self.frame_samples, dtype=np.int32)
        if self._noise_amp is not None:
            block += np.rint(self._rng.normal(0.0, self._noise_amp, self.frame_samples)).astype(
                np.int32)
        filled = 0
        while filled < self.frame_samples and self._pending:
            head = self._pending[0]
            take = min(self.frame_samples - filled, len(head))
            block[filled:filled + take] += head[:take]
            filled += take
            if take == len(head):
                self._pending.popleft()
            else:
                self._pending[0] = head[take:]
        return np.clip(block, -32768, 32767).astype(np.int16)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Yield frames until :meth:`close`; each frame is yielded once it is fully "captured"."""
        start = self._clock()
        duration = self.frame_samples / self.sample_rate
        index = 0
        while not self._closed:
            captured_at = start + index * duration
            if self._realtime:
                delay = captured_at + duration - self._clock()
                if delay > 0:
                    await anyio.sleep(delay)
            else:
                await anyio.lowlevel.checkpoint()
            index += 1
            self.frames_yielded += 1
            yield AudioFrame(self._next_block(), self.sample_rate, captured_at)
