"""The barge-in policy: what confirms an onset."""

from __future__ import annotations

import attrs

from realtalk.session.barge_in import BargeIn, BargeInPolicy, ShortSpeech


def _feed(policy: BargeInPolicy, pattern: str, frame_ms: float = 20.0) -> list[float]:
    onsets = []
    for i, ch in enumerate(pattern):
        onset = policy.update(ch == "x", i * frame_ms / 1000.0, frame_ms)
        if onset is not None:
            onsets.append(onset)
    return onsets


def test_short_burst_does_not_confirm() -> None:
    """A click or cough shorter than min_speech_ms never confirms."""
    policy = BargeInPolicy(BargeIn(min_speech_ms=120))
    assert _feed(policy, "....xxx......xx.....") == []


def test_sustained_speech_confirms_at_its_onset() -> None:
    """Speech for min_speech_ms confirms once, reporting when the speech began."""
    policy = BargeInPolicy(BargeIn(min_speech_ms=120))
    assert _feed(policy, "...xxxxxxxxxxxx") == [0.06]


def test_short_gaps_inside_speech_are_tolerated() -> None:
    """Dips shorter than max_gap_ms do not restart the count."""
    policy = BargeInPolicy(BargeIn(min_speech_ms=120, max_gap_ms=40))
    assert _feed(policy, "xxx.xx.xx") == [0.0]


def test_one_utterance_one_onset_until_silence() -> None:
    """After a confirmation, the next needs rearm_silence_ms of silence first."""
    policy = BargeInPolicy(BargeIn(min_speech_ms=40, rearm_silence_ms=100, max_gap_ms=0))
    onsets = _feed(policy, "xxxxx..xxxx......xxx")
    assert onsets == [0.0, 0.34]


def test_cooldown_suppresses_a_second_onset_soon_after() -> None:
    """Within cooldown_ms of a confirmation, another utterance does not confirm."""
    policy = BargeInPolicy(BargeIn(min_speech_ms=40, rearm_silence_ms=40, max_gap_ms=0,
                                   cooldown_ms=500))
    # speech at 0 ms, silence, speech again at 200 ms (inside the cooldown), at 800 ms (after)
    pattern = "xxx" + "." * 7 + "xxx" + "." * 27 + "xxx"
    assert _feed(policy, pattern) == [0.0, 0.8]


def _feed_voiced(policy: BargeInPolicy, pattern: str) -> list[tuple[int, float]]:
    """``x``: speech, voiced for 20 ms; ``u``: speech with none of it voiced; ``?``: speech
    from a detector that does not tell; ``.``: silence. (frame index, onset) confirmed."""
    found = []
    for i, ch in enumerate(pattern):
        voiced = {"x": 20.0, "u": 0.0, "?": None, ".": 0.0}[ch]
        onset = policy.update(ch != ".", i * 0.02, 20.0, voiced)
        if onset is not None:
            found.append((i, onset))
    return found


def test_speech_confirms_only_once_enough_of_it_was_voiced() -> None:
    """A loud unvoiced sound held as speech (a cough under a detector that hears the
    assistant's residual voice) never confirms; speech confirms once ``min_voiced_ms`` of it
    was voiced, at its first frame; a detector that does not measure voicing is not held to
    it."""
    settings = BargeIn(min_speech_ms=120, min_voiced_ms=60)
    assert _feed_voiced(BargeInPolicy(settings), "uuuuuuuuuuuu....") == []
    assert _feed_voiced(BargeInPolicy(settings), "uuuuuuuxxx....") == [(9, 0.0)]
    assert _feed_voiced(BargeInPolicy(settings), "xxxxxx....") == [(5, 0.0)]
    assert _feed_voiced(BargeInPolicy(settings), "??????....") == [(5, 0.0)]
    off = BargeIn(min_speech_ms=120, min_voiced_ms=0)
    assert _feed_voiced(BargeInPolicy(off), "uuuuuu....") == [(5, 0.0)]


def _shorts(policy: BargeInPolicy, pattern: str) -> list[ShortSpeech]:
    """Feed ``pattern`` (see :func:`_feed_voiced`); the runs handed on for a check."""
    found = []
    for i, ch in enumerate(pattern):
        voiced = {"x": 20.0, "u": 0.0, "?": None, ".": 0.0}[ch]
        policy.update(ch != ".", i * 0.02, 20.0, voiced)
        if policy.short is not None:
            found.append(policy.short)
    return found


def test_a_run_too_short_to_confirm_but_voiced_is_handed_on_for_a_check() -> None:
    """A clipped "stop": 80 ms of speech, 40 of it voiced, never confirms (120 ms needed),
    but once the gap after it has ended the run it is handed on, once, for its words."""
    settings = BargeIn(min_speech_ms=120, max_gap_ms=60, check_speech_ms=60,
                       check_voiced_ms=30)
    shorts = _shorts(BargeInPolicy(settings), "..uuxx......")
    assert shorts == [ShortSpeech(onset=0.04, speech_ms=80.0, voiced_ms=40.0, silent_ms=80.0)]


