"""The playback gain ramp."""

from __future__ import annotations

import numpy as np
import pytest

from realtalk.audio.gain import GainRamp


def test_unity_gain_leaves_audio_untouched() -> None:
    """At unity gain the block is returned as is."""
    block = np.arange(10, dtype=np.int16)
    assert GainRamp(24_000).apply(block) is block


def test_ramp_is_linear_and_block_size_invariant() -> None:
    """A 1 ms ramp to 0.5 over 24 samples is linear, whatever the block split."""
    tone = np.full(100, 10_000, dtype=np.int16)
    whole = GainRamp(24_000)
    whole.set(0.5, ramp_ms=1.0)
    one = whole.apply(tone)
    split = GainRamp(24_000)
    split.set(0.5, ramp_ms=1.0)
    parts = np.concatenate([split.apply(tone[:7]), split.apply(tone[7:30]), split.apply(tone[30:])])
    assert (one == parts).all()
    assert one[23] == 5000
    assert one[-1] == 5000
    assert np.all(np.diff(one[:24].astype(int)) < 0)


def test_reset_and_immediate_changes() -> None:
    """ramp_ms=0 changes at once; reset returns to unity."""
    ramp = GainRamp(24_000)
    ramp.set(0.25, ramp_ms=0)
    assert ramp.apply(np.full(4, 400, dtype=np.int16)).tolist() == [100] * 4
    ramp.reset()
    assert ramp.current == pytest.approx(1.0)
