"""The streaming resampler: exactness across blocks, alignment, quality, validation."""

from __future__ import annotations

import functools
import math
import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import resample as rs
from realtalk.audio.pcm import float_to_int16
from realtalk.audio.resample import (
    StreamingResampler,
    measure_quality,
    measure_rtf,
    resample,
)
from realtalk.errors import AudioError, ConfigurationError

RATIOS = [
    (48000, 24000),
    (44100, 24000),
    (16000, 24000),
    (24000, 16000),
    (24000, 48000),
    (8000, 24000),
    (44100, 48000),
]


def _noise(count: int, seed: int = 0) -> npt.NDArray[np.float32]:
    return (0.3 * np.random.default_rng(seed).standard_normal(count)).astype(np.float32)


def _in_blocks(
    stream: StreamingResampler, signal: npt.NDArray[np.float32], sizes: list[int]
) -> npt.NDArray[np.float32]:
    parts: list[npt.NDArray[Any]] = []
    pos, i = 0, 0
    while pos < len(signal):
        size = sizes[i % len(sizes)]
        parts.append(stream.process(signal[pos : pos + size]))
        pos, i = pos + size, i + 1
    parts.append(stream.flush())
    out: npt.NDArray[np.float32] = np.concatenate(parts)
    return out


def _reference(x: npt.NDArray[np.float64], src: int, dst: int) -> npt.NDArray[np.float64]:
    """Direct, non-polyphase evaluation: y[n] = sum_i x[i] h[n*M + D - i*L]."""
    d = rs._design(src, dst, "high")
    up, down, length, centre = d.up, d.down, d.length, d.delay_taps
    t = np.arange(length) - centre
    h = np.sinc(2.0 * d.cutoff * t) * np.kaiser(length, d.beta)
    branch_sums = np.array([h[p::up].sum() for p in range(up)])
    h = h / branch_sums[np.arange(length) % up]
    total = -(-len(x) * up // down)
    tap = (np.arange(total) * down + centre)[:, None] - up * np.arange(len(x))[None, :]
    inside = (tap >= 0) & (tap < length)
    weights = np.where(inside, h[np.clip(tap, 0, length - 1)], 0.0)
    out: npt.NDArray[np.float64] = weights @ x
    return out


def _assert_close(got: npt.ArrayLike, want: npt.ArrayLike, atol: float) -> None:
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64), rtol=0, atol=atol
    )


class _NaiveDecimator:
    """Drops every other sample with no filter: aliases everything above the new Nyquist."""

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        assert src_rate == 2 * dst_rate

    def process(self, samples: npt.NDArray[np.float32], /) -> npt.NDArray[np.float32]:
        return samples[::2].copy()

    def flush(self) -> npt.NDArray[np.float32]:
        return np.zeros(0, dtype=np.float32)


@pytest.mark.parametrize(("src", "dst"), RATIOS)
def test_any_block_sizes_give_the_one_call_output(src: int, dst: int) -> None:
    """Random, odd and 1-sample block sizes reproduce the one-call output to float rounding."""
    signal = _noise(6000)
    stream = StreamingResampler(src, dst)
    whole = np.concatenate((stream.process(signal), stream.flush()))
    sizes = [int(v) for v in np.random.default_rng(src + dst).integers(1, 1500, 40)]
    for pattern in (sizes, [1], [1, 2, 3, 961, 7]):
        pieces = _in_blocks(stream, signal, pattern)
        assert pieces.shape == whole.shape
        _assert_close(pieces, whole, atol=2e-6)


@pytest.mark.parametrize(("src", "dst"), [(48000, 24000), (16000, 24000), (44100, 24000)])
def test_polyphase_output_matches_direct_filtering(src: int, dst: int) -> None:
    """The polyphase block product equals upsample-filter-decimate evaluated directly."""
    x = _noise(700, seed=3).astype(np.float64)
    got = resample(x.astype(np.float32), src, dst)
    _assert_close(got, _reference(x, src, dst), atol=2e-6)


def test_very_long_period_uses_gather_path_consistently() -> None:
    """A period too long for the block matrix (44100->44101) still streams block-exactly."""
    design = rs._design(44100, 44101, "high")
    assert design.matrix is None
    signal = _noise(900, seed=4)
    stream = StreamingResampler(44100, 44101)
    whole = np.concatenate((stream.process(signal), stream.flush()))
    assert len(whole) == math.ceil(900 * 44101 / 44100)
    _assert_close(_in_blocks(stream, signal, [1, 130, 7]), whole, atol=2e-6)


