"""A virtual room: what reaches the microphone while the speaker plays and the user talks.

::

    mic(t) = echo(t) + user(t) + noise(t)
    echo(t) = sum_k h[k] * L(speaker(t - D - k))

``speaker`` is what :meth:`Room.speaker_played` was given, ``L`` the loudspeaker (a tanh soft
clipper when :attr:`EchoPath.distortion` > 0, else the identity), ``D`` the bulk delay and ``h``
a synthetic room impulse response (:meth:`EchoPath.impulse_response`): a direct path, a few early
reflections and an exponentially decaying noise tail (Polack's model) with a chosen RT60, scaled
so that its energy ``sum(h**2)`` is the path's gain (``gain_db``, the negative of the echo return
loss).

The room streams sample-exactly. It keeps one timeline for speaker and mic; samples given to
:meth:`Room.speaker_played` are emitted back to back from the end of what was emitted so far, and
reading the mic past that end means the speaker was silent there (later samples start after the
silence). Convolution is an overlap-add of FFT blocks, so reading the mic in any block sizes, and
playing the speaker in any chunks, gives the same samples as doing each at once (to float64
rounding; the int16 mic at most 1 LSB apart, in practice identical).

Ground truth is kept: :meth:`Room.ground_truth` returns the echo, user and noise components of
everything read so far, plus the speaker reference aligned with the mic, for ERLE and SI-SDR.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Literal

import attrs
import numpy as np
import numpy.typing as npt

from ..audio.pcm import float_to_int16
from ..errors import AudioError, ConfigurationError
from .signals import SignalGenerator, pink_noise, scale_to_dbfs, talker_babble, white_noise

__all__ = ("EchoPath", "RoomConfig", "RoomSignals", "Room", "ROOM_SIZES", "NOISE_DBFS",
           "SPEAKER_DRIVES")

NoiseKind = Literal["pink", "white", "babble"]
_NOISES: Mapping[str, SignalGenerator] = {
    "pink": pink_noise, "white": white_noise, "babble": talker_babble}

# The conditions of RoomConfig.sampled, which are those of the barge-in benchmark's unseen
# block (benchmarks/barge_in.py, docs/barge-in-unseen.md): nothing in realtalk was tuned on them.
ROOM_SIZES: Mapping[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "dry": ((5.0, 40.0), (0.2, 0.4)),
    "live": ((40.0, 150.0), (0.4, 0.7)),
}
"""Per kind of room, the ranges its bulk delay (ms) and RT60 (s) are drawn from."""
NOISE_DBFS: Mapping[str, float] = {"pink": -50.0, "babble": -40.0}
"""Per kind of background noise, its level: pink noise (a fan, an air conditioner) or four
talkers behind the user (:func:`~realtalk.sim.talker_babble`)."""
SPEAKER_DRIVES: Mapping[str, float] = {"linear": 0.0, "clipped": 2.0}
"""Per kind of loudspeaker, the drive of its soft clipper (:attr:`EchoPath.distortion`)."""

_MAX_RIR_MS = 2_000.0
_DIRECT_CONVOLVE_OPS = 1 << 16  # below this many multiply-adds, np.convolve beats an FFT

Float64Array = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]


def _non_negative(name: str) -> Callable[[object, attrs.Attribute[float], float], None]:
    def check(_: object, __: attrs.Attribute[float], value: float) -> None:
        if not (math.isfinite(value) and value >= 0.0):
            raise ConfigurationError(f"{name} must be a finite number >= 0, got {value!r}")

    return check


def _finite(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value):
        raise ConfigurationError(f"{attribute.name} must be a finite number, got {value!r}")


@attrs.frozen(kw_only=True)
class EchoPath:
    """The loudspeaker-to-microphone path.

    Attributes:
        delay_ms: bulk delay before the direct sound arrives (converters, distance).
        gain_db: energy gain of the impulse response, ``10*log10(sum(h**2))``; for white noise
            this is the echo level relative to the speaker signal (-ERL). -10 to +10 dB covers
            far-field to a loud laptop.
        rt60_s: reverberation time: the tail's energy falls 60 dB in this many seconds.
        rir_ms: length of the impulse response (typically 100-300 ms).
        early_reflections: discrete reflections 1-20 ms after the direct sound.
        direct_to_reverb_db: energy of the direct sound over that of the decaying tail.
        distortion: drive ``g`` of the loudspeaker's soft clipper ``tanh(g*x)/g``; 0 is linear.
            Small signals keep unit gain; 2-4 is a strained laptop speaker.
        seed: seeds the reflections and the tail; same seed, same response.
    """

    delay_ms: float = attrs.field(default=10.0, validator=_non_negative("delay_ms"))
    gain_db: float = attrs.field(default=-10.0, validator=_finite)
    rt60_s: float = attrs.field(default=0.25)
    rir_ms: float = attrs.field(default=200.0)
    early_reflections: int = attrs.field(default=4)
    direct_to_reverb_db: float = attrs.field(default=3.0, validator=_finite)
    distortion: float = attrs.field(default=0.0, validator=_non_negative("distortion"))
    seed: int = 0

    @rt60_s.validator
    def _check_rt60(self, _: attrs.Attribute[float], value: float) -> None:
        if not (math.isfinite(value) and value > 0.0):
            raise ConfigurationError(f"rt60_s must be > 0 seconds, got {value!r}")

    @rir_ms.validator
    def _check_rir_ms(self, _: attrs.Attribute[float], value: float) -> None:
        if not (math.isfinite(value) and 0.0 < value <= _MAX_RIR_MS):
            raise ConfigurationError(f"rir_ms must be in (0, {_MAX_RIR_MS:g}] ms, got {value!r}")

    @early_reflections.validator
    def _check_reflections(self, _: attrs.Attribute[int], value: int) -> None:
        if value < 0:
            raise ConfigurationError(f"early_reflections must be >= 0, got {value!r}")

    def delay_samples(self, sample_rate: int) -> int:
        """The bulk delay in whole samples at ``sample_rate``."""
        return round(self.delay_ms * sample_rate / 1000.0)

    def impulse_response(self, sample_rate: int) -> Float64Array:
        """The room impulse response at ``sample_rate``, bulk delay excluded (h[0] is the direct
        sound, the largest tap). Read-only; deterministic for the same fields and rate.
        """
        n = max(1, round(self.rir_ms * sample_rate / 1000.0))
        rng = np.random.default_rng([self.seed, sample_rate])
        t = np.arange(n) / sample_rate
        h = np.zeros(n)
        h[0] = 1.0

        # Diffuse tail: Gaussian noise whose energy decays 60 dB in rt60 (amplitude e^(-6.91 t/T))
        # building up over the first 5 ms, scaled to the direct-to-reverberant ratio.
        tail = rng.standard_normal(n) * np.exp(-3.0 * math.log(10.0) * t / self.rt60_s)
        tail *= np.sin(0.5 * np.pi * np.minimum(1.0, t / 0.005)) ** 2
        tail[0] = 0.0
        tail_energy = float(np.sum(tail * tail))
        if tail_energy > 0.0:
            h += tail * math.sqrt(10.0 ** (-self.direct_to_reverb_db / 10.0) / tail_energy)

        # Early reflections: a few strong discrete echoes, always weaker than the direct sound.
        if self.early_reflections and n > 1:
            lo = max(1, round(0.001 * sample_rate))
            hi = max(lo + 1, min(n, round(0.020 * sample_rate)))
            where = rng.integers(lo, hi, self.early_reflections)
            where = np.minimum(where, n - 1)
            size = rng.uniform(0.15, 0.5, self.early_reflections)
            sign = rng.choice(np.array([-1.0, 1.0]), self.early_reflections)
            np.add.at(h, where, size * sign)

        h *= math.sqrt(10.0 ** (self.gain_db / 10.0) / float(np.sum(h * h)))
        h.setflags(write=False)
        return h

    @classmethod
    def sampled(
        cls,
        seed: int,
        *,
        gain_db: float = -10.0,
        delay_ms: tuple[float, float] = (5.0, 150.0),
        rt60_s: tuple[float, float] = (0.2, 0.7),
        distortion: float = 0.0,
    ) -> EchoPath:
        """A random synthetic room, the same for the same ``seed``: bulk delay and RT60 drawn
        uniformly from the given ranges, 2-8 early reflections, a direct-to-reverberant ratio
        of -3 to +8 dB (farther and more reverberant rooms have less direct sound).

        Raises:
            ConfigurationError: a range is reversed or outside what :class:`EchoPath` accepts.
        """
        for name, (lo, hi) in (("delay_ms", delay_ms), ("rt60_s", rt60_s)):
            if not lo <= hi:
                raise ConfigurationError(f"{name} must be a (low, high) range, got {(lo, hi)!r}")
        rng = np.random.default_rng([seed, 0xEC0])
        return cls(
            delay_ms=float(rng.uniform(*delay_ms)),
            gain_db=gain_db,
            rt60_s=float(rng.uniform(*rt60_s)),
            rir_ms=250.0,
            early_reflections=int(rng.integers(2, 9)),
            direct_to_reverb_db=float(rng.uniform(-3.0, 8.0)),
            distortion=distortion,
            seed=int(rng.integers(1 << 30)),
        )

    def moved(
        self,
        seed: int,
        *,
        delay_shift_ms: tuple[float, float] = (3.0, 60.0),
        gain_change_db: float = 3.0,
        max_delay_ms: float = 150.0,
    ) -> EchoPath:
        """This path after the device moved or its volume changed, the same for the same
        ``seed``: the bulk delay shifts by ``delay_shift_ms`` (either way, kept within 0 to
        ``max_delay_ms``), the gain by up to ``gain_change_db`` either way, the RT60 by up to
        20 %, and the impulse response is a new one (every reflection moves).
        """
        rng = np.random.default_rng([seed, 0x30FE])
        shift = float(rng.uniform(*delay_shift_ms)) * float(rng.choice(np.array([-1.0, 1.0])))
        delay = self.delay_ms + shift
        if not 0.0 <= delay <= max_delay_ms:
            delay = self.delay_ms - shift  # the other way stays in range when this one cannot
        return attrs.evolve(
            self,
            delay_ms=min(max(delay, 0.0), max_delay_ms),
            gain_db=self.gain_db + float(rng.uniform(-gain_change_db, gain_change_db)),
            rt60_s=self.rt60_s * float(rng.uniform(0.8, 1.2)),
            seed=int(rng.integers(1 << 30)),
        )

    def loudspeaker(self, x: Float64Array) -> Float64Array:
        """What the loudspeaker emits for ``x``: ``tanh(g*x)/g`` with ``g = distortion``."""
        if self.distortion == 0.0:
            return x
        drive = self.distortion
        out: Float64Array = np.tanh(drive * x) / drive
        return out


@attrs.frozen(kw_only=True)
class RoomConfig:
    """A room: its sample rate, its echo path (``None``: no echo) and its noise floor.

    Attributes:
        sample_rate: of every signal in the room, in Hz.
        echo: the loudspeaker-to-microphone path; ``None`` for headphones.
        noise_dbfs: level of the default background noise (looping every 10 s); ``None`` for
            none. :meth:`Room.set_noise` replaces it.
        noise: what that noise is: ``"pink"``, ``"white"``, or ``"babble"`` (four talkers,
            :func:`~realtalk.sim.talker_babble`).
        seed: seeds the default noise.
    """

    sample_rate: int = attrs.field(default=24_000)
    echo: EchoPath | None = attrs.field(factory=EchoPath)
    noise_dbfs: float | None = -70.0
    noise: NoiseKind = attrs.field(default="pink")
    seed: int = 0

    @sample_rate.validator
    def _check_rate(self, _: attrs.Attribute[int], value: int) -> None:
        if value <= 0:
            raise ConfigurationError(f"sample_rate must be a positive rate in Hz, got {value!r}")

    @noise.validator
    def _check_noise(self, _: attrs.Attribute[str], value: str) -> None:
        if value not in _NOISES:
            raise ConfigurationError(
                f"noise must be one of {', '.join(map(repr, _NOISES))}, got {value!r}")

    @classmethod
    def sampled(cls, seed: int = 0, *, room: Literal["dry", "live"] = "live",
                noise: Literal["pink", "babble"] = "babble",
                speaker: Literal["linear", "clipped"] = "clipped",
                echo_gain_db: float = 0.0, sample_rate: int = 24_000) -> RoomConfig:
        """A room drawn as the barge-in benchmark draws the rooms nothing in realtalk was
        tuned on (docs/barge-in-unseen.md), the same for the same ``seed``. The defaults are
        its hardest: a live room (bulk delay 40-150 ms, RT60 0.4-0.7 s), four talkers behind
        the user at -40 dBFS, a soft-clipping loudspeaker, echo as loud as the playback.
        ``room="dry"``: 5-40 ms, 0.2-0.4 s; ``noise="pink"``: pink noise at -50 dBFS;
        ``speaker="linear"``: no clipping (see :data:`ROOM_SIZES`, :data:`NOISE_DBFS`,
        :data:`SPEAKER_DRIVES`). To move the echo path mid-conversation as well, give the
        simulation a :class:`~realtalk.sim.PathChange` to ``config.echo.moved(seed)``.

        Raises:
            ConfigurationError: an unknown ``room``, ``noise`` or ``speaker``.
        """
        for name, value, known in (("room", room, ROOM_SIZES), ("noise", noise, NOISE_DBFS),
                                   ("speaker", speaker, SPEAKER_DRIVES)):
            if value not in known:
                raise ConfigurationError(
                    f"{name} must be one of {', '.join(map(repr, known))}, got {value!r}")
        delay_ms, rt60_s = ROOM_SIZES[room]
        echo = EchoPath.sampled(seed, gain_db=echo_gain_db, delay_ms=delay_ms, rt60_s=rt60_s,
                                distortion=SPEAKER_DRIVES[speaker])
        return cls(sample_rate=sample_rate, echo=echo, noise_dbfs=NOISE_DBFS[noise],
                   noise=noise, seed=seed)

    @classmethod
    def quiet_office(cls, *, sample_rate: int = 24_000, seed: int = 0,
                     echo_gain_db: float = -15.0) -> RoomConfig:
        """Desktop speakers about 3 m away in a furnished office: moderate, reverberant echo.

        ``echo_gain_db`` sets how loud the echo path is (the speaker volume, in effect).
        """
        echo = EchoPath(
            delay_ms=12.0,
            gain_db=echo_gain_db,
            rt60_s=0.35,
            rir_ms=250.0,
            early_reflections=6,
            direct_to_reverb_db=0.0,
            seed=seed,
        )
        return cls(sample_rate=sample_rate, echo=echo, noise_dbfs=-65.0, seed=seed)

    @classmethod
    def laptop_loud(cls, *, sample_rate: int = 24_000, seed: int = 0) -> RoomConfig:
        """A laptop at full volume: speaker next to the mic, echo as loud as the playback,
        a strained (soft-clipping) speaker and fan noise.
        """
        echo = EchoPath(
            delay_ms=3.0,
            gain_db=0.0,
            rt60_s=0.2,
            rir_ms=150.0,
            early_reflections=3,
            direct_to_reverb_db=8.0,
            distortion=3.0,
            seed=seed,
        )
        return cls(sample_rate=sample_rate, echo=echo, noise_dbfs=-50.0, seed=seed)

    @classmethod
    def headphones(cls, *, sample_rate: int = 24_000, seed: int = 0) -> RoomConfig:
        """Headphones: no echo at all, a quiet noise floor."""
        return cls(sample_rate=sample_rate, echo=None, noise_dbfs=-70.0, seed=seed)


def _read_only_f32(value: npt.ArrayLike) -> Float32Array:
    arr = np.array(value, dtype=np.float32)
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class RoomSignals:
    """Ground truth for a stretch of the mic signal, all float32 aligned sample for sample.

    ``mic == echo + user + noise`` exactly (float32, added in that order); the int16 mic that
    :meth:`Room.mic_frame` returned is :meth:`mic_int16`.

    Attributes:
        start: the first sample's index on the room's timeline.
        sample_rate: in Hz.
        speaker: what the speaker was asked to play (the AEC reference), zero where silent.
        echo: the echo-only component of the mic signal.
        user: the user-only component.
        noise: the noise-only component.
        mic: the sum.
    """

    start: int
    sample_rate: int
    speaker: Float32Array = attrs.field(converter=_read_only_f32)
    echo: Float32Array = attrs.field(converter=_read_only_f32)
    user: Float32Array = attrs.field(converter=_read_only_f32)
    noise: Float32Array = attrs.field(converter=_read_only_f32)
    mic: Float32Array = attrs.field(converter=_read_only_f32)

    def mic_int16(self) -> npt.NDArray[np.int16]:
        """The mic as the room delivered it: PCM16, clipped at full scale."""
        return float_to_int16(self.mic)


class _PathState:
    """An echo path at the room's rate, with FFTs of its response cached per size."""

    def __init__(self, path: EchoPath, sample_rate: int) -> None:
        self.path = path
        self.delay = path.delay_samples(sample_rate)
        self.rir = path.impulse_response(sample_rate)
        self._spectra: dict[int, npt.NDArray[np.complex128]] = {}

    def echo_of(self, x: Float64Array) -> Float64Array:
        """The full response (``len(x) + len(rir) - 1`` samples) to speaker samples ``x``."""
        emitted = self.path.loudspeaker(x)
        taps = len(self.rir)
        if len(x) * taps <= _DIRECT_CONVOLVE_OPS:
            direct: Float64Array = np.convolve(emitted, self.rir).astype(np.float64, copy=False)
            return direct
        size = len(x) + taps - 1
        nfft = 1 << (size - 1).bit_length()
        spectrum = self._spectra.get(nfft)
        if spectrum is None:
            spectrum = self._spectra[nfft] = np.fft.rfft(self.rir, nfft)
        out: Float64Array = np.fft.irfft(np.fft.rfft(emitted, nfft) * spectrum, nfft)[:size]
        return out


