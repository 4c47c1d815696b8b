"""The VoiceActivityDetector protocol."""

from __future__ import annotations

from typing import Protocol

from ..audio.frame import AudioFrame

__all__ = ("VoiceActivityDetector", "WindowedDetector")


class VoiceActivityDetector(Protocol):
    """Decides, frame by frame, whether a frame holds speech. Streaming and stateful.

    ``latency_frames`` is how many frames late a decision may be relative to the audio it
    describes (0 for a detector that decides on the frame itself).
    """

    latency_frames: int

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` holds speech."""
        ...

    def reset(self) -> None:
        """Forget all state."""
        ...


class WindowedDetector:
    """Shared decision logic of detectors that score fixed analysis windows.

    A subclass provides :meth:`probabilities` (one speech probability per window a frame
    completes), sets ``threshold``, and keeps the last window's probability in ``_last``.
    """

    threshold: float
    _last: float

    def probabilities(self, frame: AudioFrame) -> list[float]:
        """One speech probability per analysis window ``frame`` completes."""
        raise NotImplementedError

    def probability(self, frame: AudioFrame) -> float:
        """Speech probability of ``frame``: the highest over the windows it completes (the
        last window's when it completes none).

        Raises:
            AudioError: ``frame`` is not at the detector's sample rate.
        """
        out = self.probabilities(frame)
        return max(out) if out else self._last

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` holds speech: :meth:`probability` at or above ``threshold``.

        Raises:
            AudioError: ``frame`` is not at the detector's sample rate.
        """
        return self.probability(frame) >= self.threshold
