"""The barge-in benchmark's judging and metrics, on hand-made cases (no simulation runs)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import pytest

from realtalk import Evidence, InterruptionDecided, State, StateChanged
from realtalk.audio import AudioFrame
from realtalk.sim import RoomConfig
from realtalk.sim.room import ROOM_SIZES
from realtalk.vad import AllOf

# The benchmarks folder is not a package: import the benchmark as a top-level module, and
# take the folder off the path again so that its other files (audio.py, core.py, vad.py)
# cannot shadow anything imported later.
_BENCHMARKS = str(Path(__file__).resolve().parents[1] / "benchmarks")
sys.path.insert(0, _BENCHMARKS)
try:
    import barge_in as bench
finally:
    sys.path.remove(_BENCHMARKS)

RATE = bench.RATE


def _stop(detected: float, *, ducked: float | None = None, source: str = "local",
          reported_onset: float | None = None) -> bench.Stop:
    return bench.Stop(detected=detected, stopped=detected, ducked=ducked,
                      reported_onset=reported_onset, source=source)


def _outcome(kind: bench.Kind, *, stops: tuple[bench.Stop, ...] = (),
             speaking: tuple[tuple[float, float], ...] = (), onset: float | None = None,
             sound_end: float | None = None, echo: str = "equal", simulated_s: float = 10.0,
             cpu_s: float = 0.0, audio_s: float = 0.0,
             transcribed: tuple[bench.Transcribed, ...] = (), condition: str = "bench/equal",
             changes: tuple[float, ...] = (), echo_cpu_s: float = 0.0,
             echo_audio_s: float = 0.0, ducks_withdrawn: int = 0,
             withdrawn_duck_s: float = 0.0) -> bench.Outcome:
    return bench.Outcome(index=0, kind=kind, echo=echo, onset=onset, sound_end=sound_end,
                         stops=stops, speaking=speaking, simulated_s=simulated_s,
                         cpu_s=cpu_s, detector_audio_s=audio_s, echo_cpu_s=echo_cpu_s,
                         echo_audio_s=echo_audio_s, wall_s=0.0, transcribed=transcribed,
                         condition=condition, changes=changes,
                         ducks_withdrawn=ducks_withdrawn, withdrawn_duck_s=withdrawn_duck_s)


def test_percentile_is_nearest_rank() -> None:
    assert bench.percentile([], 50) is None
    assert bench.percentile([7.0], 95) == 7.0
    values = [40.0, 10.0, 30.0, 20.0]
    assert bench.percentile(values, 50) == 20.0
    assert bench.percentile(values, 95) == 40.0
    assert bench.percentile([float(v) for v in range(1, 101)], 95) == 95.0


def test_overlap_counts_only_the_part_inside() -> None:
    spans = [(0.0, 1.0), (2.0, 4.0)]
    assert bench.overlap_s(spans, 0.5, 3.0) == pytest.approx(1.5)
    assert bench.overlap_s(spans, 5.0, 6.0) == 0.0


def test_speaking_spans_follow_the_state_changes() -> None:
    events = [
        StateChanged(old=State.IDLE, new=State.LISTENING, at=0.0),
        StateChanged(old=State.LISTENING, new=State.SPEAKING, at=0.1),
        "not a state change",
        StateChanged(old=State.SPEAKING, new=State.CANCELLING, at=0.5),
        StateChanged(old=State.CANCELLING, new=State.LISTENING, at=0.6),
        StateChanged(old=State.LISTENING, new=State.SPEAKING, at=1.0),
    ]
    assert bench.speaking_spans(events, 3.0) == [(0.1, 0.5), (1.0, 3.0)]



def test_a_pause_of_the_decision_is_not_speaking() -> None:
    """The interruption decision pauses playback inside SPEAKING: from the yield to the
    verdict the assistant is silent."""
    evidence = Evidence(speech_ms=300.0, silent_ms=300.0, speaking=False, since_yield_ms=600.0)
    events = [
        StateChanged(old=State.LISTENING, new=State.SPEAKING, at=1.0),
        InterruptionDecided(verdict="noise", evidence=evidence, onset=1.9, yielded=2.0,
                            decided=2.6),
    ]
    assert bench.speaking_spans(events, 4.0) == [(1.0, 2.0), (2.6, 4.0)]


def test_a_check_of_short_speech_pauses_nothing_and_is_counted_apart() -> None:
    """The check of a run too short to confirm (``Evidence.confirmed`` false) leaves the
    reply playing: it is neither a pause nor a stop; one begun where nobody spoke is
    reported under ``checks``, one inside the user's speech is not."""
    evidence = Evidence(speech_ms=80.0, silent_ms=80.0, speaking=False, since_yield_ms=0.0,
                        confirmed=False)
    events = [
        StateChanged(old=State.LISTENING, new=State.SPEAKING, at=1.0),
        InterruptionDecided(verdict="noise", evidence=evidence, onset=1.9, yielded=2.0,
                            decided=2.3),
    ]
    assert bench.speaking_spans(events, 4.0) == [(1.0, 4.0)]
    outcome = attrs.evolve(_outcome("speech", speaking=((1.0, 6.0),), onset=4.0,
                                    sound_end=4.5), checks=((2.0, 2.3), (4.1, 4.4)))
    scored = bench.score(outcome)
    assert scored.false_stops == () and scored.false_checks == ((2.0, 2.3),)
    checks = bench.summarize([outcome], local_detector=True)["checks"]
    assert checks["count"] == 1 and checks["pending_ms"]["p50"] == pytest.approx(300.0)
    exposure = 5.0 - (4.5 + bench.GRACE_S - 4.0)
    assert checks["per_min"] == pytest.approx(1 / (exposure / 60), abs=1e-3)


