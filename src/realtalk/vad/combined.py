"""Detectors that must agree: a frame is speech only if every one of them says so.

Each kind of detector is fooled by something different. An energy detector over an adaptive
floor stays quiet on the faint, word-shaped residue an echo canceller leaves, but takes a cough
for speech; :class:`~realtalk.vad.SpectralVAD` rejects a cough (no pitch) but, judging shape
rather than level, hears the assistant's residual voice. Together they reject each alone. The
spectral detector's "yes" is :class:`Held` for a few frames, because it flickers inside voiced
speech at 20 ms frames (one frame yes, the next no), while a cough never gives it a single yes.

Together they are still fooled by the two at once: a cough or a keyboard over the assistant's
voice is loud (the energy detector) while the residual voice keeps the spectral detector's
"yes" held. Traced in ``benchmarks/barge_in.py``, the spectral detector was already saying
"speech" when the sound began in 14 of the 15 coughs and 6 of the 7 keyboard runs that stopped
the assistant. So each combinator also reports ``voiced_ms``, how much of the frame the
spectral detector itself found periodic, and the barge-in policy confirms only speech with
enough of it (``BargeIn.min_voiced_ms``).
"""

from __future__ import annotations

from ..audio.frame import AudioFrame
from ..errors import ConfigurationError
from .base import VoiceActivityDetector

__all__ = ("AllOf", "Held", "voiced_ms_of")


def voiced_ms_of(detector: object) -> float | None:
    """How much of the last frame ``detector`` found voiced (``voiced_ms``, as
    :class:`~realtalk.vad.SpectralVAD` and the combinators report it), or ``None`` when it
    does not tell."""
    value = getattr(detector, "voiced_ms", None)
    return float(value) if isinstance(value, (int, float)) else None


class AllOf:
    """Speech when all ``detectors`` agree. Every detector sees every frame, so each keeps
    its own state (noise floors, hangovers) current."""

    def __init__(self, *detectors: VoiceActivityDetector) -> None:
        if not detectors:
            raise ConfigurationError("AllOf needs at least one detector")
        self.detectors = detectors
        self.latency_frames = max(d.latency_frames for d in detectors)

    @property
    def voiced_ms(self) -> float | None:
        """The voiced audio in the last frame, from the detectors that measure it (the
        most any of them found), or ``None`` when none does."""
        found = [v for v in (voiced_ms_of(d) for d in self.detectors) if v is not None]
        return max(found) if found else None

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether every detector takes ``frame`` for speech."""
        votes = [d.is_speech(frame) for d in self.detectors]
        return all(votes)

    def reset(self) -> None:
        """Reset every detector."""
        for detector in self.detectors:
            detector.reset()


class Held:
    """``detector``'s "speech" held for ``hold_ms`` after its last speech frame.

    Raises:
        ConfigurationError: a negative ``hold_ms``.
    """

    def __init__(self, detector: VoiceActivityDetector, hold_ms: float) -> None:
        if not hold_ms >= 0:
            raise ConfigurationError(f"hold_ms must be >= 0, got {hold_ms!r}")
        self.detector = detector
        self.hold_ms = hold_ms
        self.latency_frames = detector.latency_frames
        self._since_ms = float("inf")

    @property
    def voiced_ms(self) -> float | None:
        """The wrapped detector's voiced audio in the last frame (the hold adds none)."""
        return voiced_ms_of(self.detector)

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether ``detector`` took this frame, or one in the last ``hold_ms``, for speech."""
        if self.detector.is_speech(frame):
            self._since_ms = 0.0
            return True
        self._since_ms += frame.duration * 1000.0
        return self._since_ms <= self.hold_ms

    def reset(self) -> None:
        """Reset the detector and forget the hold."""
        self.detector.reset()
        self._since_ms = float("inf")
