"""InterruptionLatency: each span in milliseconds between two marks, None when either mark is
missing."""

from __future__ import annotations

import attrs
import pytest

from realtalk.session import InterruptionLatency

FULL = InterruptionLatency(onset=10.0, ducked=10.02, detected=10.12, playback_stopped=10.125,
                           cancel_sent=10.126, truncate_sent=10.127, acknowledged=10.2)


def test_every_span_of_a_full_barge_in() -> None:
    assert FULL.duck_ms == pytest.approx(20.0)
    assert FULL.detect_ms == pytest.approx(120.0)
    assert FULL.stop_ms == pytest.approx(125.0)
    assert FULL.detect_to_cancel_ms == pytest.approx(6.0)
    assert FULL.cancel_to_ack_ms == pytest.approx(74.0)


def test_a_span_with_a_missing_mark_is_none() -> None:
    """No onset (a manual interruption), no ducking, no cancel (the response had ended), no
    acknowledgement yet: only the spans whose both ends are known have a value."""
    manual = InterruptionLatency(onset=None, detected=5.0, playback_stopped=5.001)
    assert (manual.stop_ms, manual.duck_ms, manual.detect_ms) == (None, None, None)
    assert manual.detect_to_cancel_ms is None and manual.cancel_to_ack_ms is None
    unacknowledged = attrs.evolve(FULL, acknowledged=None)
    assert unacknowledged.cancel_to_ack_ms is None
    assert unacknowledged.detect_to_cancel_ms == pytest.approx(6.0)
    no_cancel = attrs.evolve(FULL, cancel_sent=None)
    assert no_cancel.detect_to_cancel_ms is None and no_cancel.cancel_to_ack_ms is None


def test_only_onset_and_detection_are_required_and_all_are_keywords() -> None:
    latency = InterruptionLatency(onset=1.0, detected=1.1)
    assert (latency.ducked, latency.playback_stopped, latency.cancel_sent,
            latency.truncate_sent, latency.acknowledged) == (None,) * 5
    with pytest.raises(TypeError):
        InterruptionLatency(1.0, 1.1)  # type: ignore[call-arg]


def test_marks_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        FULL.acknowledged = 11.0  # type: ignore[misc]
