"""The backchannel benchmark: its corpus, its judging on hand-made cases, and a few simulated
trials whose verdict under today's barge-in is known."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from realtalk import BargeIn

# The benchmarks folder is not a package: import the benchmark as a top-level module (it
# imports barge_in beside it), and take the folder off the path again so that its other files
# cannot shadow anything imported later.
_BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    import backchannel as bench
finally:
    sys.path.remove(_BENCHMARKS)

ANSWER = "one two three four five six seven eight nine ten"


def _outcome(group: bench.Group = "backchannel", **kw: Any) -> bench.Outcome:
    fields: dict[str, Any] = {"index": 0, "group": group, "room": "quiet_office",
                              "text": "Yeah.", "end": 8.0, "onset": 2.0, "sound_end": 2.4,
                              "answer": ANSWER}
    fields.update(kw)
    return bench.Outcome(**fields)


def _trial(clip: str, at_s: float = 2.0) -> bench.Trial:
    info = next(c for c in bench.corpus_clips() if c.name == clip)
    return bench.Trial(index=0, group=info.group, room="quiet_office", answer=0, seed=7,
                       duration_s=0.3 + at_s + info.duration_s + bench.TAIL_S, clip=clip,
                       text=info.text, at_s=at_s)


# -- the corpus ------------------------------------------------------------------------------


def test_the_clip_set_has_every_kind_with_its_words_and_stays_small() -> None:
    manifest = json.loads((bench.BACKCHANNEL_DIR / "manifest.json").read_text())
    entries = manifest["clips"]
    assert all(e["rate"] == 24_000 and e["voice"] and e["speed_wpm"] > 0 for e in entries)
    by_group: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        assert e["kind"] in ("backchannel", "interruption")
        assert (e["subkind"] == "") == (e["kind"] == "backchannel")
        by_group.setdefault(e["subkind"] or "backchannel", []).append(e)
    assert len({e["text"] for e in by_group["backchannel"]}) >= 12
    assert {e["text"] for e in by_group["short"]} >= {"Stop.", "No.", "Wait.", "Hang on.",
                                                      "No, wait."}
    assert len(by_group["long"]) >= 8
    assert all(1000 <= e["duration_ms"] <= 2500 for e in by_group["long"])
    assert len(by_group["hard"]) >= 3
    assert len({(e["voice"], e["speed_wpm"]) for e in entries}) >= 6
    size = sum((bench.BACKCHANNEL_DIR / e["file"]).stat().st_size for e in entries)
    assert size < 2_100_000


def test_the_corpus_is_big_enough_and_the_same_for_a_seed() -> None:
    full = bench.build_corpus(0, quick=False)
    assert sum(t.kind == "backchannel" for t in full) >= 300
    assert sum(t.kind == "interruption" for t in full) >= 200
    assert {t.room for t in full} == set(bench.ROOMS)
    assert {t.at_s for t in full if t.clip is not None} == set(bench.AT_S)
    assert len({t.answer for t in full}) == len(bench.ANSWERS)
    assert bench.build_corpus(0, quick=False) == full
    assert bench.build_corpus(1, quick=False) != full
    quick = bench.build_corpus(0, quick=True)
    assert len(quick) < len(full) / 5
    assert {t.group for t in quick} == {*bench.GROUPS, "ai_only"}


def test_the_detector_knows_the_users_level_as_from_earlier_turns() -> None:
    """Each trial carries the level the detector learned from the user's earlier turns (the
    user's -26 dBFS +- 4 dB, from its own generator); the simulation starts with it learned.
    ``user_level=False`` is the corpus without it."""
    known = bench.build_corpus(0, quick=True)
    unknown = bench.build_corpus(0, quick=True, user_level=False)
    assert [attrs.evolve(t, user_level_dbfs=None) for t in known] == list(unknown)
    levels = [t.user_level_dbfs for t in known]
    assert all(v is not None and abs(v + 26.0) <= 4.0 for v in levels)  # -26 dBFS +- 4
    assert len(set(levels)) == len(levels)
    trial = attrs.evolve(_trial("got_it_3"), user_level_dbfs=-30.0)
    sim, _, _ = bench.build_simulation("default", trial)
    assert sim.detector is not None
    assert sim.detector.user_level.level_dbfs == pytest.approx(-30.0)
    sim, _, _ = bench.build_simulation("default", _trial("got_it_3"))
    assert sim.detector is not None and sim.detector.user_level.level_dbfs is None


# -- judging ---------------------------------------------------------------------------------


def test_words_lost_and_repeated() -> None:
    words = ANSWER.split()
    assert bench.words_diff(words, words[:6]) == (0, 0)  # not yet said is not lost
    assert bench.words_diff(words, [*words[:4], *words[6:8]]) == (2, 0)
    assert bench.words_diff(words, [*words[:5], *words[3:8]]) == (0, 2)
    assert bench.words_diff(["Tuesday,", "at"], ["tuesday", "at"]) == (0, 0)
    assert bench.words_diff(words, []) == (0, 0)


def test_a_backchannel_that_stopped_the_reply_is_not_kept() -> None:
    outcome = _outcome(stops=(bench.Stop(2.14, 2.14),), audible=((0.1, 2.14),),
                       answered=("Yeah.",), heard_words=tuple(ANSWER.split()[:3]))
    verdict = bench.judge(outcome)
    assert verdict.valid and not verdict.kept and verdict.answered
    assert verdict.resume_gap_s is None and verdict.lost is None
    assert verdict.decision == 2.14
    row = bench.figures([(outcome, verdict)])
    assert row["backchannels"] == 1 and row["interruptions"] == 0
    assert row["backchannels_kept_pct"] == 0.0 and row["backchannels_answered"] == 1
    assert row["resume_gap_ms"]["never"] == 1 and row["resume_gap_ms"]["p50"] is None
    assert row["decision_ms"]["p50"] == 0.0 and row["decision_ms"]["before_silence"] == 1


def test_a_backchannel_cut_and_then_resumed_is_not_kept() -> None:
    """Stopped, judged noise, and continued by a new response: heard again, but not kept."""
    words = ANSWER.split()
    verdict = bench.judge(_outcome(stops=(bench.Stop(2.14, 2.16),), false_verdicts=(4.6,),
                                   audible=((0.1, 2.16), (4.9, 8.0)),
                                   heard_words=(*words[:3], *words[4:])))
    assert not verdict.kept
    assert verdict.resume_gap_s == pytest.approx(2.5)
    assert (verdict.lost, verdict.repeated) == (1, 0)


def test_a_backchannel_talked_over_is_kept_with_no_gap() -> None:
    verdict = bench.judge(_outcome(audible=((0.1, 8.0),), heard_words=tuple(ANSWER.split())))
    assert verdict.kept and verdict.resume_gap_s == 0.0
    assert (verdict.lost, verdict.repeated) == (0, 0)
    assert not verdict.answered


def test_a_paused_backchannel_is_kept_and_its_gap_and_words_measured() -> None:
    """A later engine may pause without an Interrupted and play on: kept, the gap is from
    the end of the user's speech, and a word heard twice is counted."""
    words = ANSWER.split()
    verdict = bench.judge(_outcome(audible=((0.1, 2.2), (2.9, 8.0)),
                                   heard_words=(*words[:4], *words[3:])))
    assert verdict.kept
    assert verdict.resume_gap_s == pytest.approx(0.5)
    assert (verdict.lost, verdict.repeated) == (0, 1)


