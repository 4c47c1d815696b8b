"""Local speech-onset detection: a voice activity detector followed by the barge-in policy.

The same pipeline serves a live :class:`~realtalk.Conversation` and the offline simulator:
each microphone frame goes through the detector, and the policy turns per-frame decisions into
a confirmed onset (the capture time of the first speech frame).
"""

from __future__ import annotations

from typing import Protocol

from ..audio.frame import AudioFrame
from ..session.barge_in import BargeIn, BargeInPolicy
from .base import VoiceActivityDetector
from .energy import EnergyVAD

__all__ = ("OnsetDetector", "SpeechGate")


class SpeechGate(Protocol):
    """A second opinion on each frame: could it hold the user at all (for example, is it
    clearly louder than the assistant's own echo)? See ``realtalk.echo.EchoGate``."""

    def passes(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` may hold the user."""
        ...


class OnsetDetector:
    """Frames in, confirmed speech onsets out.

    Args:
        settings: the barge-in settings (``min_speech_ms`` and friends).
        vad: the per-frame detector; default :class:`~realtalk.vad.EnergyVAD`.
        gate: a frame counts as speech only if the gate also passes it (``None``: no gate).
    """

    def __init__(self, settings: BargeIn | None = None,
                 vad: VoiceActivityDetector | None = None,
                 gate: SpeechGate | None = None) -> None:
        self.vad: VoiceActivityDetector = vad if vad is not None else EnergyVAD()
        self.gate = gate
        self.policy = BargeInPolicy(settings)

    def process(self, frame: AudioFrame, captured_at: float) -> float | None:
        """Feed one frame captured at ``captured_at``; the onset time when one is confirmed.

        After each call, :attr:`probable` says whether unconfirmed speech is under way.
        """
        # Both run on every frame: each keeps state (noise floor, echo gain) that must see it.
        speech = self.vad.is_speech(frame)
        passes = self.gate.passes(frame) if self.gate is not None else True
        return self.policy.update(speech and passes, captured_at, frame.duration * 1000.0)

    @property
    def probable(self) -> bool:
        """Whether the last frames look like the start of speech, not yet confirmed."""
        return self.policy.probable

    def reset(self) -> None:
        """Forget partial onsets and the detector's state."""
        self.vad.reset()
        self.policy.reset()
