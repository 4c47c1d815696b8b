"""A click-free playback gain: linear ramps between levels, applied block by block."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ("GainRamp",)


class GainRamp:
    """The gain an output applies to what it plays, moving linearly to its target.

    A jump in gain mid-waveform is an audible click; ramping over a few milliseconds is not.
    The ramp state carries across blocks, so the envelope is the same whatever the block size.

    Args:
        sample_rate: samples per second (to turn ``ramp_ms`` into samples).
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.current = 1.0
        self.target = 1.0
        self._step = 0.0  # gain change per sample while ramping

    def set(self, gain: float, ramp_ms: float) -> None:
        """Move to ``gain`` (0 to 1) over ``ramp_ms`` of played audio (0: at once)."""
        self.target = min(max(float(gain), 0.0), 1.0)
        samples = ramp_ms * self.sample_rate / 1000.0
        if samples <= 1:
            self.current = self.target
            self._step = 0.0
        else:
            self._step = (self.target - self.current) / samples

    def reset(self) -> None:
        """Back to unity gain at once."""
        self.current = self.target = 1.0
        self._step = 0.0

    def apply(self, block: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """``block`` scaled by the gain envelope over its samples (a new array unless the gain
        is unity throughout)."""
        n = len(block)
        if not n or (self.current == 1.0 and self.target == 1.0):
            return block
        if self._step:
            envelope = self.current + self._step * np.arange(1, n + 1)
            low, high = sorted((self.current, self.target))
            np.clip(envelope, low, high, out=envelope)
            self.current = float(envelope[-1])
            if self.current == self.target:
                self._step = 0.0
        else:
            envelope = np.full(n, self.current)
        scaled = np.rint(block.astype(np.float64) * envelope)
        out: npt.NDArray[np.int16] = scaled.astype(np.int16)
        return out