def test_an_interruption_that_resumes_was_not_stopped() -> None:
    stopped = _outcome("short", text="Stop.", stops=(bench.Stop(2.1, 2.12),),
                       audible=((0.1, 2.12),))
    resumed = attrs.evolve(stopped, audible=((0.1, 2.12), (5.0, 8.0)), false_verdicts=(4.6,))
    paused = _outcome("long", text="Wait, which day was that?", audible=((0.1, 2.3),))
    late = attrs.evolve(stopped, stops=(bench.Stop(5.0, 5.0),), audible=((0.1, 5.0),))
    verdicts = [bench.judge(o) for o in (stopped, resumed, paused, late)]
    assert [v.stop_at for v in verdicts] == [2.12, 2.12, 2.3, None]
    assert [v.came_back for v in verdicts] == [False, True, False, False]
    assert verdicts[1].false_verdict and not verdicts[0].false_verdict
    row = bench.figures(list(zip((stopped, resumed, paused, late), verdicts, strict=True)))
    assert row["interruptions"] == 4 and row["interruptions_stopped_pct"] == 50.0
    assert row["resumed_after_interruption"] == 1 and row["false_noise_verdicts"] == 1
    assert row["stop_ms"]["p50"] == pytest.approx(120.0)


def test_a_trial_whose_reply_was_already_stopped_is_not_judged() -> None:
    outcome = _outcome(stops=(bench.Stop(1.0, 1.0),), audible=((0.1, 1.0), (1.5, 8.0)))
    assert not bench.judge(outcome).valid
    row = bench.figures([(outcome, bench.judge(outcome))])
    assert row["backchannels"] == 0 and row["ai_silent_at_onset"] == 1


