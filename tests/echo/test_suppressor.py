"""The residual echo suppressor learns fast where the bin is coherent echo and slowly where it
may be the user, and spares bins the user dominates."""

from __future__ import annotations

import numpy as np

from realtalk.echo.suppressor import ResidualEchoSuppressor

BINS = 8


def _ratio_after(coherence: float, blocks: int = 25) -> float:
    """Learned ratio (dB) after ``blocks`` of output 10 dB above what it predicted at first."""
    sup = ResidualEchoSuppressor(BINS)
    ref = np.ones(BINS)
    for _ in range(200):  # learn a -30 dB residual
        sup.gains(np.full(BINS, 1e-3), ref, True, np.ones(BINS))
    for _ in range(blocks):  # the echo path changed: 10 dB louder
        sup.gains(np.full(BINS, 1e-2), ref, True, np.full(BINS, coherence))
    return float(10 * np.log10(sup.residual[0]))


def test_the_ratio_rises_fast_only_where_the_bin_is_coherent_echo() -> None:
    assert _ratio_after(1.0) > -24.0  # half a second: within 3 dB of the new level
    assert _ratio_after(0.0) < -28.0  # the user's voice barely moves it


def test_a_bin_the_user_dominates_passes() -> None:
    sup = ResidualEchoSuppressor(BINS)
    ref = np.ones(BINS)
    for _ in range(50):
        sup.gains(np.full(BINS, 1e-3), ref, True, np.ones(BINS))
    for _ in range(5):  # the user, 30 dB louder than the residual; the gain releases
        gains = sup.gains(np.full(BINS, 1.0), ref, True, np.zeros(BINS))
    assert gains[1:-1].min() > 0.9  # (the edge bins are smoothed against nothing)