@pytest.mark.parametrize(("src", "dst"), RATIOS)
@pytest.mark.parametrize("count", [0, 1, 7, 441, 4800])
def test_output_length_is_ceil_of_input_times_ratio(src: int, dst: int, count: int) -> None:
    """process + flush yield ceil(n * dst / src) samples; process alone holds back ~delay."""
    stream = StreamingResampler(src, dst)
    head = stream.process(_noise(count))
    tail = stream.flush()
    total = math.ceil(count * dst / src)
    assert len(head) + len(tail) == total
    assert abs(total - round(count * dst / src)) <= 1
    if count == 4800:
        assert abs(len(tail) - stream.delay) <= 1


@pytest.mark.parametrize(("src", "dst"), [(48000, 24000), (16000, 24000), (44100, 24000)])
def test_output_is_time_aligned_with_input(src: int, dst: int) -> None:
    """A passband tone comes out as the same tone sampled at the output instants, no delay."""
    freq, count = 1000.0, src // 5
    x = (0.5 * np.sin(2 * np.pi * freq * np.arange(count) / src)).astype(np.float32)
    y = resample(x, src, dst)
    ideal = 0.5 * np.sin(2 * np.pi * freq * np.arange(len(y)) / dst)
    middle = slice(len(y) // 4, 3 * len(y) // 4)  # away from the edges' transients
    _assert_close(y[middle], ideal[middle], atol=1e-4)


def test_impulse_lands_at_its_time_and_delay_is_the_group_delay() -> None:
    """An impulse at input 4800 (0.1 s at 48 kHz) peaks at output 2400; delay is 57.5 samples."""
    x = np.zeros(9600, dtype=np.float32)
    x[4800] = 1.0
    y = resample(x, 48000, 24000)
    assert int(np.argmax(np.abs(y))) == 2400
    assert StreamingResampler(48000, 24000).delay == pytest.approx(57.5)


@pytest.mark.parametrize(("src", "dst"), RATIOS)
def test_dc_passes_with_unit_gain(src: int, dst: int) -> None:
    """A constant comes out as the same constant once the start transient is over."""
    y = resample(np.full(4000, 0.5, dtype=np.float32), src, dst)
    steady = y[len(y) // 4 : len(y) // 2]
    _assert_close(steady, 0.5, atol=2e-6)


@pytest.mark.parametrize(("src", "dst"), [(48000, 24000), (44100, 24000), (16000, 24000)])
def test_quality_meets_aliasing_and_ripple_thresholds(src: int, dst: int) -> None:
    """Aliasing rejection >= 80 dB; passband ripple and error <= 0.01 dB up to 0.9 Nyquist."""
    quality = measure_quality(StreamingResampler, src, dst)
    assert quality.aliasing_db >= 80.0, quality
    assert quality.passband_ripple_db <= 0.01, quality
    assert quality.passband_error_db <= 0.01, quality
    assert quality.passband_edge_hz == pytest.approx(0.9 * min(src, dst) / 2)


def test_quality_presets_trade_rejection_for_cost() -> None:
    """Preset "fast" rejects less than "high", and "best" more."""
    measured = {
        preset: measure_quality(
            functools.partial(StreamingResampler, quality=preset), 48000, 24000, tones=16
        ).aliasing_db
        for preset in ("fast", "high", "best")
    }
    assert 65.0 <= measured["fast"] < measured["high"] < measured["best"]
    assert measured["best"] >= 100.0


def test_measurement_catches_an_aliasing_resampler() -> None:
    """Dropping samples without a filter measures as almost no aliasing rejection."""
    quality = measure_quality(_NaiveDecimator, 48000, 24000, tones=8)
    assert quality.aliasing_db < 10.0


def test_int16_in_int16_out_clips_instead_of_wrapping() -> None:
    """A full-scale square wave overshoots after filtering; int16 output saturates at the rails."""
    square = np.where(np.arange(4800) % 96 < 48, 32767, -32768).astype(np.int16)
    as_float = resample(square.astype(np.float32) / 32768.0, 48000, 24000)
    assert np.abs(as_float).max() > 1.0  # the overshoot really happens
    stream = StreamingResampler(48000, 24000)
    out = np.concatenate((stream.process(square[:1001]), stream.process(square[1001:])))
    out = np.concatenate((out, stream.flush()))
    assert out.dtype == np.int16
    assert out.max() == 32767 and out.min() == -32768
    np.testing.assert_array_equal(out, float_to_int16(as_float))


def test_float64_in_float64_out() -> None:
    """Output dtype follows the input dtype."""
    stream = StreamingResampler(16000, 24000)
    assert stream.process(np.zeros(320, dtype=np.float64)).dtype == np.float64
    assert stream.flush().dtype == np.float64


def test_flush_and_reset_start_a_new_stream() -> None:
    """After flush the same input gives the same output; reset drops what was held back."""
    signal = _noise(2000)
    stream = StreamingResampler(44100, 24000)
    first = np.concatenate((stream.process(signal), stream.flush()))
    second = np.concatenate((stream.process(signal), stream.flush()))
    np.testing.assert_array_equal(first, second)
    stream.process(_noise(500, seed=9))
    stream.reset()
    third = np.concatenate((stream.process(signal), stream.flush()))
    np.testing.assert_array_equal(first, third)


def test_equal_rates_pass_through_unchanged() -> None:
    """src == dst returns the samples themselves (a copy), with no delay."""
    samples = np.arange(-5, 5, dtype=np.int16)
    stream = StreamingResampler(24000, 24000)
    out = stream.process(samples)
    np.testing.assert_array_equal(out, samples)
    assert stream.delay == 0.0
    assert len(stream.flush()) == 0


@pytest.mark.parametrize("bad", [0, -16000, 16000.0, "16000", True, None])
def test_rates_must_be_positive_ints(bad: object) -> None:
    """A rate that is not a positive int is a ConfigurationError naming the value."""
    with pytest.raises(ConfigurationError, match=re.escape(repr(bad))):
        StreamingResampler(bad, 24000)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="dst_rate"):
        StreamingResampler(24000, bad)  # type: ignore[arg-type]


def test_unknown_quality_or_backend_is_rejected() -> None:
    """Presets and backends are checked at construction."""
    with pytest.raises(ConfigurationError, match="'ultra'"):
        StreamingResampler(48000, 24000, quality="ultra")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'scipy'"):
        StreamingResampler(48000, 24000, backend="scipy")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros((10, 2), dtype=np.float32), r"1-D .*\(10, 2\)"),
        (np.array([0.0, np.nan], dtype=np.float32), "NaN"),
        (np.array([0.0, np.inf]), "infinite"),
        (np.zeros(10, dtype=np.int32), "int32"),
    ],
)
def test_bad_samples_raise_audio_error_and_keep_state(
    samples: npt.NDArray[Any], message: str
) -> None:
    """Bad blocks raise AudioError and leave the stream as if they were never passed."""
    signal = _noise(3000)
    stream = StreamingResampler(48000, 24000)
    clean = np.concatenate((stream.process(signal), stream.flush()))
    head = stream.process(signal[:1000])
    with pytest.raises(AudioError, match=message):
        stream.process(samples)
    rest = np.concatenate((stream.process(signal[1000:]), stream.flush()))
    _assert_close(np.concatenate((head, rest)), clean, atol=2e-6)


