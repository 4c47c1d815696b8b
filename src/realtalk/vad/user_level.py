"""The user's own speaking level, learned from their turns.

Background talkers (a café, a television, an open office) are speech: voiced, word-shaped,
with syllable peaks that clear any noise floor. What tells them from the user is that the user
is nearer the microphone, so louder. A fixed level bar would fit one room and one voice; this
learns the bar from the user: the active level (the power mean) of the speech the detector
confirmed while the speaker had been silent for a while, when there is no echo to mistake for
them. The barge-in policy then confirms a run of speech (over the assistant, where it matters
most, or not) only once one of its frames comes within ``BargeIn.max_below_user_db`` of that
level (see :mod:`realtalk.session.barge_in`).
"""

from __future__ import annotations

import collections
import math

from ..errors import ConfigurationError

__all__ = ("UserLevel",)


class UserLevel:
    """The active level of the user's recent speech, in dBFS.

    Args:
        window_s: how much of the user's speech (the newest) the level is taken over, so a
            user who moves away from the microphone, or a new one, is followed (one who
            became far quieter, by :meth:`~realtalk.vad.OnsetDetector.turn_ended`).
        min_speech_s: how much speech must have been heard before :attr:`level_dbfs` is
            given (one "hi" says little about how loud someone talks).

    Raises:
        ConfigurationError: a ``window_s`` not positive, or a ``min_speech_s`` negative or
            longer than the window.
    """

    def __init__(self, *, window_s: float = 20.0, min_speech_s: float = 0.5) -> None:
        if not window_s > 0:
            raise ConfigurationError(f"window_s must be > 0, got {window_s!r}")
        if not 0 <= min_speech_s <= window_s:
            raise ConfigurationError(
                f"min_speech_s must be in [0, window_s={window_s!r}], got {min_speech_s!r}")
        self.window_ms = window_s * 1000.0
        self.min_speech_ms = min_speech_s * 1000.0
        self._frames: collections.deque[tuple[float, float]] = collections.deque()
        self._energy = 0.0  # sum of power x milliseconds over the frames kept
        self._ms = 0.0

    def add(self, power: float, frame_ms: float) -> None:
        """One frame of the user's speech: its mean square (full scale 1.0) and length."""
        if not (frame_ms > 0 and power >= 0 and math.isfinite(power)):
            return
        self._frames.append((power, frame_ms))
        self._energy += power * frame_ms
        self._ms += frame_ms
        while self._ms - self._frames[0][1] >= self.window_ms:
            old_power, old_ms = self._frames.popleft()
            self._energy -= old_power * old_ms
            self._ms -= old_ms

    @property
    def speech_ms(self) -> float:
        """How much of the user's speech the level is taken over now."""
        return self._ms

    @property
    def level_dbfs(self) -> float | None:
        """The active level of the user's speech (``None`` until ``min_speech_s`` of it, or
        when it was all digital silence)."""
        if self._ms < self.min_speech_ms or self._ms <= 0:
            return None
        mean = max(self._energy, 0.0) / self._ms  # the running sums may drift below 0
        return 10.0 * math.log10(mean) if mean > 0 else None

    def reset(self) -> None:
        """Forget the user's level."""
        self._frames.clear()
        self._energy = self._ms = 0.0
