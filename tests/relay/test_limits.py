"""Tests for realtalk.relay.limits: the per-client token buckets."""

from __future__ import annotations

import pytest

from realtalk.errors import ConfigurationError
from realtalk.relay.limits import RateLimiter, RelayLimits


def test_the_event_bucket_allows_a_burst_then_the_rate() -> None:
    """A full bucket admits `burst` frames at once, then one per 1/rate seconds."""
    limiter = RateLimiter(RelayLimits(events_per_second=10, event_burst=3), now=0.0)
    assert [limiter.admit(10, 0.0) for _ in range(3)] == [None, None, None]
    refusal = limiter.admit(10, 0.0)
    assert refusal is not None and refusal.code == "rate_limit_exceeded"
    assert "10 a second" in refusal.message
    assert limiter.admit(10, 0.05) is not None  # half a token
    assert limiter.admit(10, 0.1) is None  # one token refilled
    assert limiter.admit(10, 100.0) is None  # refills stop at the burst
    assert [limiter.admit(10, 100.0) for _ in range(3)].count(None) == 2


def test_the_byte_bucket_limits_throughput() -> None:
    """Bytes are metered separately: big frames run out before the frame count does."""
    limits = RelayLimits(bytes_per_second=1000, byte_burst=2000, max_message_bytes=1500)
    limiter = RateLimiter(limits, now=0.0)
    assert limiter.admit(1500, 0.0) is None
    refusal = limiter.admit(1000, 0.0)
    assert refusal is not None and "bytes" in refusal.message
    assert limiter.admit(500, 0.0) is None  # what is left still fits
    assert limiter.admit(1000, 1.0) is None


def test_oversized_frames_are_refused_without_spending_tokens() -> None:
    """A frame over max_message_bytes is refused with message_too_large, at no cost."""
    limiter = RateLimiter(RelayLimits(max_message_bytes=100, event_burst=1), now=0.0)
    refusal = limiter.admit(101, 0.0)
    assert refusal is not None and refusal.code == "message_too_large"
    assert "101" in refusal.message and "100" in refusal.message
    assert limiter.admit(100, 0.0) is None
    assert RelayLimits(max_message_bytes=100).hard_message_bytes == 400


def test_a_clock_going_backwards_never_adds_tokens() -> None:
    """Elapsed time is clamped at zero."""
    limiter = RateLimiter(RelayLimits(events_per_second=1, event_burst=1), now=10.0)
    assert limiter.admit(1, 10.0) is None
    assert limiter.admit(1, 5.0) is not None
    assert limiter.admit(1, 10.5) is not None


@pytest.mark.parametrize("field", ["max_sessions", "max_message_bytes", "events_per_second",
                                   "event_burst", "bytes_per_second", "byte_burst"])
def test_limits_must_be_positive(field: str) -> None:
    """Zero or negative limits are configuration errors naming the field."""
    with pytest.raises(ConfigurationError, match=f"RelayLimits.{field} must be > 0, got 0"):
        RelayLimits(**{field: 0})


def test_bursts_must_let_a_frame_through() -> None:
    """A burst under one frame, or under the largest frame's size, is refused."""
    with pytest.raises(ConfigurationError, match=r"event_burst must be at least 1 frame, got 0\.5"):
        RelayLimits(event_burst=0.5)
    with pytest.raises(ConfigurationError, match=r"byte_burst \(1000\) must be at least "
                       r"max_message_bytes \(2000\)"):
        RelayLimits(byte_burst=1000, max_message_bytes=2000)
