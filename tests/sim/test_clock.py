"""The virtual clock."""

from __future__ import annotations

import pytest

from realtalk.sim import VirtualClock


def test_clock_moves_only_forward_when_told() -> None:
    """advance moves forward; advance_to never moves back; negative advance is refused."""
    clock = VirtualClock(1.0)
    assert clock() == 1.0
    assert clock.advance(0.5) == 1.5
    assert clock.advance_to(1.0) == 1.5
    assert clock.advance_to(2.0) == 2.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-0.1)
