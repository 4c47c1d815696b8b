"""Streaming, band-limited sample-rate conversion for any pair of integer rates.

The default backend is a polyphase FIR resampler in numpy. A rate change ``src -> dst`` is
the rational ratio ``L / M`` (``L = dst / g``, ``M = src / g``, ``g = gcd``): conceptually the
input is upsampled by ``L`` (zeros inserted), low-pass filtered at rate ``F = L * src`` and
decimated by ``M``. Only the outputs that are kept are computed, each as a dot product of the
last ``K`` inputs with one of the ``L`` polyphase branches of the prototype filter.

Filter design (the ``quality`` presets, see :data:`QUALITY_PRESETS`):

* the band limit is ``nyquist = min(src, dst) / 2``: everything above it would alias (when
  going down) or is an image (when going up);
* the stopband starts exactly at ``nyquist``, so a tone anywhere above the destination Nyquist
  is attenuated by the full stopband rejection before it can fold back;
* the passband ends at ``passband * nyquist`` (0.90 for ``"high"``, the default); between the
  two lies the transition band (10 % of Nyquist for ``"high"``: 10.8-12 kHz at 48000->24000);
* the prototype is a Kaiser-windowed sinc with its cutoff in the middle of the transition band,
  its length and Kaiser beta from Kaiser's formulas for the preset's attenuation; each
  polyphase branch is normalised to unit DC gain, so DC passes exactly and no branch is louder
  than another (which would show up as a spurious tone at the branch rate).

The output is time-aligned with the input: output sample ``n`` is the input signal at time
``n / dst``, so a stream of ``N`` input samples yields ``ceil(N * dst / src)`` output samples
in total (``process`` calls plus ``flush``). The price of a symmetric (linear-phase) filter is
latency: :attr:`StreamingResampler.delay` output samples are held back until the input that
they depend on has arrived, and :meth:`StreamingResampler.flush` releases them at the end.

The computation is exact with respect to block boundaries: feeding a signal in blocks of any
size (1 sample, odd sizes, 20 ms frames) gives the same output, to float32 rounding, as
feeding it in one call.

Hot path: outputs are grouped in rows of ``B`` samples (a whole number of polyphase periods
of ``L`` outputs), so that one row's inputs times a precomputed ``C x B`` banded coefficient
matrix gives ``B`` outputs; all complete rows of a block are a single matrix product. For
ratios with a very long period (``L`` in the thousands, such as 44100 -> 44101) that matrix
would not fit, and outputs are gathered per sample instead with their branch coefficients
computed on demand: slower, same filter.

The module also holds the measurements used by the tests and the benchmark:
:func:`measure_quality` (stepped sine sweeps: passband ripple and aliasing rejection in dB)
and :func:`measure_rtf` (CPU seconds per second of audio, in live-sized blocks).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import math
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Literal, Protocol, overload

import attrs
import numpy as np
import numpy.typing as npt

from ..errors import AudioError, ConfigurationError
from .pcm import float_to_int16, int16_to_float

__all__ = (
    "Backend",
    "QualityPreset",
    "QUALITY_PRESETS",
    "FilterSpec",
    "Resampler",
    "StreamingResampler",
    "resample",
    "soxr_available",
    "ResamplerQuality",
    "measure_quality",
    "measure_rtf",
)

logger = logging.getLogger("realtalk.audio.resample")

Backend = Literal["numpy", "soxr", "auto"]
QualityPreset = Literal["fast", "high", "best"]

FloatArray = npt.NDArray[np.float32]
# What process() accepts and returns: int16 or any float dtype.
Samples = npt.NDArray[np.int16] | npt.NDArray[np.floating]


@attrs.frozen
class FilterSpec:
    """The design targets of one quality preset.

    Attributes:
        passband: passband edge as a fraction of ``min(src, dst) / 2``; the stopband starts at
            1.0, the band between is the transition band.
        attenuation_db: stopband attenuation the Kaiser window is designed for.
        soxr_quality: the libsoxr recipe used for the same preset by the soxr backend.
    """

    passband: float
    attenuation_db: float
    soxr_quality: str


#: Quality presets. ``"high"`` (the default) gives at least 80 dB of aliasing
#: rejection with a passband flat to 0.9 of the lower Nyquist; it is designed for 90 dB because
#: Kaiser's length formula is approximate and float32 arithmetic adds its own floor.
QUALITY_PRESETS: Mapping[str, FilterSpec] = MappingProxyType(
    {
        "fast": FilterSpec(passband=0.80, attenuation_db=70.0, soxr_quality="LQ"),
        "high": FilterSpec(passband=0.90, attenuation_db=90.0, soxr_quality="HQ"),
        "best": FilterSpec(passband=0.95, attenuation_db=110.0, soxr_quality="VHQ"),
    }
)

# A row of the block path holds about this many outputs (rounded to whole polyphase periods):
# long enough that a 20 ms block is a handful of rows in one matrix product, short enough that
# the banded coefficient matrix does not waste much work on its zeros.
_ROW_TARGET = 32
_WINDOW_TABLE = (1 << 14) + 1
# Beyond this many coefficients (4 MiB of float32) the block matrix is not worth building and the
# per-sample gather path is used.
_MAX_BLOCK_MATRIX = 1 << 20


class Resampler(Protocol):
    """What :func:`measure_quality` and :func:`measure_rtf` need from a resampler."""

    def process(self, samples: FloatArray, /) -> npt.NDArray[Any]:
        """Resample the next block of a stream; return the output available so far."""
        ...

    def flush(self) -> npt.NDArray[Any]:
        """End the stream: return the remaining output."""
        ...


# ----------------------------------------------------------------------------- validation


def _check_rate(name: str, value: object) -> int:
    # bool is an int subclass, but True Hz is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigurationError(f"{name} must be a positive int (Hz), got {value!r}")
    rate = int(value)
    if rate <= 0:
        raise ConfigurationError(f"{name} must be a positive int (Hz), got {rate}")
    return rate


def _check_quality(quality: object) -> FilterSpec:
    if not isinstance(quality, str) or quality not in QUALITY_PRESETS:
        raise ConfigurationError(
            f"quality must be one of {sorted(QUALITY_PRESETS)}, got {quality!r}"
        )
    return QUALITY_PRESETS[quality]


def _to_float32(samples: object) -> tuple[FloatArray, np.dtype[np.generic]]:
    """Validate one block and return it as float32 plus the dtype to answer in."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise AudioError(f"samples must be a 1-D (mono) array, got shape {arr.shape}")
    if arr.dtype == np.int16:
        return int16_to_float(arr), arr.dtype
    if not np.issubdtype(arr.dtype, np.floating):
        raise AudioError(f"samples must be int16 or float, got dtype {arr.dtype}")
    out = arr.astype(np.float32, copy=False)
    # Checked before the stream's state changes: a NaN would otherwise poison every output whose
    # window holds it, long after this call.
    if not np.isfinite(out).all():
        raise AudioError("samples contain NaN or infinite values")
    return out, arr.dtype


