"""Test signals for the simulator: real speech clips and deterministic generators.

Two sources of audio:

- **Clips**: short real speech (espeak-ng voices) and non-speech events (click, cough) stored as
  PCM16 mono WAV files with a ``manifest.json``, shipped in the package (``realtalk/sim/speech``,
  made by the project's ``scripts/make_speech_clips.py``). :func:`load_clip` reads one;
  :func:`clips` lists them as :class:`Clip`. A second set, :data:`UNSEEN_DIR`, holds other
  voices and sentences (users and background talkers) that nothing was tuned on.
- **Generators**: :func:`speech_like`, :func:`white_noise`, :func:`pink_noise`, :func:`babble`,
  :func:`talker_babble`, :func:`click`, :func:`cough` and :func:`keyboard`. Each returns
  float32 samples in [-1, 1] at a chosen sample rate, is vectorised numpy, and gives the same
  samples for the same arguments (``seed`` included).

Levels are RMS over the whole returned signal in dBFS, where 0 dBFS is the RMS of a constant
full-scale signal (so a full-scale sine measures -3 dBFS). For speech the pauses count, so the
active-speech level is a few dB above the requested one. :func:`rms_dbfs` measures the same way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import attrs
import numpy as np
import numpy.typing as npt

from ..audio.resample import resample
from ..audio.wav import read_wav
from ..errors import AudioError, ConfigurationError
from ..server.voice import SyntheticVoice

__all__ = (
    "SPEECH_DIR",
    "UNSEEN_DIR",
    "Clip",
    "SignalGenerator",
    "clips",
    "load_clip",
    "rms_dbfs",
    "scale_to_dbfs",
    "speech_like",
    "white_noise",
    "pink_noise",
    "babble",
    "talker_babble",
    "click",
    "cough",
    "keyboard",
)

#: Where the clips live: the ``speech`` folder shipped inside this package (so a wheel has
#: them too), unless ``REALTALK_SPEECH_DIR`` names another folder of the same layout.
SPEECH_DIR = Path(
    os.environ.get("REALTALK_SPEECH_DIR", Path(__file__).resolve().parent / "speech")
)

#: The unseen set (``scripts/make_speech_clips.py --set unseen``): users who barge in
#: (``kind="speech"``, 24 kHz) and background talkers (``kind="talker"``, 16 kHz).
UNSEEN_DIR = SPEECH_DIR / "unseen"

_DEFAULT_RATE = 24_000
_SILENCE_DBFS = -200.0


class SignalGenerator(Protocol):
    """A deterministic signal source: float32 samples of ``duration_s`` at ``level_dbfs``."""

    def __call__(
        self, duration_s: float, *, seed: int, rate: int, level_dbfs: float
    ) -> npt.NDArray[np.float32]:
        """Render ``duration_s`` seconds at ``rate`` Hz and ``level_dbfs`` RMS."""
        ...


# ---------------------------------------------------------------------------------------------
# Clips


def _read_only(value: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    value.setflags(write=False)
    return value


@attrs.frozen
class Clip:
    """One entry of a clip manifest.

    Attributes:
        name: the clip's id without the rate suffix (``"wait_stop"``).
        path: the WAV file.
        text: what is said (empty for non-speech events).
        voice: the espeak-ng voice, or ``"sox"`` for synthesised events.
        rate: sample rate in Hz.
        duration_ms: length in milliseconds.
        kind: ``"speech"``, ``"click"`` or ``"cough"``.
    """

    name: str
    path: Path
    text: str
    voice: str
    rate: int
    duration_ms: float
    kind: str

    def samples(self) -> npt.NDArray[np.int16]:
        """Read the clip: read-only int16 mono samples (checks the rate against the manifest)."""
        samples, rate = _read_clip(self.path)
        if rate != self.rate:
            raise AudioError(f"{self.path} is {rate} Hz but its manifest says {self.rate} Hz")
        return samples


def _read_clip(path: str | os.PathLike[str]) -> tuple[npt.NDArray[np.int16], int]:
    samples, rate = read_wav(path)
    return _read_only(samples), rate


def clips(
    directory: str | os.PathLike[str] | None = None,
    *,
    rate: int | None = None,
    kind: str | None = None,
) -> tuple[Clip, ...]:
    """The clips listed in ``directory``'s ``manifest.json``, optionally filtered.

    Raises:
        ConfigurationError: there is no readable manifest in ``directory``.
    """
    root = Path(directory) if directory is not None else SPEECH_DIR
    manifest = root / "manifest.json"
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["clips"]
        listed = tuple(
            Clip(
                name=str(e["name"]),
                path=root / str(e["file"]),
                text=str(e["text"]),
                voice=str(e["voice"]),
                rate=int(e["rate"]),
                duration_ms=float(e["duration_ms"]),
                kind=str(e["kind"]),
            )
            for e in entries
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"no readable clip manifest at {manifest}: {exc}") from exc
    return tuple(
        c for c in listed if (rate is None or c.rate == rate) and (kind is None or c.kind == kind)
    )


def load_clip(
    name_or_path: str | os.PathLike[str],
    *,
    rate: int = _DEFAULT_RATE,
    directory: str | os.PathLike[str] | None = None,
) -> tuple[npt.NDArray[np.int16], int]:
    """Load a clip: (read-only int16 samples, sample rate).

    ``name_or_path`` is a path to an existing WAV file, a file name in ``directory`` (default
    :data:`SPEECH_DIR`) with or without ``.wav`` (``"wait_stop_16k"``), or a manifest name
    (``"wait_stop"``), which picks the version at ``rate``.

    Raises:
        ConfigurationError: nothing by that name exists.
        AudioError: the file is not 16-bit mono PCM WAV.
    """
    path = Path(name_or_path)
    if path.is_file():
        return _read_clip(path)
    root = Path(directory) if directory is not None else SPEECH_DIR
    name = os.fspath(name_or_path)
    for candidate in (root / name, root / f"{name}.wav", root / f"{name}_{rate // 1000}k.wav"):
        if candidate.is_file():
            return _read_clip(candidate)
    known = sorted({c.name for c in clips(root)}) if (root / "manifest.json").is_file() else []
    raise ConfigurationError(
        f"no clip {name!r} at {rate} Hz in {root}; known names: {', '.join(known) or 'none'}"
    )


# ---------------------------------------------------------------------------------------------
# Levels


def rms_dbfs(samples: npt.ArrayLike) -> float:
    """RMS level in dBFS; int16 input is scaled by 1/32768 first; silence gives -200."""
    arr = np.asarray(samples)
    x = arr.astype(np.float64) / 32768.0 if arr.dtype == np.int16 else arr.astype(np.float64)
    if x.size == 0:
        return _SILENCE_DBFS
    power = float(np.mean(x * x))
    return 10.0 * float(np.log10(power)) if power > 0.0 else _SILENCE_DBFS


def scale_to_dbfs(samples: npt.ArrayLike, level_dbfs: float) -> npt.NDArray[np.float32]:
    """``samples`` (float) rescaled so their RMS is ``level_dbfs``; silence stays silence."""
    x = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    if rms == 0.0:
        return x.astype(np.float32)
    out: npt.NDArray[np.float32] = (x * (10.0 ** (level_dbfs / 20.0) / rms)).astype(np.float32)
    return out


def _n_samples(duration_s: float, rate: int) -> int:
    if rate <= 0:
        raise ConfigurationError(f"rate must be a positive sample rate in Hz, got {rate}")
    if not duration_s >= 0.0:
        raise ConfigurationError(f"duration_s must be >= 0 seconds, got {duration_s}")
    return round(duration_s * rate)


# ---------------------------------------------------------------------------------------------
# Generators

_SYLLABLES = ("ba", "do", "ke", "li", "mu", "na", "po", "ra", "si", "to", "ve", "wa", "zo")
_PUNCTUATION = ("", "", "", "", ",", ".")


def _pseudo_text(rng: np.random.Generator, n_words: int) -> str:
    """Nonsense words (1-3 syllables) with occasional punctuation, for natural pauses."""
    counts = rng.integers(1, 4, n_words)
    picks = rng.integers(0, len(_SYLLABLES), int(counts.sum()))
    marks = rng.integers(0, len(_PUNCTUATION), n_words)
    words, cursor = [], 0
    for count, mark in zip(counts.tolist(), marks.tolist(), strict=True):
        syllables = "".join(_SYLLABLES[i] for i in picks[cursor : cursor + count].tolist())
        words.append(syllables + _PUNCTUATION[mark])
        cursor += count
    return " ".join(words)


def speech_like(
    duration_s: float,
    seed: int = 0,
    pitch_hz: float = 150.0,
    *,
    rate: int = _DEFAULT_RATE,
    level_dbfs: float = -26.0,
) -> npt.NDArray[np.float32]:
    """Speech-like audio (voiced syllables, consonant noise, pauses) of exactly ``duration_s``.

    Rendered by :class:`realtalk.server.voice.SyntheticVoice` directly at ``rate`` from random
    nonsense text; the end gets a 5 ms fade so a cut word does not click. Its harmonics reach
    about 5 kHz, so use ``rate`` >= 16 kHz (lower rates alias).

    Raises:
        ConfigurationError: a negative duration or rate; ``pitch_hz`` outside 50-400 Hz.
    """
    n = _n_samples(duration_s, rate)
    try:
        voice = SyntheticVoice(seed=seed, pitch_hz=pitch_hz)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    voice.sample_rate = rate  # render at the requested rate (an instance override)
    rng = np.random.default_rng([seed, 0x5EEC])
    parts: list[npt.NDArray[np.int16]] = []
    have = 0
    while have < n:
        # About 0.4 s per word; ask for a little more than what is missing.
        text = _pseudo_text(rng, max(2, int((n - have) / rate / 0.4) + 2))
        samples = voice.synthesize(text).samples
        parts.append(samples)
        have += len(samples)
    x = np.concatenate(parts)[:n].astype(np.float64) if parts else np.zeros(0)
    fade = min(n, int(0.005 * rate))
    if fade:
        x[n - fade :] *= np.linspace(1.0, 0.0, fade)
    return scale_to_dbfs(x, level_dbfs)


def white_noise(
    duration_s: float, *, seed: int = 0, rate: int = _DEFAULT_RATE, level_dbfs: float = -60.0
) -> npt.NDArray[np.float32]:
    """Gaussian white noise at exactly ``level_dbfs`` RMS."""
    n = _n_samples(duration_s, rate)
    return scale_to_dbfs(np.random.default_rng(seed).standard_normal(n), level_dbfs)


def pink_noise(
    duration_s: float, *, seed: int = 0, rate: int = _DEFAULT_RATE, level_dbfs: float = -60.0
) -> npt.NDArray[np.float32]:
    """Pink (1/f power) noise at exactly ``level_dbfs`` RMS, without DC.

    Shaped in the frequency domain, so the signal is periodic: it loops without a seam.
    """
    n = _n_samples(duration_s, rate)
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / rate)
    shape = np.zeros_like(freqs)
    shape[1:] = 1.0 / np.sqrt(freqs[1:])
    return scale_to_dbfs(np.fft.irfft(spectrum * shape, n), level_dbfs)


def babble(
    duration_s: float,
    *,
    seed: int = 0,
    rate: int = _DEFAULT_RATE,
    level_dbfs: float = -40.0,
    talkers: int = 6,
) -> npt.NDArray[np.float32]:
    """Cafeteria-style babble: ``talkers`` independent :func:`speech_like` voices summed.

    Each talker has its own seed, pitch (95-230 Hz) and level (within 6 dB); the sum is scaled
    to ``level_dbfs``.
    """
    if talkers < 1:
        raise ConfigurationError(f"talkers must be at least 1, got {talkers}")
    n = _n_samples(duration_s, rate)
    rng = np.random.default_rng([seed, 0xBAB])
    pitches = rng.uniform(95.0, 230.0, talkers)
    gains_db = rng.uniform(-6.0, 0.0, talkers)
    mix = np.zeros(n)
    for k in range(talkers):
        voice = speech_like(
            duration_s, seed * 1_000 + k, float(pitches[k]), rate=rate, level_dbfs=gains_db[k]
        )
        mix += voice
    return scale_to_dbfs(mix, level_dbfs)


def click(
    *, seed: int = 0, rate: int = _DEFAULT_RATE, level_dbfs: float = -20.0, duration_ms: float = 8
) -> npt.NDArray[np.float32]:
    """A click: a full-band noise impulse with a 0.3 ms attack and a ~1 ms exponential decay."""
    n = max(1, _n_samples(duration_ms / 1000.0, rate))
    t = np.arange(n) / rate
    envelope = np.exp(-t / 0.001) * np.minimum(1.0, (t + 1.0 / rate) / 0.0003)
    burst = np.random.default_rng([seed, 0xC11C]).standard_normal(n) * envelope
    return scale_to_dbfs(burst, level_dbfs)


def cough(
    *, seed: int = 0, rate: int = _DEFAULT_RATE, level_dbfs: float = -20.0, duration_s: float = 0.35
) -> npt.NDArray[np.float32]:
    """A cough-like burst: band-limited noise (energy ~300-3500 Hz, a broad peak near 1 kHz)
    with a 10 ms attack and an exponential decay over ``duration_s``.
    """
    n = max(1, _n_samples(duration_s, rate))
    rng = np.random.default_rng([seed, 0xC0F])
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / rate)
    centre = rng.uniform(800.0, 1300.0)
    # A broad resonance on a log-frequency axis, plus a high-pass below the chest rumble.
    band = np.exp(-0.5 * (np.log2(np.maximum(freqs, 1.0) / centre) / 1.1) ** 2)
    band *= 1.0 / (1.0 + (250.0 / np.maximum(freqs, 1.0)) ** 4)
    noise = np.fft.irfft(spectrum * band, n)
    t = np.arange(n) / rate
    envelope = np.minimum(1.0, t / 0.010) * np.exp(-t / (duration_s / 4.0))
    return scale_to_dbfs(noise * envelope, level_dbfs)


def talker_babble(
    duration_s: float,
    *,
    seed: int = 0,
    rate: int = _DEFAULT_RATE,
    level_dbfs: float = -40.0,
    talkers: int = 4,
    directory: str | os.PathLike[str] | None = None,
) -> npt.NDArray[np.float32]:
    """Multi-talker babble of real words: ``talkers`` voices, each one of the
    ``kind="talker"`` clips in ``directory`` (default :data:`UNSEEN_DIR`, resampled to
    ``rate``) looped with pauses of 0.2-1.2 s between repeats, starting at a random point,
    within 6 dB of each other; the sum scaled to ``level_dbfs``. Unlike :func:`babble` its
    voices are espeak-ng's, with words, consonants and prosody.

    Raises:
        ConfigurationError: ``talkers`` < 1, or no talker clip in ``directory``.
    """
    if talkers < 1:
        raise ConfigurationError(f"talkers must be at least 1, got {talkers}")
    root = UNSEEN_DIR if directory is None else directory
    sources = [resample(c.samples().astype(np.float32) / 32768.0, c.rate, rate)
               for c in clips(root, kind="talker")]
    if not sources:
        raise ConfigurationError(f"no talker clips in {root}")
    n = _n_samples(duration_s, rate)
    rng = np.random.default_rng([seed, 0xBAB2])
    mix = np.zeros(n)
    for k in range(talkers):
        # Talkers take the clips in a shuffled order, so that two rarely say the same thing.
        clip = sources[int(rng.permutation(len(sources))[k % len(sources)])]
        voice = clip.astype(np.float64)
        pieces: list[npt.NDArray[np.float64]] = []
        have = 0
        while have < n + len(voice):
            pieces += [voice, np.zeros(int(rng.uniform(0.2, 1.2) * rate))]
            have += len(voice) + len(pieces[-1])
        track = np.concatenate(pieces)
        start = int(rng.integers(len(track) - n)) if len(track) > n else 0
        mix += track[start : start + n] * 10.0 ** (rng.uniform(-6.0, 0.0) / 20.0)
    return scale_to_dbfs(mix, level_dbfs)


def keyboard(
    duration_s: float,
    *,
    seed: int = 0,
    rate: int = _DEFAULT_RATE,
    level_dbfs: float = -35.0,
    keys_per_s: float = 6.0,
) -> npt.NDArray[np.float32]:
    """Typing: keystrokes at about ``keys_per_s`` (gaps drawn from a gamma distribution, with
    an occasional pause), each a press (a 1.5-4 kHz resonant tick, ~10 ms) and a weaker
    release 60-140 ms later; the whole scaled to ``level_dbfs`` RMS.

    Raises:
        ConfigurationError: a negative duration, or ``keys_per_s`` not above 0.
    """
    if not keys_per_s > 0.0:
        raise ConfigurationError(f"keys_per_s must be > 0, got {keys_per_s}")
    n = _n_samples(duration_s, rate)
    rng = np.random.default_rng([seed, 0x7E7])
    out = np.zeros(n)
    tick_n = max(2, int(0.012 * rate))
    t = np.arange(tick_n) / rate

    def tick(gain: float) -> npt.NDArray[np.float64]:
        freq = rng.uniform(1_500.0, 4_000.0)
        ring = np.sin(2.0 * np.pi * freq * t) * np.exp(-t / 0.0015)
        thud = rng.standard_normal(tick_n) * np.exp(-t / 0.002)
        shaped: npt.NDArray[np.float64] = gain * (0.6 * ring + 0.4 * thud)
        return shaped

    at = rng.uniform(0.0, 0.1)
    while at < duration_s:
        for offset, gain in ((at, rng.uniform(0.6, 1.0)),
                             (at + rng.uniform(0.06, 0.14), rng.uniform(0.2, 0.4))):
            i = int(offset * rate)
            if i < n:
                piece = tick(float(gain))[: n - i]
                out[i : i + len(piece)] += piece
        gap = rng.gamma(4.0, 1.0 / (4.0 * keys_per_s))
        at += gap + (rng.uniform(0.3, 0.8) if rng.random() < 0.1 else 0.0)
    return scale_to_dbfs(out, level_dbfs)
