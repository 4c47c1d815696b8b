"""The audio I/O protocols: where microphone audio comes from and where assistant audio goes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .frame import AudioFrame

__all__ = ("AudioInput", "AudioOutput")


class AudioInput(Protocol):
    """A microphone: an async stream of PCM16 mono frames at :attr:`sample_rate`."""

    sample_rate: int

    def frames(self) -> AsyncIterator[AudioFrame]:
        """Yield captured frames as they become available, each with its capture timestamp."""
        ...


class AudioOutput(Protocol):
    """A speaker that counts exactly what it has played.

    Truncation depends on :meth:`played_samples`: samples that have *left the speaker*, not
    samples handed to it. After :meth:`clear`, new audio plays right after what was played.
    """

    sample_rate: int

    def write(self, samples: npt.NDArray[np.int16]) -> None:
        """Queue samples to play after everything already queued; never blocks."""
        ...

    def clear(self) -> int:
        """Stop now and drop everything queued.

        Returns the cumulative count of samples that will have left the speaker once it is
        silent: for a device, audio already handed to its driver still plays (output latency
        plus up to one block) and is counted; without latency this is :meth:`played_samples`.
        The gain returns to 1 for whatever is written next.
        """
        ...

    def set_gain(self, gain: float, ramp_ms: float = 10.0) -> None:
        """Scale what plays from now on by ``gain`` (0 to 1), ramping over ``ramp_ms`` so
        there is no click: how the assistant ducks when the user may be starting to talk.
        :meth:`clear` returns the gain to 1."""
        ...

    def mark_end(self) -> None:
        """Everything queued so far is the whole response: play it out (an output with a
        jitter buffer starts now even if the buffer is not full)."""
        ...

    def played_samples(self) -> int:
        """Cumulative samples played since the output was created."""
        ...

    def buffered_samples(self) -> int:
        """Samples queued and not played yet."""
        ...
