"""A virtual clock: time that moves only when the simulation says so."""

from __future__ import annotations

__all__ = ("VirtualClock",)


class VirtualClock:
    """Monotonic seconds under the simulation's control; call it to read the time.

    Anything in realtalk that takes a ``clock`` (outputs, inputs, the conversation) accepts one,
    so a whole conversation can run faster than real time and the same way every run.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        """The current time in seconds."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (not backwards); returns the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go backwards (advance by {seconds})")
        self._now += seconds
        return self._now

    def advance_to(self, when: float) -> float:
        """Move forward to ``when`` (no-op if already past it); returns the new time."""
        self._now = max(self._now, when)
        return self._now
