"""The one audio frame type used across realtalk."""

from __future__ import annotations

import logging

import attrs
import numpy as np
import numpy.typing as npt

from ..errors import AudioError
from .pcm import float_to_int16

__all__ = ("AudioFrame",)

logger = logging.getLogger("realtalk.audio")


def _optional_reference(value: npt.ArrayLike | None) -> npt.NDArray[np.int16] | None:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype != np.int16 or arr.ndim != 1:
        raise AudioError(f"reference must be 1-D int16, got {arr.dtype} {arr.shape}")
    arr = arr.view()
    arr.flags.writeable = False
    return arr


def _readonly_int16(value: npt.ArrayLike) -> npt.NDArray[np.int16]:
    arr = np.asarray(value)
    if arr.dtype != np.int16:
        raise AudioError(f"AudioFrame samples must be int16, got {arr.dtype} "
                         "(use AudioFrame.from_float for float audio)")
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] == 0):
        raise AudioError(
            f"AudioFrame samples must be (n,) mono or (n, channels), got shape {arr.shape}")
    arr = arr.view()
    arr.flags.writeable = False
    return arr


@attrs.frozen(eq=False)
class AudioFrame:
    """A block of PCM16 audio: mono ``(n,)`` or interleaved channels ``(n, channels)``.

    Everything inside realtalk runs on mono frames; a multichannel frame from a device is
    downmixed at the edge with :meth:`mono`.

    Attributes:
        samples: read-only int16 samples.
        sample_rate: samples per second.
        timestamp: when the first sample was captured (or is due to play), on the caller's
            monotonic clock in seconds; ``None`` when unknown.
        reference: for a microphone frame, what the speaker played over the same period
            (mono int16), when the device knows it: the echo reference that lets a detector
            tell the assistant's own voice from the user's. ``None`` when unknown.
    """

    samples: npt.NDArray[np.int16] = attrs.field(converter=_readonly_int16)
    sample_rate: int = attrs.field(default=24_000)
    timestamp: float | None = None
    reference: npt.NDArray[np.int16] | None = attrs.field(
        default=None, converter=_optional_reference, kw_only=True)

    @sample_rate.validator
    def _check_rate(self, _: attrs.Attribute[int], value: int) -> None:
        if value <= 0:
            raise AudioError(f"sample_rate must be positive, got {value}")

    @classmethod
    def from_float(cls, samples: npt.ArrayLike, sample_rate: int = 24_000,
                   timestamp: float | None = None) -> AudioFrame:
        """A frame from float samples in [-1, 1]; samples past full scale are clipped, and
        the clipping is reported (logged with the count), never silent.

        Raises:
            AudioError: NaN or infinite samples.
        """
        arr = np.asarray(samples, dtype=np.float32)
        clipped = int(np.count_nonzero(np.abs(arr) > 1.0))
        if clipped:
            logger.warning("%d of %d samples clipped at full scale", clipped, arr.size)
        return cls(float_to_int16(arr), sample_rate, timestamp)

    @property
    def channels(self) -> int:
        """Number of channels."""
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate

    def mono(self) -> AudioFrame:
        """This frame downmixed to mono (the mean of the channels); itself if already mono."""
        if self.samples.ndim == 1:
            return self
        mixed = np.rint(self.samples.astype(np.float32).mean(axis=1)).astype(np.int16)
        return AudioFrame(mixed, self.sample_rate, self.timestamp, reference=self.reference)
