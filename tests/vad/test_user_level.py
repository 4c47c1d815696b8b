"""UserLevel: the user's speaking level, learned from their turns; and how the onset detector
learns it and judges runs against it, and against the room's usual level."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtalk.audio import AudioFrame
from realtalk.errors import ConfigurationError
from realtalk.session.barge_in import BargeIn
from realtalk.vad import OnsetDetector, UserLevel

RATE = 24_000
FRAME = 480  # 20 ms


def test_the_level_is_the_power_mean_once_enough_speech_was_heard() -> None:
    level = UserLevel(window_s=2.0, min_speech_s=0.1)
    level.add(1e-3, 40.0)
    assert level.level_dbfs is None  # 40 ms: not enough to go on
    level.add(1e-3, 40.0)
    level.add(1e-5, 40.0)
    assert level.speech_ms == 120.0
    assert level.level_dbfs == pytest.approx(10 * math.log10((2e-3 + 1e-5) / 3))


def test_the_window_keeps_the_newest_speech_only() -> None:
    """A user who moves away from the microphone (or a new one) is followed."""
    level = UserLevel(window_s=1.0, min_speech_s=0.5)
    for _ in range(50):
        level.add(1e-2, 20.0)  # a second at -20 dBFS
    for _ in range(50):
        level.add(1e-4, 20.0)  # then a second at -40
    assert level.level_dbfs == pytest.approx(-40.0)
    assert level.speech_ms == pytest.approx(1000.0)


def test_nonsense_frames_are_ignored_and_reset_forgets() -> None:
    level = UserLevel(min_speech_s=0.0)
    level.add(float("nan"), 20.0)
    level.add(1e-3, 0.0)
    level.add(-1.0, 20.0)
    assert level.level_dbfs is None
    level.add(0.0, 20.0)
    assert level.level_dbfs is None  # digital silence has no level
    level.add(1e-3, 20.0)
    assert level.level_dbfs is not None
    level.reset()
    assert level.level_dbfs is None and level.speech_ms == 0.0


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"window_s": 0.0}, "window_s"),
    ({"min_speech_s": -1.0}, "min_speech_s"),
    ({"window_s": 1.0, "min_speech_s": 2.0}, "min_speech_s"),
])
def test_bad_settings_are_refused(kwargs: dict[str, float], word: str) -> None:
    with pytest.raises(ConfigurationError, match=word):
        UserLevel(**kwargs)


class Always:
    """A VAD that hears speech in every frame but digital silence."""

    latency_frames = 0

    def is_speech(self, frame: AudioFrame) -> bool:
        return bool(np.any(frame.samples))

    def reset(self) -> None:
        pass


def _tone(dbfs: float, frames: int, playing: bool, start: int = 0) -> list[AudioFrame]:
    """``frames`` 20 ms frames of a 200 Hz tone at ``dbfs`` RMS; with ``playing``, each
    carries a reference (the assistant is talking), else none."""
    n = np.arange(frames * FRAME)
    x = np.sqrt(2) * 10 ** (dbfs / 20) * 32768 * np.sin(2 * np.pi * 200 * n / RATE)
    pcm = np.round(x).astype(np.int16)
    ref = np.full(FRAME, 1000, np.int16) if playing else None
    return [AudioFrame(pcm[i * FRAME:(i + 1) * FRAME], RATE, (start + i) * 0.02, reference=ref)
            for i in range(frames)]


def _run(detector: OnsetDetector, frames: list[AudioFrame]) -> list[float]:
    found = [detector.process(f, f.timestamp or 0.0) for f in frames]
    return [round(onset, 2) for onset in found if onset is not None]


def _silence(frames: int, start: int, playing: bool = False) -> list[AudioFrame]:
    ref = np.full(FRAME, 1000, np.int16) if playing else None
    return [AudioFrame(np.zeros(FRAME, np.int16), RATE, (start + i) * 0.02, reference=ref)
            for i in range(frames)]


def _after_a_turn(settings: BargeIn) -> OnsetDetector:
    """A detector that has heard a 1.5 s user turn at -26 dBFS (nothing playing), whose end
    the service's VAD heard."""
    detector = OnsetDetector(settings, Always())
    assert _run(detector, _tone(-26.0, 75, playing=False)) == [0.0]
    _run(detector, _silence(20, 75))
    detector.turn_ended()
    return detector


def test_the_level_is_learned_from_confirmed_speech_while_nothing_plays() -> None:
    detector = _after_a_turn(BargeIn())
    level = detector.user_level.level_dbfs
    assert level is not None and level == pytest.approx(-26.0, abs=0.1)
    # Speech over the assistant (a reference playing) is not learned: it may be echo.
    _run(detector, _tone(-10.0, 50, playing=True, start=100))
    assert detector.user_level.level_dbfs == pytest.approx(level)


