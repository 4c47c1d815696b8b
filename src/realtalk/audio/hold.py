"""Pausing an :class:`~realtalk.audio.AudioOutput` at the exact sample, with the output
protocol as it is: what was written and has not played is kept here, so that a pause is a
``clear()`` and a resume writes the rest again, in order, after what did play.

The conversation engine runs every write through a :class:`PlaybackHold`: while the assistant
has yielded to the user (``PausePlayback``), new audio is held instead of written; on
``ResumePlayback`` the unplayed tail and the held audio go to the output, and the output's
played count goes on from where it stopped, so the session's heard cursor stays exact.
"""

from __future__ import annotations

import collections

import numpy as np
import numpy.typing as npt

from .base import AudioOutput

__all__ = ("PlaybackHold",)

Int16Array = npt.NDArray[np.int16]


class PlaybackHold:
    """Writes to ``output``, remembering what has not played yet, and holds audio while
    paused."""

    def __init__(self, output: AudioOutput) -> None:
        self.output = output
        # Writes since the last clear, oldest first, with the output's cumulative count at
        # which each starts; those played out are dropped as the count passes them.
        self._writes: collections.deque[tuple[int, Int16Array]] = collections.deque()
        self._written = output.played_samples() + output.buffered_samples()
        self._held: list[Int16Array] | None = None
        self._end_held = False

    @property
    def paused(self) -> bool:
        """Whether audio is being held (between :meth:`pause` and :meth:`resume`/:meth:`clear`)."""
        return self._held is not None

    @property
    def held_samples(self) -> int:
        """Samples waiting for :meth:`resume`."""
        return sum(len(a) for a in self._held) if self._held is not None else 0

    def write(self, samples: Int16Array) -> None:
        """Queue ``samples`` (held while paused)."""
        if self._held is not None:
            self._held.append(samples)
            return
        self._writes.append((self._written, samples))
        self._written += len(samples)
        self.output.write(samples)

    def mark_end(self) -> None:
        """The response is all queued (remembered while paused, passed on at the resume)."""
        if self._held is not None:
            self._end_held = True
            return
        self.output.mark_end()

    def forget_played(self) -> None:
        """Drop the remembered writes that have played out (call now and then: it bounds the
        memory to what is queued)."""
        played = self.output.played_samples()
        while self._writes and self._writes[0][0] + len(self._writes[0][1]) <= played:
            self._writes.popleft()

    def pause(self) -> int:
        """Stop the output now, keeping what it had not played; returns its played count
        (as ``clear()`` returns it: what will have left the speaker)."""
        played = self.output.clear()
        held: list[Int16Array] = []
        for start, samples in self._writes:
            if start + len(samples) > played:
                held.append(samples[max(0, played - start):])
        self._writes.clear()
        self._written = played
        if self._held is not None:  # paused twice: the first pause's audio comes first
            held.extend(self._held)
        self._held = held
        return played

    def resume(self) -> None:
        """Play on: the unplayed tail and everything held since the pause, in order."""
        held, self._held = self._held, None
        end, self._end_held = self._end_held, False
        for samples in held or ():
            self.write(samples)
        if end:
            self.output.mark_end()

    def clear(self) -> int:
        """Stop now and drop everything, held audio included; the output's played count."""
        self._held = None
        self._end_held = False
        played = self.output.clear()
        self._writes.clear()
        self._written = played
        return played
