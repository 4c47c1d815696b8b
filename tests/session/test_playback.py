"""The playback tracker: heard versus received, per item."""

from __future__ import annotations

import pytest

from realtalk.session.playback import PlaybackTracker

RATE = 24_000


def test_heard_counts_only_played_samples() -> None:
    """Received audio is not heard until the output reports it played."""
    t = PlaybackTracker(RATE)
    t.enqueue(("a", 0), 2400)
    t.enqueue(("a", 0), 2400)
    assert t.received_ms(("a", 0)) == pytest.approx(200.0)
    assert t.heard_ms(("a", 0)) == 0.0
    t.update(3600)
    assert t.heard_ms(("a", 0)) == pytest.approx(150.0)
    assert t.buffered == 1200
    assert t.playing() == ("a", 0)


def test_items_are_attributed_in_queue_order() -> None:
    """When two items are queued back to back, each is credited with its own share."""
    t = PlaybackTracker(RATE)
    t.enqueue(("a", 0), 480)
    t.enqueue(("b", 0), 960)
    t.update(720)
    assert t.heard_ms(("a", 0)) == pytest.approx(20.0)
    assert t.heard_ms(("b", 0)) == pytest.approx(10.0)
    assert t.playing() == ("b", 0)
    t.update(1440)
    assert t.playing() is None
    assert t.heard_ms(("b", 0)) == pytest.approx(40.0)


def test_clear_drops_unplayed_and_keeps_positions_aligned() -> None:
    """After a clear, new audio is placed right after what was played."""
    t = PlaybackTracker(RATE)
    t.enqueue(("a", 0), 4800)
    t.update(1000)
    t.clear()
    assert t.buffered == 0
    assert t.written == 1000
    t.enqueue(("b", 0), 480)
    t.update(1480)
    assert t.heard_ms(("b", 0)) == pytest.approx(20.0)
    assert t.heard_ms(("a", 0)) == pytest.approx(1000 / 24)


def test_overreported_play_count_is_clamped() -> None:
    """An output claiming more than was queued cannot inflate what was heard."""
    t = PlaybackTracker(RATE)
    t.enqueue(("a", 0), 240)
    t.update(10_000)
    assert t.played == 240
    assert t.heard_ms(("a", 0)) == pytest.approx(10.0)


def test_backwards_play_count_is_ignored() -> None:
    """The played count is cumulative; a smaller report is ignored."""
    t = PlaybackTracker(RATE)
    t.enqueue(("a", 0), 480)
    t.update(400)
    t.update(100)
    assert t.played == 400