def test_a_barge_in_trial_with_a_false_stop_before_the_user() -> None:
    """Echo stops the AI at 0.5 s (false); it resumes; the user's speech at 2.0 s stops it
    at 2.15 s (the hit). Playback during the user's speech is not counted as exposure."""
    false, hit = _stop(0.5), _stop(2.15)
    outcome = _outcome("speech", stops=(false, hit), speaking=((0.1, 0.5), (1.0, 2.15)),
                       onset=2.0, sound_end=3.0)
    scored = bench.score(outcome)
    assert scored.hit == hit
    assert scored.ai_speaking_at_onset
    assert scored.false_stops == (false,)
    assert scored.event_stops == 0
    assert scored.exposure_s == pytest.approx(0.4 + 1.0)


def test_a_user_who_speaks_while_the_ai_is_already_silent_is_no_trial() -> None:
    outcome = _outcome("speech", stops=(_stop(0.5),), speaking=((0.1, 0.5),), onset=2.0,
                       sound_end=3.0)
    scored = bench.score(outcome)
    assert scored.hit is None
    assert not scored.ai_speaking_at_onset
    assert len(scored.false_stops) == 1


def test_a_miss_and_a_late_stop() -> None:
    """The AI speaks through the user's words; a stop long after they end is false."""
    late = _stop(4.0)  # the user spoke 2.0-3.0 s; the window ends at 3.5 s
    scored = bench.score(_outcome("speech", stops=(late,), speaking=((0.1, 4.0),), onset=2.0,
                                  sound_end=3.0))
    assert scored.hit is None
    assert scored.ai_speaking_at_onset
    assert scored.false_stops == (late,)


def test_a_cough_that_stops_the_ai_is_false_and_its_own() -> None:
    scored = bench.score(_outcome("cough", stops=(_stop(1.2), _stop(5.0)),
                                  speaking=((0.1, 1.2), (2.0, 6.0)), onset=1.0, sound_end=1.7))
    assert scored.hit is None
    assert len(scored.false_stops) == 2
    assert scored.event_stops == 1  # the one at 1.2 s, during the cough
    assert scored.exposure_s == pytest.approx(1.1 + 4.0)  # the cough is no user speech


