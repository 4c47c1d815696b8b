"""PCM16 conversions: bytes <-> int16 <-> float32, base64, durations.

Inside realtalk, audio is numpy int16 (what the wire carries) or float32 in [-1, 1] (what DSP
wants); conversions happen only at the edges, through these functions.
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np
import numpy.typing as npt

from ..errors import AudioError

__all__ = (
    "mono_int16",
    "bytes_to_int16",
    "int16_to_bytes",
    "int16_to_float",
    "float_to_int16",
    "b64_to_int16",
    "int16_to_b64",
    "samples_to_ms",
    "sustained_mean_square",
    "ms_to_samples",
    "pcm_bytes_to_ms",
    "mean_square",
    "power_dbfs",
)


def mono_int16(samples: npt.ArrayLike) -> npt.NDArray[np.int16]:
    """``samples`` as a 1-D int16 array (no copy), or AudioError saying what they are."""
    arr = np.asarray(samples)
    if arr.dtype != np.int16 or arr.ndim != 1:
        raise AudioError(f"expected 1-D int16 samples, got {arr.dtype} {arr.shape}")
    return arr


def bytes_to_int16(data: bytes) -> npt.NDArray[np.int16]:
    """PCM16 little-endian bytes as a read-only int16 array (no copy)."""
    if len(data) % 2:
        raise AudioError(f"PCM16 needs an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)


def int16_to_bytes(samples: npt.NDArray[np.int16]) -> bytes:
    """int16 samples as PCM16 little-endian bytes."""
    return np.asarray(samples, dtype="<i2").tobytes()


def int16_to_float(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """int16 samples scaled to float32 in [-1, 1)."""
    return np.asarray(samples, dtype=np.float32) / np.float32(32768.0)


def float_to_int16(samples: npt.NDArray[np.floating]) -> npt.NDArray[np.int16]:
    """float samples in [-1, 1] to int16, clipped; NaN is an error, not silence."""
    arr = np.asarray(samples, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise AudioError("audio contains NaN or infinite samples")
    out: npt.NDArray[np.int16] = np.clip(np.rint(arr * 32768.0), -32768, 32767).astype(np.int16)
    return out


def b64_to_int16(text: str) -> npt.NDArray[np.int16]:
    """Base64 PCM16 (as carried in JSON) to int16 samples."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AudioError("audio is not valid base64") from exc
    return bytes_to_int16(raw)


def int16_to_b64(samples: npt.NDArray[np.int16]) -> str:
    """int16 samples as base64 PCM16 text."""
    return base64.b64encode(int16_to_bytes(samples)).decode("ascii")


def samples_to_ms(samples: int, sample_rate: int) -> float:
    """Duration of ``samples`` samples in milliseconds."""
    return samples * 1000.0 / sample_rate


def ms_to_samples(ms: float, sample_rate: int) -> int:
    """Whole samples in ``ms`` milliseconds (rounded down)."""
    return int(ms * sample_rate // 1000)


def pcm_bytes_to_ms(n_bytes: int, sample_rate: int) -> float:
    """Duration of ``n_bytes`` of PCM16 mono in milliseconds (48 bytes per ms at 24 kHz)."""
    return n_bytes / 2 * 1000.0 / sample_rate


def mean_square(samples: npt.NDArray[np.int16]) -> float:
    """The mean square of PCM16 samples in full scale 1.0 (0.0 for none): the frame power the
    echo gate and the echo-risk watch compare."""
    if not len(samples):
        return 0.0
    # Scaled once at the end (by a power of two, so exactly as if each sample were): this
    # runs several times a frame.
    x = samples.astype(np.float64)
    return float(np.dot(x, x)) / (len(x) * 1073741824.0)


def sustained_mean_square(samples: npt.NDArray[np.int16], pieces: int) -> float:
    """The mean square (full scale 1.0) that ``samples`` hold throughout: they are cut into
    ``pieces`` equal stretches, and of those stretches' mean squares the lower median is
    taken (0.0 for none).

    Why: a keystroke or a click puts nearly all of a frame's energy into a few milliseconds,
    a voice spreads it over the whole frame. Over the speech clips shipped with the
    simulator, a 20 ms frame in two 10 ms pieces loses 0.8 dB this way at the median of their
    loud frames (within 15 dB of the clip's loudest), 3.4 dB at the 90th percentile; in
    1.5 s of generated typing, the loudest frame loses 13.5 dB at the median of 20 seeds.
    Pieces shorter than a voice's pitch period fall between its pulses: in 5 ms pieces the
    clips' loud frames lost 8.8 dB at the 90th percentile."""
    x = samples.reshape(-1).astype(np.float64)
    if not len(x):
        return 0.0
    pieces = max(1, min(pieces, len(x)))
    size = len(x) // pieces
    powers: list[float] = np.square(x[: size * pieces].reshape(pieces, size)).sum(
        axis=1).tolist()
    powers.sort()
    return powers[(pieces - 1) // 2] / (size * 1073741824.0)


def power_dbfs(power: float) -> float:
    """A mean square (full scale 1.0, as :func:`mean_square` gives it) in dBFS: -120 for
    digital silence."""
    return 10.0 * math.log10(power) if power > 0 else -120.0
