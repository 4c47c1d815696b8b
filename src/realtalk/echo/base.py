"""The audio-level echo filter interface and how filters compose.

An :class:`EchoFilter` takes a microphone frame whose ``reference`` holds what the speaker
played over the same period and returns the cleaned frame plus an estimate of the echo still in
it. The estimate is what lets the stages after it (the gate, the detector, the echo-risk watch)
judge the cleaned audio: a frame well above its residual echo holds someone other than the
assistant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import attrs

from ..audio.frame import AudioFrame

__all__ = ("EchoFilter", "EchoResult", "EchoFilterChain", "EchoOption")


@attrs.frozen(eq=False)
class EchoResult:
    """What an :class:`EchoFilter` made of one frame.

    Attributes:
        frame: the cleaned microphone frame (same rate, length and timestamp; the reference
            is kept so that later stages can still see what the speaker played).
        residual_echo: the estimated echo power left in ``frame`` (mean square, full scale
            1.0); ``None`` when the filter cannot tell (no reference yet).
        echo_likeness: how much of ``frame``'s power follows what the speaker played, 0 to
            1 (the power-weighted coherence of the cleaned frame with the reference); ``None``
            when the filter does not tell. What is left of the assistant's voice follows the
            reference, however loud a moved echo path left it; the user's voice does not.
    """

    frame: AudioFrame
    residual_echo: float | None
    echo_likeness: float | None = None


class EchoFilter(Protocol):
    """Mic frame with its speaker reference in, cleaned frame and residual estimate out."""

    def process(self, frame: AudioFrame) -> EchoResult:
        """Clean one frame. Frames must come in capture order, without gaps."""
        ...

    def reset(self) -> None:
        """Forget what was learned (a new device or room)."""
        ...


EchoOption = EchoFilter | Literal["default"] | None
"""How a conversation is told which echo filter to run: a filter, ``"default"`` for
:func:`realtalk.echo.default`, or ``None`` for none."""


class EchoFilterChain:
    """Filters applied in order; the residual estimate (and the echo likeness) is the last
    one that gave one."""

    def __init__(self, filters: Sequence[EchoFilter]) -> None:
        self.filters = tuple(filters)

    def process(self, frame: AudioFrame) -> EchoResult:
        """Run ``frame`` through every filter."""
        result = EchoResult(frame, None)
        for stage in self.filters:
            out = stage.process(result.frame)
            residual = out.residual_echo if out.residual_echo is not None \
                else result.residual_echo
            likeness = out.echo_likeness if out.echo_likeness is not None \
                else result.echo_likeness
            result = EchoResult(out.frame, residual, likeness)
        return result

    def reset(self) -> None:
        """Reset every filter."""
        for stage in self.filters:
            stage.reset()
