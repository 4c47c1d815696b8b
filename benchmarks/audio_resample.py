"""Benchmark of the streaming resampler: cost and quality per common ratio, numpy vs soxr.

For each ratio and backend:

- ``rtf``: real-time factor, CPU seconds per second of audio, the stream pushed through in
  20 ms blocks as a live capture or playback path would (best of a few runs; process CPU time,
  so BLAS helper threads count);
- ``aliasing_db``, ``passband_ripple_db``, ``passband_error_db``: stepped sine sweeps from
  :func:`realtalk.audio.resample.measure_quality` (passband up to 0.9 of the lower Nyquist);
- ``latency_ms``: output held back while streaming, measured after one second of 20 ms blocks
  as (expected - received output samples) / dst rate; the numpy backend's is its fixed filter
  delay, soxr's depends on its internal buffering.

The soxr numbers appear under ``"soxr"`` only where the ``soxr`` package is installed.
Prints one line per ratio, then one JSON object as the last line, of the shape
``{"48000->24000": {"rtf": .., "aliasing_db": .., "passband_ripple_db": .., "soxr": {..}}, ..}``.
Goal (issue 3): aliasing >= 80 dB and rtf <= 0.002 at 48000->24000 with the numpy backend.
"""

from __future__ import annotations

import argparse
import functools
import json
import math

import numpy as np

from realtalk.audio.resample import (
    Backend,
    StreamingResampler,
    measure_quality,
    measure_rtf,
    soxr_available,
)

COMMON_RATIOS: tuple[tuple[int, int], ...] = (
    (48000, 24000),  # 48 kHz microphone -> the realtime API's 24 kHz
    (44100, 24000),  # 44.1 kHz microphone
    (16000, 24000),  # 16 kHz (telephony, headsets) up to the API
    (24000, 16000),  # API audio down to a 16 kHz device or VAD
    (24000, 48000),  # API audio up to a 48 kHz speaker
    (24000, 44100),  # API audio up to a 44.1 kHz speaker
    (8000, 24000),  # narrowband telephony
)

BLOCK_MS = 20.0


def _latency_ms(backend: Backend, src: int, dst: int) -> float:
    stream = StreamingResampler(src, dst, backend=backend)
    block = int(src * BLOCK_MS / 1000)
    blocks = int(1000 / BLOCK_MS)
    received = sum(len(stream.process(np.zeros(block, dtype=np.float32))) for _ in range(blocks))
    expected = blocks * block * dst / src
    return (expected - received) * 1000.0 / dst


def _quality(backend: Backend, src: int, dst: int) -> dict[str, float]:
    quality = measure_quality(functools.partial(StreamingResampler, backend=backend), src, dst)
    return {
        "aliasing_db": round(quality.aliasing_db, 1),
        "passband_ripple_db": float(f"{quality.passband_ripple_db:.2g}"),
        "passband_error_db": float(f"{quality.passband_error_db:.2g}"),
        "latency_ms": round(_latency_ms(backend, src, dst), 2),
    }


def resampler_report(seconds: float = 10.0) -> dict[str, dict[str, object]]:
    """Measure every common ratio with numpy (and soxr where installed).

    Args:
        seconds: audio streamed per real-time-factor run (5 runs per ratio and backend).

    Returns:
        ``{"48000->24000": {"rtf": .., "aliasing_db": .., "passband_ripple_db": ..,
        "passband_error_db": .., "latency_ms": .., "soxr": {same keys}}, ...}``; the ``"soxr"``
        entry only where the soxr package is installed.
    """
    backends: list[Backend] = ["numpy", "soxr"] if soxr_available() else ["numpy"]
    results: dict[tuple[int, int, str], dict[str, float]] = {}
    # Every cost before any quality sweep: the sweeps' large products and least-squares fits
    # wake OpenBLAS's helper threads, which then spin for a while and would be billed to the
    # next stream as CPU time.
    for src, dst in COMMON_RATIOS:
        for backend in backends:
            factory = functools.partial(StreamingResampler, backend=backend)
            rtf = measure_rtf(factory, src, dst, seconds=seconds, block_ms=BLOCK_MS, repeats=5)
            results[src, dst, backend] = {"rtf": float(f"{rtf:.3g}")}
    for src, dst in COMMON_RATIOS:
        for backend in backends:
            results[src, dst, backend].update(_quality(backend, src, dst))
    report: dict[str, dict[str, object]] = {}
    for src, dst in COMMON_RATIOS:
        entry: dict[str, object] = dict(results[src, dst, "numpy"])
        if "soxr" in backends:
            entry["soxr"] = results[src, dst, "soxr"]
        report[f"{src}->{dst}"] = entry
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per RTF run")
    args = parser.parse_args()
    if not (args.seconds > 0 and math.isfinite(args.seconds)):
        parser.error(f"--seconds must be a positive number, got {args.seconds}")
    report = resampler_report(args.seconds)
    for ratio, numbers in report.items():
        print(f"{ratio}: {numbers}", flush=True)
    goal = report["48000->24000"]
    ok = float(str(goal["aliasing_db"])) >= 80.0 and float(str(goal["rtf"])) <= 0.002
    print(
        f"goal (48000->24000 numpy: aliasing >= 80 dB, rtf <= 0.002): {'met' if ok else 'MISSED'}"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