def _from_float32(out: FloatArray, dtype: np.dtype[np.generic]) -> Samples:
    if dtype == np.int16:
        # float_to_int16 rounds and clips, so filter overshoot on full-scale input saturates
        # instead of wrapping around.
        return float_to_int16(out)
    if dtype == np.float32:
        return out
    converted: npt.NDArray[np.floating] = out.astype(dtype)
    return converted


# ----------------------------------------------------------------------------- filter design


@attrs.frozen(eq=False)
class _Design:
    """The polyphase filter for one (src, dst, quality); shared by all streams of that kind.

    Output ``n`` uses the prototype at position ``a = n * M + delay_taps`` (at rate ``L * src``):
    its newest input is ``a // L`` and its branch is ``a % L``.
    """

    up: int  # L
    down: int  # M
    taps: int  # K, inputs per output
    delay_taps: int  # D, the prototype's centre, in samples at rate L * src
    beta: float
    cutoff: float  # cycles per sample at rate L * src
    length: int  # N, prototype length
    passband_hz: float
    # Block path (None when the period is too long): B outputs per row, rows of C inputs.
    row_outputs: int
    row_inputs: int
    matrix: FloatArray | None  # (C, B) banded coefficients
    # The Kaiser window sampled densely on [0, 1] (distance from the centre): interpolating it
    # is ~10x cheaper than np.i0, which matters when branches are computed on demand, and its
    # error (< 1e-8) is far below the stopband.
    window_grid: npt.NDArray[np.float64]
    window_table: npt.NDArray[np.float64]

    def newest_input(self, n: int) -> int:
        """Index of the newest input that output ``n`` depends on."""
        return (n * self.down + self.delay_taps) // self.up

    def branch_rows(self, phases: npt.NDArray[np.int64]) -> FloatArray:
        """Coefficients of the given polyphase branches, oldest input first, each summing to 1."""
        # Branch p, column j multiplies input (newest - K + 1 + j), i.e. prototype tap
        # p + (K - 1 - j) * L.
        cols = np.arange(self.taps - 1, -1, -1, dtype=np.int64) * self.up
        u = (phases[:, None] + cols[None, :] - self.delay_taps).astype(np.float64)
        distance = np.abs(u) / max(self.delay_taps, 1)  # 0 at the centre, 1 at the ends
        window = np.interp(distance, self.window_grid, self.window_table, right=0.0)
        h = np.sinc(2.0 * self.cutoff * u) * window
        # Per-branch normalisation: each branch is a fractional-delay filter that must pass DC
        # with gain 1; Kaiser's ripple would otherwise differ slightly between branches.
        h /= h.sum(axis=1, keepdims=True)
        return h.astype(np.float32)


