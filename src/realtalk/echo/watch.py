"""The echo-risk watch: is the canceller keeping the assistant's echo under control, and if
not, how far should the conversation fall back?

Sans-I/O: fed one frame's powers (mean squares, full scale 1.0) with its timestamp, it returns
an :class:`EchoRiskChange` when the level changes and ``None`` otherwise. Three levels:

- ``"normal"``: the echo left after the canceller is well under the playback; barge-in as set.
- ``"raised"``: the cleaned microphone keeps coming within ``raise_db`` of the speaker's level:
  the barge-in bar should go up (a longer ``min_speech_ms``, a wider gate margin), or the
  assistant's own words will interrupt it.
- ``"half_duplex"``: within ``half_duplex_db``: the echo is out of control; mute the
  microphone while the assistant speaks (the old, safe behaviour).

What is judged is the *echo level*: the cleaned power over the reference power, both averaged
over the frames where the speaker plays (a ratio of averages, not an average of ratios: the
echo lags the reference by the room's delay, and frame by frame their ratio swings by tens of
dB), less the noise floor the cleaned microphone has when the speaker is silent (a noisy room
with quiet playback is not an echo problem). The achieved echo reduction (microphone over
cleaned) and the canceller's own residual estimate are reported with each change.

No flapping: each level is entered only after its condition held for a hold time, counted in
playback time with a leaky counter (a frame that fails takes back as much as one that passed
gave, so a ratio hovering around a threshold reaches none), and left only once the echo level
is ``recover_margin_db`` better than the threshold, for ``recover_s`` of playback. The user's
voice over the assistant counts as echo here, which is one reason the hold times are seconds:
a barge-in stops the assistant well within one.
"""

from __future__ import annotations

import math
from typing import Literal

import attrs

from ..errors import ConfigurationError

__all__ = ("EchoRiskLevel", "EchoRiskChange", "EchoRiskWatch")

EchoRiskLevel = Literal["normal", "raised", "half_duplex"]

_ORDER: tuple[EchoRiskLevel, ...] = ("normal", "raised", "half_duplex")
_TINY = 1e-12


def _db(power: float) -> float:
    return 10 * math.log10(max(power, _TINY))


@attrs.frozen
class EchoRiskChange:
    """The echo-risk level changed.

    Attributes:
        level: the new level.
        previous: the level before.
        reason: what was measured, in words and figures (echo level, echo reduction, ...).
        at: the ``now`` of the frame that decided it.
        echo_level_db: the echo left after the canceller relative to the playback, in dB.
        echo_reduction_db: microphone over cleaned power during playback, in dB.
    """

    level: EchoRiskLevel
    previous: EchoRiskLevel
    reason: str
    at: float
    echo_level_db: float
    echo_reduction_db: float


