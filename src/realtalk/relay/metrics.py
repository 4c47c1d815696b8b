"""The relay's own measurements: per-hop timing stamps, counters, and their summary.

Every forwarded frame is stamped four ways, with :func:`time.perf_counter_ns`:

- *client -> relay*: when the relay has the client's frame in hand;
- *relay -> upstream*: when the upstream connection has accepted it;
- *upstream -> relay*: when the relay has the upstream's frame in hand;
- *relay -> client*: when the client connection has accepted it.

The latency a relay adds to a frame is the gap between its two stamps. Gaps are kept per
direction and per kind (``audio`` for appends and audio deltas, ``control`` for everything else,
the barge-in's ``response.cancel`` and ``conversation.item.truncate`` among them), in bounded
reservoirs of the most recent samples, and summarised as p50 / p99 / max.

A frame also waits *before* the first stamp when the event loop is busy; :attr:`loop_lag`
measures that wait directly (how late a timer of the relay's own fires), so
``hop + loop lag`` bounds what a client sees.

:class:`RelayedEvent` carries one control frame's stamps to an app's hook, for traces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import numpy as np

__all__ = ("Direction", "FrameKind", "HopTimes", "LatencySummary", "RelayedEvent",
           "RelayMetrics", "MetricsSnapshot")

Direction = Literal["client_to_upstream", "upstream_to_client"]
FrameKind = Literal["audio", "control"]

_DIRECTIONS: tuple[Direction, ...] = ("client_to_upstream", "upstream_to_client")
_KINDS: tuple[FrameKind, ...] = ("audio", "control")


@attrs.frozen
class LatencySummary:
    """Percentiles of a set of latency samples, in milliseconds (zeros when there are none)."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> LatencySummary:
        """Summarise samples given in nanoseconds."""
        if not samples_ns:
            return cls(0, 0.0, 0.0, 0.0)
        values = np.asarray(samples_ns, dtype=np.float64) / 1e6
        p50, p99 = np.percentile(values, [50, 99])
        return cls(len(samples_ns), round(float(p50), 4), round(float(p99), 4),
                   round(float(values.max()), 4))

    def to_dict(self) -> dict[str, float]:
        """``{"count", "p50_ms", "p99_ms", "max_ms"}``."""
        return attrs.asdict(self)


class HopTimes:
    """The most recent relay-added latencies of one direction and kind (a bounded reservoir).

    Args:
        capacity: how many of the latest samples to keep.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._samples: list[int] = []
        self.count = 0

    def add(self, received_ns: int, forwarded_ns: int) -> None:
        """Record one frame's two stamps (cheap: one append, an occasional trim)."""
        self._samples.append(forwarded_ns - received_ns)
        self.count += 1
        if len(self._samples) >= 2 * self._capacity:
            del self._samples[: len(self._samples) - self._capacity]

    def samples_ns(self) -> list[int]:
        """The kept samples, oldest first."""
        return self._samples[-self._capacity:]

    def clear(self) -> None:
        """Drop the kept samples (the count stays)."""
        self._samples.clear()


@attrs.frozen(kw_only=True)
class RelayedEvent:
    """A control frame the relay forwarded, with its stamps (for an app's ``on_event`` hook).

    Attributes:
        session_id: the relay session.
        direction: ``"client_to_upstream"`` or ``"upstream_to_client"``.
        type: the event type.
        payload: the decoded frame.
        received_ns, forwarded_ns: the two :func:`time.perf_counter_ns` stamps.
        audio_sent_ms: for ``conversation.item.truncate``, the milliseconds of that item's
            audio the relay had forwarded to the client (what it can have heard at most).
    """

    session_id: str
    direction: Direction
    type: str
    payload: Mapping[str, Any]
    received_ns: int
    forwarded_ns: int
    audio_sent_ms: float | None = None

    @property
    def added_ms(self) -> float:
        """Time the frame spent in the relay."""
        return (self.forwarded_ns - self.received_ns) / 1e6


@attrs.frozen(kw_only=True)
class MetricsSnapshot:
    """A point-in-time copy of :class:`RelayMetrics` (``to_dict()`` is what ``/metrics`` serves).

    Attributes:
        sessions_active, sessions_opened: client sessions now, and since start.
        handshakes_refused: refused handshakes by reason.
        refusals: error events sent for refused client frames, by code.
        upstream_failures: by kind (``connect``, ``dropped``, ``timeout``).
        tool_calls: the relay's own tool calls: ``started`` (a function began), ``finished``
            (it returned), ``errors`` (answered with an error: unknown tool, bad arguments,
            the function raised or timed out), ``cancelled`` (stopped, or never run).
        frames: forwarded frames by direction.
        hops: relay-added latency per ``"direction/kind"``.
        added: relay-added latency over every forwarded frame.
        loop_lag: how late the relay's event loop ran a timer (the wait a frame sees before
            its first stamp).
    """

    sessions_active: int
    sessions_opened: int
    handshakes_refused: Mapping[str, int]
    refusals: Mapping[str, int]
    upstream_failures: Mapping[str, int]
    tool_calls: Mapping[str, int]
    frames: Mapping[str, int]
    hops: Mapping[str, LatencySummary]
    added: LatencySummary
    loop_lag: LatencySummary

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as JSON-ready data."""
        return {
            "sessions_active": self.sessions_active,
            "sessions_opened": self.sessions_opened,
            "handshakes_refused": dict(self.handshakes_refused),
            "refusals": dict(self.refusals),
            "upstream_failures": dict(self.upstream_failures),
            "tool_calls": dict(self.tool_calls),
            "frames": dict(self.frames),
            "hops": {name: summary.to_dict() for name, summary in self.hops.items()},
            "added": self.added.to_dict(),
            "loop_lag": self.loop_lag.to_dict(),
        }


class RelayMetrics:
    """Counters and latency reservoirs of one relay process.

    Args:
        capacity: latency samples kept per direction and kind (the most recent ones).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.sessions_active = 0
        self.sessions_opened = 0
        self.handshakes_refused: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.upstream_failures: Counter[str] = Counter()
        self.tool_calls: Counter[str] = Counter()
        self._hops = {(d, k): HopTimes(capacity) for d in _DIRECTIONS for k in _KINDS}
        self.loop_lag = HopTimes(capacity)

    def hop(self, direction: Direction, kind: FrameKind) -> HopTimes:
        """The reservoir of one direction and kind (sessions keep a reference: no lookups on
        the hot path)."""
        return self._hops[(direction, kind)]

    def reset_latency(self) -> None:
        """Drop the latency samples, e.g. after a benchmark's warm-up."""
        for times in self._hops.values():
            times.clear()
        self.loop_lag.clear()

    def snapshot(self) -> MetricsSnapshot:
        """Copy the counters and summarise the latencies."""
        frames: Counter[str] = Counter()
        every: list[int] = []
        hops: dict[str, LatencySummary] = {}
        for (direction, kind), times in self._hops.items():
            frames[direction] += times.count
            samples = times.samples_ns()
            every.extend(samples)
            hops[f"{direction}/{kind}"] = LatencySummary.of(samples)
        return MetricsSnapshot(
            sessions_active=self.sessions_active,
            sessions_opened=self.sessions_opened,
            handshakes_refused=dict(self.handshakes_refused),
            refusals=dict(self.refusals),
            upstream_failures=dict(self.upstream_failures),
            tool_calls=dict(self.tool_calls),
            frames=dict(frames),
            hops=hops,
            added=LatencySummary.of(every),
            loop_lag=LatencySummary.of(self.loop_lag.samples_ns()),
        )
