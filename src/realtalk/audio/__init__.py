"""Audio: the frame type, PCM conversions, the I/O protocols and in-memory implementations."""

from .base import AudioInput, AudioOutput
from .frame import AudioFrame
from .memory import MemoryInput, MemoryOutput
from .pcm import (
    b64_to_int16,
    bytes_to_int16,
    float_to_int16,
    int16_to_b64,
    int16_to_bytes,
    int16_to_float,
    ms_to_samples,
    pcm_bytes_to_ms,
    samples_to_ms,
)

__all__ = (
    "AudioFrame",
    "AudioInput",
    "AudioOutput",
    "MemoryInput",
    "MemoryOutput",
    "bytes_to_int16",
    "int16_to_bytes",
    "int16_to_float",
    "float_to_int16",
    "b64_to_int16",
    "int16_to_b64",
    "samples_to_ms",
    "ms_to_samples",
    "pcm_bytes_to_ms",
)
