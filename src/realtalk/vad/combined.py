"""Detectors that must agree: a frame is speech only if every one of them says so.

Each kind of detector is fooled by something different. An energy detector over an adaptive
floor stays quiet on the faint, word-shaped residue an echo canceller leaves, but takes a cough
for speech; :class:`~realtalk.vad.SpectralVAD` rejects a cough (no pitch) but, judging shape
rather than level, hears the assistant's residual voice. Together they reject both.
"""

from __future__ import annotations

from ..audio.frame import AudioFrame
from ..errors import ConfigurationError
from .base import VoiceActivityDetector

__all__ = ("AllOf",)


class AllOf:
    """Speech when all ``detectors`` agree. Every detector sees every frame, so each keeps
    its own state (noise floors, hangovers) current."""

    def __init__(self, *detectors: VoiceActivityDetector) -> None:
        if not detectors:
            raise ConfigurationError("AllOf needs at least one detector")
        self.detectors = detectors
        self.latency_frames = max(d.latency_frames for d in detectors)

    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether every detector takes ``frame`` for speech."""
        votes = [d.is_speech(frame) for d in self.detectors]
        return all(votes)

    def reset(self) -> None:
        """Reset every detector."""
        for detector in self.detectors:
            detector.reset()
