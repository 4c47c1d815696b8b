"""The ``chain`` block of ``benchmarks/echo.py``: the whole default echo defence (canceller,
gate, detector, transcript filters) in simulated conversations, through the barge-in corpus.

Runs :func:`barge_in.run_methods` for ``realtalk`` (the default chain) and ``realtalk_no_aec``
(the same with the canceller off, where the server hears the raw echo and transcribes it, so
the transcript filters get real work) and reports, for the default chain:

- ``false_barge_ins``: interruptions over the AI-only runs (10 x 60 s of replies with echo as
  loud as the user's voice, no user);
- ``echo_transcripts_kept``: over the same runs, the echo transcripts (user items the server
  committed with no user in them, transcribed by the oracle as the assistant's words) that the
  transcript filters let through;
- ``detected_pct``: barge-in trials whose speech stopped the assistant (all echo levels);

and beside them the counts these rest on, and the same figures without the canceller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import barge_in

GOAL_DETECTED_PCT = 98.0


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    ai_only = report["false"]["ai_only"]
    transcripts = report["transcripts"]
    return {
        "false_barge_ins": ai_only["count"],
        "echo_transcripts_kept": transcripts["ai_only"]["echo_kept"],
        "detected_pct": report["detected_pct"],
        "ai_only_min": ai_only["simulated_min"],
        "echo_transcripts": transcripts["ai_only"]["echo"],
        "echo_transcripts_kept_all_trials": transcripts["echo_kept"],
        "echo_transcripts_all_trials": transcripts["echo"],
        "user_transcripts_dropped": transcripts["user_dropped"],
        "user_transcripts": transcripts["user"],
        "audio_said": transcripts["audio_said"],
        "stop_latency_ms": report["stop_latency_ms"],
        "false_per_min": report["false_per_min"],
    }


def chain_report(*, quick: bool = False, seed: int = 0, jobs: int = 2,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """The ``chain`` block (the default chain's figures, its goals, and ``without_canceller``)."""
    log("chain: the default echo defence in simulated conversations (benchmarks/barge_in.py's "
        f"corpus{', quick' if quick else ''})")
    reports = barge_in.run_methods(["realtalk", "realtalk_no_aec"], seed=seed, quick=quick,
                                   jobs=jobs)
    chain = _figures(reports["realtalk"])
    detected = chain["detected_pct"]
    chain["goals"] = {
        "zero_false_barge_ins": chain["false_barge_ins"] == 0,
        "zero_echo_transcripts_kept": chain["echo_transcripts_kept"] == 0,
        "detected_ge_98pct": detected is not None and detected >= GOAL_DETECTED_PCT,
    }
    chain["without_canceller"] = _figures(reports["realtalk_no_aec"])
    return chain
