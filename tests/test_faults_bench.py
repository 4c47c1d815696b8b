"""The fault benchmark runs: one conversation per kind of fault, each lost and recovered with
nothing lost or repeated, and the report adds its counts up."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

# The benchmarks folder is not a package: import the benchmark as a top-level module, and
# take the folder off the path again so that its other files cannot shadow anything later.
_BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    import faults as bench
finally:
    sys.path.remove(_BENCHMARKS)


@pytest.mark.parametrize("kind", bench.KINDS)
def test_a_conversation_with_a_fault_of_each_kind_recovers_whole(kind: str) -> None:
    result = bench.conversation(1, kind)
    assert result["lost"] and result["recovered"], result
    for key in ("wedged", "transcripts_lost", "transcripts_duplicated", "context_items_lost",
                "duplicate_replies"):
        assert not result[key], (key, result)
    assert len(result["recovery_ms"]) == (2 if kind == "restore" else 1)
    assert result["sessions"] == len(result["recovery_ms"]) + 1
    assert all(0 < ms < 1000 for ms in result["recovery_ms"])


def test_the_same_seed_draws_the_same_fault() -> None:
    first, second = (bench.plan_for("assistant_speech", random.Random(4)) for _ in range(2))
    assert first == second and len(first.faults) == 1
    assert len(bench.plan_for("restore", random.Random(4)).faults) == 2


def test_the_report_adds_up_the_counts() -> None:
    def result(**counts: object) -> dict[str, object]:
        base: dict[str, object] = {
            "lost": True, "recovered": True, "wedged": False, "transcripts_lost": 0,
            "transcripts_duplicated": 0, "context_items_lost": 0, "duplicate_replies": 0,
            "recovery_ms": [100.0], "sessions": 2, "simulated_s": 30.0}
        return {**base, **counts}

    report = bench.summarize([
        result(), result(recovered=False, wedged=True, recovery_ms=[]),
        result(transcripts_lost=2, duplicate_replies=1, recovery_ms=[300.0, 200.0]),
        result(lost=False, recovered=False, recovery_ms=[], context_items_lost=1,
               transcripts_duplicated=3)])
    assert report == {
        "conversations": 4, "connections_lost": 3, "wedged": 1, "transcripts_lost": 2,
        "transcripts_duplicated": 3, "context_items_lost": 1, "duplicate_replies": 1,
        "recovered_pct": 66.7, "recovery_ms": {"p50": 200.0, "p95": 290.0}, "reconnects": 3}
