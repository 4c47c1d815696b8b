"""Tests for realtalk.server.playout: when a response's audio is released."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realtalk.server.playout import Playout
from realtalk.server.voice import SpeechAudio, SyntheticVoice, WordTiming


def _speech(ms: int) -> SpeechAudio:
    words = (WordTiming("one", 0.0, 90.0), WordTiming("two", 150.0, 240.0),
             WordTiming("three", 250.0, ms - 10.0))
    return SpeechAudio(samples=np.ones(ms * 24, dtype=np.int16), words=words)


def test_chunks_follow_latency_and_speed() -> None:
    """Chunk k is due at start + latency + k * chunk_ms / speed."""
    playout = Playout(_speech(450), start=2.0, first_audio_latency_ms=100, chunk_ms=100,
                      generation_speed=2.0)
    assert playout.schedule.next_deadline() == pytest.approx(2.1)
    assert playout.release(2.09) == []
    assert [c.index for c in playout.release(2.1)] == [0]
    assert playout.schedule.next_deadline() == pytest.approx(2.15)
    assert [c.index for c in playout.release(2.31)] == [1, 2, 3, 4]
    assert playout.schedule.finished
    assert playout.schedule.next_deadline() is None
    assert playout.schedule.finish_time() == pytest.approx(2.3)


def test_words_travel_with_the_chunk_where_they_start() -> None:
    """Each chunk carries the words starting inside it; the last chunk is partial."""
    chunks = Playout(_speech(450), start=0.0, first_audio_latency_ms=0, chunk_ms=100,
                     generation_speed=math.inf).release(0.0)
    assert [[w.word for w in c.words] for c in chunks] == [["one"], ["two"], ["three"], [], []]
    assert [len(c.audio) for c in chunks] == [4800, 4800, 4800, 4800, 2400]


def test_infinite_speed_releases_everything_at_first_audio() -> None:
    """generation_speed=inf releases the whole reply when the latency has passed."""
    speech = SyntheticVoice().synthesize("A reply of a few words.")
    playout = Playout(speech, start=0.0, first_audio_latency_ms=50, chunk_ms=100,
                      generation_speed=math.inf)
    assert playout.release(0.049) == []
    audio = b"".join(c.audio for c in playout.release(0.05))
    assert audio == speech.pcm()


def test_empty_reply_is_finished_at_once() -> None:
    """No audio means no chunks; the response completes at the first-audio time."""
    playout = Playout(SyntheticVoice().synthesize(""), start=1.0, first_audio_latency_ms=250,
                      chunk_ms=100, generation_speed=4.0)
    assert playout.schedule.finished
    assert playout.schedule.finish_time() == pytest.approx(1.25)
