"""Echo-path calibration: play a short, quiet probe and measure the speaker -> microphone path.

The canceller and the gate otherwise start blind: the canceller at a bulk delay of zero until
its :class:`~realtalk.echo.delay.DelayEstimator` has a second or two of the assistant's voice,
the gate at a conservative 0 dB echo gain. A probe of 0.6 s at -40 dBFS, played when a
conversation starts (or on demand, after the user changed the volume or the device), lets both
start where the room actually is.

The probe is a random-phase multisine: band-limited noise whose magnitude spectrum is flat by
construction (not just on average, as drawn noise would be), so dividing by it in the
frequency domain amplifies no bin's noise more than another's. Its phases are drawn from
``seed``, so the same probe is played every time.

The measurement deconvolves the recorded microphone by the probe (a regularised inverse filter,
in band only) to get the echo path's impulse response ``h``:

- **delay**: the first tap of ``h`` within 8 dB of its largest one (the direct sound; a strong
  reflection after it must not pull the canceller's bulk delay past the direct path);
- **gain**: the energy of ``h`` over the tail after the delay, less the energy the noise alone
  puts in as many taps (measured on the taps outside that window, where only noise can be),
  divided by the share of the spectrum the probe covers: outside its band the path is taken
  to be, on average, as strong as inside it;
- **confidence**: the direct tap's height over the noise's spread among the taps, a z-score;
- **noise floor**: what is left of the microphone once the predicted echo is subtracted.

Everything is vectorised: a handful of FFTs, no per-sample loops.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import attrs
import numpy as np
import numpy.typing as npt

from ..audio.frame import AudioFrame
from ..errors import AudioError, ConfigurationError

__all__ = (
    "CalibrationProbe",
    "CalibrationRecording",
    "EchoPathMeasurement",
    "measure_echo_path",
    "DelaySeedable",
    "GainSeedable",
    "seed_canceller",
    "seed_gate",
)

Float64Array = npt.NDArray[np.float64]
Int16Array = npt.NDArray[np.int16]

_FULL_SCALE = 32768.0
_BAND_HZ = (150.0, 10_500.0)  # the probe's band: above most mains hum, below the 24 kHz Nyquist
_EDGE_HZ = 100.0  # width of the raised-cosine band edges (steep edges ring before the peak)
_FADE_S = 0.02  # fades keep the start and stop of the probe from clicking
_TAIL_MS = 250.0  # how much of the path after the direct sound counts towards the gain
_PRE_MS = 1.0  # taps before the direct sound kept in the gain window (the band-limited peak)
_FIRST_ARRIVAL = 10 ** (-8.0 / 20)  # a tap this close to the largest one is the direct sound
_MIN_CONFIDENCE = 30.0  # z-score of the direct tap over the taps' noise to believe an echo;
# below about 30 the gain can be 2-3 dB off (the noise dominates the tail window)
# An echo weaker than this still matters to the barge-in detector; a measurement that could not
# have seen it is reported as "probe too quiet" rather than as "no echo".
_RELEVANT_GAIN_DB = -35.0


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name} must be a finite number > 0, got {value!r}")


def _band_weights(freqs: npt.NDArray[np.floating]) -> Float64Array:
    """1 inside the probe's band, 0 outside, raised-cosine edges of ``_EDGE_HZ``."""
    lo, hi = _BAND_HZ
    rise = np.clip((freqs - (lo - _EDGE_HZ)) / _EDGE_HZ, 0.0, 1.0)
    fall = np.clip(((hi + _EDGE_HZ) - freqs) / _EDGE_HZ, 0.0, 1.0)
    weights: Float64Array = np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2
    return weights


