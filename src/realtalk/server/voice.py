"""A speech-like synthetic voice: text in, PCM16 mono 24 kHz audio with per-word timing out.

The embedded server has no text-to-speech model, but everything downstream of it (echo
cancellers, VADs, barge-in, playback tracking) needs audio that *behaves* like speech: voiced
words with a pitch, formant structure and a syllable rhythm, consonant noise, and pauses between
words and at punctuation. :class:`SyntheticVoice` builds exactly that with vectorised numpy:

- each word is a harmonic series on a slowly moving pitch contour, shaped by three formant-like
  resonances that glide between per-syllable vowel targets;
- a syllable-rate amplitude envelope (about 4-6 syllables per second) with smooth attack/decay;
- high-passed noise bursts at syllable boundaries stand in for consonants;
- each word is scaled to about -20 dBFS RMS; gaps are digital silence: about 70 ms between words,
  220 ms after ``, ; :`` and 420 ms after ``. ! ?``.

Output is deterministic for a given ``seed`` and text.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import attrs
import numpy as np
import numpy.typing as npt

from ..audio.pcm import float_to_int16, int16_to_bytes
from ..session_config import PCM_SAMPLE_RATE

__all__ = ("SpeechAudio", "SyntheticVoice", "WordTiming")

_VOWEL_GROUPS = re.compile(r"[aeiouy]+", re.IGNORECASE)
_TARGET_RMS = 10 ** (-20 / 20)  # -20 dBFS, a typical level for speech at the source
_CACHE_SIZE = 16


def _read_only_int16(value: npt.ArrayLike) -> npt.NDArray[np.int16]:
    array = np.array(value, dtype=np.int16)  # a private copy, so no caller can mutate it later
    array.setflags(write=False)
    return array


@attrs.frozen
class WordTiming:
    """Where one word sits in a :class:`SpeechAudio`, in milliseconds from its start."""

    word: str
    start_ms: float
    end_ms: float


@attrs.frozen(eq=False)
class SpeechAudio:
    """Synthesized speech: read-only int16 PCM mono samples plus per-word timing."""

    samples: npt.NDArray[np.int16] = attrs.field(converter=_read_only_int16)
    words: tuple[WordTiming, ...] = ()
    sample_rate: int = PCM_SAMPLE_RATE

    @property
    def duration_ms(self) -> float:
        """Length of the audio in milliseconds."""
        return len(self.samples) * 1000.0 / self.sample_rate

    @property
    def text(self) -> str:
        """The spoken words joined by single spaces (the transcript)."""
        return " ".join(w.word for w in self.words)

    def pcm(self) -> bytes:
        """The samples as PCM16 little-endian bytes (what the wire carries)."""
        return int16_to_bytes(self.samples)


def _syllables(word: str) -> int:
    return max(1, len(_VOWEL_GROUPS.findall(word)))


def _gap_ms(word: str) -> float:
    if word.endswith((".", "!", "?")):
        return 420.0
    if word.endswith((",", ";", ":")):
        return 220.0
    return 70.0


class SyntheticVoice:
    """Renders text as speech-like audio (see the module docstring for what that means).

    Args:
        seed: seeds the random choices (vowel targets, jitter, noise); same seed and text give
            the same samples.
        pitch_hz: the mean fundamental frequency; 100-220 Hz sounds like a human voice.

    Raises:
        ValueError: ``pitch_hz`` is outside 50-400 Hz.
    """

    sample_rate = PCM_SAMPLE_RATE

    def __init__(self, *, seed: int = 0, pitch_hz: float = 150.0) -> None:
        if not 50.0 <= pitch_hz <= 400.0:
            raise ValueError(f"pitch_hz={pitch_hz!r} is outside the speech range 50-400 Hz")
        self.seed = seed
        self.pitch_hz = pitch_hz
        # Scripted replies repeat; rendering is pure, so the last few results are reused.
        self._cache: OrderedDict[str, SpeechAudio] = OrderedDict()

    def synthesize(self, text: str) -> SpeechAudio:
        """Speak ``text``: one voiced segment per whitespace-separated word, with pauses."""
        cached = self._cache.get(text)
        if cached is None:
            cached = self._cache[text] = self._render(text)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(text)
        return cached

    def _render(self, text: str) -> SpeechAudio:
        rng = np.random.default_rng(self.seed)
        words = text.split()
        sr = self.sample_rate
        segments: list[npt.NDArray[np.float64]] = []
        timings: list[WordTiming] = []
        cursor = 0
        for word in words:
            syllables = _syllables(word)
            duration_ms = (80.0 + 170.0 * syllables) * rng.uniform(0.9, 1.1)
            voiced = self._word(rng, int(duration_ms * sr / 1000), syllables)
            gap = np.zeros(int(_gap_ms(word) * rng.uniform(0.85, 1.15) * sr / 1000))
            timings.append(
                WordTiming(
                    word=word,
                    start_ms=cursor * 1000.0 / sr,
                    end_ms=(cursor + len(voiced)) * 1000.0 / sr,
                )
            )
            segments.extend((voiced, gap))
            cursor += len(voiced) + len(gap)
        samples = np.concatenate(segments) if segments else np.zeros(0)
        return SpeechAudio(samples=float_to_int16(samples), words=tuple(timings))

    def _word(self, rng: np.random.Generator, n: int, syllables: int) -> npt.NDArray[np.float64]:
        sr = self.sample_rate
        t = np.arange(n) / sr
        duration = n / sr
        position = t / duration  # 0..1 through the word

        # Pitch: a per-word register, a slow wobble and a gentle fall, like declarative speech.
        base = self.pitch_hz * rng.uniform(0.9, 1.12)
        wobble = 0.05 * np.sin(2 * np.pi * rng.uniform(2.5, 4.0) * t + rng.uniform(0, 2 * np.pi))
        f0 = base * (1.0 + wobble + 0.06 * (0.5 - position))
        phase = 2 * np.pi * np.cumsum(f0) / sr

        # Formants glide between vowel targets placed at syllable centres.
        centres = (np.arange(syllables) + 0.5) / syllables
        f1 = np.interp(position, centres, rng.uniform(300, 850, syllables))
        f2 = np.interp(position, centres, rng.uniform(900, 2300, syllables))
        f3 = np.full(n, rng.uniform(2400, 3000))

        n_harmonics = min(40, int(4500 / (base * 1.15)))
        k = np.arange(1, n_harmonics + 1)[:, None]
        freqs = (k * f0[None, :]).astype(np.float32)  # float32 halves the cost of the big matrix
        gain = (
            _resonance(freqs, f1, 110.0)
            + 0.7 * _resonance(freqs, f2, 160.0)
            + 0.3 * _resonance(freqs, f3, 250.0)
        ) / k**0.6
        harmonics = np.sin((k * phase[None, :]).astype(np.float32))
        voiced = np.einsum("kn,kn->n", gain.astype(np.float32), harmonics).astype(np.float64)

        # Syllable rhythm: loud vowel nuclei, dips (not silence) between syllables.
        nuclei = np.sin(np.pi * syllables * position) ** 2
        envelope = (0.25 + 0.75 * nuclei) * _edges(n, sr)

        # Consonants: high-passed noise bursts at the syllable boundaries.
        noise = np.diff(rng.standard_normal(n + 1))
        boundaries = np.arange(syllables + 1) / syllables
        bursts = np.exp(-(((position[:, None] - boundaries[None, :]) * duration / 0.018) ** 2))
        consonants = noise * (0.02 + 0.5 * bursts.sum(axis=1))

        word = _normalise(voiced * envelope) + 0.25 * _normalise(consonants) * _edges(n, sr)
        return _normalise(word) * _TARGET_RMS * rng.uniform(0.9, 1.1)


def _resonance(
    freqs: npt.NDArray[np.float32], centre: npt.NDArray[np.float64], bandwidth: float
) -> npt.NDArray[np.float32]:
    offset = (freqs - centre[None, :].astype(np.float32)) / np.float32(bandwidth)
    return (np.float32(1.0) / (np.float32(1.0) + offset * offset)).astype(np.float32)


def _edges(n: int, sr: int) -> npt.NDArray[np.float64]:
    """A smooth raised-cosine attack (25 ms) and decay (40 ms) so words do not click."""
    envelope = np.ones(n)
    for ramp_s, reverse in ((0.025, False), (0.040, True)):
        length = min(int(ramp_s * sr), n // 2)
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(length) / max(length, 1))
        if reverse:
            envelope[n - length :] *= ramp[::-1]
        else:
            envelope[:length] *= ramp
    return envelope


def _normalise(signal: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    rms = float(np.sqrt(np.mean(signal**2))) if len(signal) else 0.0
    return signal / rms if rms > 0 else signal

