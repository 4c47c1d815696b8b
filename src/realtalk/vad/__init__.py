"""Voice activity detection: the protocol and built-in detectors."""

from .base import VoiceActivityDetector
from .energy import EnergyVAD
from .onset import OnsetDetector, SpeechGate

__all__ = ("VoiceActivityDetector", "EnergyVAD", "OnsetDetector", "SpeechGate")
