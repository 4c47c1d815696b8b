"""Echo control: what keeps the assistant's own voice from being taken for the user.

- :class:`EchoCanceller`: the adaptive acoustic echo canceller (audio level, fed the speaker
  reference), with :class:`DelayEstimator` for the bulk delay.
- :class:`EchoGate`: the playback-aware gate the barge-in detector uses on the cleaned audio.
- :class:`ResidualEchoSuppressor`: what the canceller leaves, taken out per frequency bin.
- Echo-path calibration (:mod:`realtalk.echo.calibration`): :class:`CalibrationProbe`, a short
  quiet probe to play, and :func:`measure_echo_path`, its delay and echo gain measured from the
  recording, which :func:`seed_canceller` and :func:`seed_gate` start from.
- :class:`EchoRiskWatch`: says when the echo left after cancelling stays high
  (``"raised"``, ``"half_duplex"``) and when it is under control again (``"normal"``).
- :class:`EchoFilter`, :class:`EchoResult`, :class:`EchoFilterChain`: the audio-level filter
  interface and composition; :func:`default` is the chain a conversation runs unless told
  otherwise.
- Transcript level (:mod:`realtalk.echo.transcript`): :class:`TimingFilter`,
  :class:`SimilarityFilter` and :class:`TranscriptFilterChain` judge user transcripts against
  the assistant speech the user heard (:class:`AssistantSpeechHistory`);
  :func:`default_transcript_filters` is the sensible chain, and every drop is reported as an
  :class:`EchoTranscriptDropped` event. :class:`NearEndLog` gives them the audio's opinion on
  each utterance (was the user heard in it, or could it only be echo?).
- :class:`EchoDefences`: the settings of all of the above for one conversation
  (``Conversation(echo=...)``, ``Simulation(echo=...)``); :class:`EchoControl` runs them, per
  microphone frame and per event, inside the conversation engine.
"""

from .base import EchoFilter, EchoFilterChain, EchoOption, EchoResult
from .calibration import (
    CalibrationProbe,
    EchoPathMeasurement,
    measure_echo_path,
    seed_canceller,
    seed_gate,
)
from .canceller import EchoCanceller
from .control import EchoControl
from .defaults import default, resolve
from .defences import EchoDefences
from .delay import DelayEstimator
from .gate import EchoGate
from .near_end import NearEndLog
from .suppressor import ResidualEchoSuppressor
from .transcript import (
    DEFAULT_ALLOWLIST,
    AssistantSpeech,
    AssistantSpeechHistory,
    EchoTranscriptDropped,
    SimilarityFilter,
    TimingFilter,
    TranscriptContext,
    TranscriptFilter,
    TranscriptFilterChain,
    TranscriptJudgement,
    TranscriptVerdict,
    default_transcript_filters,
)
from .watch import EchoRiskChange, EchoRiskLevel, EchoRiskWatch

__all__ = (
    "EchoDefences", "EchoFilter", "EchoFilterChain", "EchoOption", "EchoResult", "EchoCanceller",
    "DelayEstimator", "EchoGate", "ResidualEchoSuppressor", "default", "resolve",
    "AssistantSpeech", "AssistantSpeechHistory", "TranscriptContext", "TranscriptVerdict",
    "TranscriptFilter", "TimingFilter", "SimilarityFilter", "TranscriptFilterChain",
    "TranscriptJudgement", "EchoTranscriptDropped", "DEFAULT_ALLOWLIST",
    "default_transcript_filters", "NearEndLog", "EchoControl",
    "CalibrationProbe", "EchoPathMeasurement", "measure_echo_path", "seed_canceller",
    "seed_gate", "EchoRiskWatch", "EchoRiskChange", "EchoRiskLevel",
)

