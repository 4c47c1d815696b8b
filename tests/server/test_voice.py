"""Tests for realtalk.server.voice: the speech-like synthetic voice."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.server.voice import SpeechAudio, SyntheticVoice

TEXT = "Hello there, this is a test of the synthetic voice. It should sound like speech!"


def _float(audio: SpeechAudio) -> npt.NDArray[np.float64]:
    return audio.samples.astype(np.float64) / 32768.0


def _dbfs(x: npt.NDArray[np.float64]) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12))


def _segment(audio: SpeechAudio, start_ms: float, end_ms: float) -> npt.NDArray[np.float64]:
    return _float(audio)[int(start_ms * 24) : int(end_ms * 24)]


def test_format_is_pcm16_mono_24k_read_only() -> None:
    """Samples are a read-only int16 array at 24 kHz, and pcm() is their little-endian bytes."""
    audio = SyntheticVoice(seed=3).synthesize(TEXT)
    assert audio.samples.dtype == np.int16
    assert audio.samples.ndim == 1
    assert audio.sample_rate == 24_000
    assert not audio.samples.flags.writeable
    assert len(audio.pcm()) == 2 * len(audio.samples)
    assert audio.duration_ms == pytest.approx(len(audio.samples) / 24)


def test_deterministic_for_seed_and_text() -> None:
    """The same seed and text give identical samples; another seed gives different ones."""
    first = SyntheticVoice(seed=7).synthesize(TEXT)
    again = SyntheticVoice(seed=7).synthesize(TEXT)
    other = SyntheticVoice(seed=8).synthesize(TEXT)
    assert np.array_equal(first.samples, again.samples)
    assert first.words == again.words
    assert not np.array_equal(first.samples[: len(other.samples)],
                              other.samples[: len(first.samples)])


def test_word_timings_cover_every_word_in_order() -> None:
    """Every word gets a timing, in order, non-overlapping, and the text round-trips."""
    audio = SyntheticVoice().synthesize(TEXT)
    assert [w.word for w in audio.words] == TEXT.split()
    assert audio.text == TEXT
    for word, following in zip(audio.words, audio.words[1:], strict=False):
        assert word.start_ms < word.end_ms <= following.start_ms
    assert audio.words[-1].end_ms <= audio.duration_ms


def test_voiced_level_is_about_minus_20_dbfs_and_gaps_are_silent() -> None:
    """Each word sits near -20 dBFS RMS; the gaps between words are silence."""
    audio = SyntheticVoice(seed=1).synthesize(TEXT)
    for word in audio.words:
        assert -23.0 < _dbfs(_segment(audio, word.start_ms, word.end_ms)) < -17.0
    for word, following in zip(audio.words, audio.words[1:], strict=False):
        gap = _segment(audio, word.end_ms + 1, following.start_ms - 1)
        assert np.all(gap == 0.0)


def test_pauses_are_longer_at_punctuation() -> None:
    """A full stop pauses longer than a comma, which pauses longer than a plain word break."""
    audio = SyntheticVoice().synthesize("one two, three. four")
    one, two, three, four = audio.words
    plain, comma, stop = (two.start_ms - one.end_ms, three.start_ms - two.end_ms,
                          four.start_ms - three.end_ms)
    assert plain < comma < stop


def test_sounds_like_speech_not_a_pure_tone() -> None:
    """A word has spread-out harmonic energy with a voice-like pitch and a moving envelope."""
    audio = SyntheticVoice(seed=2, pitch_hz=140.0).synthesize("wonderful")
    word = audio.words[0]
    x = _segment(audio, word.start_ms, word.end_ms)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 24_000)
    assert spectrum.max() / spectrum.sum() < 0.2  # no single dominant tone
    centroid = float((freqs * spectrum).sum() / spectrum.sum())
    assert 200.0 < centroid < 3000.0
    # The strongest low peak (the fundamental or a low harmonic) is in the human voice range.
    low = (freqs > 60) & (freqs < 400)
    assert 80.0 < float(freqs[low][np.argmax(spectrum[low])]) < 400.0
    # The syllable envelope: 20 ms frame levels vary a lot within the word.
    frames = x[: len(x) // 480 * 480].reshape(-1, 480)
    levels = np.sqrt(np.mean(frames**2, axis=1))
    assert levels.std() / levels.mean() > 0.25


def test_empty_text_gives_empty_audio() -> None:
    """Nothing to say gives zero samples and no words."""
    audio = SyntheticVoice().synthesize("   ")
    assert len(audio.samples) == 0
    assert audio.words == ()


def test_rejects_non_voice_pitch() -> None:
    """A pitch outside the human range is a ValueError naming the value."""
    with pytest.raises(ValueError, match="pitch_hz=20"):
        SyntheticVoice(pitch_hz=20)