def test_summary_of_hand_made_outcomes() -> None:
    outcomes = [
        # Detected 100 ms after the onset, ducked 20 ms after it.
        _outcome("speech", stops=(_stop(2.1, ducked=2.02, reported_onset=2.04),),
                 speaking=((0.0, 2.1),), onset=2.0, sound_end=3.0, echo="-20dB",
                 cpu_s=0.01, audio_s=5.0),
        # Detected 300 ms after the onset by the server; the duck was already on (echo).
        _outcome("speech", stops=(_stop(1.3, ducked=0.9, source="server_vad"),),
                 speaking=((0.0, 1.3),), onset=1.0, sound_end=2.0, cpu_s=0.01, audio_s=5.0),
        # Missed.
        _outcome("speech", speaking=((0.0, 6.0),), onset=1.0, sound_end=2.0),
        # No user: 60 s of AI speech, one false stop.
        _outcome("ai_only", stops=(_stop(30.0),), speaking=((0.0, 30.0), (31.0, 61.0)),
                 simulated_s=61.0),
    ]
    report = bench.summarize(outcomes, local_detector=True)
    assert report["detected_pct"] == pytest.approx(100 * 2 / 3, abs=0.1)
    assert report["stop_latency_ms"]["p50"] == pytest.approx(100.0)
    assert report["stop_latency_ms"]["p95"] == pytest.approx(300.0)
    assert report["reported_stop_ms"]["n"] == 1
    assert report["reported_stop_ms"]["p50"] == pytest.approx(60.0)
    assert report["duck_latency_ms"]["p50"] == pytest.approx(0.0)
    assert report["duck_latency_ms"]["p95"] == pytest.approx(20.0)
    assert report["duck_latency_ms"]["before_onset"] == 1
    assert report["trials"]["by_source"] == {"local": 1, "server_vad": 1}
    # Exposure: each trial's playback minus its user window (1.0-2.5 s in the missed one).
    exposure = 2.0 + 1.0 + (6.0 - 1.5) + 60.0
    assert report["false"]["count"] == 1
    assert report["false_per_min"] == pytest.approx(1 / (exposure / 60), abs=1e-3)
    assert report["false"]["ai_only"]["count"] == 1
    assert report["false"]["ai_only"]["per_min"] == pytest.approx(1.0)
    assert report["rtf"] == pytest.approx(0.002)
    assert report["by_echo"]["-20dB"]["detected_pct"] == 100.0
    assert report["by_echo"]["equal"]["detected_pct"] == 50.0
    goals = report["goals"]
    assert not goals["stop_p95_le_30ms"]
    assert not goals["detected_ge_98pct"]
    assert not goals["zero_false_in_10min_ai_only"]
    assert goals["rtf_le_0.005"]
    assert report["goals_issue_15"] == {
        "no_false_stops": False, "detected_ge_99pct": False, "stop_p95_le_150ms": False,
        "duck_p95_le_30ms": True, "detector_rtf_le_0.005": True,
        "canceller_rtf_le_0.01": None}  # no canceller was timed


def test_issue_15_goals_met_by_a_clean_run() -> None:
    """Every barge-in stopped within 150 ms and ducked within 30 ms, nothing stopped the
    assistant otherwise, both parts cheap enough: each of issue 15's goals holds."""
    outcomes = [
        _outcome("speech", stops=(_stop(2.12, ducked=2.02),), speaking=((0.0, 2.12),),
                 onset=2.0, sound_end=3.0, cpu_s=0.002, audio_s=1.0, echo_cpu_s=0.008,
                 echo_audio_s=1.0),
        _outcome("ai_only", speaking=((0.0, 60.0),), simulated_s=60.0),
    ]
    goals = bench.summarize(outcomes, local_detector=True)["goals_issue_15"]
    assert all(goals.values()), goals
    slow = [attrs.evolve(outcomes[0], echo_cpu_s=0.02), outcomes[1]]
    assert not bench.summarize(slow, local_detector=True)["goals_issue_15"][
        "canceller_rtf_le_0.01"]


def test_transcripts_are_counted_by_source_and_fate() -> None:
    def said(source: Literal["user", "echo"], kept: bool,
             audio: bool | None = None) -> bench.Transcribed:
        return bench.Transcribed(source=source, kept=kept, text="x", audio=audio)

    outcomes = [
        _outcome("speech", transcribed=(said("user", True, True), said("echo", False, False))),
        _outcome("ai_only", transcribed=(said("echo", False, False), said("echo", True))),
        _outcome("ai_only", transcribed=(said("user", False, False),)),
    ]
    t = bench.summarize(outcomes, local_detector=True)["transcripts"]
    assert (t["echo"], t["echo_kept"], t["user"], t["user_dropped"]) == (3, 1, 2, 1)
    assert t["audio_said"] == {"echo": {"echo": 2, "unknown": 1},
                               "user": {"user": 1, "echo": 1}}
    assert t["ai_only"] == {"echo": 2, "echo_kept": 1, "user": 1, "user_dropped": 1,
                            "audio_said": {"echo": {"echo": 1, "unknown": 1},
                                           "user": {"echo": 1}}}