class _Accumulator:
    """Overlap-add buffer: future echo samples from ``origin`` on, with amortised growth."""

    def __init__(self) -> None:
        self._buf = np.zeros(0)
        self._head = 0
        self.origin = 0  # timeline index of self._buf[self._head]

    def add(self, at: int, y: Float64Array) -> None:
        offset = self._head + at - self.origin
        need = offset + len(y)
        if need > len(self._buf):
            live = self._buf[self._head :]
            grown = np.zeros(max(need - self._head, 2 * len(live), 4096))
            grown[: len(live)] = live
            self._buf, self._head = grown, 0
            offset = at - self.origin
        self._buf[offset : offset + len(y)] += y

    def take(self, n: int) -> Float64Array:
        out = np.zeros(n)
        available = min(n, len(self._buf) - self._head)
        if available > 0:
            out[:available] = self._buf[self._head : self._head + available]
        if self._head + n >= len(self._buf):
            self._buf, self._head = np.zeros(0), 0  # all consumed: start afresh
        else:
            self._head += n
        self.origin += n
        return out


def _as_float64(samples: npt.ArrayLike, what: str) -> Float64Array:
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise AudioError(f"{what} must be mono (1-D), got shape {arr.shape}")
    if arr.dtype == np.int16:
        return arr.astype(np.float64) / 32768.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise AudioError(f"{what} must be int16 or float samples, got {arr.dtype}")
    x = arr.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{what} contains NaN or infinite samples")
    return x


