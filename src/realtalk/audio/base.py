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
        """Stop now and drop everything queued. Returns :meth:`played_samples` at that moment."""
        ...

    def played_samples(self) -> int:
        """Cumulative samples played since the output was created."""
        ...

    def buffered_samples(self) -> int:
        """Samples queued and not played yet."""
        ...
