"""The playback-aware gate: while the assistant speaks, only microphone energy clearly above
the echo predicted from what the speaker played counts as the user.

The echo of the assistant reaches the microphone with a delay (the room) and a loss (the echo
return loss). The gate keeps the speaker's frame energies over the longest delay it allows for,
predicts the echo as the loudest of them times the learned echo gain, and lets a frame through
only if the microphone holds ``margin_db`` more than that.

The echo gain is a quantile (``quantile``, the median by default) of the recent
microphone/speaker energy ratios while the speaker plays. The user talks over the assistant
only until the barge-in stops it, a small minority of the playback, so their frames move it
little. Once a canceller has cleaned the microphone, the residual echo swings by 10-20 dB from
frame to frame (most at the onsets of the assistant's words); the margin absorbs that spread.
A higher quantile follows the residual's peaks more closely, but in ``benchmarks/barge_in.py``
the upper quartile lowered the barge-ins detected at echo as loud as the user to 83 %. Until
enough frames are seen, ``initial_gain_db`` (conservative) stands in.
"""

from __future__ import annotations

import collections
import math

import numpy as np
import numpy.typing as npt

from ..audio.frame import AudioFrame
from ..audio.pcm import mean_square

__all__ = ("EchoGate",)

_SILENT = 1e-8  # mean square (float, full scale 1) below which the speaker counts as silent


def _quantile(values: npt.NDArray[np.float64], q: float) -> float:
    """``np.quantile(values, q)`` (its default, linear method), bit for bit, from a partial
    sort: this runs on every microphone frame, where ``np.quantile``'s generality cost about
    40 us on 200 ratios, a third of the whole detector's time."""
    n = len(values)
    position = q * (n - 1)
    lo = math.floor(position)
    hi = min(lo + 1, n - 1)
    part = np.partition(values, (lo, hi))
    a, b = float(part[lo]), float(part[hi])
    t = position - lo
    # numpy's lerp, which interpolates from the nearer end.
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


class EchoGate:
    """Frames in (with their ``reference``), "could this be the user?" out.

    Args:
        margin_db: how far above the predicted echo a frame must be.
        max_delay_ms: the longest speaker -> microphone delay (room response included) the
            prediction covers.
        initial_gain_db: the echo gain assumed before any is learned (0 dB: the echo may be
            as loud as the speaker; conservative).
        learn_s: how much recent playback the echo gain is learned from.
        min_learned_s: playback needed before the learned gain replaces ``initial_gain_db``.
        quantile: which quantile of the recent microphone/speaker ratios is the echo gain;
            higher predicts more of the echo's frame-to-frame peaks, but the user's frames
            move it once they make up more than ``1 - quantile`` of the playback.
    """

    def __init__(self, *, margin_db: float = 6.0, max_delay_ms: float = 300.0,
                 initial_gain_db: float = 0.0, learn_s: float = 4.0,
                 min_learned_s: float = 0.5, quantile: float = 0.5) -> None:
        self.quantile = quantile
        self.margin = 10 ** (margin_db / 10)
        self.max_delay_ms = max_delay_ms
        self.initial_gain = 10 ** (initial_gain_db / 10)
        self.learn_s = learn_s
        self.min_learned_s = min_learned_s
        self._history: collections.deque[float] = collections.deque()
        self._history_ms = 0.0
        self._ratios: collections.deque[float] = collections.deque()
        self._frame_ms = 20.0
        self.blocked = 0

    @property
    def gain(self) -> float:
        """The echo gain in use (echo energy over speaker energy)."""
        if len(self._ratios) * self._frame_ms < self.min_learned_s * 1000:
            return self.initial_gain
        return _quantile(np.fromiter(self._ratios, dtype=np.float64), self.quantile)

    @property
    def gain_db(self) -> float:
        """The echo gain in use, in dB."""
        gain = self.gain
        return 10 * math.log10(gain) if gain > 0 else -120.0

    def passes(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` may hold the user: no reference, a silent speaker, or microphone
        energy above the predicted echo by the margin. Also learns the echo gain."""
        if frame.reference is None:
            return True
        frame_ms = self._frame_ms = frame.duration * 1000.0
        self._history.append(mean_square(frame.reference))
        self._history_ms += frame_ms
        while self._history_ms - frame_ms > self.max_delay_ms and len(self._history) > 1:
            self._history.popleft()
            self._history_ms -= frame_ms
        speaker = max(self._history)
        if speaker < _SILENT:
            return True
        mic = mean_square(frame.samples)
        predicted = speaker * self.gain
        self._ratios.append(mic / speaker)
        while len(self._ratios) * frame_ms > self.learn_s * 1000:
            self._ratios.popleft()
        if mic > predicted * self.margin:
            return True
        self.blocked += 1
        return False

    def reset(self) -> None:
        """Forget the speaker history (the learned gain is kept: the room did not change)."""
        self._history.clear()
        self._history_ms = 0.0