@attrs.frozen
class CalibrationProbe:
    """The calibration probe: band-limited noise with a flat spectrum, faded in and out.

    Args:
        sample_rate: of the speaker, in Hz (the band is capped below its Nyquist frequency).
        duration_s: length of the probe; longer sees weaker echoes under more noise (every
            doubling is 3 dB of sensitivity).
        level_dbfs: RMS level; -40 dBFS is barely audible at ordinary volume.
        seed: the phases; the same seed gives the same probe.

    Raises:
        ConfigurationError: a rate, duration or level out of range.
    """

    sample_rate: int = 24_000
    duration_s: float = 0.6
    level_dbfs: float = -40.0
    seed: int = 0

    def __attrs_post_init__(self) -> None:
        if self.sample_rate < 8_000:
            raise ConfigurationError(f"sample_rate must be >= 8000 Hz for the probe's band, "
                                     f"got {self.sample_rate}")
        _check_positive("duration_s", self.duration_s)
        if self.duration_s < 4 * _FADE_S:
            raise ConfigurationError(f"duration_s must be >= {4 * _FADE_S} s to fit the fades, "
                                     f"got {self.duration_s}")
        if not (math.isfinite(self.level_dbfs) and self.level_dbfs <= -6.0):
            raise ConfigurationError(f"level_dbfs must be <= -6 dBFS (the probe's peaks need "
                                     f"headroom), got {self.level_dbfs!r}")

    def samples(self) -> Int16Array:
        """The probe as PCM16, to be played as is (read-only; deterministic)."""
        n = round(self.sample_rate * self.duration_s)
        freqs = np.fft.rfftfreq(n, 1.0 / self.sample_rate)
        magnitude = _band_weights(freqs)
        if self.sample_rate < 2 * (_BAND_HZ[1] + _EDGE_HZ):
            magnitude *= freqs < 0.45 * self.sample_rate
        phases = np.random.default_rng([self.seed, self.sample_rate, n]).uniform(
            0.0, 2 * np.pi, len(freqs))
        x = np.fft.irfft(magnitude * np.exp(1j * phases), n)
        fade = round(_FADE_S * self.sample_rate)
        ramp = np.sin(0.5 * np.pi * np.arange(fade) / fade) ** 2
        x[:fade] *= ramp
        x[n - fade:] *= ramp[::-1]
        target = 10 ** (self.level_dbfs / 20)
        x *= target / math.sqrt(float(np.mean(x * x)))
        out: Int16Array = np.clip(np.rint(x * _FULL_SCALE), -32768, 32767).astype(np.int16)
        out.setflags(write=False)
        return out


@attrs.frozen
class EchoPathMeasurement:
    """What a calibration found out about the speaker -> microphone path.

    Attributes:
        ok: whether the figures can be trusted; if not, ``reason`` says why and the delay and
            gain should not be used.
        reason: why not (empty when ``ok``).
        delay_ms: the bulk delay: from a sample leaving for the speaker to its direct sound in
            the microphone.
        gain_db: energy gain of the path's impulse response (echo energy over probe energy);
            the same quantity as :attr:`realtalk.sim.EchoPath.gain_db`.
        erl_db: the echo return loss, ``-gain_db``.
        confidence: how far the direct sound stands above the measurement noise (a z-score;
            ``ok`` needs 30).
        noise_floor_dbfs: RMS level of the microphone with the echo taken out.
        detection_limit_db: the weakest echo gain this measurement could have seen, given the
            probe's level and the noise; with no echo found, the echo (if any) is below it.
    """

    ok: bool
    reason: str
    delay_ms: float
    gain_db: float
    erl_db: float
    confidence: float
    noise_floor_dbfs: float
    detection_limit_db: float

    def delay_samples(self, sample_rate: int) -> int:
        """:attr:`delay_ms` in whole samples at ``sample_rate``."""
        return round(self.delay_ms * sample_rate / 1000.0)

    def gate_initial_gain_db(self, headroom_db: float = 3.0) -> float:
        """The ``initial_gain_db`` for :class:`~realtalk.echo.EchoGate`: the measured gain plus
        ``headroom_db`` (speech excites the path differently from the flat probe), or 0 dB, the
        gate's conservative default, when the measurement is not ``ok``."""
        return self.gain_db + headroom_db if self.ok else 0.0


@runtime_checkable
class DelaySeedable(Protocol):
    """A canceller that can start from a known bulk delay (``EchoCanceller.seed_delay``)."""

    def seed_delay(self, delay_samples: int) -> None:
        """Align to ``delay_samples`` of speaker -> microphone delay now."""
        ...


@runtime_checkable
class GainSeedable(Protocol):
    """A gate whose assumed echo gain (linear energy ratio) can be set before it learns one
    (``EchoGate.initial_gain``)."""

    initial_gain: float


def seed_canceller(canceller: DelaySeedable, measurement: EchoPathMeasurement,
                   sample_rate: int) -> bool:
    """Give ``canceller`` the measured delay; whether it was given (only if ``ok``)."""
    if not measurement.ok:
        return False
    canceller.seed_delay(measurement.delay_samples(sample_rate))
    return True


def seed_gate(gate: GainSeedable, measurement: EchoPathMeasurement,
              headroom_db: float = 3.0) -> bool:
    """Set ``gate``'s assumed echo gain from the measurement; whether it was set (only if
    ``ok``: otherwise the gate keeps its own conservative default)."""
    if not measurement.ok:
        return False
    gate.initial_gain = 10 ** (measurement.gate_initial_gain_db(headroom_db) / 10)
    return True


def _as_samples(samples: npt.ArrayLike, what: str) -> Float64Array:
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise AudioError(f"{what} must be mono (1-D), got shape {arr.shape}")
    if arr.dtype != np.int16:
        raise AudioError(f"{what} must be int16 samples, got {arr.dtype}")
    return arr.astype(np.float64) / _FULL_SCALE


def _db(power: float) -> float:
    return 10 * math.log10(power) if power > 0 else -200.0