def _kaiser_beta(attenuation_db: float) -> float:
    if attenuation_db > 50.0:
        return 0.1102 * (attenuation_db - 8.7)
    if attenuation_db > 21.0:
        return float(0.5842 * (attenuation_db - 21.0) ** 0.4 + 0.07886 * (attenuation_db - 21.0))
    return 0.0


@functools.lru_cache(maxsize=32)
def _design(src_rate: int, dst_rate: int, quality: str) -> _Design:
    """Design (once per process, cached) the polyphase filter for a rate pair and preset."""
    spec = QUALITY_PRESETS[quality]
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    rate = up * src_rate  # the prototype runs at the common multiple rate
    nyquist = min(src_rate, dst_rate) / 2.0
    passband_hz = spec.passband * nyquist
    transition = (nyquist - passband_hz) / rate  # cycles per sample
    cutoff = (passband_hz + nyquist) / 2.0 / rate
    # Kaiser's estimate of the length for this attenuation and transition width; odd, so the
    # centre falls on a tap and the delay is a whole number of prototype samples.
    length = math.ceil((spec.attenuation_db - 7.95) / (2.285 * 2.0 * math.pi * transition)) + 1
    length += 1 - length % 2
    taps = -(-length // up)
    delay_taps = (length - 1) // 2
    beta = _kaiser_beta(spec.attenuation_db)
    grid: npt.NDArray[np.float64] = np.linspace(0.0, 1.0, _WINDOW_TABLE, dtype=np.float64)
    table = np.i0(beta * np.sqrt(1.0 - grid * grid)) / np.i0(beta)

    per_row = max(1, round(_ROW_TARGET / up)) * up
    base = _Design(
        up=up,
        down=down,
        taps=taps,
        delay_taps=delay_taps,
        beta=beta,
        cutoff=cutoff,
        length=length,
        passband_hz=passband_hz,
        row_outputs=per_row,
        row_inputs=0,
        matrix=None,
        window_grid=grid,
        window_table=table,
    )
    outputs = np.arange(per_row, dtype=np.int64)
    newest = (outputs * down + delay_taps) // up
    offsets = newest - newest[0]
    row_inputs = int(offsets[-1]) + taps
    if row_inputs * per_row > _MAX_BLOCK_MATRIX:
        logger.debug(
            "resampler %d->%d: period of %d outputs too long for the block path",
            src_rate,
            dst_rate,
            up,
        )
        return base
    rows = base.branch_rows((outputs * down + delay_taps) % up)
    matrix = np.zeros((row_inputs, per_row), dtype=np.float32)
    # Column c holds its branch's K coefficients starting at its own newest-input offset.
    r_idx = offsets[None, :] + np.arange(taps, dtype=np.int64)[:, None]
    matrix[r_idx, outputs[None, :]] = rows.T
    matrix.flags.writeable = False
    return attrs.evolve(base, row_inputs=row_inputs, matrix=matrix)


# ----------------------------------------------------------------------------- engines


class _NumpyEngine:
    """The polyphase FIR stream state: pending inputs and the next output index.

    Inputs live in a preallocated store: ``self._store[j]`` is input ``self._origin + j`` for
    ``j < self._filled``. Past ``_filled`` the store always holds at least ``row_inputs`` finite
    values (zeros or inputs already consumed), so the last row of a block product may read a
    little past the real input; the outputs computed from that region are discarded. They must
    be finite all the same, because the banded matrix multiplies them by zero and ``nan * 0`` is
    ``nan``.
    """

    def __init__(self, design: _Design) -> None:
        self._d = design
        self.reset()

    @property
    def delay(self) -> float:
        return self._d.delay_taps / self._d.down

    def reset(self) -> None:
        d = self._d
        # Inputs before the stream are zeros: the store starts where output 0's window starts.
        self._origin = min(0, d.newest_input(0) - d.taps + 1)  # global index of store[0]
        self._filled = -self._origin
        self._store: FloatArray = np.zeros(self._filled + 4 * d.row_inputs + 4096, np.float32)
        self._n_in = 0  # inputs received
        self._n_out = 0  # next output to emit

    def process(self, block: FloatArray) -> FloatArray:
        self._append(block)
        self._n_in += len(block)
        d = self._d
        # Outputs 0 .. available-1 have their whole window in the first n_in inputs.
        available = max(0, (self._n_in * d.up - 1 - d.delay_taps) // d.down + 1)
        return self._emit(available)

    def flush(self) -> FloatArray:
        d = self._d
        total = -(-self._n_in * d.up // d.down)  # ceil(n_in * dst / src)
        if total > self._n_out:
            # Zeros after the end of the stream, just enough for the last output's window.
            pad = d.newest_input(total - 1) + 1 - (self._origin + self._filled)
            if pad > 0:
                self._append(np.zeros(pad, dtype=np.float32))
        out = self._emit(total)
        self.reset()
        return out

    def _append(self, block: FloatArray) -> None:
        count = len(block)
        room = self._d.row_inputs if self._d.matrix is not None else 0
        if self._filled + count + room > len(self._store):
            # Compact: keep only what the next output can still need, and grow if a block is
            # larger than ever before. Amortised, this copies a filter length per store length.
            keep = self._keep_from() - self._origin
            kept = self._filled - keep
            size = max(len(self._store), 2 * (kept + count + room))
            store = np.zeros(size, dtype=np.float32)
            store[:kept] = self._store[keep : self._filled]
            self._store = store
            self._origin += keep
            self._filled = kept
        self._store[self._filled : self._filled + count] = block
        self._filled += count

    def _row_start(self, n: int) -> int:
        # The block matrix is the same for every row that starts on a whole polyphase period.
        return n - n % self._d.up if self._d.matrix is not None else n

    def _keep_from(self) -> int:
        """Global index of the oldest input the next output's computation reads."""
        d = self._d
        return min(d.newest_input(self._row_start(self._n_out)) - d.taps + 1, self._n_in)

    def _emit(self, end: int) -> FloatArray:
        """Compute outputs [self._n_out, end)."""
        start = self._n_out
        if end <= start:
            return np.zeros(0, dtype=np.float32)
        out = self._rows(start, end) if self._d.matrix is not None else self._gather(start, end)
        self._n_out = end
        return out

    def _rows(self, start: int, end: int) -> FloatArray:
        d = self._d
        assert d.matrix is not None
        # Whole rows from the period boundary at or before `start` to past `end`: one matrix
        # product instead of separate products for partial rows; the few extra outputs at
        # either end cost less than another numpy call.
        first = self._row_start(start)
        per_row = d.row_outputs
        rows = -(-(end - first) // per_row)
        stride = (per_row // d.up) * d.down  # inputs between the starts of two rows
        offset = d.newest_input(first) - d.taps + 1 - self._origin
        # Overlapping windows over the store, no copy; numpy checks the bounds.
        window: FloatArray = np.ndarray(
            (rows, d.row_inputs),
            dtype=np.float32,
            buffer=self._store,
            offset=offset * 4,
            strides=(stride * 4, 4),
        )
        out: FloatArray = (window @ d.matrix).ravel()[start - first : end - first]
        return out

    def _gather(self, start: int, end: int) -> FloatArray:
        d = self._d
        positions = np.arange(start, end, dtype=np.int64) * d.down + d.delay_taps
        first = positions // d.up - (d.taps - 1) - self._origin
        out = np.empty(end - start, dtype=np.float32)
        # Bound the temporaries for long blocks.
        step = max(1, (1 << 18) // d.taps)
        for lo in range(0, end - start, step):
            hi = min(end - start, lo + step)
            idx = first[lo:hi, None] + np.arange(d.taps, dtype=np.int64)[None, :]
            coeffs = d.branch_rows(positions[lo:hi] % d.up)
            out[lo:hi] = np.einsum("ij,ij->i", self._store[idx], coeffs)
        return out


class _PassthroughEngine:
    """Equal rates: the input is already band-limited for the output, so copy it unchanged."""

    delay = 0.0

    def reset(self) -> None:
        pass

    def process(self, block: FloatArray) -> FloatArray:
        # A copy, so the caller may reuse its buffer and we never alias it.
        return block.copy()

    def flush(self) -> FloatArray:
        return np.zeros(0, dtype=np.float32)


class _SoxrEngine:
    """libsoxr's streaming resampler behind the same interface."""

    def __init__(self, src_rate: int, dst_rate: int, spec: FilterSpec) -> None:
        # Imported by name: soxr is optional and ships no type information.
        soxr = importlib.import_module("soxr")
        self._stream = soxr.ResampleStream(
            src_rate, dst_rate, 1, dtype="float32", quality=spec.soxr_quality
        )

    @property
    def delay(self) -> float:
        return float(self._stream.delay())

    def reset(self) -> None:
        self._stream.clear()

    def process(self, block: FloatArray) -> FloatArray:
        out: FloatArray = self._stream.resample_chunk(block)
        return out

    def flush(self) -> FloatArray:
        out: FloatArray = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        self.reset()
        return out


def soxr_available() -> bool:
    """Whether the optional ``soxr`` package is installed (for ``backend="soxr"``)."""
    return importlib.util.find_spec("soxr") is not None


# ----------------------------------------------------------------------------- public API


class StreamingResampler:
    """Converts a mono stream from ``src_rate`` to ``dst_rate``, block by block.

    Feed blocks of any size to :meth:`process`; each call returns the output that the input so
    far determines. The result does not depend on how the stream was cut into blocks. Call
    :meth:`flush` at the end of the stream for the last :attr:`delay` samples; it also resets
    the resampler for a new stream (as :meth:`reset` does, e.g. after a barge-in).

    Args:
        src_rate: input sample rate in Hz, a positive int.
        dst_rate: output sample rate in Hz, a positive int.
        quality: filter preset, ``"fast"``, ``"high"`` (default) or ``"best"``; see
            :data:`QUALITY_PRESETS`.
        backend: ``"numpy"`` (default, always available), ``"soxr"`` (libsoxr, requires the
            ``soxr`` package) or ``"auto"`` (soxr when importable, else numpy).

    Raises:
        ConfigurationError: a rate is not a positive int, the quality or backend is unknown, or
            ``backend="soxr"`` without the ``soxr`` package.

    Equal rates are a pass-through (the samples come back unchanged, with no delay) whatever the
    backend.
    """

    def __init__(
        self,
        src_rate: int,
        dst_rate: int,
        *,
        quality: QualityPreset = "high",
        backend: Backend = "numpy",
    ) -> None:
        self._src = _check_rate("src_rate", src_rate)
        self._dst = _check_rate("dst_rate", dst_rate)
        spec = _check_quality(quality)
        if backend not in ("numpy", "soxr", "auto"):
            raise ConfigurationError(f"backend must be 'numpy', 'soxr' or 'auto', got {backend!r}")
        if backend == "auto":
            backend = "soxr" if soxr_available() else "numpy"
        if backend == "soxr" and not soxr_available():
            raise ConfigurationError("backend='soxr' needs the soxr package (pip install soxr)")
        self._quality = quality
        self._backend: Literal["numpy", "soxr"] = backend
        self._engine: _NumpyEngine | _SoxrEngine | _PassthroughEngine
        if self._src == self._dst:
            self._engine = _PassthroughEngine()
        elif backend == "soxr":
            self._engine = _SoxrEngine(self._src, self._dst, spec)
        else:
            self._engine = _NumpyEngine(_design(self._src, self._dst, quality))
        self._last_dtype: np.dtype[np.generic] = np.dtype(np.float32)

    def __repr__(self) -> str:
        return (
            f"StreamingResampler({self._src}, {self._dst}, quality={self._quality!r}, "
            f"backend={self._backend!r})"
        )

    @property
    def src_rate(self) -> int:
        """Input sample rate in Hz."""
        return self._src

    @property
    def dst_rate(self) -> int:
        """Output sample rate in Hz."""
        return self._dst

    @property
    def backend(self) -> Literal["numpy", "soxr"]:
        """The backend in use (``"auto"`` resolved)."""
        return self._backend

    @property
    def delay(self) -> float:
        """Latency in output samples: the filter's group delay at ``dst_rate``.

        With the numpy backend this is fixed: the output for input time ``t`` comes out once the
        input up to ``t + delay / dst_rate`` has been processed (about 57 samples, 2.4 ms, at
        48000->24000 with ``"high"``). With soxr it is what libsoxr reports as pending output,
        which varies while the stream runs.
        """
        return self._engine.delay

    @overload
    def process(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]: ...
    @overload
    def process(self, samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    @overload
    def process(self, samples: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]: ...

    def process(self, samples: Samples) -> Samples:
        """Resample the next block of the stream.

        Args:
            samples: 1-D int16 or float samples (float in [-1, 1]); may be empty.

        Returns:
            The newly available output, in the dtype of ``samples`` (int16 output is rounded
            and clipped to the int16 range, never wrapped).

        Raises:
            AudioError: ``samples`` is not 1-D, not int16 or float, or holds NaN or infinity
                (the stream's state is left unchanged).
        """
        block, dtype = _to_float32(samples)
        self._last_dtype = dtype
        return _from_float32(self._engine.process(block), dtype)

    def flush(self) -> Samples:
        """End the stream: return the output still held back, then reset for a new stream.

        The returned samples are in the dtype of the last :meth:`process` input (float32 if
        there was none). Together with everything :meth:`process` returned, the stream's output
        has ``ceil(n * dst_rate / src_rate)`` samples for ``n`` input samples (numpy backend).
        """
        dtype = self._last_dtype
        self._last_dtype = np.dtype(np.float32)
        return _from_float32(self._engine.flush(), dtype)

    def reset(self) -> None:
        """Forget the stream so far (held-back output is dropped) and start a new one."""
        self._engine.reset()
        self._last_dtype = np.dtype(np.float32)


@overload
def resample(
    samples: npt.NDArray[np.int16],
    src_rate: int,
    dst_rate: int,
    *,
    quality: QualityPreset = ...,
    backend: Backend = ...,
) -> npt.NDArray[np.int16]: ...
@overload
def resample(
    samples: npt.NDArray[np.float32],
    src_rate: int,
    dst_rate: int,
    *,
    quality: QualityPreset = ...,
    backend: Backend = ...,
) -> npt.NDArray[np.float32]: ...
@overload
def resample(
    samples: npt.NDArray[np.floating],
    src_rate: int,
    dst_rate: int,
    *,
    quality: QualityPreset = ...,
    backend: Backend = ...,
) -> npt.NDArray[np.floating]: ...


def resample(
    samples: Samples,
    src_rate: int,
    dst_rate: int,
    *,
    quality: QualityPreset = "high",
    backend: Backend = "numpy",
) -> Samples:
    """Resample a whole signal in one call (a :class:`StreamingResampler` run to its end).

    Returns ``ceil(len(samples) * dst_rate / src_rate)`` samples (numpy backend), time-aligned
    with the input, in the dtype of ``samples``.

    Raises:
        ConfigurationError: as :class:`StreamingResampler`.
        AudioError: as :meth:`StreamingResampler.process`.
    """
    stream = StreamingResampler(src_rate, dst_rate, quality=quality, backend=backend)
    block, dtype = _to_float32(samples)
    # Joined in float32 and converted once, so int16 rounding happens in one place.
    out = np.concatenate((stream._engine.process(block), stream._engine.flush()))
    return _from_float32(out, dtype)


# ----------------------------------------------------------------------------- measurement


@attrs.frozen
class ResamplerQuality:
    """Quality of a resampler at one ratio, from stepped sine sweeps.

    Attributes:
        src_rate: input rate in Hz.
        dst_rate: output rate in Hz.
        passband_edge_hz: highest tone frequency of the passband sweep.
        passband_ripple_db: max minus min gain in dB over the passband tones.
        passband_error_db: largest absolute gain error in dB over the passband tones.
        aliasing_db: the smallest distance, in dB, between a passband tone's level and the
            strongest spurious component (an alias folded from above the destination Nyquist,
            or an image when upsampling) produced by any test tone of the same amplitude.
        worst_tone_hz: the input tone frequency that produced that strongest spurious component.
    """

    src_rate: int
    dst_rate: int
    passband_edge_hz: float
    passband_ripple_db: float
    passband_error_db: float
    aliasing_db: float
    worst_tone_hz: float


_ANALYSIS = 4096  # output samples analysed per tone
_MARGIN = 1024  # output samples skipped at each end, where filter transients live
_AMPLITUDE = 0.5
# Kaiser window for the spectra: its sidelobes sit near -150 dB, far below what is measured;
# its main lobe is about +-7 bins wide.
_WINDOW_BETA = 20.0
_MAIN_LOBE_BINS = 8


def _tone(freq: float, rate: int, count: int) -> FloatArray:
    t = np.arange(count, dtype=np.float64) / rate
    return (_AMPLITUDE * np.sin(2.0 * np.pi * freq * t)).astype(np.float32)


def _run_tone(
    factory: Callable[[int, int], Resampler], src: int, dst: int, freq: float
) -> npt.NDArray[np.float64]:
    """Resample a steady tone in one go; return the analysed middle of the output."""
    need = _ANALYSIS + 2 * _MARGIN
    count = math.ceil(need * src / dst) + 16
    stream = factory(src, dst)
    out = np.concatenate((stream.process(_tone(freq, src, count)), stream.flush()))
    if len(out) < need:
        raise AudioError(f"resampler returned {len(out)} samples for {count}, expected ~{need}")
    window: npt.NDArray[np.float64] = out[_MARGIN : _MARGIN + _ANALYSIS].astype(np.float64)
    return window


def measure_quality(
    factory: Callable[[int, int], Resampler],
    src_rate: int,
    dst_rate: int,
    *,
    passband: float = 0.9,
    tones: int = 48,
) -> ResamplerQuality:
    """Measure passband flatness and aliasing rejection of ``factory(src_rate, dst_rate)``.

    Stepped sine sweeps, each tone through a fresh resampler and analysed in the middle of its
    output (away from the start and end transients):

    * passband: ``tones`` tones from 1 % of the lower Nyquist up to ``passband`` times it; the
      gain of each is fitted by least squares at its known frequency;
    * aliasing: ``tones`` tones across the whole input band, plus tones packed just past the
      band limit (where a windowed-sinc filter rejects least); in a Kaiser-windowed spectrum of
      each output, everything outside the main lobe of the expected tone (none, for a tone above
      the destination Nyquist) is spurious; the strongest spurious peak over all tones, relative
      to an unattenuated tone's peak, gives ``aliasing_db``. (At ratios within a fraction of a
      percent of 1, such as 44100->44101, an image lands inside its tone's main lobe and is not
      separated; the sweep is meant for the common ratios.)

    Args:
        factory: makes a fresh resampler, e.g. ``StreamingResampler`` or
            ``functools.partial(StreamingResampler, backend="soxr")``.
        src_rate: input rate in Hz.
        dst_rate: output rate in Hz.
        passband: passband edge as a fraction of ``min(src_rate, dst_rate) / 2``.
        tones: tones per sweep.

    Raises:
        ConfigurationError: a rate is not a positive int.
        AudioError: the resampler returned far fewer samples than the ratio implies.
    """
    src = _check_rate("src_rate", src_rate)
    dst = _check_rate("dst_rate", dst_rate)
    nyquist = min(src, dst) / 2.0
    t = np.arange(_ANALYSIS, dtype=np.float64) / dst

    edge = passband * nyquist
    gains = []
    for freq in np.linspace(0.01 * nyquist, edge, tones):
        y = _run_tone(factory, src, dst, float(freq))
        basis = np.stack((np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)), axis=1)
        coef = np.linalg.lstsq(basis, y, rcond=None)[0]
        gains.append(20.0 * math.log10(float(np.hypot(*coef)) / _AMPLITUDE))
    gain_db = np.array(gains)

    window = np.kaiser(_ANALYSIS, _WINDOW_BETA)
    reference = _AMPLITUDE * window.sum() / 2.0  # spectrum peak of an unattenuated tone
    bin_hz = dst / _ANALYSIS
    src_nyquist = src / 2.0
    sweep = np.linspace(0.02, 0.995, tones) * src_nyquist
    near = np.array([0.0005, 0.002, 0.005, 0.01, 0.02, 0.05])
    # Going down, tones just above the destination Nyquist alias just below it; going up, tones
    # just below the source Nyquist image just above it. Both are where the filter is weakest.
    edge_tones = dst / 2.0 * (1.0 + near) if dst < src else src_nyquist * (1.0 - near)
    test = np.concatenate((sweep, edge_tones[edge_tones < 0.999 * src_nyquist]))
    worst, worst_freq = 0.0, float(test[0])
    for freq in test:
        spectrum = np.abs(np.fft.rfft(_run_tone(factory, src, dst, float(freq)) * window))
        if freq < dst / 2.0:
            centre = round(freq / bin_hz)
            spectrum[max(0, centre - _MAIN_LOBE_BINS) : centre + _MAIN_LOBE_BINS + 1] = 0.0
        peak = float(spectrum.max())
        if peak > worst:
            worst, worst_freq = peak, float(freq)
    aliasing_db = 20.0 * math.log10(reference / max(worst, 1e-300))
    return ResamplerQuality(
        src_rate=src,
        dst_rate=dst,
        passband_edge_hz=edge,
        passband_ripple_db=float(gain_db.max() - gain_db.min()),
        passband_error_db=float(np.abs(gain_db).max()),
        aliasing_db=aliasing_db,
        worst_tone_hz=worst_freq,
    )


def measure_rtf(
    factory: Callable[[int, int], Resampler],
    src_rate: int,
    dst_rate: int,
    *,
    seconds: float = 10.0,
    block_ms: float = 20.0,
    repeats: int = 3,
) -> float:
    """Real-time factor: CPU seconds spent per second of audio, streamed in live-sized blocks.

    ``seconds`` of noise are cut into ``block_ms`` blocks and pushed through a fresh
    resampler one block at a time, as a live stream would be; the best of ``repeats`` runs is
    kept (CPU time of the whole process, so BLAS threads count too).

    Raises:
        ConfigurationError: a rate is not a positive int, or ``block_ms`` is under one sample.
    """
    src = _check_rate("src_rate", src_rate)
    _check_rate("dst_rate", dst_rate)
    block = int(src * block_ms / 1000.0)
    if block < 1:
        raise ConfigurationError(f"block_ms must cover at least one sample, got {block_ms}")
    rng = np.random.default_rng(0)
    count = int(src * seconds) // block
    signal = (0.1 * rng.standard_normal(count * block)).astype(np.float32)
    blocks = list(signal.reshape(count, block))
    best = math.inf
    for _ in range(repeats):
        stream = factory(src, dst_rate)
        started = time.process_time()
        for chunk in blocks:
            stream.process(chunk)
        stream.flush()
        best = min(best, time.process_time() - started)
    return best / (count * block / src)
