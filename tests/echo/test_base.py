"""EchoFilterChain: filters run in order on each other's output, and the residual estimate
is the last one any stage gave."""

from __future__ import annotations

import numpy as np

from realtalk.audio import AudioFrame
from realtalk.echo import EchoFilterChain, EchoResult
from realtalk.testing import RecordingEchoFilter

RATE = 16_000


class Halve:
    """Halves the samples, so that each stage's effect on the frame is visible."""

    def __init__(self, residual_echo: float | None) -> None:
        self.residual_echo = residual_echo
        self.resets = 0

    def process(self, frame: AudioFrame) -> EchoResult:
        samples = (frame.samples // 2).astype(np.int16)
        return EchoResult(AudioFrame(samples, frame.sample_rate, frame.timestamp,
                                     reference=frame.reference), self.residual_echo)

    def reset(self) -> None:
        self.resets += 1


def _frame() -> AudioFrame:
    return AudioFrame(np.full(320, 800, np.int16), RATE, 1.5,
                      reference=np.full(320, 7, np.int16))


def test_each_filter_gets_the_output_of_the_one_before() -> None:
    first, spy = Halve(None), RecordingEchoFilter()
    result = EchoFilterChain([first, Halve(None), spy]).process(_frame())
    (seen,) = spy.frames
    assert np.all(seen.samples == 200)  # halved twice before it
    assert seen.timestamp == 1.5
    assert seen.reference is not None and np.all(seen.reference == 7)
    assert result.frame is seen  # the last stage's frame is the chain's


def test_the_residual_is_the_last_one_given() -> None:
    """A later stage that cannot tell (``None``) keeps the estimate an earlier one gave; a
    later stage with an estimate replaces it."""
    assert EchoFilterChain([Halve(0.5), Halve(None)]).process(_frame()).residual_echo == 0.5
    assert EchoFilterChain([Halve(0.5), Halve(0.01)]).process(_frame()).residual_echo == 0.01
    assert EchoFilterChain([Halve(None), Halve(None)]).process(_frame()).residual_echo is None


def test_an_empty_chain_passes_the_frame_through() -> None:
    frame = _frame()
    result = EchoFilterChain([]).process(frame)
    assert result.frame is frame
    assert result.residual_echo is None


def test_reset_resets_every_filter() -> None:
    stages = [Halve(None), Halve(0.1)]
    chain = EchoFilterChain(stages)
    chain.reset()
    chain.reset()
    assert [s.resets for s in stages] == [2, 2]
    assert chain.filters == tuple(stages)
