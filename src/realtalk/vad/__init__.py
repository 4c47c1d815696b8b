"""Voice activity detection: the protocol, the built-in detectors and optional adapters.

- :class:`SpectralVAD`: the built-in detector (energy over a per-bin noise floor, voice-band
  share, periodicity); :class:`EnergyVAD`: a plain energy detector.
- :class:`WebRtcVAD` (``webrtcvad-wheels``) and :class:`SileroVAD` (onnxruntime + Silero's
  ONNX model), behind the same protocol, imported only when used (extra ``vad``).
- :class:`AllOf`: detectors that must agree; :func:`default_vad` (energy and spectral) is what
  the barge-in detector runs unless told otherwise.
- :class:`OnsetDetector`: a detector plus the barge-in policy (and an optional gate);
  :class:`UserLevel`: the user's speaking level it learns from their turns.
"""

from .base import VoiceActivityDetector
from .combined import AllOf, Held
from .energy import EnergyVAD
from .onset import OnsetDetector, SpeechGate, default_vad
from .silero import SileroVAD
from .spectral import SpectralVAD
from .user_level import UserLevel
from .webrtc import WebRtcVAD

__all__ = (
    "VoiceActivityDetector",
    "SpectralVAD",
    "EnergyVAD",
    "WebRtcVAD",
    "SileroVAD",
    "AllOf",
    "Held",
    "default_vad",
    "OnsetDetector",
    "SpeechGate",
    "UserLevel",
)
