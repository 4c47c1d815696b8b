"""Echo-canceller metrics: segmental ERLE, (re)convergence time, SI-SDR after best-lag
alignment, and the real-time factor. Plain numpy on float signals (full scale 1.0).

Definitions (the echo benchmark's documentation, ``docs/echo-bench.md``, explains the choices):

- **ERLE** of a stretch: ``10*log10(sum(mic**2) / sum(out**2))``, in dB, capped at
  :data:`ERLE_CAP_DB` (a suppressor that outputs digital silence would give infinity). Measured
  only in far-end single talk, where everything on the mic is echo and noise.
- **Segmental ERLE**: ERLE over sliding windows (0.25 s, 50 ms hop by default), keeping only
  windows where the far end (the speaker signal) is above -35 dBFS RMS and the near end (the
  user's ground truth) is silent. Quiet windows are left out because they hold no echo to
  cancel and would drag a median towards 0 dB.
- **Convergence time**: from a start instant, the time until the segmental ERLE reaches a
  threshold and *holds* it: the end of the first qualifying window from whose start on every
  qualifying window for ``hold_s`` seconds is at or above the threshold.
- **SI-SDR** (scale-invariant signal-to-distortion ratio) of an estimate against a clean
  reference: ``10*log10(|a*s|**2 / |a*s - e|**2)`` with ``a = <e, s> / |s|**2``; after a search
  for the lag (cancellers may add latency) that maximises it.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import numpy.typing as npt

__all__ = (
    "ERLE_CAP_DB",
    "FAR_ACTIVE_DBFS",
    "SegmentalErle",
    "Alignment",
    "erle_db",
    "segmental_erle",
    "best_lag",
    "si_sdr_db",
    "aligned_si_sdr",
    "shift",
    "real_time_factor",
)

Float = npt.NDArray[np.float64]

#: The highest ERLE reported: an output of exact zeros would otherwise be infinitely good.
ERLE_CAP_DB = 100.0
#: A window counts as far-end talk when the speaker signal's RMS over it is above this.
FAR_ACTIVE_DBFS = -35.0
_TINY = 1e-20


def _as_float(x: npt.ArrayLike) -> Float:
    arr = np.asarray(x)
    if arr.dtype == np.int16:
        return arr.astype(np.float64) / 32768.0
    return arr.astype(np.float64)


def _ratio_db(num: float, den: float) -> float:
    if num <= _TINY:
        return 0.0 if den <= _TINY else -ERLE_CAP_DB
    if den <= num * 10.0 ** (-ERLE_CAP_DB / 10.0):
        return ERLE_CAP_DB
    return 10.0 * math.log10(num / den)


def erle_db(mic: npt.ArrayLike, out: npt.ArrayLike) -> float:
    """ERLE of one stretch: mic energy over output energy, in dB (capped at
    :data:`ERLE_CAP_DB`); int16 or float input.
    """
    d, e = _as_float(mic), _as_float(out)
    return _ratio_db(float(np.dot(d, d)), float(np.dot(e, e)))


def _window_sums(x: Float, starts: npt.NDArray[np.int64], length: int) -> Float:
    """``sum(x[s:s+length]**2)`` for every start ``s``, through one cumulative sum."""
    cumsum = np.concatenate(([0.0], np.cumsum(x * x)))
    sums: Float = cumsum[starts + length] - cumsum[starts]
    return sums


@attrs.frozen(eq=False)
class SegmentalErle:
    """Segmental ERLE of one run: the qualifying windows, in time order.

    Attributes:
        starts_s: each window's start, in seconds from the beginning of the run.
        erle_db: each window's ERLE.
        window_s: the window length.
    """

    starts_s: Float
    erle_db: Float
    window_s: float

    def _between(self, t0: float, t1: float) -> Float:
        """ERLE of the windows lying wholly inside ``[t0, t1]``."""
        eps = 1e-9
        inside = (self.starts_s >= t0 - eps) & (self.starts_s + self.window_s <= t1 + eps)
        picked: Float = self.erle_db[inside]
        return picked

    def median_between(self, t0: float, t1: float) -> float | None:
        """Median ERLE of the windows wholly inside ``[t0, t1]``; ``None`` if there are none."""
        values = self._between(t0, t1)
        return float(np.median(values)) if len(values) else None

    def ending_at(self, t: float) -> float | None:
        """ERLE of the window that ends at ``t`` (to 1 ms); ``None`` if that window does not
        qualify (the far end was quiet or the user talked) or is off the hop grid.
        """
        ends = self.starts_s + self.window_s
        hit = np.flatnonzero(np.abs(ends - t) < 1e-3)
        return float(self.erle_db[hit[0]]) if len(hit) else None

    def time_to_reach(self, t0: float, t1: float, threshold_db: float,
                      hold_s: float = 1.0) -> float | None:
        """Seconds from ``t0`` until the ERLE reaches ``threshold_db`` and holds it.

        Only windows wholly inside ``[t0, t1]`` are looked at. The answer is the end of the
        first window W such that every window starting within ``hold_s`` of W's start (and
        inside the span) is at or above the threshold, minus ``t0``. ``None`` if no such window.
        """
        eps = 1e-9
        inside = (self.starts_s >= t0 - eps) & (self.starts_s + self.window_s <= t1 + eps)
        starts, values = self.starts_s[inside], self.erle_db[inside]
        below = values < threshold_db
        for i in range(len(starts)):
            if below[i]:
                continue
            held = (starts >= starts[i]) & (starts < starts[i] + hold_s)
            if not np.any(below[held]):
                return float(starts[i] + self.window_s - t0)
        return None


def segmental_erle(
    mic: npt.ArrayLike,
    out: npt.ArrayLike,
    speaker: npt.ArrayLike,
    user: npt.ArrayLike,
    rate: int,
    *,
    window_s: float = 0.25,
    hop_s: float = 0.05,
    far_active_dbfs: float = FAR_ACTIVE_DBFS,
) -> SegmentalErle:
    """Segmental ERLE in far-end single talk.

    ``mic``, ``out``, ``speaker`` (the far-end reference, as played) and ``user`` (the near-end
    ground truth at the mic) are aligned sample for sample; ``out`` must already be shifted to
    undo the canceller's latency (:func:`shift`). A window qualifies when the speaker's RMS over
    it is above ``far_active_dbfs`` and the user's ground truth is exactly zero in it.
    """
    d, e, x, s = (_as_float(v) for v in (mic, out, speaker, user))
    n = min(len(d), len(e), len(x), len(s))
    length = round(window_s * rate)
    hop = max(1, round(hop_s * rate))
    if n < length or length <= 0:
        return SegmentalErle(np.zeros(0), np.zeros(0), window_s)
    starts = np.arange(0, n - length + 1, hop, dtype=np.int64)
    far = _window_sums(x[:n], starts, length) / length
    near = _window_sums(s[:n], starts, length)
    keep = (far > 10.0 ** (far_active_dbfs / 10.0)) & (near == 0.0)
    mic_energy = _window_sums(d[:n], starts, length)[keep]
    out_energy = _window_sums(e[:n], starts, length)[keep]
    values = np.array([_ratio_db(float(m), float(o)) for m, o in zip(mic_energy, out_energy,
                                                                      strict=True)])
    return SegmentalErle(starts[keep] / rate, values.astype(np.float64), window_s)


def shift(x: npt.ArrayLike, lag: int) -> Float:
    """``x`` moved ``lag`` samples earlier (``y[n] = x[n + lag]``), zero-filled, same length;
    a negative ``lag`` moves it later. Undoes a latency of ``lag`` samples.
    """
    arr = _as_float(x)
    out = np.zeros_like(arr)
    if lag >= 0:
        out[: len(arr) - lag] = arr[lag:]
    else:
        out[-lag:] = arr[: len(arr) + lag]
    return out


def best_lag(estimate: npt.ArrayLike, reference: npt.ArrayLike, max_lag: int) -> int:
    """The lag ``L`` in ``[-max_lag, max_lag]`` for which ``estimate[n + L]`` best matches
    ``reference[n]`` up to scale (the highest normalised correlation, hence the highest
    SI-SDR). Both signals are aligned sample for sample before any lag; samples shifted in
    from outside count as zeros.
    """
    e, s = _as_float(estimate), _as_float(reference)
    n = min(len(e), len(s))
    e, s = e[:n], s[:n]
    if n == 0 or not np.any(s) or not np.any(e):
        return 0
    size = 1 << (2 * n - 1).bit_length()
    # corr[L] = sum_n e[n + L] * s[n], for L in -(n-1)..(n-1), via one FFT product.
    spectrum = np.fft.rfft(e, size) * np.conj(np.fft.rfft(s, size))
    full = np.fft.irfft(spectrum, size)
    lags = np.arange(-max_lag, max_lag + 1)
    corr = full[lags % size]
    # Energy of the part of e that overlaps s at each lag: e[max(0, L) : n + min(0, L)].
    cumsum = np.concatenate(([0.0], np.cumsum(e * e)))
    lo = np.clip(lags, 0, n)
    hi = np.clip(n + lags, 0, n)
    energy = np.maximum(cumsum[hi] - cumsum[lo], _TINY)
    score = corr * corr / energy
    return int(lags[int(np.argmax(score))])


def si_sdr_db(estimate: npt.ArrayLike, reference: npt.ArrayLike) -> float:
    """SI-SDR of ``estimate`` against ``reference`` (same length), in dB, capped at +-100."""
    e, s = _as_float(estimate), _as_float(reference)
    ref_energy = float(np.dot(s, s))
    if ref_energy <= _TINY:
        return -ERLE_CAP_DB
    scale = float(np.dot(e, s)) / ref_energy
    target = scale * s
    target_energy = float(np.dot(target, target))
    if target_energy <= _TINY:
        return -ERLE_CAP_DB  # silence, or nothing of the reference in it: the worst score
    return _ratio_db(target_energy, float(np.sum((e - target) ** 2)))


@attrs.frozen
class Alignment:
    """SI-SDR of an estimate after best-lag alignment.

    Attributes:
        si_sdr_db: the SI-SDR at the best lag.
        lag: the estimate's latency in samples (``estimate[n + lag]`` matches ``reference[n]``).
        gain_db: the estimate's level relative to the reference along it, ``20*log10(|a|)``
            with ``a`` the SI-SDR scale: how much the near end was attenuated (negative) or
            amplified.
    """

    si_sdr_db: float
    lag: int
    gain_db: float


def aligned_si_sdr(estimate: npt.ArrayLike, reference: npt.ArrayLike, start: int, stop: int,
                   max_lag: int) -> Alignment:
    """SI-SDR of ``estimate`` against ``reference`` over samples ``[start, stop)`` of the
    reference, with the estimate shifted by the best lag within ``+-max_lag``.
    """
    e, s = _as_float(estimate), _as_float(reference)
    lo, hi = max(0, start - max_lag), min(len(e), stop + max_lag)
    # Search over the segment padded by max_lag on each side, so that lagged samples come
    # from the real signal rather than zeros.
    ref_padded = np.zeros(hi - lo)
    ref_padded[start - lo : stop - lo] = s[start:stop]
    lag = best_lag(e[lo:hi], ref_padded, max_lag)
    segment = shift(e, lag)[start:stop]
    target = s[start:stop]
    ref_energy = float(np.dot(target, target))
    scale = float(np.dot(segment, target)) / ref_energy if ref_energy > _TINY else 0.0
    gain = 20.0 * math.log10(abs(scale)) if scale != 0.0 else -ERLE_CAP_DB
    return Alignment(si_sdr_db(segment, target), lag, gain)


def real_time_factor(cpu_s: float, audio_s: float) -> float | None:
    """Processing time per second of audio; ``None`` without audio."""
    return cpu_s / audio_s if audio_s > 0 else None