def test_false_stops_tell_a_reply_resumed_from_one_cancelled() -> None:
    """A yield the decision took back paused the reply (a false stop all the same, silent
    until the verdict); a cancelled one lost the rest of it: the report counts them apart."""
    paused = attrs.evolve(_stop(100.0), resumed_at=100.4)
    outcome = _outcome("ai_only", stops=(paused, _stop(300.0)), speaking=((0.0, 600.0),),
                       simulated_s=600.0)
    false = bench.summarize([outcome], local_detector=True)["false"]
    assert (false["count"], false["resumed"], false["cancelled"]) == (2, 1, 1)
    assert false["cancelled_per_min"] == pytest.approx(0.1)
    assert false["resumed_pause_ms"]["p50"] == pytest.approx(400.0)


def test_false_ducks_are_counted_where_nobody_spoke() -> None:
    """A duck withdrawn in an AI-only run dipped the playback for nothing; one withdrawn in a
    barge-in trial may be the user's own pause between words, so it is not counted. How long
    the dips held is reported as a share of that playback."""
    outcomes = [
        _outcome("ai_only", speaking=((0.0, 120.0),), simulated_s=120.0, ducks_withdrawn=3,
                 withdrawn_duck_s=0.6),
        _outcome("speech", speaking=((0.0, 6.0),), onset=1.0, sound_end=2.0,
                 ducks_withdrawn=5, withdrawn_duck_s=1.0),
    ]
    report = bench.summarize(outcomes, local_detector=True)
    assert report["false_ducks"] == {"count": 3, "per_min": pytest.approx(1.5),
                                     "ducked_pct": pytest.approx(0.5)}


def test_server_vad_has_no_local_rtf() -> None:
    report = bench.summarize([_outcome("ai_only", speaking=((0.0, 600.0),),
                                       simulated_s=600.0)], local_detector=False)
    assert report["rtf"] is None
    assert report["false_per_min"] == 0.0
    assert report["goals"]["zero_false_in_10min_ai_only"]
    assert report["goals_issue_15"]["detector_rtf_le_0.005"] is None
    assert report["goals_issue_15"]["duck_p95_le_30ms"] is None


def test_naive_vad_takes_any_sound_during_playback_for_the_user() -> None:
    playing = [True]
    vad = bench.NaiveVAD(lambda: playing[0])
    silence = AudioFrame(np.zeros(480, dtype=np.int16), RATE)
    hiss = AudioFrame(np.full(480, 3, dtype=np.int16), RATE)
    assert not vad.is_speech(silence)
    assert vad.is_speech(hiss)
    playing[0] = False
    assert not vad.is_speech(hiss)