class Room:
    """Streams the microphone signal of a :class:`RoomConfig`, sample-exactly.

    Args:
        config: the room; defaults to ``RoomConfig()``.
        keep_history: record every component for :meth:`ground_truth` (float32, 20 bytes per
            sample); turn off for very long runs.
    """

    def __init__(self, config: RoomConfig | None = None, *, keep_history: bool = True) -> None:
        self.config = config if config is not None else RoomConfig()
        self.sample_rate = self.config.sample_rate
        self._keep_history = keep_history
        self._mic_pos = 0
        self._speaker_end = 0
        self._pending: list[tuple[int, Float64Array]] = []  # played, not yet convolved
        self._paths: list[tuple[int, _PathState | None]] = [
            (0, self._state(self.config.echo)),
        ]
        self._echo = _Accumulator()
        self._user: list[tuple[int, Float64Array]] = []
        self._noise: Float32Array | None = None
        self.clipped_samples = 0
        self._history: dict[str, list[Float32Array]] = {
            "echo": [],
            "user": [],
            "noise": [],
            "mic": [],
        }
        self._speaker_log: list[tuple[int, Float32Array]] = []
        if self.config.noise_dbfs is not None:
            self.set_noise(_NOISES[self.config.noise], self.config.noise_dbfs,
                           seed=self.config.seed)

    def _state(self, path: EchoPath | None) -> _PathState | None:
        return None if path is None else _PathState(path, self.sample_rate)

    # -- timeline ---------------------------------------------------------------------------

    @property
    def mic_position(self) -> int:
        """Samples of mic signal read so far (the index of the next mic sample)."""
        return self._mic_pos

    @property
    def speaker_position(self) -> int:
        """The timeline index where the next :meth:`speaker_played` samples will start."""
        return max(self._speaker_end, self._mic_pos)

    @property
    def echo_path(self) -> EchoPath | None:
        """The echo path for sound emitted at :attr:`speaker_position`."""
        state = self._path_at(self.speaker_position)
        return None if state is None else state.path

    def _path_at(self, sample: int) -> _PathState | None:
        current = self._paths[0][1]
        for start, state in self._paths:
            if start > sample:
                break
            current = state
        return current

    # -- inputs -----------------------------------------------------------------------------

    def speaker_played(self, samples: npt.ArrayLike) -> None:
        """The loudspeaker emitted ``samples`` (int16, or float in [-1, 1]), right after
        whatever it emitted before (or after the silence the mic has already heard).

        Raises:
            AudioError: samples are not 1-D, not int16/float, or not finite.
        """
        x = _as_float64(samples, "speaker samples")
        if not len(x):
            return
        start = self.speaker_position
        self._pending.append((start, x))
        self._speaker_end = start + len(x)
        if self._keep_history:
            self._speaker_log.append((start, x.astype(np.float32)))

    def change_path(self, at_sample: int, path: EchoPath | None) -> None:
        """From timeline sample ``at_sample`` on, sound leaves the speaker through ``path``
        (``None``: no echo). Sound emitted earlier keeps ringing through the old path.

        Raises:
            ConfigurationError: ``at_sample`` is before :attr:`mic_position` (already heard).
        """
        if at_sample < self._mic_pos:
            raise ConfigurationError(
                f"cannot change the echo path at sample {at_sample}: the mic has already been "
                f"read up to sample {self._mic_pos}"
            )
        kept = [(s, p) for s, p in self._paths if s != at_sample]
        kept.append((at_sample, self._state(path)))
        kept.sort(key=lambda item: item[0])
        self._paths = kept

    def add_user_speech(
        self,
        samples: npt.ArrayLike,
        at_sample: int | None = None,
        *,
        level_dbfs: float | None = None,
    ) -> int:
        """Schedule the user's voice (int16 or float) to reach the mic from ``at_sample``
        (default: the next mic sample), rescaled to ``level_dbfs`` RMS if given. Overlapping
        utterances add up. Returns the start sample.

        Raises:
            ConfigurationError: ``at_sample`` is before :attr:`mic_position`.
            AudioError: samples are not 1-D, not int16/float, or not finite.
        """
        start = self._mic_pos if at_sample is None else at_sample
        if start < self._mic_pos:
            raise ConfigurationError(
                f"user speech at sample {start} is in the past: the mic has been read up to "
                f"sample {self._mic_pos}"
            )
        x = _as_float64(samples, "user speech")
        if level_dbfs is not None:
            x = scale_to_dbfs(x, level_dbfs).astype(np.float64)
        if len(x):
            self._user.append((start, x))
        return start

    def set_noise(
        self,
        source: SignalGenerator | npt.ArrayLike | None,
        level_dbfs: float = -60.0,
        *,
        seed: int = 0,
        period_s: float = 10.0,
    ) -> None:
        """Background noise from now on: a generator (``white_noise``, ``pink_noise``,
        ``babble``, ...) rendered once for ``period_s`` seconds at ``level_dbfs``, or an array
        rescaled to ``level_dbfs``; either loops. Noise sample ``t`` of the timeline is
        ``loop[t % len(loop)]``. ``None`` turns noise off.
        """
        if source is None:
            self._noise = None
            return
        if callable(source):
            loop = source(period_s, seed=seed, rate=self.sample_rate, level_dbfs=level_dbfs)
        else:
            loop = scale_to_dbfs(_as_float64(source, "noise"), level_dbfs)
        self._noise = loop.astype(np.float32) if len(loop) else None

    # -- output -----------------------------------------------------------------------------

    def mic_frame(self, n: int) -> npt.NDArray[np.int16]:
        """The next ``n`` mic samples as PCM16 (clipped at full scale; see
        :attr:`clipped_samples`).
        """
        mic = self.mic_frame_float(n)
        self.clipped_samples += int(np.count_nonzero(np.abs(mic) >= 1.0))
        return float_to_int16(mic)

    def mic_frame_float(self, n: int) -> Float32Array:
        """The next ``n`` mic samples as float32 (not clipped)."""
        if n < 0:
            raise ConfigurationError(f"n must be >= 0 samples, got {n}")
        start, end = self._mic_pos, self._mic_pos + n
        self._convolve_until(end)
        echo = self._echo.take(n).astype(np.float32)
        user = self._user_between(start, end).astype(np.float32)
        noise = self._noise_between(start, end)
        mic = echo + user + noise
        self._mic_pos = end
        self._speaker_end = max(self._speaker_end, end)
        if self._keep_history:
            for key, value in (("echo", echo), ("user", user), ("noise", noise), ("mic", mic)):
                self._history[key].append(value)
        return mic

    def _convolve_until(self, end: int) -> None:
        """Feed every speaker sample before ``end`` through its echo path into the echo buffer;
        later ones wait (a path change may still split them).
        """
        later: list[tuple[int, Float64Array]] = []
        ready: list[tuple[int, Float64Array]] = []
        for start, x in self._pending:
            if start + len(x) <= end:
                ready.append((start, x))
            elif start >= end:
                later.append((start, x))
            else:
                ready.append((start, x[: end - start]))
                later.append((end, x[end - start :]))
        self._pending = later
        for start, x in _merge(ready):
            self._emit(start, x)

    def _emit(self, start: int, x: Float64Array) -> None:
        bounds = [s for s, _ in self._paths if start < s < start + len(x)]
        edges = [start, *bounds, start + len(x)]
        for a, b in itertools.pairwise(edges):
            state = self._path_at(a)
            segment = x[a - start : b - start]
            # A silent speaker adds no echo (the tail of earlier sound is already buffered):
            # skipping the convolution keeps the turns where the user talks cheap.
            if state is not None and segment.any():
                self._echo.add(a + state.delay, state.echo_of(segment))

    def _user_between(self, start: int, end: int) -> Float64Array:
        out = np.zeros(end - start)
        for at, x in self._user:
            lo, hi = max(start, at), min(end, at + len(x))
            if lo < hi:
                out[lo - start : hi - start] += x[lo - at : hi - at]
        self._user = [(at, x) for at, x in self._user if at + len(x) > end]
        return out

    def _noise_between(self, start: int, end: int) -> Float32Array:
        if self._noise is None:
            return np.zeros(end - start, dtype=np.float32)
        idx = np.arange(start, end) % len(self._noise)
        out: Float32Array = self._noise[idx]
        return out

    # -- ground truth -----------------------------------------------------------------------

    def ground_truth(self, start: int = 0, stop: int | None = None) -> RoomSignals:
        """Components of mic samples ``[start, stop)`` (default: everything read so far).

        Raises:
            ConfigurationError: the room was made with ``keep_history=False``, or the range is
                outside what has been read.
        """
        stop = self._mic_pos if stop is None else stop
        if not self._keep_history:
            raise ConfigurationError("ground truth needs Room(..., keep_history=True)")
        if not 0 <= start <= stop <= self._mic_pos:
            raise ConfigurationError(
                f"range [{start}, {stop}) is outside the {self._mic_pos} mic samples read so far"
            )

        def joined(key: str) -> Float32Array:
            parts = self._history[key]
            whole = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            return whole[start:stop]

        speaker = np.zeros(self._mic_pos, dtype=np.float32)
        for at, x in self._speaker_log:
            if at < self._mic_pos:
                piece = x[: self._mic_pos - at]
                speaker[at : at + len(piece)] = piece
        return RoomSignals(
            start=start,
            sample_rate=self.sample_rate,
            speaker=speaker[start:stop],
            echo=joined("echo"),
            user=joined("user"),
            noise=joined("noise"),
            mic=joined("mic"),
        )


def _merge(chunks: list[tuple[int, Float64Array]]) -> list[tuple[int, Float64Array]]:
    """Join back-to-back chunks so each contiguous run is convolved with one FFT."""
    runs: list[tuple[int, list[Float64Array]]] = []
    end = -1
    for start, x in chunks:
        if runs and start == end:
            runs[-1][1].append(x)
        else:
            runs.append((start, [x]))
        end = start + len(x)
    return [(start, np.concatenate(parts)) for start, parts in runs]