class EchoRiskWatch:
    """Watches the canceller's work frame by frame and says when to fall back or recover.

    Args:
        raise_db: echo level (cleaned over reference, dB) above which the level goes to
            ``"raised"``.
        half_duplex_db: echo level above which it goes to ``"half_duplex"``.
        raise_s: playback time the echo level must stay above ``raise_db`` (default 2 s).
        half_duplex_s: playback time it must stay above ``half_duplex_db`` (default 3 s).
        recover_margin_db: how much better than a level's threshold the echo level must be
            to leave that level (the hysteresis).
        recover_s: playback time it must stay that much better (default 3 s).
        average_s: time constant of the power averages, in playback time.
        playing_power: reference mean square above which the speaker counts as playing.
        max_frame_s: the longest step one frame may count for (a gap in the frames does not
            count as seconds of evidence).

    Raises:
        ConfigurationError: thresholds out of order or non-positive times.
    """

    def __init__(self, *, raise_db: float = -10.0, half_duplex_db: float = -3.0,
                 raise_s: float = 2.0, half_duplex_s: float = 3.0,
                 recover_margin_db: float = 3.0, recover_s: float = 3.0,
                 average_s: float = 0.5, playing_power: float = 1e-6,
                 max_frame_s: float = 0.1) -> None:
        if not half_duplex_db > raise_db:
            raise ConfigurationError(f"half_duplex_db must be above raise_db ({raise_db}), "
                                     f"got {half_duplex_db}")
        for name, value in (("raise_s", raise_s), ("half_duplex_s", half_duplex_s),
                            ("recover_s", recover_s), ("average_s", average_s),
                            ("playing_power", playing_power), ("max_frame_s", max_frame_s)):
            if not (math.isfinite(value) and value > 0):
                raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")
        if not (math.isfinite(recover_margin_db) and recover_margin_db >= 0):
            raise ConfigurationError(f"recover_margin_db must be >= 0, got {recover_margin_db!r}")
        self.raise_db = raise_db
        self.half_duplex_db = half_duplex_db
        self.raise_s = raise_s
        self.half_duplex_s = half_duplex_s
        self.recover_margin_db = recover_margin_db
        self.recover_s = recover_s
        self.average_s = average_s
        self.playing_power = playing_power
        self.max_frame_s = max_frame_s
        self.reset()

    def reset(self) -> None:
        """Back to ``"normal"``, forgetting everything measured (a new device or room)."""
        self.level: EchoRiskLevel = "normal"
        self._last: float | None = None
        self._mic = 0.0
        self._cleaned = 0.0
        self._reference = 0.0
        self._residual = 0.0
        self._weight = 0.0  # how much playback the averages hold (they start empty)
        self._noise: float | None = None
        self._silent_s = 0.0
        self._up = 0.0  # leaky evidence for the next level up, seconds of playback
        self._down = 0.0  # evidence for the next level down

    @property
    def echo_level_db(self) -> float:
        """The echo left after the canceller over the playback, dB (averaged, less the noise
        floor); very low before any playback."""
        if self._weight <= 0:
            return -120.0
        echo = max(self._cleaned - (self._noise or 0.0), 0.0)
        return _db(echo) - _db(self._reference)

    @property
    def echo_reduction_db(self) -> float:
        """Microphone over cleaned power during playback, dB (the achieved ERLE, noise and
        all)."""
        return _db(self._mic) - _db(self._cleaned) if self._weight > 0 else 0.0

    def update(self, now: float, mic_power: float, cleaned_power: float,
               reference_power: float, residual_estimate: float | None = None,
               ) -> EchoRiskChange | None:
        """One frame: the raw microphone's, the cleaned microphone's and the speaker
        reference's mean squares, and the canceller's residual echo estimate (if any).

        Keep feeding it (and the canceller) while the microphone is muted in half duplex:
        recovery is judged on the same frames.

        Raises:
            ConfigurationError: a negative or non-finite power, or ``now`` going backwards.
        """
        for name, value in (("mic_power", mic_power), ("cleaned_power", cleaned_power),
                            ("reference_power", reference_power)):
            if not (math.isfinite(value) and value >= 0):
                raise ConfigurationError(f"{name} must be a finite mean square >= 0, "
                                         f"got {value!r}")
        if self._last is not None and now < self._last:
            raise ConfigurationError(f"now went backwards: {now} after {self._last}")
        dt = 0.0 if self._last is None else min(now - self._last, self.max_frame_s)
        self._last = now
        if reference_power <= self.playing_power:
            self._silent_s += dt
            # The noise floor, from frames well after the echo's tail has died away; it falls
            # at once and rises slowly, so the user talking in a pause barely moves it.
            if self._silent_s > 0.5:
                if self._noise is None or cleaned_power < self._noise:
                    self._noise = cleaned_power
                else:
                    self._noise += min(dt / 10.0, 1.0) * (cleaned_power - self._noise)
            return None
        self._silent_s = 0.0
        if dt <= 0:
            return None
        # Exponential averages in playback time; while they fill, the first frames weigh as
        # much as later ones would (no bias towards zero).
        self._weight = min(self._weight + dt, self.average_s)
        a = dt / self._weight
        self._mic += a * (mic_power - self._mic)
        self._cleaned += a * (cleaned_power - self._cleaned)
        self._reference += a * (reference_power - self._reference)
        self._residual += a * ((residual_estimate or 0.0) - self._residual)
        return self._judge(now, dt)

    def _judge(self, now: float, dt: float) -> EchoRiskChange | None:
        level_db = self.echo_level_db
        rank = _ORDER.index(self.level)
        if rank < len(_ORDER) - 1:
            up_db, up_s = ((self.raise_db, self.raise_s) if rank == 0
                           else (self.half_duplex_db, self.half_duplex_s))
            self._up = max(self._up + (dt if level_db > up_db else -dt), 0.0)
            if self._up >= up_s:
                return self._move(_ORDER[rank + 1], now,
                                  f"the cleaned microphone stayed within {-up_db:g} dB of the "
                                  f"playback for {up_s:g} s of it")
        if rank > 0:
            down_db = (self.raise_db if rank == 1 else self.half_duplex_db)
            down_db -= self.recover_margin_db
            self._down = max(self._down + (dt if level_db < down_db else -dt), 0.0)
            if self._down >= self.recover_s:
                return self._move(_ORDER[rank - 1], now,
                                  f"the echo stayed {-down_db:g} dB or more under the "
                                  f"playback for {self.recover_s:g} s of it")
        return None

    def _move(self, level: EchoRiskLevel, now: float, why: str) -> EchoRiskChange:
        previous, self.level = self.level, level
        self._up = self._down = 0.0
        level_db, reduction_db = self.echo_level_db, self.echo_reduction_db
        residual = (f"{_db(self._residual) - _db(self._reference):.1f} dB"
                    if self._residual > 0 else "none")
        reason = (f"{why}: echo level {level_db:.1f} dB relative to the playback, echo "
                  f"reduction {reduction_db:.1f} dB, canceller's residual estimate {residual}, "
                  f"noise floor {_db(self._noise or 0.0):.1f} dBFS")
        return EchoRiskChange(level=level, previous=previous, reason=reason, at=now,
                              echo_level_db=level_db, echo_reduction_db=reduction_db)
