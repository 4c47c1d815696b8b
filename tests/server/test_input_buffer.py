"""Tests for realtalk.server.input_buffer: buffered input audio and detected turns."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from realtalk.server.input_buffer import InputBuffer, TurnEnded, TurnStarted
from realtalk.server.session import DEFAULT_TURN_DETECTION

RATE = 24_000


def _pcm(samples: npt.NDArray[np.int16]) -> bytes:
    return samples.astype("<i2").tobytes()


def _silence(ms: int) -> bytes:
    return bytes(ms * 48)


def _loud(ms: int) -> bytes:
    t = np.arange(ms * RATE // 1000) / RATE
    return _pcm((3000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16))


def test_manual_buffer_commits_everything() -> None:
    """Without turn detection, appends accumulate and commit takes them all."""
    buffer = InputBuffer()
    assert buffer.append(_loud(300)) == []
    assert buffer.append(_silence(200)) == []
    assert buffer.buffered_ms == 500
    assert len(buffer.commit()) == 500 * 48
    assert buffer.buffered_ms == 0


def test_detected_turn_carries_padded_audio() -> None:
    """A turn's audio starts prefix_padding_ms before the onset and ends at the decision."""
    buffer = InputBuffer()
    buffer.configure(DEFAULT_TURN_DETECTION)
    events = buffer.append(_silence(1000) + _loud(400) + _silence(600))
    assert [type(e) for e in events] == [TurnStarted, TurnEnded]
    started, ended = events
    assert isinstance(started, TurnStarted)
    assert isinstance(ended, TurnEnded)
    assert started.audio_start_ms == 1000
    assert ended.audio_end_ms == 1400
    assert len(ended.audio) == (300 + 400 + 500) * 48  # padding + speech + confirming silence
    assert buffer.buffered_ms == 100  # what followed the decision stays buffered


def test_long_silence_does_not_grow_the_buffer() -> None:
    """Between turns only the padding window (plus a margin) is kept."""
    buffer = InputBuffer()
    buffer.configure(DEFAULT_TURN_DETECTION)
    for _ in range(100):
        buffer.append(_silence(100))
    assert buffer.buffered_ms <= 1300


def test_commit_during_a_turn_ends_it() -> None:
    """A manual commit mid-turn takes the padded turn audio and closes the turn."""
    buffer = InputBuffer()
    buffer.configure(DEFAULT_TURN_DETECTION)
    buffer.append(_silence(1000) + _loud(200))
    assert buffer.in_turn
    assert len(buffer.commit()) == (300 + 200) * 48
    assert not buffer.in_turn
    assert buffer.append(_silence(1000)) == []


def test_clear_and_turning_detection_off() -> None:
    """clear() drops audio and the open turn; configure(None) stops detection."""
    buffer = InputBuffer()
    buffer.configure(DEFAULT_TURN_DETECTION)
    buffer.append(_loud(200))
    buffer.clear()
    assert buffer.buffered_ms == 0
    assert not buffer.in_turn
    buffer.configure(None)
    assert buffer.append(_loud(500) + _silence(1000)) == []