def test_soxr_backend_unavailable_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without soxr, backend="soxr" raises and backend="auto" falls back to numpy."""
    monkeypatch.setattr(rs, "soxr_available", lambda: False)
    with pytest.raises(ConfigurationError, match="soxr"):
        StreamingResampler(48000, 24000, backend="soxr")
    assert StreamingResampler(48000, 24000, backend="auto").backend == "numpy"


def test_measure_rtf_reports_a_small_positive_cost() -> None:
    """The real-time factor is CPU seconds per audio second, far below 1 for 48000->24000."""
    rtf = measure_rtf(StreamingResampler, 48000, 24000, seconds=0.5, repeats=1)
    assert 0.0 < rtf < 0.5


@pytest.mark.parametrize(("src", "dst"), [(48000, 24000), (16000, 24000)])
def test_soxr_backend_streams_with_the_same_length_and_quality(src: int, dst: int) -> None:
    """soxr, where installed: same total length, block-size invariant, >= 80 dB aliasing."""
    pytest.importorskip("soxr")
    stream = StreamingResampler(src, dst, backend="soxr")
    assert StreamingResampler(src, dst, backend="auto").backend == "soxr"
    signal = _noise(6000)
    whole = np.concatenate((stream.process(signal), stream.flush()))
    assert len(whole) == math.ceil(6000 * dst / src)
    _assert_close(_in_blocks(stream, signal, [1, 333, 960]), whole, atol=1e-5)
    quality = measure_quality(functools.partial(StreamingResampler, backend="soxr"), src, dst)
    assert quality.aliasing_db >= 80.0, quality
