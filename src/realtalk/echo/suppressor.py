"""The residual echo suppressor: what the linear canceller leaves, taken out per frequency bin.

A linear filter cannot remove everything: it needs seconds of the assistant's voice to learn the
room, it has to relearn after the room changes, and a loudspeaker's distortion is not linear.
The suppressor works from the first block: it learns, per bin, how much of the reference's power
(over the filter's span, after the bulk delay) still shows in the canceller's output, and
attenuates the bins where that predicted residual makes up most of the output.

It is built to leave the user alone. The ratio is learned in dB, falling fast and rising
slowly, so the user's voice over the assistant (which adds power the reference does not
explain) barely moves it; and a bin is attenuated only by the share of its power the predicted
residual explains (a spectral-subtraction gain, the residual inflated by ``overestimate`` to
cover its frame-to-frame swings), so the bins where the user is clearly louder than the
residual pass almost untouched, which keeps the user's onsets for the barge-in detector.

Measured (``benchmarks/echo.py``): steady ERLE rises from about 20 dB (linear filter alone) to
about 36 dB, while the user's voice during double talk stays about 16 dB closer to the clean
voice than the raw microphone was.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ("ResidualEchoSuppressor",)

Float64Array = npt.NDArray[np.float64]
Complex128Array = npt.NDArray[np.complex128]

_LN10_20 = np.log(10.0) / 20.0


class ResidualEchoSuppressor:
    """Per-bin gains for a canceller's output spectrum.

    Args:
        bins: number of frequency bins.
        floor_db: the deepest attenuation.
        overestimate: how much the predicted residual is inflated before it is subtracted
            (> 1 errs towards removing echo).
        rate: how much of the gap to each block's observed output/reference ratio (in dB)
            the learned ratio closes.
        max_rise_db: the largest upward gap counted, so the learned ratio rises by at most
            ``rate * max_rise_db`` per block.
    """

    def __init__(self, bins: int, *, floor_db: float = -40.0, overestimate: float = 8.0,
                 rate: float = 0.05, max_rise_db: float = 1.0) -> None:
        self.floor = 10 ** (floor_db / 20)
        self.overestimate = overestimate
        self.rate = rate
        self.max_rise_db = max_rise_db
        self._ratio_db: Float64Array = np.zeros(bins)  # start by assuming echo as loud as sent
        self._gain: Float64Array = np.ones(bins)
        self.residual: Float64Array = np.zeros(bins)
        """The last block's predicted residual echo power per bin (output spectrum units)."""

    def gains(self, out_power: Float64Array, reference_power: Float64Array,
              playing: bool) -> Float64Array:
        """Gains for this block's output, given its power spectrum and the reference power
        over the filter's span (same units); learns while the reference plays."""
        if playing:
            observed = 10 * np.log10((out_power + 1e-12) / (reference_power + 1e-12))
            # Falls at once to what is observed, rises slowly: the user's voice over the
            # assistant (power the reference does not explain) barely raises it.
            self._ratio_db += self.rate * np.clip(observed - self._ratio_db, -40.0,
                                                  self.max_rise_db)
            np.clip(self._ratio_db, -80.0, 20.0, out=self._ratio_db)
        self.residual = reference_power * 10 ** (self._ratio_db / 10)
        share = self.overestimate * self.residual / (out_power + 1e-12)
        raw = np.sqrt(np.clip(1.0 - share, 0.0, 1.0))
        raw = np.maximum(raw, self.floor)
        # Fast attack, slower release, and a little smoothing across bins: no musical noise.
        gain = np.minimum(raw, 0.5 * self._gain + 0.5 * raw)
        gain = np.convolve(gain, np.array([0.25, 0.5, 0.25]), mode="same")
        self._gain = gain
        return gain

    def reset(self) -> None:
        """Forget the learned ratios."""
        self._ratio_db[:] = 0.0
        self._gain[:] = 1.0
        self.residual[:] = 0.0
