"""The soak benchmark runs a short soak, finds every container within its bound, and would
report one that grows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmarks folder is not a package: import the benchmark as a top-level module, and
# take the folder off the path again so that its other files cannot shadow anything later.
_BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    import soak as bench
finally:
    sys.path.remove(_BENCHMARKS)


def test_a_short_soak_stays_within_every_bound() -> None:
    report = bench.soak(8, progress=False)
    assert report["barge_ins"] >= 8 and report["tool_calls"] >= 1
    assert report["over_bound"] == {} and report["growing"] == {}
    assert report["kept_for_the_app"] == {"engine.interruptions": report["barge_ins"]}
    assert report["engine_kb"]["first"] > 0 and report["engine_kb"]["end"] > 0


def test_a_container_that_grows_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "KEPT_FOR_THE_APP", frozenset())
    monkeypatch.setattr(bench, "GROWTH_SLACK", 0)
    report = bench.soak(4, progress=False)
    first, end = report["growing"]["engine.interruptions"]
    assert first < end == report["barge_ins"]
    assert report["over_bound"]["engine.interruptions"] == report["barge_ins"]
