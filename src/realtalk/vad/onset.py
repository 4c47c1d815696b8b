"""Local speech-onset detection: a voice activity detector followed by the barge-in policy.

The conversation engine (:mod:`realtalk.engine`) runs it on each microphone frame, live and in
the simulator alike: the detector judges the frame, and the policy turns per-frame decisions
into a confirmed onset (the capture time of the first speech frame), which the engine reports
to the session.
"""

from __future__ import annotations

from typing import Protocol

from ..audio.frame import AudioFrame
from ..session.barge_in import BargeIn, BargeInPolicy, ShortSpeech
from .base import VoiceActivityDetector
from .combined import AllOf, Held, voiced_ms_of
from .energy import EnergyVAD
from .spectral import SpectralVAD

__all__ = ("OnsetDetector", "SpeechGate", "default_vad")


def default_vad(sample_rate: int = 24_000) -> AllOf:
    """The barge-in detector's default VAD: :class:`~realtalk.vad.EnergyVAD` and
    :class:`~realtalk.vad.SpectralVAD` (its yes held for 80 ms) must agree (see
    :mod:`realtalk.vad.combined`)."""
    return AllOf(EnergyVAD(), Held(SpectralVAD(sample_rate=sample_rate), hold_ms=80.0))


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
        vad: the per-frame detector; default :func:`default_vad` at ``sample_rate``.
        sample_rate: the rate of the frames, for the default detector.
        gate: a frame counts as speech only if the gate also passes it (``None``: no gate).
    """

    def __init__(self, settings: BargeIn | None = None,
                 vad: VoiceActivityDetector | None = None,
                 gate: SpeechGate | None = None, sample_rate: int = 24_000) -> None:
        self.vad: VoiceActivityDetector = (vad if vad is not None
                                           else default_vad(sample_rate))
        self.gate = gate
        self.policy = BargeInPolicy(settings)
        self.heard: bool = False
        """Whether the last frame was taken for the user (the VAD said speech, the gate passed
        it and the echo canceller did not judge it the playback's)."""

    def process(self, frame: AudioFrame, captured_at: float, *,
                echo_likeness: float | None = None) -> float | None:
        """Feed one frame captured at ``captured_at``; the onset time when one is confirmed.
        ``echo_likeness``: the echo canceller's judgement of the frame
        (``EchoResult.echo_likeness``); above ``BargeIn.max_echo_likeness`` the frame is not
        the user.

        After each call, :attr:`probable` says whether unconfirmed speech is under way.
        """
        # Both run on every frame: each keeps state (noise floor, echo gain) that must see it.
        speech = self.vad.is_speech(frame)
        passes = self.gate.passes(frame) if self.gate is not None else True
        limit = self.policy.settings.max_echo_likeness
        playback = (limit is not None and echo_likeness is not None
                    and echo_likeness > limit)
        self.heard = speech and passes and not playback
        voiced = voiced_ms_of(self.vad) if self.heard else 0.0
        return self.policy.update(self.heard, captured_at, frame.duration * 1000.0, voiced)

    @property
    def probable(self) -> bool:
        """Whether the last frames look like the start of speech, not yet confirmed."""
        return self.policy.probable

    @property
    def short_speech(self) -> ShortSpeech | None:
        """Set on the frame that ended a run of speech too short to confirm but worth
        checking by its words (``BargeIn.check_speech_ms``)."""
        return self.policy.short

    @property
    def speaking(self) -> bool:
        """Whether the user is still talking after a confirmed onset (until the silence that
        re-arms the detector)."""
        return self.policy.confirmed

    def speech_judged(self) -> None:
        """The session judged the confirmed speech (see
        :meth:`~realtalk.session.barge_in.BargeInPolicy.speech_judged`)."""
        self.policy.speech_judged()

    def reset(self) -> None:
        """Forget partial onsets and the detector's state."""
        self.vad.reset()
        self.policy.reset()
        self.heard = False
