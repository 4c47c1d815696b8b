"""The built-in voice activity detector: an adaptive noise floor plus spectral voice features.

An energy detector cannot tell a voice from a cough, a click or a fan; it only knows "louder
than before". :class:`SpectralVAD` asks four questions of every 10 ms hop, looking at the last
30 ms of audio through one FFT:

1. **Level**: is the hop above an absolute floor (``min_level_dbfs``)? Digital silence and the
   faintest hiss never count.
2. **SNR**: how far is the voice band (200-4000 Hz) above the *tracked noise spectrum*? The
   noise spectrum is followed bin by bin with an asymmetric smoother (minimum-statistics
   style): it falls quickly to any quieter hop and rises slowly, faster while nothing sounds
   like speech. Steady hiss, hum and fan noise become the floor within seconds.
3. **Voice-band share**: how much of the energy above the noise lies in 200-4000 Hz? Hum
   (below 300 Hz) and hiss (mostly above 3.4 kHz at 24 kHz) score low.
4. **Periodicity**: is the noise-subtracted signal periodic with a pitch of 80-400 Hz? The
   normalised autocorrelation of the compressed spectrum (square root of the power, computed
   from the same FFT, divided by the analysis window's own autocorrelation as in Boersma's
   pitch tracker) is high for voiced speech and stays low for noise, clicks and coughs, which
   are aperiodic. This is what rejects a cough that is as loud and as "voice-band" as speech.

Each answer is a soft score in (0, 1); their product is the hop's raw speech probability. A
short hangover keeps the probability above the threshold for ``hangover_ms`` after a run of
speech hops, so the short gaps inside a phrase do not flicker off; a single speech-like hop (a
click) does not start one. While the hangover runs, hops that are loud (SNR) but not periodic,
the unvoiced consonants, renew it, for at most 200 ms in a row: that lifts frame recall on the
clips from 0.87 to 0.92 without opening the door to noise, which is never periodic enough to
start a run.

Everything per hop is vectorised numpy (a handful of calls on arrays of a few hundred bins);
the only Python loop is over hops, for the noise floor and the hangover, whose updates are
sequential by nature. Hops completed within one :meth:`SpectralVAD.probability` call share one
batched FFT.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ..audio.frame import AudioFrame
from ..errors import AudioError, ConfigurationError
from .base import WindowedDetector

__all__ = ("SpectralVAD",)

_FULL_SCALE = 32768.0
# Wider than the telephone band's 300 Hz at the bottom: the first formant of close vowels and
# glides ("ee", "y") sits near 250 Hz, and hum, the thing the lower edge keeps out, is at
# 50/60 Hz and its first few harmonics.
_VOICE_BAND_HZ = (200.0, 4000.0)
_PITCH_HZ = (80.0, 400.0)
# Periodicity looks at the harmonics where voiced speech has most of its energy; above about
# 4 kHz there is mostly frication and noise, which only dilutes the autocorrelation.
_PERIODICITY_BAND_HZ = (60.0, 4000.0)
_EPS = 1e-12
# Longest run of loud aperiodic hops (consonants, see _step) that can extend a hangover.
_BRIDGE_MS = 200.0


def _sigmoid(x: float) -> float:
    # Clamped so that math.exp never overflows on an extreme feature value.
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


class SpectralVAD(WindowedDetector):
    """Speech probability from level, SNR against a tracked noise spectrum, voice-band share
    and periodicity (see the module docstring).

    Streaming and stateful: feed consecutive frames of one stream, of any size. Audio is
    analysed in hops of ``hop_ms`` (10 ms), each looking at the last ``window_ms`` (30 ms).

    Latency: :attr:`latency_frames` is 0: a call's answer covers every hop that the frame
    completes. When frames are not a multiple of ``hop_ms``, the frame's last partial hop is
    decided with the next call (at most ``hop_ms`` late); a frame shorter than a hop that
    completes none gets the previous hop's answer. Ends of speech are reported ``hangover_ms``
    late, by design.

    Args:
        sample_rate: rate of the frames in Hz (24 kHz in realtalk; any rate from 8 kHz works).
        threshold: probability at or above which :meth:`is_speech` says speech.
        min_level_dbfs: hops quieter than this (RMS, dBFS) are never speech.
        snr_db: voice-band SNR over the noise floor at which the SNR score is one half.
        hangover_ms: how long speech is held after a run of speech hops ends.
        hop_ms: analysis hop.
        window_ms: analysis window (must be at least ``hop_ms`` and long enough for 80 Hz).

    Raises:
        ConfigurationError: a parameter is out of range (named in the message).
    """

    latency_frames = 0

    def __init__(
        self,
        sample_rate: int = 24_000,
        *,
        threshold: float = 0.5,
        min_level_dbfs: float = -55.0,
        snr_db: float = 9.0,
        hangover_ms: float = 120.0,
        hop_ms: float = 10.0,
        window_ms: float = 30.0,
    ) -> None:
        if not (isinstance(sample_rate, int) and sample_rate >= 8_000):
            raise ConfigurationError(f"sample_rate must be an int >= 8000 Hz, got {sample_rate!r}")
        if not 0.0 < threshold < 1.0:
            raise ConfigurationError(f"threshold must be in (0, 1), got {threshold!r}")
        if not hangover_ms >= 0.0:
            raise ConfigurationError(f"hangover_ms must be >= 0, got {hangover_ms!r}")
        hop = round(sample_rate * hop_ms / 1000.0)
        window = round(sample_rate * window_ms / 1000.0)
        max_lag = math.ceil(sample_rate / _PITCH_HZ[0])
        if hop < 1 or window < hop:
            raise ConfigurationError(
                f"need 0 < hop_ms <= window_ms, got hop_ms={hop_ms!r}, window_ms={window_ms!r}")
        if window < max_lag + max_lag // 2:
            raise ConfigurationError(
                f"window_ms={window_ms!r} is too short to see 1.5 periods of an 80 Hz voice")
        self.sample_rate = sample_rate
        self.threshold = threshold
        self.min_level_dbfs = min_level_dbfs
        self.snr_db = snr_db
        self.hop = hop
        self.window = window
        self.hangover_hops = round(hangover_ms / hop_ms)
        self._max_bridge = round(_BRIDGE_MS / hop_ms)

        # Zero-padded to at least window + max_lag, so the FFT autocorrelation does not wrap
        # around at the lags that matter.
        self._nfft = 1 << (window + max_lag - 1).bit_length()
        self._taper = np.hanning(window + 2)[1:-1].astype(np.float64)
        freqs = np.fft.rfftfreq(self._nfft, 1.0 / sample_rate)
        # Bands as bin slices (contiguous, so slicing beats boolean masks on the hot path).
        self._voice = slice(*np.searchsorted(freqs, _VOICE_BAND_HZ).tolist())
        self._pitch_lo, self._pitch_hi = np.searchsorted(freqs, _PERIODICITY_BAND_HZ).tolist()
        self._min_lag = math.floor(sample_rate / _PITCH_HZ[1])
        self._max_lag = max_lag
        # Autocorrelation of the taper itself: dividing by it undoes the taper's fall-off with
        # lag, so a perfectly periodic signal scores ~1 at its period (Boersma 1993).
        taper_ac = np.fft.irfft(np.abs(np.fft.rfft(self._taper, self._nfft)) ** 2, self._nfft)
        self._taper_ac = taper_ac[self._min_lag : self._max_lag + 1] / taper_ac[0]
        # Power of a full-scale signal in this FFT (for dBFS), and the floor's lowest value:
        # -100 dBFS spread over the bins, so digital silence does not make the floor zero.
        self._full_scale_power = float(np.sum(self._taper**2)) * self._nfft / 2.0
        self._floor_min = self._full_scale_power * 1e-10 / len(freqs)
        seconds_per_hop = hop / sample_rate
        # The floor rises ~20 dB/s while nothing sounds like speech and ~1.5 dB/s during speech
        # (so syllables do not drag it up), and falls to within ~3 dB of a quieter hop at once.
        self._rise_idle = 10.0 ** (20.0 * seconds_per_hop / 10.0)
        self._rise_speech = 10.0 ** (1.5 * seconds_per_hop / 10.0)
        # The window rows' sample indices, per number of hops a call completes (the same few
        # counts recur: 2 for 20 ms frames).
        self._index: dict[int, npt.NDArray[np.intp]] = {}
        self.reset()

    def reset(self) -> None:
        """Forget the stream: buffered samples, the noise floor, the hangover."""
        self._buffer = np.zeros(self.window, dtype=np.float64)
        self._pending = np.zeros(0, dtype=np.float64)
        self._noise: npt.NDArray[np.float64] | None = None
        self._smoothed: npt.NDArray[np.float64] | None = None
        bins = self._nfft // 2 + 1
        self._scratch = np.empty(bins)
        self._clean = np.empty(bins)
        self._run = 0
        self._hold = 0
        self._bridged = 0
        self._last = 0.0
        self._voiced_hops = 0
        self.voiced_ms = 0.0
        """How much of the last frame was voiced: the hops whose own score passed the
        threshold (periodic, as a vowel is), not those the hangover or a bridge held. A
        cough or a keyboard heard over the assistant's residual voice is held as speech
        for a while by the hangover, but gives few voiced hops of its own."""

    def _check(self, frame: AudioFrame) -> npt.NDArray[np.float64]:
        if frame.sample_rate != self.sample_rate:
            raise AudioError(
                f"SpectralVAD expects {self.sample_rate} Hz frames, got {frame.sample_rate} Hz")
        # One pass (1 / 32768 is exact, so this equals dividing).
        samples: npt.NDArray[np.float64] = np.multiply(frame.mono().samples, 1.0 / _FULL_SCALE,
                                                       dtype=np.float64)
        return samples

    def _hops(self, samples: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Windows (one row per hop completed by ``samples``), each the last ``window`` samples
        up to that hop's end; keeps the remainder for the next call."""
        data = np.concatenate((self._pending, samples))
        count = len(data) // self.hop
        self._pending = data[count * self.hop :]
        if count == 0:
            return np.zeros((0, self.window))
        stream = np.concatenate((self._buffer, data[: count * self.hop]))
        self._buffer = stream[-self.window :]
        index = self._index.get(count)
        if index is None:
            ends = self.window + self.hop * np.arange(count)
            index = self._index[count] = ends[:, None] + np.arange(-self.window, 0)[None, :]
        windows: npt.NDArray[np.float64] = stream[index]
        return windows

    def probabilities(self, frame: AudioFrame) -> list[float]:
        """One speech probability per analysis hop that ``frame`` completes (possibly none),
        oldest first. The values do not depend on how the stream is cut into frames.

        Raises:
            AudioError: ``frame`` is not at :attr:`sample_rate`.
        """
        windows = self._hops(self._check(frame))
        self._voiced_hops = 0
        if len(windows) == 0:
            self.voiced_ms = 0.0
            return []
        # One batched FFT for all the hops; only the floor and hangover go hop by hop.
        spectrum = np.fft.rfft(windows * self._taper, self._nfft, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        levels = 10.0 * np.log10(power.sum(axis=1) / self._full_scale_power + _EPS)
        probabilities = [self._step(row, level)
                         for row, level in zip(power, levels.tolist(), strict=True)]
        self.voiced_ms = self._voiced_hops * self.hop * 1000.0 / self.sample_rate
        return probabilities

    def _step(self, power: npt.NDArray[np.float64], level_dbfs: float) -> float:
        """One hop: score it, update the noise floor and the hangover; its probability."""
        if self._smoothed is None or self._noise is None:
            # Start the floor at the first hop, but never above -60 dBFS worth of power, so a
            # stream that opens on speech is not taken for noise.
            cap = self._full_scale_power * 1e-6 / len(power)
            self._smoothed = power.copy()
            self._noise = np.clip(power, self._floor_min, cap)
        smoothed = self._smoothed
        smoothed *= 0.6
        smoothed += np.multiply(power, 0.4, out=self._scratch)
        noise = self._noise

        raw = loud = 0.0
        if level_dbfs > self.min_level_dbfs:
            # Spectral subtraction with a 2x over-estimate: what is left is what stands out of
            # the floor; steady noise and hum leave little, speech leaves its harmonics.
            # (In place in a buffer kept for it: this runs twice a frame, every frame.)
            clean = np.multiply(noise, -2.0, out=self._clean)
            clean += power
            np.maximum(clean, 0.0, out=clean)
            voice_clean = float(clean[self._voice].sum())
            voice_noise = float(noise[self._voice].sum())
            snr = 10.0 * math.log10((voice_clean + _EPS) / (voice_noise + _EPS))
            share = voice_clean / (float(clean.sum()) + _EPS)
            # Midpoints from the committed clips: voiced speech has a median periodicity of
            # ~0.5 and its top quartile above 0.6, while white and pink noise and coughs stay
            # under ~0.3 in 99 % of hops; a voiced glide can put as little as 15-30 % of its
            # energy in the band.
            loud = _sigmoid((snr - self.snr_db) / 2.0)
            bound = loud * _sigmoid((share - 0.2) / 0.05)
            # Most hops of a stream are quiet or steady noise; the periodicity (the costliest
            # feature) cannot lift those anywhere near the threshold, so it is skipped.
            if bound >= 0.01:
                raw = bound * _sigmoid((self._periodicity(clean) - 0.34) / 0.04)

        speech = raw >= self.threshold
        rise = self._rise_speech if speech else self._rise_idle
        noise *= rise
        np.minimum(noise, smoothed, out=noise)
        np.maximum(noise, self._floor_min, out=noise)

        if speech:
            self._run += 1
            self._voiced_hops += 1
            # Only a run of two or more speech hops earns a hangover: a click lasts one.
            if self._run >= 2:
                self._hold = self.hangover_hops
                self._bridged = 0
            prob = raw
        else:
            self._run = 0
            if self._hold > 0 and loud >= self.threshold and self._bridged < self._max_bridge:
                # Inside a phrase, a loud but aperiodic hop is most likely a consonant ("s",
                # "t", "f"): it keeps the hangover going, for at most ``_max_bridge`` hops in a
                # row, so a noise burst right after speech cannot hold it open for long.
                self._bridged += 1
                self._hold = self.hangover_hops
            if self._hold > 0:
                # Held just above the threshold, fading towards it as the hangover runs out.
                prob = max(raw, self.threshold + (1.0 - self.threshold) * self._hold
                           / (self.hangover_hops + 1))
                self._hold -= 1
            else:
                prob = raw
        self._last = prob
        return prob

    def _periodicity(self, clean: npt.NDArray[np.float64]) -> float:
        """Peak normalised autocorrelation at pitch lags (80-400 Hz) of the cleaned spectrum."""
        # The square root of the power (a "generalised" autocorrelation) flattens the spectral
        # tilt: pink noise and low formants then no longer dominate, and what is left to
        # correlate is the harmonic comb. It separates speech from noise and coughs far better
        # than the plain autocorrelation on the clips (noise's 99th percentile 0.35 against
        # speech's median 0.48, where plain power gives 0.92 against 0.89).
        banded = np.sqrt(clean[: self._pitch_hi])
        banded[: self._pitch_lo] = 0.0
        ac = np.fft.irfft(banded, self._nfft)
        if ac[0] <= _EPS:
            return 0.0
        lags = ac[self._min_lag : self._max_lag + 1] / (ac[0] * self._taper_ac)
        return float(lags.max())