def test_a_newer_engines_decision_event_is_read() -> None:
    verdict = bench.judge(_outcome(audible=((0.1, 8.0),), decisions=(1.0, 2.9)))
    assert verdict.decision == 2.9  # the one before the onset is not this trial's
    row = bench.figures([(_outcome(), verdict)])
    assert row["decision_ms"]["p50"] == pytest.approx(500.0)


# -- methods ---------------------------------------------------------------------------------


def test_a_method_passes_only_the_settings_barge_in_has(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bench.method_settings("default") == ({}, [])
    assert BargeIn().decide  # deciding is the default
    assert bench.method_settings("stop_on_any_speech") == ({"decide": False}, [])
    assert bench.distinct_methods(["default", "stop_on_any_speech", "decide"]) == {
        "default": "default", "stop_on_any_speech": "stop_on_any_speech",
        "decide": "default"}
    monkeypatch.setitem(bench.METHODS, "slow", {"min_speech_ms": 300.0, "no_such": 1})
    assert bench.method_settings("slow") == ({"min_speech_ms": 300.0}, ["no_such"])
    assert bench.barge_in_for("slow") == BargeIn(min_speech_ms=300.0)
    assert bench.distinct_methods(["default", "stop_on_any_speech", "slow"])["slow"] == "slow"


# -- simulated trials --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["decide", "stop_on_any_speech"])
def test_a_long_interruption_stops_the_assistant(method: str) -> None:
    outcome = bench.run_trial(method, _trial("which_day_2"))
    assert outcome.error is None
    verdict = bench.judge(outcome)
    assert verdict.valid and verdict.stop_at is not None and not verdict.came_back
    assert outcome.onset is not None and 0.0 < verdict.stop_at - outcome.onset < 0.5
    assert not verdict.false_verdict
    row = bench.figures([(outcome, verdict)])
    assert row["interruptions"] == 1 and row["interruptions_stopped_pct"] == 100.0


def test_a_backchannel_stops_an_assistant_that_stops_on_any_speech_and_is_answered() -> None:
    """Without the decision any speech that lasts min_speech_ms stops the reply, and the model
    answers the "got it" as a turn of its own."""
    outcome = bench.run_trial("stop_on_any_speech", _trial("got_it_3"))
    verdict = bench.judge(outcome)
    assert verdict.valid and not verdict.kept and verdict.answered
    assert outcome.stops and outcome.answered == ("Got it.",)


def test_a_backchannel_keeps_a_deciding_assistant_talking_and_is_not_answered() -> None:
    outcome = bench.run_trial("decide", _trial("got_it_3"))
    verdict = bench.judge(outcome)
    assert verdict.valid and verdict.kept and not verdict.answered
    assert not outcome.stops and outcome.decisions
    assert verdict.lost == 0 and verdict.repeated == 0


def test_an_ai_only_run_counts_no_trial() -> None:
    trial = bench.Trial(index=0, group="ai_only", room="quiet_office", answer=1, seed=3,
                        duration_s=4.0)
    outcome = bench.run_trial("default", trial)
    report = bench.summarize([outcome])
    assert report["backchannels"] == 0 and report["interruptions"] == 0
    assert report["ai_silent_at_onset"] == 0
    assert report["ai_only"] == {"trials": 1, "stopped": 0}
    assert report["errors"]["count"] == 0 and report["new_event_types"] == {}
    # The reply played from its first word, in order.
    assert outcome.heard_words == tuple(bench.ANSWERS[1].split()[:len(outcome.heard_words)])
    assert len(outcome.heard_words) > 5


def test_a_stop_too_short_to_confirm_is_checked_by_its_words_and_stops_the_assistant() -> None:
    """A hoarse "Stop." 0.8 s into the reply, while the canceller is still learning the room:
    the detector hears 80 ms of it (50 voiced), too little to confirm, and neither the
    server's VAD nor a yield ever caught it; the assistant talked on. Checked by its words,
    it stops."""
    trial = bench.Trial(index=349, group="short", room="quiet_office", answer=1,
                        seed=809337283, duration_s=5.47429, clip="stop_5", text="Stop.",
                        at_s=0.8)
    outcome = bench.run_trial("decide", trial)
    verdict = bench.judge(outcome)
    assert verdict.valid and verdict.stop_at is not None and not verdict.came_back
    assert not verdict.false_verdict