@attrs.frozen(eq=False)
class _Path:
    """The direct sound's tap, the path's taps around it and their energy net of noise."""

    direct: int
    start: int
    taps: Float64Array
    energy: float
    confidence: float
    noise_tap_power: float


def _tap_noise(h: Float64Array, full_lags: int, start: int, end: int) -> float:
    """The noise power in one tap of the deconvolved path ``h``, from the taps that cannot
    hold the echo: causal lags outside ``[start, end)`` whose inverse filter lies wholly inside
    the recording (``< full_lags``), and the first non-causal ones (nothing is heard before it
    is played). Measured, not computed from a noise level, so coloured noise is no trouble.
    """
    lags = np.arange(-(len(h) // 16), max(full_lags, 1))
    keep = (lags < start) | (lags >= end)
    return float(np.mean(h[lags[keep]] ** 2))


def _path_from(h: Float64Array, max_lag: int, pre: int, tail: int,
               noise_tap_power: float) -> _Path:
    causal = np.abs(h[: max_lag + 1])
    peak = int(np.argmax(causal))
    first = int(np.argmax(causal >= _FIRST_ARRIVAL * causal[peak]))
    # The first arrival's own peak (its band-limited pulse spans a few taps).
    direct = first + int(np.argmax(causal[first: first + pre + 1]))
    start = max(0, direct - pre)
    taps = h[start: start + pre + tail]
    energy = max(float(np.sum(taps**2)) - noise_tap_power * len(taps), 0.0)
    confidence = float(causal[direct] / (math.sqrt(noise_tap_power) + 1e-30))
    return _Path(direct, start, taps, energy, confidence, noise_tap_power)


def _echo_of(path: _Path, probe_spectrum: npt.NDArray[np.complex128], size: int,
             n: int) -> Float64Array:
    """The first ``n`` samples of the echo ``path`` predicts for the probe."""
    h_path = np.zeros(size)
    h_path[path.start: path.start + len(path.taps)] = path.taps
    echo: Float64Array = np.fft.irfft(np.fft.rfft(h_path) * probe_spectrum, size)[:n]
    return echo


def measure_echo_path(probe_played: npt.ArrayLike, mic_recorded: npt.ArrayLike,
                      sample_rate: int, max_delay_ms: float = 500.0) -> EchoPathMeasurement:
    """Measure the echo path from a probe and the microphone recorded while it played.

    ``mic_recorded[0]`` must be captured at the moment ``probe_played[0]`` was handed to the
    speaker, and the recording should run ``max_delay_ms`` plus about 250 ms (the room's tail)
    past the probe's end; a shorter one loses the end of the echo and some accuracy.

    Raises:
        AudioError: either signal is not 1-D int16, the probe is silent or the recording is
            shorter than the probe.
        ConfigurationError: ``sample_rate`` or ``max_delay_ms`` not positive.
    """
    if not (isinstance(sample_rate, int) and sample_rate > 0):
        raise ConfigurationError(f"sample_rate must be a positive int, got {sample_rate!r}")
    _check_positive("max_delay_ms", max_delay_ms)
    x = _as_samples(probe_played, "probe_played")
    y = _as_samples(mic_recorded, "mic_recorded")
    if len(y) < len(x):
        raise AudioError(f"mic_recorded has {len(y)} samples, fewer than the probe's {len(x)}: "
                         f"record from the probe's start until it has been heard out")
    probe_power = float(np.mean(x * x)) if len(x) else 0.0
    if probe_power <= 0.0:
        raise AudioError("probe_played is silent (all zeros): nothing to measure with")

    max_lag = round(max_delay_ms * sample_rate / 1000)
    tail = round(_TAIL_MS * sample_rate / 1000)
    pre = max(1, round(_PRE_MS * sample_rate / 1000))
    # Linear, not circular, deconvolution: room for the whole recording and the probe.
    size = 1 << (len(y) + len(x) + max_lag + tail).bit_length()
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
    X = np.fft.rfft(x, size)
    Y = np.fft.rfft(y, size)
    band = _band_weights(freqs) * (freqs < 0.45 * sample_rate)
    x_pow = X.real**2 + X.imag**2
    in_band = band > 0.5
    # Regularised inverse: where the (zero-padded) probe's spectrum dips, do not divide by
    # almost nothing and let the noise there dominate h.
    reg = 1e-2 * float(np.mean(x_pow[in_band]))
    inverse = band * np.conj(X) / (x_pow + reg)
    h = np.fft.irfft(Y * inverse, size)
    band_share = float(np.sum(band**2)) / len(freqs)

    # Where the echo is (a first look, with the noise from every causal lag but the first
    # tail's worth), then the noise from the taps outside it.
    rough = _path_from(h, max_lag, pre, tail, 0.0)
    guard = 2 * pre  # the band-limited direct pulse rings a little before its peak
    full_lags = len(y) - len(x)
    noise_tap_power = _tap_noise(h, full_lags, rough.start - guard, rough.start + len(rough.taps))
    path = _path_from(h, max_lag, pre, tail, noise_tap_power)
    confidence = path.confidence
    gain = path.energy / band_share
    sigma = math.sqrt(noise_tap_power) + 1e-30
    # What is left of the microphone once the echo found is taken out.
    residual = y - _echo_of(path, X, size, len(y)) if confidence >= _MIN_CONFIDENCE else y
    noise_power = float(np.mean(residual**2))

    # A tap of the path's direct sound with gain g stands sqrt(g * direct share) over sigma;
    # the direct sound carries about half of a room's energy. The weakest g that would reach
    # the confidence threshold:
    limit_db = _db(2 * (_MIN_CONFIDENCE * sigma) ** 2 / band_share)

    delay_ms = path.direct * 1000.0 / sample_rate
    gain_db = _db(gain)
    floor_dbfs = _db(noise_power)
    if confidence >= _MIN_CONFIDENCE and gain > 0:
        ok, reason = True, ""
    elif limit_db > _RELEVANT_GAIN_DB:
        ok = False
        reason = (f"probe too quiet against the noise: probe at {_db(probe_power):.1f} "
                  f"dBFS, microphone noise at {floor_dbfs:.1f} dBFS; only echoes stronger than "
                  f"{limit_db:.1f} dB could be seen (confidence {confidence:.1f} < "
                  f"{_MIN_CONFIDENCE:g}); play it louder or longer")
    else:
        ok = False
        reason = (f"no echo found within {max_delay_ms:g} ms: the strongest candidate stands "
                  f"only {confidence:.1f} (< {_MIN_CONFIDENCE:g}) over the noise, so any echo "
                  f"is weaker than {limit_db:.1f} dB (headphones, or the speaker muted?)")
    return EchoPathMeasurement(
        ok=ok, reason=reason, delay_ms=delay_ms, gain_db=gain_db, erl_db=-gain_db,
        confidence=confidence, noise_floor_dbfs=floor_dbfs, detection_limit_db=limit_db)


class CalibrationRecording:
    """The microphone frames (and their speaker references) captured while a probe plays, and
    the measurement made from them once there are enough.

    Feed it every captured frame (:meth:`add`) until :attr:`finished`; then :attr:`result`
    holds the measurement, or :attr:`error` says why there is none. The frames must carry
    what the speaker was sent (``AudioFrame.reference``): that is how the recording finds
    when the probe really started, behind whatever playback was queued before it.

    Args:
        probe: the samples played (int16, at ``sample_rate``).
        sample_rate: the rate of the probe and of the frames.
        tail_s: how long to keep recording after the probe: the longest delay searched plus
            the room's reverberation.
        queued_s: how much earlier playback may delay the probe's start.
    """

    def __init__(self, probe: Int16Array, sample_rate: int, *, tail_s: float = 0.75,
                 queued_s: float = 1.0) -> None:
        self.probe = probe
        self.sample_rate = sample_rate
        self.needed = len(probe) + round((tail_s + queued_s) * sample_rate)
        self.result: EchoPathMeasurement | None = None
        self.error: ConfigurationError | None = None
        self._mic: list[Int16Array] = []
        self._reference: list[Int16Array] = []
        self._samples = 0

    @property
    def finished(self) -> bool:
        """Whether the measurement is made (or failed)."""
        return self.result is not None or self.error is not None

    @property
    def timeout_s(self) -> float:
        """Seconds of capture the recording needs, at the least."""
        return self.needed / self.sample_rate

    def add(self, frame: AudioFrame) -> None:
        """One captured frame (ignored once finished)."""
        if self.finished:
            return
        if frame.reference is None:
            self.error = ConfigurationError(
                "calibration needs microphone frames that carry what the speaker played "
                "(AudioFrame.reference), as SoundDevice's do")
            return
        self._mic.append(frame.samples)
        self._reference.append(frame.reference)
        self._samples += len(frame.samples)
        if self._samples >= self.needed:
            mic = np.concatenate(self._mic)
            start = find_probe(self.probe, np.concatenate(self._reference))
            self.result = measure_echo_path(self.probe, mic[start:], self.sample_rate)
            self._mic, self._reference = [], []


def find_probe(probe: Int16Array, reference: Int16Array) -> int:
    """Where ``probe`` starts in the recorded speaker reference (it is there sample for
    sample: the reference is what the speaker was sent)."""
    size = 1 << (len(reference) + len(probe)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(reference.astype(np.float64), size)
                        * np.conj(np.fft.rfft(probe.astype(np.float64), size)), size)
    return int(np.argmax(corr[: len(reference) - len(probe) + 1]))