def test_what_is_not_checked() -> None:
    """Too short, too little voiced (a cough, typing), a run that confirmed, or checks off."""
    settings = BargeIn(min_speech_ms=120, max_gap_ms=60, check_speech_ms=60,
                       check_voiced_ms=30)
    assert _shorts(BargeInPolicy(settings), "..xx......") == []  # 40 ms
    assert _shorts(BargeInPolicy(settings), "..uuux......") == []  # 20 ms voiced
    assert _shorts(BargeInPolicy(settings), "..xxxxxxx......") == []  # confirmed
    off = attrs.evolve(settings, check_speech_ms=None)
    assert _shorts(BargeInPolicy(off), "..uuxx......") == []
    # A detector that does not tell voicing is not held to it.
    assert len(_shorts(BargeInPolicy(settings), "..???......")) == 1


def _probable(policy: BargeInPolicy, pattern: str) -> str:
    """Feed ``pattern`` (see :func:`_feed_voiced`); per frame, ``d`` where the policy says
    probable (duck), ``-`` where not."""
    out = []
    for i, ch in enumerate(pattern):
        voiced = {"x": 20.0, "u": 0.0, "?": None, ".": 0.0}[ch]
        policy.update(ch != ".", i * 0.02, 20.0, voiced)
        out.append("d" if policy.probable else "-")
    return "".join(out)


def test_the_duck_is_held_over_the_pause_after_a_first_syllable() -> None:
    """"ne- ver mind": 100 ms of speech, then 220 ms the detector does not hear. The run is
    worth checking, so the duck holds over the pause (300 ms from its last speech frame)
    into the next word, which is one duck, not a restore and a second one; its count still
    starts afresh (the second run alone confirms, after 120 ms). Without the hold the duck
    drops once the gap has ended the run."""
    settings = BargeIn(min_speech_ms=120, max_gap_ms=60, check_speech_ms=60,
                       check_voiced_ms=30, duck_hold_ms=300)
    pattern = "..xxxxx" + "." * 11 + "xxxxxxx...."
    held = BargeInPolicy(settings)
    # Ducked from the first syllable to the confirmation (frame 23), which stops playback.
    assert _probable(held, pattern) == "--ddddd" + "d" * 11 + "ddddd" + "-" * 6
    assert _feed_voiced(BargeInPolicy(settings), pattern) == [(23, 0.36)]
    unheld = BargeInPolicy(attrs.evolve(settings, duck_hold_ms=0))
    assert _probable(unheld, pattern) == "--ddddd" + "ddd" + "-" * 8 + "ddddd" + "-" * 6


def test_the_hold_ends_and_is_only_for_runs_worth_checking() -> None:
    """The hold lasts ``duck_hold_ms`` from the run's last speech frame; a run too short to
    check (a click), or too little voiced (a cough), is not held; nor with checks off."""
    settings = BargeIn(min_speech_ms=120, max_gap_ms=60, check_speech_ms=60,
                       check_voiced_ms=30, duck_hold_ms=200)
    assert _probable(BargeInPolicy(settings), "xxxx" + "." * 14) == "dddd" + "d" * 10 + "----"
    assert _probable(BargeInPolicy(settings), "xx" + "." * 8) == "dd" + "ddd" + "-----"
    assert _probable(BargeInPolicy(settings), "uuux" + "." * 8) == "dddd" + "ddd" + "-----"
    off = attrs.evolve(settings, check_speech_ms=None)
    assert _probable(BargeInPolicy(off), "xxxx" + "." * 8) == "dddd" + "ddd" + "-----"


def _feed_levels(policy: BargeInPolicy, levels: list[float], bar: float) -> list[float]:
    """One 20 ms speech frame per level (dBFS), each judged against ``bar``."""
    onsets = []
    for i, level in enumerate(levels):
        onset = policy.update(True, i * 0.02, 20.0, level_db=level, min_level_db=bar)
        if onset is not None:
            onsets.append(onset)
    return onsets


def test_a_run_confirms_once_min_loud_ms_of_it_reached_the_bar() -> None:
    """A talker behind the user reaches the level bar with one syllable's peak, for a frame:
    that run never confirms. Two frames at the bar confirm it, once ``min_speech_ms`` has
    passed, from the run's first frame; ``min_loud_ms=0`` still needs one."""
    peak_once = [-40.0, -40.0, -29.0, -40.0, -40.0, -40.0, -40.0, -40.0, -40.0, -40.0]
    twice = [-40.0, -40.0, -29.0, -40.0, -40.0, -29.0, -40.0, -40.0, -40.0, -40.0]
    settings = BargeIn(min_speech_ms=120, min_voiced_ms=0)
    assert _feed_levels(BargeInPolicy(settings), peak_once, bar=-30.0) == []
    assert _feed_levels(BargeInPolicy(settings), twice, bar=-30.0) == [0.0]
    one_frame = attrs.evolve(settings, min_loud_ms=0.0)
    assert _feed_levels(BargeInPolicy(one_frame), peak_once, bar=-30.0) == [0.0]
    assert _feed_levels(BargeInPolicy(one_frame), [-40.0] * 10, bar=-30.0) == []
    # The count is the run's: a new run after a gap starts from none.
    policy = BargeInPolicy(settings)
    assert _feed_levels(policy, peak_once[:5], bar=-30.0) == []
    for i in range(5):
        policy.update(False, 0.1 + i * 0.02, 20.0)
    assert _feed_levels(policy, peak_once, bar=-30.0) == []