def test_a_run_far_under_the_users_level_does_not_confirm_until_it_comes_up() -> None:
    """Background talkers 14 dB under the user are heard as speech, but never come within
    ``max_below_user_db`` (10 dB) of the user's level: no onset. The user at their level is
    confirmed as before; and a run that starts quiet is confirmed, from its first frame,
    once a frame is loud enough."""
    detector = _after_a_turn(BargeIn())
    assert _run(detector, _tone(-40.0, 40, playing=True, start=100)) == []
    _run(detector, _silence(20, 140, playing=True))
    assert _run(detector, _tone(-27.0, 10, playing=True, start=160)) == [3.2]
    _run(detector, _silence(20, 170, playing=True))
    rising = _tone(-40.0, 10, playing=True, start=190) + _tone(-28.0, 5, playing=True, start=200)
    assert _run(detector, rising) == [3.8]


def test_without_the_rule_or_before_any_turn_any_level_confirms() -> None:
    quiet = _tone(-40.0, 10, playing=True, start=100)
    assert _run(_after_a_turn(BargeIn(max_below_user_db=None)), quiet) == [2.0]
    fresh = OnsetDetector(BargeIn(), Always())
    assert fresh.user_level.level_dbfs is None
    assert _run(fresh, quiet) == [2.0]


def test_talkers_after_the_user_stops_end_the_users_speech() -> None:
    """With the speaker silent, the user's confirmed speech goes on only while the room stays
    near their level: background talkers heard after it count as the silence that re-arms
    the detector (the engine stops a reply that starts over a user still talking), once the
    room's level has fallen (about 0.2 s) and ``rearm_silence_ms`` has passed; their run
    that follows is judged on its own frames."""
    detector = _after_a_turn(BargeIn(rearm_silence_ms=300))
    assert _run(detector, _tone(-26.0, 20, playing=False, start=100)) == [2.0]
    _run(detector, _tone(-40.0, 10, playing=False, start=120))
    assert detector.speaking  # 200 ms after the user's last frame
    _run(detector, _tone(-40.0, 20, playing=False, start=130))
    assert not detector.speaking  # 600 ms
    assert _run(detector, _tone(-40.0, 30, playing=False, start=150)) == []
    # Without the rule the talkers are more of the user's speech, for as long as they talk.
    plain = _after_a_turn(BargeIn(rearm_silence_ms=300, max_below_user_db=None))
    _run(plain, _tone(-26.0, 20, playing=False, start=100))
    _run(plain, _tone(-40.0, 60, playing=False, start=120))
    assert plain.speaking


def test_over_the_playback_soft_speech_still_continues_the_users() -> None:
    """While the speaker plays (or stopped under 0.5 s ago: the yield's pause), a soft
    stretch inside the user's utterance does not end it: one utterance, one onset."""
    detector = _after_a_turn(BargeIn(rearm_silence_ms=300))
    words = (_tone(-27.0, 10, playing=True, start=100) + _tone(-40.0, 20, playing=True, start=110)
             + _tone(-27.0, 10, playing=True, start=130))
    assert _run(detector, words) == [2.0]
    assert detector.speaking


def test_a_reply_starting_after_the_user_stopped_finds_them_not_talking() -> None:
    """``talking_now`` (asked when a reply starts): while the room is at the user's level
    they are talking; once it has fallen under it (the talkers behind them, about 0.3 s
    after the last word of a user 14 dB over them), they are not, even before
    ``rearm_silence_ms`` of that, and the detector re-arms so that their next words are a
    new onset."""
    detector = _after_a_turn(BargeIn(rearm_silence_ms=300))
    assert _run(detector, _tone(-26.0, 20, playing=False, start=100)) == [2.0]
    assert detector.talking_now()
    _run(detector, _tone(-40.0, 10, playing=False, start=120))
    assert detector.talking_now()  # 200 ms of talkers: the room is still near the user
    _run(detector, _tone(-40.0, 5, playing=False, start=130))
    assert detector.speaking  # 300 ms: rearm_silence_ms has not passed since it fell
    assert not detector.talking_now() and not detector.speaking
    assert _run(detector, _tone(-26.0, 10, playing=False, start=135)) == [2.7]
    # Without the rule, the talkers are more of the user's speech.
    plain = _after_a_turn(BargeIn(rearm_silence_ms=300, max_below_user_db=None))
    _run(plain, _tone(-26.0, 20, playing=False, start=100))
    _run(plain, _tone(-40.0, 15, playing=False, start=120))
    assert plain.talking_now()


def test_a_user_who_became_quieter_is_learned_again_from_a_turn_the_server_ended() -> None:
    """A user 14 dB quieter than the level learned (they moved away from the microphone) is
    never confirmed, so their level could never follow them. A turn the service's VAD ended,
    in which the detector heard 0.8 s of speech with the speaker silent and confirmed none,
    is theirs: the level is learned again from it, and their next barge-in is confirmed."""
    quiet_turn = _tone(-40.0, 40, playing=False, start=100) + _silence(20, 140)
    barge_in = _tone(-40.0, 10, playing=True, start=200)
    stale = _after_a_turn(BargeIn())
    assert _run(stale, quiet_turn) == []
    assert _run(stale, barge_in) == []
    followed = _after_a_turn(BargeIn())
    assert _run(followed, quiet_turn) == []
    followed.turn_ended()
    level = followed.user_level.level_dbfs
    assert level is not None and level == pytest.approx(-40.0, abs=0.1)
    assert _run(followed, barge_in) == [4.0]


