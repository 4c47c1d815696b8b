"""Latency marks of one interruption, stamped with the caller's monotonic clock (seconds)."""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = ("DetectionSource", "InterruptionLatency")

DetectionSource = Literal["local", "server_vad", "manual"]
"""Who noticed the user talking: the local detector, the server's VAD, or the app."""


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start) * 1000.0


@attrs.frozen(kw_only=True)
class InterruptionLatency:
    """When each step of a barge-in happened.

    Attributes:
        onset: when the user's speech began (capture time of its first audio), if known.
        ducked: when playback was ducked on the first frames of probable speech (``None``:
            no ducking, or it came with the confirmation).
        detected: when the barge-in was confirmed.
        playback_stopped: when the output was told to stop: for a reply that paused while
            the interruption was decided, when it paused (its queue is cleared at the
            decision); otherwise when it stopped and its queue was cleared.
        cancel_sent: when ``response.cancel`` left for the wire (``None`` if none was needed).
        truncate_sent: when ``conversation.item.truncate`` left for the wire.
        acknowledged: when upstream confirmed (``response.done`` of the cancelled response).
    """

    onset: float | None
    detected: float
    ducked: float | None = None
    playback_stopped: float | None = None
    cancel_sent: float | None = None
    truncate_sent: float | None = None
    acknowledged: float | None = None

    @property
    def stop_ms(self) -> float | None:
        """Speech onset -> playback stopped: how long the user talked over the assistant."""
        return _ms(self.onset, self.playback_stopped)

    @property
    def duck_ms(self) -> float | None:
        """Speech onset -> playback ducked: how soon the assistant audibly yielded."""
        return _ms(self.onset, self.ducked)

    @property
    def detect_ms(self) -> float | None:
        """Speech onset -> detection."""
        return _ms(self.onset, self.detected)

    @property
    def detect_to_cancel_ms(self) -> float | None:
        """Detection -> ``response.cancel`` sent: how long the decision took to reach the wire."""
        return _ms(self.detected, self.cancel_sent)

    @property
    def cancel_to_ack_ms(self) -> float | None:
        """``response.cancel`` sent -> upstream ``response.done``: the network round trip."""
        return _ms(self.cancel_sent, self.acknowledged)
