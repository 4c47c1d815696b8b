"""The bulk-delay estimator: it finds the delay, finds a jump within a second even after a
louder stretch on the old path, and a moment of double talk does not move it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from realtalk.echo.delay import DelayEstimator

RATE = 16_000
BLOCK = RATE // 50  # 20 ms


def _delayed(x: npt.NDArray[np.float64], delay_ms: float) -> npt.NDArray[np.float64]:
    d = round(delay_ms * RATE / 1000)
    return np.concatenate((np.zeros(d), x[:len(x) - d]))


def _feed(est: DelayEstimator, ref: npt.NDArray[np.float64],
          mic: npt.NDArray[np.float64]) -> list[tuple[float, float | None]]:
    """(time in s, delay in ms) at every block where the estimate moved."""
    moves = []
    for i in range(0, len(ref) - BLOCK + 1, BLOCK):
        if est.process(ref[i:i + BLOCK], mic[i:i + BLOCK]):
            moves.append(((i + BLOCK) / RATE, est.delay_ms))
    return moves


def test_finds_a_delay_jump_within_a_second() -> None:
    """The old path's echo 12 dB louder than the new one's: the accumulated cross-spectrum
    alone takes about 1.5 s to let the new path win; agreeing single windows take < 1 s."""
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(8 * RATE) * 0.1
    change = 4 * RATE
    ref[:change] *= 4.0
    mic = np.concatenate((_delayed(ref, 80.0)[:change], _delayed(ref, 50.0)[change:]))
    mic += rng.standard_normal(len(mic)) * 0.01
    moves = _feed(DelayEstimator(RATE), ref, mic)
    assert moves[0][1] == 80.0
    when, delay = moves[1]
    assert delay == 50.0
    assert 4.0 < when < 5.0
    assert len(moves) == 2


def test_a_moment_of_double_talk_does_not_move_it() -> None:
    rng = np.random.default_rng(1)
    ref = rng.standard_normal(8 * RATE) * 0.1
    mic = _delayed(ref, 60.0) * 0.5
    talk = slice(4 * RATE, 5 * RATE)  # a second of someone far louder than the echo
    mic[talk] += rng.standard_normal(RATE) * 0.3
    moves = _feed(DelayEstimator(RATE), ref, mic)
    assert [delay for _, delay in moves] == [60.0]