@pytest.mark.parametrize("turn", ["confirmed", "too short", "over the playback"])
def test_a_turn_the_server_ended_keeps_the_level_unless_it_was_all_unconfirmed_speech(
        turn: str) -> None:
    """The level is learned again only from a turn of at least ``min_speech_s`` heard with the
    speaker silent and none of it confirmed: not when the user was confirmed at their level
    (the talkers after them are not the user), nor from a short sound, nor from what was
    heard over the assistant (echo, or a pause of the reply's)."""
    detector = _after_a_turn(BargeIn())
    frames = {
        "confirmed": _tone(-26.0, 20, playing=False, start=100)
        + _tone(-40.0, 50, playing=False, start=120),
        "too short": _tone(-40.0, 20, playing=False, start=100),
        "over the playback": _tone(-40.0, 50, playing=True, start=100),
    }[turn]
    _run(detector, frames)
    detector.turn_ended()
    assert detector.user_level.level_dbfs == pytest.approx(-26.0, abs=0.2)


class Loud:
    """A VAD that hears every frame over ``dbfs``."""

    latency_frames = 0

    def __init__(self, dbfs: float) -> None:
        self.dbfs = dbfs

    def is_speech(self, frame: AudioFrame) -> bool:
        x = frame.samples.astype(np.float64) / 32768.0
        return float(x @ x) / len(x) > 10 ** (self.dbfs / 10)

    def reset(self) -> None:
        pass


def test_a_run_must_stand_out_of_the_rooms_usual_level() -> None:
    """With no turn of the user's heard (no level of theirs known), a run still has to stand
    ``min_over_room_db`` (10 dB) out of the median level of the 2 s before it: talkers 8 dB
    over a room at -55 dBFS are not confirmed, a voice 25 dB over it is. Off, both are."""
    frames = (_tone(-55.0, 100, playing=True)  # 2 s, under the VAD's -50 dBFS
              + _tone(-47.0, 10, playing=True, start=100)  # the talkers
              + _tone(-55.0, 50, playing=True, start=110)
              + _tone(-30.0, 10, playing=True, start=160))  # the user
    assert _run(OnsetDetector(BargeIn(), Loud(-50.0)), frames) == [3.2]
    plain = OnsetDetector(BargeIn(min_over_room_db=None), Loud(-50.0))
    assert _run(plain, frames) == [2.0, 3.2]


def _typing(dbfs: float, frames: int, start: int) -> list[AudioFrame]:
    """``frames`` 20 ms frames over the assistant's playback, each a 0.5 ms keystroke at
    ``dbfs`` of the frame's power, over -55 dBFS of the room (the tone of :func:`_tone`)."""
    out = []
    for frame in _tone(-55.0, frames, playing=True, start=start):
        x = frame.samples.copy()
        x[200:212] += np.int16(round(10 ** (dbfs / 20) * 32768 * math.sqrt(FRAME / 12)))
        out.append(AudioFrame(x, RATE, frame.timestamp, reference=frame.reference))
    return out


def test_a_keystroke_is_judged_by_what_the_frame_holds_throughout() -> None:
    """A keystroke is as loud as a voice for half a millisecond: frames whose power is a
    tick's 25 dB over the room do not stand out of it, a voice as loud over the whole frame
    does."""
    room = _tone(-55.0, 100, playing=True)
    ticks = _typing(-30.0, 10, start=100)
    assert all(-31.0 < 10 * math.log10(float(np.mean((f.samples / 32768.0) ** 2))) < -29.0
               for f in ticks)
    voice = _tone(-30.0, 10, playing=True, start=160)
    assert _run(OnsetDetector(BargeIn(), Loud(-50.0)),
                room + ticks + _tone(-55.0, 50, playing=True, start=110) + voice) == [3.2]


def test_the_users_own_speech_is_not_the_room() -> None:
    """A user's confirmed speech, from its first frame, does not raise the room's level: what
    they say 0.4 s after 1.5 s of talking is judged against the room before, not their own
    voice (which would put the bar 10 dB over it)."""
    detector = OnsetDetector(BargeIn(rearm_silence_ms=300.0), Loud(-50.0))
    frames = (_tone(-55.0, 100, playing=True) + _tone(-30.0, 75, playing=True, start=100)
              + _tone(-55.0, 20, playing=True, start=175)
              + _tone(-30.0, 10, playing=True, start=195))
    assert _run(detector, frames) == [2.0, 3.9]
