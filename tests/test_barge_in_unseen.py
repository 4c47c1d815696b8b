"""The independent check: barge-in in the hardest unseen conditions, on every run of the suite.

A handful of seeded trials from ``benchmarks/barge_in.py``'s unseen block (the quick one): the
echo path moves 0.2-2 s before the user starts, multi-talker babble at -40 dBFS, echo as loud
as the user or 6 dB over, a soft-clipping loudspeaker in one room; typing instead of the user;
and an AI-only run in which the path moves during every reply. They run the default
(``realtalk``) as the benchmark does with ``--no-turns`` (no user turn before the reply, so
the detector has not learned the user's level); the last test runs them with the turns.

The figures are recorded (``record_property``, and printed: ``pytest -rA`` shows them), not
asserted against hopes: the goals the code does not meet yet are strict xfails whose reason
holds the measured value, so that a change meeting one turns its test into an XPASS, which
fails the run until the mark is taken off.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from realtalk.server import DEFAULT_REPLIES

_BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    import barge_in as bench
finally:
    sys.path.remove(_BENCHMARKS)

pytestmark = pytest.mark.independent_check

SEED = 0
METHOD = "realtalk"


@pytest.fixture(scope="module")
def hard_trials() -> list[bench.Trial]:
    """The unseen block's quick trials: only the hardest cells (see the module docstring)."""
    trials: list[bench.Trial] = []
    bench.add_unseen(trials, SEED, quick=True,
                     at_0db=bench.echo_level_at_0db(" ".join(DEFAULT_REPLIES)))
    return trials


@pytest.fixture(scope="module")
def outcomes(hard_trials: list[bench.Trial]) -> list[bench.Outcome]:
    return [bench.run_trial(METHOD, trial) for trial in hard_trials]


@pytest.fixture(scope="module")
def report(outcomes: list[bench.Outcome]) -> dict[str, Any]:
    return bench.summarize(outcomes, local_detector=True)


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "false_per_min": report["false_per_min"],
        "false_count": report["false"]["count"],
        "after_path_change": report["false"]["after_path_change"],
        "detected_pct": report["detected_pct"],
        "detected_pct_of_all": report["detected_pct_of_all"],
        "stop_latency_ms": report["stop_latency_ms"],
        "duck_latency_ms": report["duck_latency_ms"],
        "typing_stopped_it": report["false"]["typing"]["stopped_by_it"],
        "worst": report["worst"],
    }


def test_the_hard_conditions_are_run_and_recorded(
    hard_trials: list[bench.Trial], report: dict[str, Any],
    record_property: Callable[[str, object], None],
) -> None:
    """The trials cover what they claim (moved paths, babble, echo at or over the user,
    barge-ins, typing, an AI-only run) and their figures are recorded."""
    assert {t.kind for t in hard_trials} == {"speech", "typing", "ai_only"}
    assert all(t.changes and t.noise == "babble" and bench.ECHO_TO_USER_DB[t.echo] >= 0.0
               for t in hard_trials)
    assert report["false"]["after_path_change"]["changes"] >= len(hard_trials)
    figures = _figures(report)
    record_property("barge_in_unseen", json.dumps(figures))
    print("independent check (unseen, hardest):", json.dumps(figures))


def test_the_record_is_deterministic(hard_trials: list[bench.Trial],
                                     outcomes: list[bench.Outcome]) -> None:
    """The same trial run again stops at the same simulated times: the figures above are a
    record of the code, not of the machine."""
    trial = next(t for t in hard_trials if t.kind == "speech")
    first = next(o for o in outcomes if o.index == trial.index)
    again = bench.run_trial(METHOD, trial)
    assert (again.stops, again.speaking, again.changes) == (
        first.stops, first.speaking, first.changes)


@pytest.mark.xfail(strict=True, reason="measured (seed 0): 1 false stop within 1 s of a "
                   "move, a pause the decision took back (the reply resumed): the duck held "
                   "over a pause left babble louder than the ducked echo")
def test_goal_no_false_stop_after_a_path_change(report: dict[str, Any]) -> None:
    """A moved echo path must not stop the assistant (before the canceller stopped trusting
    a filter louder than its input: 2 false stops within 1 s of the 6 changes; met from
    then until the duck was held over a pause, ``BargeIn.duck_hold_ms``)."""
    assert report["false"]["after_path_change"]["count"] == 0


@pytest.mark.xfail(strict=True, reason="measured (seed 0): 5 false stops, 7.62 per min "
                   "(babble over echo as loud as the user or louder, no turn of the user's "
                   "heard; 4 of them pauses the decision took back)")
def test_goal_no_false_stop_at_all(report: dict[str, Any]) -> None:
    """Neither echo, babble nor typing stops the assistant."""
    assert report["false"]["count"] == 0


def test_goal_the_user_is_heard(report: dict[str, Any]) -> None:
    """Each barge-in stops a still-talking assistant (goal: 98 %, as in the benchmark)."""
    detected = report["detected_pct_of_all"]
    assert detected is not None and detected >= bench.GOAL_DETECTED_PCT


@pytest.mark.xfail(strict=True, reason="measured (seed 0): stop p95 360 ms (both barge-ins "
                   "caught)")
def test_goal_stop_latency(report: dict[str, Any]) -> None:
    """The stop latency's p95 meets the benchmark's goal."""
    p95 = report["stop_latency_ms"]["p95"]
    assert p95 is not None and p95 <= bench.GOAL_STOP_P95_MS


def test_the_users_level_keeps_the_talkers_behind_them_from_stopping_the_reply(
        hard_trials: list[bench.Trial]) -> None:
    """With a user turn before each reply (as the benchmark runs them), the detector learns
    how loud the user is, and the babble well under that level no longer confirms
    (``BargeIn.max_below_user_db``): fewer false stops in the same trials than with it off
    (``realtalk_any_level``, the detector before), every barge-in still caught. Measured
    (seed 0): 1 false stop against 6."""
    turned = bench.with_turns(hard_trials, SEED)

    def judged(method: str) -> tuple[int, list[bool]]:
        scores = [bench.score(bench.run_trial(method, trial)) for trial in turned]
        return (sum(len(s.false_stops) for s in scores),
                [s.hit is not None for t, s in zip(turned, scores, strict=True)
                 if t.kind == "speech"])

    false_stops, caught = judged(METHOD)
    false_stops_any_level, caught_any_level = judged("realtalk_any_level")
    assert caught == caught_any_level == [True] * len(caught)
    assert false_stops < false_stops_any_level
