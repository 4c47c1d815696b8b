"""Audio: the frame type, PCM conversions, the I/O protocols and in-memory implementations.

The devices, the in-memory and the WAV implementations run on anyio; they are imported when
first used, so that the sans-I/O layers (the conversation engine, the session core) can use
frames and PCM without loading an event-loop library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .base import AudioInput, AudioOutput
from .frame import AudioFrame
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

if TYPE_CHECKING:
    from .device import (
        DeviceInfo,
        DeviceStats,
        JitterReport,
        SoundDevice,
        format_devices,
        list_devices,
        measure_jitter_buffer,
    )
    from .memory import MemoryInput, MemoryOutput
    from .wav import WavInput, WavOutput, read_wav, write_wav

#: The names imported on first use, and their modules.
_ON_FIRST_USE = {
    **dict.fromkeys(("DeviceInfo", "DeviceStats", "JitterReport", "SoundDevice",
                     "format_devices", "list_devices", "measure_jitter_buffer"), "device"),
    **dict.fromkeys(("MemoryInput", "MemoryOutput"), "memory"),
    **dict.fromkeys(("WavInput", "WavOutput", "read_wav", "write_wav"), "wav"),
}


def __getattr__(name: str) -> Any:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
