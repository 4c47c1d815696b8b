"""Bulk delay between what the speaker played and when its echo reaches the microphone.

Converters, driver buffers and distance put tens to hundreds of milliseconds between a sample
leaving for the speaker and its echo in the microphone signal. An adaptive filter that had to
span that delay as well as the room's response would be long, slow to converge and costly, so
the canceller aligns the reference by the bulk delay this estimator finds and spends its taps on
the room.

The estimate is a generalised cross-correlation with phase transform (GCC-PHAT) between the
microphone and the reference, both decimated to about 4 kHz (the bulk of speech energy is
below 2 kHz, and the delay needs no finer step than the canceller's margin). The
cross-spectrum of each window is accumulated with a forgetting factor, so a moment of double
talk or silence does not move the estimate, while a real change of path wins within a few
windows; and two windows in a row whose own peaks agree on a new delay, where the current
one has collapsed, move the estimate at once. Windows of 0.75 s every 0.25 s find a delay
jump in about 0.5-0.75 s (0.75-1.0 s through the accumulated spectrum alone). An estimate is
only reported when its peak stands clearly above the rest of the correlation.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..errors import ConfigurationError

__all__ = ("DelayEstimator",)

_TARGET_RATE = 4_000
_SILENT = 1e-7  # mean square (full scale 1) below which a window holds no usable reference


Samples = npt.NDArray[np.floating] | npt.NDArray[np.int16]


class _Decimator:
    """Block means of ``factor`` samples, in full scale 1.0: a crude low-pass, enough for a
    correlation peak. Leftover samples wait for the next call, so the output never depends on
    how the input was cut into blocks."""

    def __init__(self, factor: int) -> None:
        self.factor = factor
        self._pending = np.zeros(0, dtype=np.float64)

    def process(self, block: Samples) -> npt.NDArray[np.float64]:
        arr = np.asarray(block)
        scale = 1 / 32768.0 if np.issubdtype(arr.dtype, np.integer) else 1.0
        if not len(self._pending) and len(arr) % self.factor == 0:
            # The usual case (blocks a multiple of the factor): no copies.
            fast: npt.NDArray[np.float64] = arr.reshape(-1, self.factor).sum(axis=1,
                                                                             dtype=np.float64)
            fast *= scale / self.factor
            return fast
        x = arr.astype(np.float64)
        if len(self._pending):
            x = np.concatenate((self._pending, x))
        whole = len(x) // self.factor * self.factor
        self._pending = x[whole:]
        sums: npt.NDArray[np.float64] = x[:whole].reshape(-1, self.factor).sum(axis=1)
        sums *= scale / self.factor
        return sums


def _smooth_size(n: int) -> int:
    """The smallest ``2**a * 3**b * 5**c`` at or above ``n`` (a size numpy's FFT is fast at)."""
    best = 1 << max(0, n - 1).bit_length()
    fives = 1
    while fives < best:
        threes = fives
        while threes < best:
            size = threes << max(0, math.ceil(math.log2(n / threes)))
            best = min(best, size)
            threes *= 3
        fives *= 5
    return best


def _shift_in(buffer: npt.NDArray[np.float64], new: npt.NDArray[np.float64]) -> None:
    """Append ``new`` to a fixed-length history in place, dropping the oldest samples."""
    n = len(new)
    if n >= len(buffer):
        buffer[:] = new[-len(buffer):]
        return
    buffer[:-n] = buffer[n:]
    buffer[-n:] = new


class DelayEstimator:
    """Streams reference and microphone samples; :attr:`delay` is the bulk delay in samples.

    Args:
        sample_rate: rate of both streams.
        max_delay_ms: the longest delay searched.
        window_s: audio correlated per update.
        update_s: how often an update runs.
        forget: weight of the accumulated cross-spectrum against a new window's.
        min_confidence: how far (in robust standard deviations of the correlation) the peak
            must stand above the rest to be believed.
        jump_confidence: how many times ``min_confidence`` a single window's peak must
            reach to count towards a jump (see :meth:`_jump_seen`).
        collapse: the largest height of the current delay's peak in the confirming window,
            as a share of the new peak's.
    """

    def __init__(self, sample_rate: int, *, max_delay_ms: float = 500.0, window_s: float = 0.75,
                 update_s: float = 0.25, forget: float = 0.5,
                 min_confidence: float = 8.0, jump_confidence: float = 1.5,
                 collapse: float = 0.5) -> None:
        if sample_rate <= 0:
            raise ConfigurationError(f"sample_rate must be positive, got {sample_rate}")
        if not max_delay_ms > 0:
            raise ConfigurationError(f"max_delay_ms must be > 0, got {max_delay_ms}")
        self.sample_rate = sample_rate
        self.decimation = max(1, round(sample_rate / _TARGET_RATE))
        rate = sample_rate / self.decimation
        self.max_lag = math.ceil(max_delay_ms / 1000 * rate)
        self.window = round(window_s * rate)
        self.update_every = max(1, round(update_s * rate))
        self.forget = forget
        self.min_confidence = min_confidence
        self.jump_confidence = jump_confidence
        self.collapse = collapse
        # Long enough that the lags searched do not wrap (a correlation of the two windows at
        # lags 0..max_lag needs window + max_lag points), and made of small factors only:
        # numpy's FFT took 2.5-6x longer at the next power of two (8192) than at 5000 or
        # 5120 on the 4 kHz windows here, which made this update a tenth of the canceller's
        # CPU.
        self._fft_size = _smooth_size(self.window + self.max_lag)
        self._ref = np.zeros(self.window + self.max_lag, dtype=np.float64)
        self._mic = np.zeros(self.window, dtype=np.float64)
        self._ref_decimator = _Decimator(self.decimation)
        self._mic_decimator = _Decimator(self.decimation)
        self._since_update = 0
        # Decimated blocks since the last update, shifted into the windows only when an
        # update reads them (every update_s, not every block: the windows are seconds long).
        self._fresh_ref: list[npt.NDArray[np.float64]] = []
        self._fresh_mic: list[npt.NDArray[np.float64]] = []
        self._padded = np.zeros((2, self._fft_size), dtype=np.float64)
        self._cross: npt.NDArray[np.complex128] | None = None
        self._candidate: int | None = None
        self.delay: int | None = None
        """The estimated delay in samples at ``sample_rate`` (``None`` until one is believed)."""
        self.confidence = 0.0
        """The peak's height over the correlation's spread at the last update."""
        self.updates = 0

    @property
    def delay_ms(self) -> float | None:
        """:attr:`delay` in milliseconds."""
        return None if self.delay is None else self.delay * 1000.0 / self.sample_rate

    def process(self, reference: Samples, mic: Samples) -> bool:
        """Feed equally long reference and microphone blocks (int16, or float in full scale
        1.0); whether :attr:`delay` changed."""
        ref_a, mic_a = np.asarray(reference), np.asarray(mic)
        f = self.decimation
        if (len(ref_a) == len(mic_a) and len(ref_a) % f == 0 and ref_a.dtype == mic_a.dtype
                and not len(self._ref_decimator._pending)
                and not len(self._mic_decimator._pending)):
            # The usual case: both decimated in one operation.
            both = np.concatenate((ref_a, mic_a)).reshape(-1, f).sum(axis=1, dtype=np.float64)
            both *= (1 / 32768.0 if ref_a.dtype.kind in "iu" else 1.0) / f
            n = len(both) // 2
            ref, mic_d = both[:n], both[n:]
        else:
            ref = self._ref_decimator.process(reference)
            mic_d = self._mic_decimator.process(mic)
            n = min(len(ref), len(mic_d))
            ref, mic_d = ref[:n], mic_d[:n]
        if n == 0:
            return False
        self._fresh_ref.append(ref)
        self._fresh_mic.append(mic_d)
        self._since_update += n
        if self._since_update < self.update_every:
            return False
        self._since_update = 0
        for window, fresh in ((self._ref, self._fresh_ref), (self._mic, self._fresh_mic)):
            _shift_in(window, fresh[0] if len(fresh) == 1 else np.concatenate(fresh))
            fresh.clear()
        return self._update()

    def _update(self) -> bool:
        ref_window = self._ref[self.max_lag:]
        ref_power = float(np.dot(ref_window, ref_window)) / len(ref_window)
        mic_power = float(np.dot(self._mic, self._mic)) / len(self._mic)
        if ref_power < _SILENT or mic_power < _SILENT:
            return False
        size = self._fft_size
        # corr[k] = sum_n ref[n + k] * mic[n]; the reference buffer starts max_lag samples
        # earlier than the microphone's, so an echo L samples late peaks at k = max_lag - L.
        padded = self._padded
        padded[0, :len(self._ref)] = self._ref
        padded[1, :len(self._mic)] = self._mic
        ref_spec, mic_spec = np.fft.rfft(padded, axis=1)
        spectrum = ref_spec * mic_spec.conj()
        if self._cross is None:
            self._cross = spectrum
        else:
            self._cross *= self.forget
            self._cross += spectrum
        # The accumulated cross-spectrum (row 0) and this window's alone (row 1).
        both = np.stack((self._cross, spectrum))
        both /= np.abs(both) + 1e-12
        lags = np.fft.irfft(both, size, axis=1)[:, self.max_lag::-1]
        peaks = np.argmax(lags, axis=1)
        # Each peak's height over the median, in robust standard deviations (1.4826 x the
        # median absolute deviation).
        middle = self.max_lag // 2
        median = np.partition(lags, middle, axis=1)[:, middle]
        spread = np.partition(np.abs(lags - median[:, None]), middle, axis=1)[:, middle]
        spread = spread * 1.4826 + 1e-12
        heights = (lags[(0, 1), peaks] - median) / spread
        self.confidence = float(heights[0])
        self.updates += 1
        if self._jump_seen(int(peaks[1]), float(heights[1]), lags[1], float(median[1]),
                           float(spread[1])):
            self._cross = spectrum  # the old path's windows no longer count
            self.confidence = float(heights[1])
            return True
        peak = int(peaks[0])
        if self.confidence < self.min_confidence:
            return False
        delay = peak * self.decimation
        if self.delay is not None and abs(delay - self.delay) <= self.decimation:
            return False
        self.delay = delay
        return True

    def _jump_seen(self, peak: int, height: float, lags: npt.NDArray[np.float64],
                   median: float, spread: float) -> bool:
        """Whether this window alone shows the path has moved, and if so adopt its delay.

        The accumulated cross-spectrum needs about four windows to let a new path outweigh
        the old one. A window whose own peak is strong (``jump_confidence`` x the usual
        threshold) at another delay is a candidate; the next window is a jump if its peak is
        as strong, at the same delay, and the current delay has collapsed in it (under
        ``collapse`` of the new peak's height; the first window straddles the change).
        Double talk lowers a window's peak but does not move it, and a strong reflection
        next to the direct sound (which keeps its own peak) is not taken for a jump.
        Measured (``benchmarks/echo.py``, seeds 0-2 at 16 and 24 kHz): a path change found
        0.5-0.75 s after it instead of 0.75-1.0 s, the worst room's re-convergence per run
        0.85-2.0 s -> 0.5-0.85 s."""
        if self.delay is None or height < self.jump_confidence * self.min_confidence:
            self._candidate = None
            return False
        delay = peak * self.decimation
        if abs(delay - self.delay) <= self.decimation:
            self._candidate = None
            return False
        previous, self._candidate = self._candidate, delay
        if previous is None or abs(delay - previous) > self.decimation:
            return False
        k = self.delay // self.decimation
        if (float(lags[max(0, k - 1):k + 2].max()) - median) / spread >= self.collapse * height:
            return False
        self._candidate = None
        self.delay = delay
        return True

    def reset(self) -> None:
        """Forget everything (a new device)."""
        self._ref[:] = 0.0
        self._mic[:] = 0.0
        self._fresh_ref.clear()
        self._fresh_mic.clear()
        self._cross = None
        self._candidate = None
        self._since_update = 0
        self.delay = None
        self.confidence = 0.0
