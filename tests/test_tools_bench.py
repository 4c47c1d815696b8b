"""The tool-call benchmark runs, and what it counts is what the conversations did."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

# The benchmarks folder is not a package: import the benchmark as a top-level module, and
# take the folder off the path again so that its other files cannot shadow anything later.
_BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    import tools as bench
finally:
    sys.path.remove(_BENCHMARKS)


def test_a_few_conversations_answer_every_call_once_and_never_wedge() -> None:
    results = [bench._conversation(seed) for seed in range(6)]
    assert sum(r["calls"] for r in results) >= 6
    assert sum(r["interruptions"] for r in results) >= 1  # the script does barge in
    for key in ("unanswered_calls", "duplicate_runs", "duplicate_outputs", "wedged",
                "protocol_errors", "followups_over_user"):
        assert sum(r[key] for r in results) == 0, (key, results)
    assert all(len(r["call_start_s"]) == r["calls"] for r in results)


def test_the_loopback_measure_times_each_call() -> None:
    delays = anyio.run(lambda: bench._loopback(2, sync=True))
    assert len(delays) == 2 and all(0 < d < 5 for d in delays)
