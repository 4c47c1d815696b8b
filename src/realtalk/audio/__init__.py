"""Audio: the frame type, PCM conversions, the I/O protocols and in-memory implementations."""

from .base import AudioInput, AudioOutput
from .device import (
    DeviceInfo,
    DeviceStats,
    JitterReport,
    SoundDevice,
    format_devices,
    list_devices,
    measure_jitter_buffer,
)
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

# The one-shot function stays at realtalk.audio.resample.resample: exporting it here would
# shadow the module of the same name.
from .resample import (
    QUALITY_PRESETS,
    FilterSpec,
    Resampler,
    ResamplerQuality,
    StreamingResampler,
    measure_quality,
    measure_rtf,
    soxr_available,
)
from .wav import WavInput, WavOutput, read_wav, write_wav

__all__ = (
    "AudioFrame",
    "AudioInput",
    "AudioOutput",
    "MemoryInput",
    "MemoryOutput",
    "WavInput",
    "WavOutput",
    "read_wav",
    "write_wav",
    "SoundDevice",
    "DeviceInfo",
    "DeviceStats",
    "list_devices",
    "format_devices",
    "JitterReport",
    "measure_jitter_buffer",
    "StreamingResampler",
    "Resampler",
    "measure_quality",
    "measure_rtf",
    "ResamplerQuality",
    "soxr_available",
    "QUALITY_PRESETS",
    "FilterSpec",
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
