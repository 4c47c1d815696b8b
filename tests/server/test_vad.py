"""Tests for realtalk.server.vad: the server-side energy VAD."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.server.vad import (
    ServerVad,
    VadEvent,
    VadSpeechStarted,
    VadSpeechStopped,
    threshold_to_dbfs,
)
from realtalk.server.voice import SyntheticVoice

RATE = 24_000


def _silence(ms: int) -> npt.NDArray[np.int16]:
    return np.zeros(ms * RATE // 1000, dtype=np.int16)


def _tone(ms: int, dbfs: float) -> npt.NDArray[np.int16]:
    t = np.arange(ms * RATE // 1000) / RATE
    amplitude = 10 ** (dbfs / 20) * np.sqrt(2) * 32768
    tone: npt.NDArray[np.int16] = (amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    return tone


def _utterance() -> tuple[npt.NDArray[np.int16], float, float]:
    """1 s silence, a short sentence, 1 s silence; returns audio, speech start and end (ms)."""
    speech = SyntheticVoice(seed=4).synthesize("Hello, can you hear me")
    audio = np.concatenate((_silence(1000), speech.samples, _silence(1000)))
    return audio, 1000.0, 1000.0 + speech.words[-1].end_ms


def _feed_in_chunks(vad: ServerVad, audio: npt.NDArray[np.int16],
                    sizes: list[int]) -> list[VadEvent]:
    events: list[VadEvent] = []
    position, index = 0, 0
    while position < len(audio):
        size = sizes[index % len(sizes)]
        events += vad.feed(audio[position : position + size])
        position += size
        index += 1
    return events


def test_threshold_mapping() -> None:
    """threshold maps linearly to -70 + 60 * threshold dBFS and must be within [0, 1]."""
    assert threshold_to_dbfs(0.0) == -70.0
    assert threshold_to_dbfs(0.5) == -40.0
    assert threshold_to_dbfs(1.0) == -10.0
    with pytest.raises(ValueError, match=r"threshold=1\.5"):
        threshold_to_dbfs(1.5)


def test_rejects_negative_durations() -> None:
    """A negative duration is a ValueError naming the parameter."""
    with pytest.raises(ValueError, match="silence_duration_ms=-1"):
        ServerVad(silence_duration_ms=-1)


def test_silence_gives_no_events() -> None:
    """Digital silence never starts a turn."""
    vad = ServerVad()
    assert vad.feed(_silence(3000)) == []
    assert not vad.in_speech


def test_utterance_gives_start_then_stop() -> None:
    """Speech between silences gives speech_started at its onset and speech_stopped at its end."""
    audio, start_ms, end_ms = _utterance()
    vad = ServerVad()
    events = vad.feed(audio)
    assert [type(e) for e in events] == [VadSpeechStarted, VadSpeechStopped]
    started, stopped = events
    assert isinstance(started, VadSpeechStarted)
    assert isinstance(stopped, VadSpeechStopped)
    assert start_ms - 20 <= started.audio_start_ms <= start_ms + 40
    assert started.keep_from_sample == (started.audio_start_ms - 300) * 24
    assert started.detected_sample >= (started.audio_start_ms + 60) * 24
    assert end_ms - 60 <= stopped.audio_end_ms <= end_ms + 20
    assert stopped.detected_sample == (stopped.audio_end_ms + 500) * 24


def test_any_chunk_size_gives_the_same_events() -> None:
    """Appends of odd sizes (partial frames buffered) give exactly the events of one append."""
    audio, _, _ = _utterance()
    expected = ServerVad().feed(audio)
    for sizes in ([1, 7, 333], [480], [4799, 11], [100_000]):
        assert _feed_in_chunks(ServerVad(), audio, sizes) == expected


def test_short_click_does_not_start_a_turn() -> None:
    """A 20 ms loud burst is shorter than min_speech_ms and is ignored."""
    vad = ServerVad()
    assert vad.feed(np.concatenate((_silence(200), _tone(20, -10), _silence(800)))) == []


def test_threshold_decides_what_counts_as_speech() -> None:
    """-50 dBFS noise is quiet for the default threshold but speech for threshold 0.2."""
    quiet = np.concatenate((_tone(400, -50), _silence(600)))
    assert ServerVad(threshold=0.5).feed(quiet) == []
    events = ServerVad(threshold=0.2).feed(quiet)
    assert [type(e) for e in events] == [VadSpeechStarted, VadSpeechStopped]


def test_pause_shorter_than_silence_duration_keeps_the_turn() -> None:
    """A 300 ms pause inside a turn does not stop it with silence_duration_ms=500."""
    loud = _tone(200, -20)
    audio = np.concatenate((loud, _silence(300), loud, _silence(600)))
    events = ServerVad().feed(audio)
    assert [type(e) for e in events] == [VadSpeechStarted, VadSpeechStopped]
    assert isinstance(events[1], VadSpeechStopped)
    assert events[1].audio_end_ms == 700


def test_prefix_padding_never_goes_before_zero() -> None:
    """Speech at the very start keeps audio from sample 0."""
    events = ServerVad(prefix_padding_ms=300).feed(_tone(200, -20))
    assert isinstance(events[0], VadSpeechStarted)
    assert events[0].audio_start_ms == 0
    assert events[0].keep_from_sample == 0


def test_origin_shifts_every_offset() -> None:
    """A detector created mid-session reports offsets in session time."""
    audio = np.concatenate((_silence(100), _tone(200, -20), _silence(600)))
    base = ServerVad().feed(audio)
    shifted = ServerVad(origin_sample=24_000).feed(audio)
    assert isinstance(base[0], VadSpeechStarted)
    assert isinstance(shifted[0], VadSpeechStarted)
    assert shifted[0].audio_start_ms == base[0].audio_start_ms + 1000
    assert shifted[0].detected_sample == base[0].detected_sample + 24_000
    assert isinstance(shifted[1], VadSpeechStopped)
    assert isinstance(base[1], VadSpeechStopped)
    assert shifted[1].audio_end_ms == base[1].audio_end_ms + 1000


def test_reset_forgets_an_open_turn() -> None:
    """After reset() an open turn is gone and silence ends nothing; offsets keep counting."""
    vad = ServerVad()
    assert len(vad.feed(_tone(200, -20))) == 1
    assert vad.in_speech
    vad.reset()
    assert not vad.in_speech
    assert vad.feed(_silence(1000)) == []
    assert vad.samples_seen == 1200 * 24
