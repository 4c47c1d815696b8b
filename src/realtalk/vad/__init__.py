"""Voice activity detection: the protocol, the built-in detectors and optional adapters.

- :class:`SpectralVAD`: the built-in detector (energy over a per-bin noise floor, voice-band
  share, periodicity); :class:`EnergyVAD`: a plain energy detector.
- :class:`WebRtcVAD` (``webrtcvad-wheels``) and :class:`SileroVAD` (onnxruntime + Silero's
  ONNX model), behind the same protocol, imported only when used (extra ``vad``).
- :class:`OnsetDetector`: a detector plus the barge-in policy (and an optional gate).
"""

from .base import VoiceActivityDetector
from .energy import EnergyVAD
from .onset import OnsetDetector, SpeechGate
from .silero import SileroVAD
from .spectral import SpectralVAD
from .webrtc import WebRtcVAD

__all__ = (
    "VoiceActivityDetector",
    "SpectralVAD",
    "EnergyVAD",
    "WebRtcVAD",
    "SileroVAD",
    "OnsetDetector",
    "SpeechGate",
)
