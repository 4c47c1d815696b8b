"""Tests for realtalk.relay.metrics: hop reservoirs and their summary."""

from __future__ import annotations

import json

import pytest

from realtalk.relay.metrics import HopTimes, LatencySummary, RelayedEvent, RelayMetrics


def test_summary_percentiles_in_milliseconds() -> None:
    """p50/p99/max of nanosecond samples, reported in ms; zeros when empty."""
    summary = LatencySummary.of([i * 1_000_000 for i in range(1, 101)])  # 1..100 ms
    assert summary.count == 100
    assert summary.p50_ms == pytest.approx(50.5)
    assert summary.p99_ms == pytest.approx(99.01)
    assert summary.max_ms == 100.0
    assert LatencySummary.of([]) == LatencySummary(0, 0.0, 0.0, 0.0)


def test_hop_times_keep_the_most_recent_samples() -> None:
    """The reservoir is bounded; the count covers every frame ever recorded."""
    times = HopTimes(capacity=10)
    for i in range(25):
        times.add(1000, 1000 + i)
    assert times.count == 25
    assert times.samples_ns() == list(range(15, 25))
    times.clear()
    assert times.samples_ns() == [] and times.count == 25


def test_snapshot_groups_hops_and_serialises_to_json() -> None:
    """Hops per direction/kind, an overall summary, frame counts, and JSON-ready data."""
    metrics = RelayMetrics()
    metrics.hop("client_to_upstream", "audio").add(0, 1_000_000)
    metrics.hop("client_to_upstream", "control").add(0, 3_000_000)
    metrics.hop("upstream_to_client", "audio").add(0, 2_000_000)
    metrics.refusals["rate_limit_exceeded"] += 2
    metrics.loop_lag.add(0, 500_000)
    snapshot = metrics.snapshot()
    assert snapshot.frames == {"client_to_upstream": 2, "upstream_to_client": 1}
    assert snapshot.hops["client_to_upstream/control"].max_ms == 3.0
    assert snapshot.hops["upstream_to_client/control"].count == 0
    assert snapshot.added.count == 3 and snapshot.added.max_ms == 3.0
    assert snapshot.loop_lag.p50_ms == 0.5
    data = json.loads(json.dumps(snapshot.to_dict()))
    assert data["refusals"] == {"rate_limit_exceeded": 2}
    assert data["hops"]["client_to_upstream/audio"]["p50_ms"] == 1.0
    metrics.reset_latency()
    assert metrics.snapshot().added.count == 0
    assert metrics.snapshot().frames["client_to_upstream"] == 2


def test_a_relayed_event_reports_its_time_in_the_relay() -> None:
    """added_ms is the gap between the two stamps."""
    event = RelayedEvent(session_id="s", direction="client_to_upstream", type="response.cancel",
                         payload={}, received_ns=1_000_000, forwarded_ns=1_250_000)
    assert event.added_ms == 0.25
