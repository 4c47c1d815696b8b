"""NearEndLog: the audio's opinion on an utterance, from the detector's per-frame decisions
and whether the speaker was playing."""

from __future__ import annotations

import pytest

from realtalk.echo import NearEndLog
from realtalk.errors import ConfigurationError

LOUD = 1e-3  # a reference frame at -30 dBFS (mean square, full scale 1)
SILENT = 0.0
FRAME = 0.02


def _feed(log: NearEndLog, start: float, seconds: float, *, speech: bool | None,
          reference: float | None) -> None:
    for i in range(round(seconds / FRAME)):
        log.record(start + i * FRAME, FRAME, speech=speech, reference_mean_square=reference)


def test_the_user_heard_in_the_utterance() -> None:
    log = NearEndLog()
    _feed(log, 0.0, 1.0, speech=False, reference=LOUD)
    _feed(log, 1.0, 0.2, speech=True, reference=LOUD)
    _feed(log, 1.2, 0.5, speech=False, reference=LOUD)
    assert log.opinion(0.9, 1.5) is True


def test_playback_and_no_user_heard_is_echo() -> None:
    log = NearEndLog()
    _feed(log, 0.0, 2.0, speech=False, reference=LOUD)
    assert log.opinion(0.5, 1.5) is False


def test_too_little_speech_does_not_make_it_the_user() -> None:
    """A click or a 40 ms blip the detector let through is not an utterance."""
    log = NearEndLog(min_heard_ms=100.0)
    _feed(log, 0.0, 1.0, speech=False, reference=LOUD)
    _feed(log, 1.0, 0.04, speech=True, reference=LOUD)
    _feed(log, 1.04, 1.0, speech=False, reference=LOUD)
    assert log.opinion(0.8, 1.6) is False


def test_scattered_frames_do_not_add_up_to_the_user() -> None:
    """Residual echo that slips through the gate a frame at a time, over a long utterance."""
    log = NearEndLog(min_heard_ms=100.0)
    for i in range(100):
        log.record(i * FRAME, FRAME, speech=i % 4 == 0, reference_mean_square=LOUD)
    assert log.opinion(0.0, 2.0) is False


def test_nothing_playing_cannot_be_echo() -> None:
    log = NearEndLog()
    _feed(log, 0.0, 2.0, speech=False, reference=SILENT)
    assert log.opinion(0.5, 1.5) is True


def test_echo_may_still_arrive_just_after_playback_stops() -> None:
    log = NearEndLog(echo_tail_ms=300.0, margin_ms=0.0)
    _feed(log, 0.0, 1.0, speech=False, reference=LOUD)
    _feed(log, 1.0, 2.0, speech=False, reference=SILENT)
    assert log.opinion(1.1, 1.2) is False  # inside the tail
    assert log.opinion(1.5, 2.0) is True  # well after it


def test_unknown_without_a_detector_a_reference_or_a_span() -> None:
    log = NearEndLog()
    _feed(log, 0.0, 1.0, speech=None, reference=LOUD)
    assert log.opinion(0.2, 0.8) is None  # no detector ran
    log.reset()
    _feed(log, 0.0, 1.0, speech=False, reference=None)
    assert log.opinion(0.2, 0.8) is None  # no reference: cannot tell echo from a quiet user
    log.reset()
    _feed(log, 0.0, 1.0, speech=True, reference=None)
    assert log.opinion(0.2, 0.8) is None  # nor echo from the user the VAD hears
    log.reset()
    assert log.opinion(None, None) is None  # no server VAD span
    assert log.opinion(5.0, 6.0) is None  # never sent


def test_an_open_ended_span_runs_to_the_newest_frame() -> None:
    log = NearEndLog()
    _feed(log, 0.0, 1.0, speech=False, reference=LOUD)
    _feed(log, 1.0, 0.3, speech=True, reference=LOUD)
    assert log.opinion(0.5, None) is True


def test_old_frames_are_forgotten() -> None:
    log = NearEndLog(keep_s=5.0)
    _feed(log, 0.0, 20.0, speech=False, reference=LOUD)
    assert log.opinion(1.0, 2.0) is None
    assert log.opinion(18.0, 19.0) is False


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="min_heard_ms"):
        NearEndLog(min_heard_ms=-1.0)


def test_the_old_keyword_still_works_with_a_deprecation_warning() -> None:
    """min_speech_ms is min_heard_ms's old name: same meaning, for one more release."""
    with pytest.warns(DeprecationWarning, match="min_heard_ms"):
        log = NearEndLog(min_speech_ms=200.0)
    assert log.min_heard_s == pytest.approx(0.2)
    with pytest.warns(DeprecationWarning, match="min_speech_ms"), \
            pytest.raises(ConfigurationError, match="min_speech_ms must be >= 0"):
        NearEndLog(min_speech_ms=-1.0)
    with pytest.warns(DeprecationWarning, match="min_speech_ms"), \
            pytest.raises(ConfigurationError, match="both"):
        NearEndLog(min_heard_ms=150.0, min_speech_ms=200.0)