def test_signal_levels_and_onset() -> None:
    t = np.arange(RATE // 2) / RATE
    tone = 0.1 * np.sin(2 * np.pi * 440.0 * t)
    x = np.concatenate((np.zeros(RATE // 10), tone, np.zeros(RATE // 2)))
    # The silent frames do not count: the level is the tone's (power 0.1**2 / 2).
    assert bench.active_level_dbfs(x) == pytest.approx(10 * math.log10(0.005), abs=0.1)
    assert bench.onset_offset_s(x) == pytest.approx(0.1, abs=0.005)


HARD = "live/u+6/babble/moved/clipped"
EASY = "dry/u-30/pink/steady/linear"


def test_conditions_are_named_by_their_axes() -> None:
    """The tuned corpus keeps one condition per echo level; the unseen block one per cell."""
    assert bench.condition_key("bench", "equal", "pink", "steady", "linear") == "bench/equal"
    assert bench.condition_key("live", "u+6", "babble", "moved", "clipped") == HARD
    assert HARD.split("/")[bench.AXES.index("path")] == "moved"


def test_outcomes_are_grouped_per_condition_and_axis() -> None:
    """Each condition gets its own figures; the axes pool the unseen conditions only; a false
    stop within a second of a path change is charged to it."""
    outcomes = [
        # Hard: a path change at 1.0 s, a false stop 0.4 s later, the user missed.
        _outcome("speech", stops=(_stop(1.4),), speaking=((0.1, 1.4),), onset=3.0,
                 sound_end=4.0, condition=HARD, changes=(1.0,)),
        _outcome("ai_only", stops=(_stop(9.0),), speaking=((0.0, 9.0), (9.5, 30.0)),
                 condition=HARD, changes=(5.0, 20.0)),
        # Easy: caught at 2.1 s, ducked at 2.05 s, no false stop.
        _outcome("speech", stops=(_stop(2.1, ducked=2.05),), speaking=((0.1, 2.1),),
                 onset=2.0, sound_end=3.0, condition=EASY),
        _outcome("click", speaking=((0.0, 5.0),), onset=2.0, sound_end=2.01, condition=EASY),
        _outcome("speech", stops=(_stop(1.2),), speaking=((0.1, 1.2),), onset=1.0,
                 sound_end=2.0, condition="bench/equal"),
    ]
    report = bench.summarize(outcomes, local_detector=True)
    hard, easy = report["by_condition"][HARD], report["by_condition"][EASY]
    assert list(report["by_condition"]) == sorted([HARD, EASY, "bench/equal"])
    assert hard["trials"] == 2 and hard["false_count"] == 2 and hard["detected_pct"] is None
    assert hard["false_per_min"] == pytest.approx(2 / ((1.3 + 29.5) / 60), abs=1e-3)
    assert easy["detected_pct"] == 100.0 and easy["false_count"] == 0
    assert easy["stop_latency_ms"]["p95"] == pytest.approx(100.0)
    assert easy["duck_latency_ms"]["p95"] == pytest.approx(50.0)
    assert set(report["by_axis"]["room"]) == {"live", "dry"}  # no "bench": unseen only
    assert report["by_axis"]["path"]["moved"]["false_count"] == 2
    assert report["by_block"]["bench"]["detected_pct"] == 100.0
    after = report["false"]["after_path_change"]
    # 1.4 s is 0.4 s after the change at 1.0; 9.0 s is 4 s after the one at 5.0: not charged.
    assert after["count"] == 1 and after["changes"] == 3
    assert after["exposure_min"] == pytest.approx((0.4 + 1.0 + 1.0) / 60, abs=0.01)


def test_the_worst_condition_of_each_metric() -> None:
    """Highest false rate, lowest detection, slowest p95s; ties go to the condition with more
    trials, then to the first by name; a metric nobody has is None."""
    groups: dict[str, dict[str, Any]] = {
        "a": {"false_per_min": 3.0, "detected_pct": 90.0, "trials": 2,
              "stop_latency_ms": {"p95": 200.0}, "duck_latency_ms": {"p95": None}},
        "b": {"false_per_min": 3.0, "detected_pct": 50.0, "trials": 5,
              "stop_latency_ms": {"p95": 100.0}, "duck_latency_ms": {"p95": None}},
        "c": {"false_per_min": None, "detected_pct": None, "trials": 9,
              "stop_latency_ms": {"p95": 200.0}, "duck_latency_ms": {"p95": None}},
    }
    worst = bench.worst_conditions(groups)
    assert worst["false_per_min"] == {"condition": "b", "value": 3.0, "trials": 5}
    assert worst["detected_pct"] == {"condition": "b", "value": 50.0, "trials": 5}
    assert worst["stop_p95_ms"] == {"condition": "c", "value": 200.0, "trials": 9}
    assert worst["duck_p95_ms"] is None
    assert bench.stops_after(1.5, (1.0,), 1.0) and not bench.stops_after(0.9, (1.0,), 1.0)
    assert not bench.stops_after(2.01, (1.0,), 1.0)


def test_the_unseen_block_crosses_every_axis_and_moves_the_path_before_the_user() -> None:
    """The full block has every room x echo x noise x path x speaker cell; a moved trial's
    path changes 0.2-2 s before the user starts, inside the reply; AI-only runs move it in
    every reply; quick keeps the hardest cells."""
    cells = bench.unseen_cells(quick=False)
    assert len(set(cells)) == len(cells) == 2 * 4 * 2 * 2 * 2
    assert bench.unseen_cells(quick=True) == [
        ("live", "u+6", "babble", "moved", "clipped"), ("dry", "u+0", "babble", "moved", "linear")]
    trials: list[bench.Trial] = []
    bench.add_unseen(trials, seed=0, quick=False, at_0db=-20.0)
    assert {t.condition for t in trials} == {"/".join(c) for c in cells}
    assert {t.kind for t in trials} == {"speech", "typing", "cough", "click", "ai_only"}
    for trial in trials:
        assert trial.echo_gain_db == pytest.approx(
            bench.USER_DBFS + bench.ECHO_TO_USER_DB[trial.echo] + 20.0)
        delay, rt60 = ROOM_SIZES[trial.room]
        assert delay[0] <= trial.echo_delay_ms <= delay[1] and rt60[0] <= trial.rt60_s <= rt60[1]
        # The cell an app gets from the preset, to test its own agent in.
        condition: dict[str, Any] = {"room": trial.room, "speaker": trial.speaker,
                                     "noise": trial.noise,
                                     "echo_gain_db": trial.echo_gain_db}
        preset = RoomConfig.sampled(trial.seed, **condition)
        assert (preset.echo, preset.noise, preset.noise_dbfs) == (
            trial.echo_path(), trial.noise, trial.noise_dbfs)
        if trial.kind == "ai_only":
            assert [r for r, _ in trial.changes] == list(range(1, len(trial.changes) + 1))
        elif trial.changes:
            ((response, after),) = trial.changes
            assert trial.at_s is not None and response == 1
            assert 0.2 <= trial.at_s - after <= 2.0 and after >= 0.5
    again: list[bench.Trial] = []
    bench.add_unseen(again, seed=0, quick=False, at_0db=-20.0)
    assert again == trials


def test_a_trial_that_raises_is_counted_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash in the code measured becomes an errored outcome, counted by message and
    condition and left out of every other figure, instead of ending the run."""

    def crash(method: str, trial: bench.Trial) -> None:
        raise ValueError("could not broadcast")

    monkeypatch.setattr(bench, "build_simulation", crash)
    trial = bench.Trial(index=3, kind="speech", echo="u+6", echo_gain_db=0.0,
                        echo_delay_ms=50.0, rt60_s=0.5, noise="babble", noise_dbfs=-40.0,
                        seed=1, reply="hello", duration_s=5.0, room="live",
                        speaker="clipped", changes=((1, 1.0),))
    errored = bench.run_trial("realtalk", trial)
    assert errored.error == "ValueError: could not broadcast"
    assert errored.condition == HARD
    fine = _outcome("speech", stops=(_stop(2.1),), speaking=((0.1, 2.1),), onset=2.0,
                    sound_end=3.0)
    report = bench.summarize([errored, fine], local_detector=True)
    assert report["errors"] == {"count": 1,
                                "by_message": {"ValueError: could not broadcast": 1},
                                "by_condition": {HARD: 1}}
    assert report["trials"]["speech"] == 1 and report["detected_pct"] == 100.0
    assert HARD not in report["by_condition"]


def test_each_trial_opens_with_a_user_turn_of_its_own_voice_set() -> None:
    """``with_turns`` gives every trial a turn: another clip of the same set as its barge-in
    (the tuned voices in the tuned block, the unseen ones in the unseen block), at the user's
    level +- TURN_LEVEL_DB, the same for the same seed; the run waits for it and the reply."""
    trials: list[bench.Trial] = [bench.Trial(
        index=0, kind="speech", echo="equal", echo_gain_db=0.0, echo_delay_ms=5.0, rt60_s=0.3,
        noise="pink", noise_dbfs=-60.0, seed=1, reply="hello", duration_s=5.0,
        sound=bench.Sound("speech", "wait_stop", "clip", bench.USER_DBFS), at_s=1.0)]
    bench.add_unseen(trials, seed=0, quick=True, at_0db=-20.0)
    turned = bench.with_turns(trials, seed=0)
    assert turned == bench.with_turns(trials, seed=0) != bench.with_turns(trials, seed=1)
    levels = []
    for before, after in zip(trials, turned, strict=True):
        turn = after.turn
        assert turn is not None and attrs.evolve(after, turn=None) == before
        assert turn.kind == "speech"
        assert turn.source == ("clip" if before.room == "bench" else "unseen")
        assert before.sound is None or turn.name != before.sound.name
        assert abs(turn.level_dbfs - bench.USER_DBFS) <= bench.TURN_LEVEL_DB
        levels.append(turn.level_dbfs)
        assert after.lead_s == pytest.approx(
            bench.TURN_AT_S + len(bench.render(turn)) / RATE + bench.TURN_REPLY_S)
    assert len(set(levels)) == len(levels)  # drawn, not one level for all
    assert trials[0].lead_s == 0.0


def _quiet_barge_in() -> bench.Trial:
    """A 4 s reply in a quiet room (echo 30 dB down, pink noise at -60 dBFS), talked over
    1 s in."""
    return bench.Trial(
        index=0, kind="speech", echo="-30dB", echo_gain_db=-30.0, echo_delay_ms=5.0,
        rt60_s=0.3, noise="pink", noise_dbfs=-60.0, seed=1,
        reply=bench._reply(np.random.default_rng(0), 4.0), duration_s=4.0,
        sound=bench.Sound("speech", "wait_stop", "clip", bench.USER_DBFS), at_s=1.0)


def test_a_turn_is_answered_and_the_barge_in_is_judged_from_its_own_onset() -> None:
    """A simulated trial with a turn: the reply answers it (no reply is asked for before),
    the detector learns the user's level from it, and the barge-in's onset, not the turn's,
    is the one the trial is judged from."""
    trial = bench.with_turns([_quiet_barge_in()], seed=0)[0]
    sim, timer = bench.build_simulation("realtalk", trial)
    done = bench._answer_turn(sim, trial)
    assert done is not None
    result = sim.run(trial.lead_s + trial.duration_s - done.simulated_s)
    outcome = bench.outcome_of(trial, result, timer, 0.0, sim)
    assert outcome.speaking and outcome.speaking[0][0] > trial.lead_s - bench.TURN_REPLY_S
    level = sim.detector.user_level.level_dbfs if sim.detector is not None else None
    assert trial.turn is not None and level is not None
    assert abs(level - trial.turn.level_dbfs) < 3.0
    assert outcome.onset is not None and outcome.onset > outcome.speaking[0][0] + 0.9
    judged = bench.score(outcome)
    assert judged.hit is not None and not judged.false_stops


def test_silero_methods_are_offered_only_where_silero_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "_silero_factory", lambda: None)
    assert not set(bench.SILERO_METHODS) & set(bench.available_methods())
    monkeypatch.setattr(bench, "_silero_factory", lambda: object)
    assert set(bench.SILERO_METHODS) <= set(bench.available_methods())


@pytest.mark.parametrize("method", ["silero_vote", "silero_spectral"])
def test_a_silero_method_runs_silero_on_the_cancelled_microphone(method: str) -> None:
    """Silero's VAD joins (or replaces the spectral detector in) the default detector's
    vote, and a barge-in over the reply still stops it."""
    silero = pytest.importorskip("realtalk.vad.silero")
    if silero.default_model_path() is None or bench._silero_factory() is None:
        pytest.skip("onnxruntime or Silero's model is not installed")
    trial = _quiet_barge_in()
    sim, timer = bench.build_simulation(method, trial)
    assert sim.detector is not None
    timed = sim.detector.vad  # the benchmark's timing wrapper
    assert isinstance(timed, bench.TimedVAD) and isinstance(timed.inner, AllOf)
    votes = timed.inner.detectors
    assert isinstance(votes[-1], silero.SileroVAD)
    assert len(votes) == (3 if method == "silero_vote" else 2)
    result = sim.run(trial.lead_s + trial.duration_s)
    judged = bench.score(bench.outcome_of(trial, result, timer, 0.0, sim))
    assert judged.hit is not None and not judged.false_stops
