"""The one audio frame type used across realtalk."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from ..errors import AudioError

__all__ = ("AudioFrame",)


def _readonly_int16(value: npt.ArrayLike) -> npt.NDArray[np.int16]:
    arr = np.asarray(value)
    if arr.dtype != np.int16:
        raise AudioError(f"AudioFrame samples must be int16, got {arr.dtype}")
    if arr.ndim != 1:
        raise AudioError(f"AudioFrame samples must be mono (1-D), got shape {arr.shape}")
    arr = arr.view()
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False)
class AudioFrame:
    """A block of PCM16 mono audio.

    Attributes:
        samples: read-only int16 samples.
        sample_rate: samples per second.
        timestamp: when the first sample was captured (or is due to play), on the caller's
            monotonic clock in seconds; ``None`` when unknown.
    """

    samples: npt.NDArray[np.int16] = attrs.field(converter=_readonly_int16)
    sample_rate: int = attrs.field(default=24_000)
    timestamp: float | None = None

    @sample_rate.validator
    def _check_rate(self, _: attrs.Attribute[int], value: int) -> None:
        if value <= 0:
            raise AudioError(f"sample_rate must be positive, got {value}")

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate
