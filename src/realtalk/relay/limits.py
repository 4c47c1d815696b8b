"""Size, rate and concurrency limits, and the per-client rate limiter (sans-I/O).

Real-time audio is about 50 frames and 64 KB (base64) a second from a client; the defaults
leave several times that of headroom, so only a misbehaving client meets them. A frame over a
limit is refused with an ``error`` event; a client that keeps violating the rules is
disconnected (close code 1008) after :attr:`RelayLimits.max_violations` refusals.
"""

from __future__ import annotations

from typing import Any

import attrs

from ..errors import ConfigurationError
from .frames import DEFAULT_MAX_JSON_DEPTH, MESSAGE_TOO_LARGE, RATE_LIMIT_EXCEEDED, Refusal

__all__ = ("RelayLimits", "RateLimiter", "positive")


def positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """An attrs validator: ``value`` must be > 0 (the error names the class and field)."""
    if not value > 0:
        raise ConfigurationError(
            f"{type(instance).__name__}.{attribute.name} must be > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class RelayLimits:
    """The relay's limits.

    Attributes:
        max_sessions: concurrent client sessions per relay process; more are refused at the
            handshake (HTTP 503).
        max_message_bytes: the largest client frame forwarded; larger ones get an error event.
            Frames over four times this are cut off by the WebSocket layer (close code 1009)
            before they are even buffered whole.
        events_per_second, event_burst: a token bucket on client frames.
        bytes_per_second, byte_burst: a token bucket on client bytes.
        max_violations: refusals (of any kind) after which the client is disconnected;
            0 never disconnects.
        max_json_depth: how deep a client frame's JSON may nest (objects and arrays);
            deeper frames are refused as ``invalid_json``.

    Raises:
        ConfigurationError: a limit that is not positive, an event burst under one frame, or
            a byte burst smaller than the largest frame (which could then never pass).
    """

    max_sessions: int = attrs.field(default=1000, validator=positive)
    max_message_bytes: int = attrs.field(default=1 << 20, validator=positive)
    events_per_second: float = attrs.field(default=200.0, validator=positive)
    event_burst: float = attrs.field(default=400.0, validator=positive)
    bytes_per_second: float = attrs.field(default=512_000.0, validator=positive)
    byte_burst: float = attrs.field(default=2_000_000.0, validator=positive)
    max_violations: int = attrs.field(default=50, validator=attrs.validators.ge(0))
    max_json_depth: int = attrs.field(default=DEFAULT_MAX_JSON_DEPTH, validator=positive)

    def __attrs_post_init__(self) -> None:
        if self.event_burst < 1:
            raise ConfigurationError(
                f"RelayLimits.event_burst must be at least 1 frame, got {self.event_burst!r}")
        if self.byte_burst < self.max_message_bytes:
            raise ConfigurationError(
                f"RelayLimits.byte_burst ({self.byte_burst:g}) must be at least "
                f"max_message_bytes ({self.max_message_bytes}), or the largest frames never pass")

    @property
    def hard_message_bytes(self) -> int:
        """The WebSocket layer's own frame size cap."""
        return 4 * self.max_message_bytes


class RateLimiter:
    """One client's token buckets: frames and bytes per second, with bursts.

    Sans-I/O: :meth:`admit` takes the current time (any monotonic clock, in seconds).
    """

    def __init__(self, limits: RelayLimits, now: float) -> None:
        self._limits = limits
        self._events = limits.event_burst
        self._bytes = limits.byte_burst
        self._last = now

    def admit(self, size: int, now: float) -> Refusal | None:
        """Take one frame of ``size`` bytes; ``None`` if it is within the limits, else why not.

        A refused frame costs nothing, so a client that slows down is served again at once.
        """
        limits = self._limits
        if size > limits.max_message_bytes:
            return Refusal(MESSAGE_TOO_LARGE,
                           f"The message is {size} bytes; this relay accepts at most "
                           f"{limits.max_message_bytes}.")
        elapsed = max(0.0, now - self._last)
        self._last = max(self._last, now)
        self._events = min(limits.event_burst, self._events + elapsed * limits.events_per_second)
        self._bytes = min(limits.byte_burst, self._bytes + elapsed * limits.bytes_per_second)
        if self._events < 1.0:
            return Refusal(RATE_LIMIT_EXCEEDED,
                           f"Too many events: this relay allows {limits.events_per_second:g} a "
                           f"second (bursts of {limits.event_burst:g}).")
        if self._bytes < size:
            return Refusal(RATE_LIMIT_EXCEEDED,
                           f"Too much data: this relay allows {limits.bytes_per_second:g} bytes "
                           f"a second (bursts of {limits.byte_burst:g}).")
        self._events -= 1.0
        self._bytes -= size
        return None
