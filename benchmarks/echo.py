"""Echo cancellers side by side: how much echo they remove, how fast, what a path change and
long double talk do to them, and what they cost. One run, the same rooms for every canceller.

Usage::

    python benchmarks/echo.py [--quick] [--rate 16000|24000] [--frame-ms 10|20] [--seed N]
                              [--contenders NAME ...] [--canceller MODULE:ATTR] [--wav DIR]
                              [--no-chain] [--jobs N]

Prints a line per room and per canceller, then one JSON object as the last line, keyed by
canceller. The full run is 5 rooms x 18 s of audio per canceller and takes well under a minute
on 2 cores; ``--quick`` is one short room (about 9 s of audio) for a smoke run.

Contenders, each fed the same int16 mic frames with the exact speaker samples of the same
period attached (``AudioFrame.reference``, not pre-delayed: finding the delay is the
canceller's job), one instance per room, processing frame by frame as a live stream would:

- ``realtalk``: ``realtalk.echo.default(sample_rate=...)``, the chain a conversation runs (the
  canceller with its residual echo suppressor), or ``--canceller``; ``realtalk_linear``:
  ``realtalk.echo.EchoCanceller`` alone, the linear filter without the suppressor;
- ``none``: the raw mic, the baseline every metric is relative to;
- ``speex``: Speex MDF with its preprocessor (residual echo suppressor and denoiser) via PyPI
  ``pyaec``, the package's default set-up; ``speex_mdf``: the linear MDF filter alone;
- ``webrtc_aec3``: WebRTC's AEC3 via PyPI ``livekit`` (``rtc.AudioProcessingModule``, echo
  cancellation only, stream delay 0, 10 ms frames).

``pyaec`` and ``livekit`` are the optional ``bench`` extra; where they are missing their rows
say ``skipped`` with the reason. The rooms, the metrics, the goals and every choice behind
them are described in ``docs/echo-bench.md``.

Then, unless ``--no-chain``, the JSON gets a ``chain`` block (``benchmarks/echo_chain.py``):
the whole default defence (canceller, gate, detector, transcript filters) in simulated
conversations on the barge-in corpus: ``false_barge_ins`` and ``echo_transcripts_kept`` over
10 minutes of AI-only replies with echo as loud as the user, and ``detected_pct`` of true
barge-ins. That takes about 2 minutes more (``--quick``: about 15 s).
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import importlib
import json
import math
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol

import attrs
import numpy as np
import numpy.typing as npt
from echo_chain import chain_report
from echo_metrics import (
    FAR_ACTIVE_DBFS,
    Alignment,
    SegmentalErle,
    aligned_si_sdr,
    erle_db,
    real_time_factor,
    segmental_erle,
    shift,
)

from realtalk.audio import AudioFrame, write_wav
from realtalk.errors import ConfigurationError
from realtalk.sim import EchoPath, Room, RoomConfig, load_clip, white_noise

Int16 = npt.NDArray[np.int16]
Float = npt.NDArray[np.float64]

USER_DBFS = -30.0  # active level of the user's voice at the mic; leaves headroom for +10 dB echo
ACTIVE_RANGE_DB = 30.0  # a 20 ms frame is active when within this of the signal's loudest
FAR_CLIPS = ("forecast", "how_long", "sorry_can_i_ask", "never_mind", "wait_stop",
             "weather_tomorrow")  # the AI: voices en-us, en-gb-x-rp, en-gb, en+m7, en-us+f2
NEAR_CLIPS = ("hold_on", "not_what_i_meant", "yes_please", "repeat_that")  # the user: other voices
FAR_PAUSE_S = (0.15, 0.35)  # between the AI's sentences: short, as a reply flows on
NEAR_GAP_S = 0.1  # between the user's sentences: one long stretch of double talk
MAX_LAG_MS = 30.0  # best-lag search range for SI-SDR and latency
CONVERGED_DB = 20.0  # "converged": segmental ERLE at or above this ...
HOLD_S = 1.0  # ... for this long
DIVERGED_DROP_DB = 6.0  # ERLE this much lower after double talk than before: diverged
SPEEX_TAIL_MS = 256.0  # covers the longest bulk delay (80 ms) plus most of a 0.6 s RT60 tail
CONTENDERS = ("realtalk", "realtalk_linear", "none", "speex", "speex_mdf", "webrtc_aec3")
REFERENCES = ("speex", "speex_mdf", "webrtc_aec3")
DEFAULT_CANCELLER = "realtalk.echo:default"

# The goals of issue 5 (the chain goals belong to the barge-in bench).
GOAL_NOISE_FREE_ERLE_DB = 30.0
GOAL_ERLE_1S_DB = 20.0
GOAL_RECONVERGE_S = 1.0
GOAL_RTF = 0.01

# ---------------------------------------------------------------------------------------------
# Rooms


@attrs.frozen
class Scenario:
    """One simulated room.

    Attributes:
        name: short id.
        path: the echo path from the start (its ``gain_db`` is recalibrated, see below).
        changed_path: the path after the mid-run change (new response, delay jump).
        echo_to_speech_db: active level of the echo at the mic over that of the user's voice;
            the paths' gain is set to reach it on this run's far-end speech.
        noise: the background noise kind.
        noise_dbfs: its RMS level (ignored for ``"none"``).
    """

    name: str
    path: EchoPath
    changed_path: EchoPath
    echo_to_speech_db: float
    noise: Literal["none", "pink", "white"] = "none"
    noise_dbfs: float = -200.0


@attrs.frozen
class Timeline:
    """Where things happen in every room's run, in seconds from the start.

    ``[0, converge_s)``: the AI talks alone from a cold start; the echo path changes at
    ``converge_s``; ``[converge_s, converge_s + reconverge_s)``: the AI talks alone again;
    then the user talks over it (``near_clips`` sentences back to back); then ``after_s`` of
    the AI alone, to see whether the double talk made the filter diverge.
    """

    converge_s: float
    reconverge_s: float
    near_clips: int
    after_s: float

    @property
    def dt_start_s(self) -> float:
        return self.converge_s + self.reconverge_s


FULL = Timeline(converge_s=6.0, reconverge_s=4.0, near_clips=4, after_s=3.0)
QUICK = Timeline(converge_s=3.0, reconverge_s=2.0, near_clips=2, after_s=1.5)


def _path(delay_ms: float, rt60_s: float, seed: int, *, reflections: int = 4,
          direct_to_reverb_db: float = 3.0) -> EchoPath:
    # The response runs until the tail has decayed 60 dB (what a real room rings for).
    return EchoPath(delay_ms=delay_ms, rt60_s=rt60_s, rir_ms=1000.0 * rt60_s,
                    early_reflections=reflections, direct_to_reverb_db=direct_to_reverb_db,
                    seed=seed)


SCENARIOS: tuple[Scenario, ...] = (
    # A small, damped room, speakers turned down: soft echo, no noise.
    Scenario("small_clean", _path(5.0, 0.15, 11, reflections=3, direct_to_reverb_db=6.0),
             _path(25.0, 0.2, 12, reflections=3, direct_to_reverb_db=6.0), -10.0),
    # An office, echo as loud as the user: once without noise, once with pink noise.
    Scenario("office_clean", _path(15.0, 0.3, 21, reflections=6, direct_to_reverb_db=0.0),
             _path(40.0, 0.3, 22, reflections=6, direct_to_reverb_db=0.0), 0.0),
    Scenario("office_noisy", _path(15.0, 0.3, 21, reflections=6, direct_to_reverb_db=0.0),
             _path(40.0, 0.3, 22, reflections=6, direct_to_reverb_db=0.0), 0.0,
             "pink", -60.0),
    # A living room, echo louder than the user; the delay jumps down at the change.
    Scenario("living_room", _path(30.0, 0.45, 31), _path(10.0, 0.4, 32), 5.0, "pink", -55.0),
    # A reverberant hall with a distant speaker: long delay, long tail, loud echo, white noise.
    Scenario("hall_loud", _path(80.0, 0.6, 41, direct_to_reverb_db=-3.0),
             _path(50.0, 0.55, 42, direct_to_reverb_db=-3.0), 10.0, "white", -55.0),
)
QUICK_SCENARIOS = ("office_noisy",)


def active_level_dbfs(x: Float, rate: int) -> float:
    """Mean power of ``x``'s active 20 ms frames (within 30 dB of its loudest), in dBFS: a
    speech level that pauses do not drag down."""
    size = rate // 50
    n = len(x) // size
    power = np.mean(x[: n * size].reshape(n, size) ** 2, axis=1)
    active = power > power.max() * 10.0 ** (-ACTIVE_RANGE_DB / 10.0)
    return float(10.0 * np.log10(np.mean(power[active]) + 1e-20))


@functools.lru_cache(maxsize=32)
def _clip(name: str, rate: int) -> Float:
    samples: Float = load_clip(name, rate=rate)[0].astype(np.float64) / 32768.0
    samples.setflags(write=False)  # cached and shared: nobody may change it
    return samples


def far_end(rate: int, n: int, rng: np.random.Generator) -> Int16:
    """The AI's side: ``n`` samples of its sentences with short pauses. It opens with the
    longest sentence, so that the first second is speech; the rest in a seeded order."""
    pieces: list[Float] = []
    total = 0
    order = ["forecast"]
    while total < n:
        for name in order:
            clip = _clip(name, rate)
            pause = np.zeros(round(rng.uniform(*FAR_PAUSE_S) * rate))
            pieces += [clip, pause]
            total += len(clip) + len(pause)
        order = [FAR_CLIPS[i] for i in rng.permutation(len(FAR_CLIPS))]
    x = np.concatenate(pieces)[:n]
    speaker: Int16 = np.rint(x * 32768.0).astype(np.int16)
    return speaker


def near_end(rate: int, count: int) -> Float:
    """The user's side: the first ``count`` user sentences back to back (0.1 s apart), at
    :data:`USER_DBFS` active level."""
    gap = np.zeros(round(NEAR_GAP_S * rate))
    parts: list[Float] = []
    for name in NEAR_CLIPS[:count]:
        parts += [_clip(name, rate), gap]
    x = np.concatenate(parts[:-1])
    scaled: Float = x * 10.0 ** ((USER_DBFS - active_level_dbfs(x, rate)) / 20.0)
    return scaled


@attrs.frozen(eq=False)
class Recording:
    """One room's run, rendered once and fed to every contender.

    Attributes:
        scenario: the room.
        rate: sample rate.
        mic: what the microphone heard, int16.
        speaker: what the speaker played (the reference), int16, same timeline.
        echo, user, noise: ground truth, the mic's components (float, full scale 1).
        change_s: when the echo path changed.
        dt_start, dt_stop: the user's speech, in samples.
        echo_gain_db: the paths' calibrated energy gain.
        clipped: mic samples clipped at full scale.
    """

    scenario: Scenario
    rate: int
    mic: Int16
    speaker: Int16
    echo: Float
    user: Float
    noise: Float
    change_s: float
    dt_start: int
    dt_stop: int
    echo_gain_db: float
    clipped: int

    @property
    def duration_s(self) -> float:
        return len(self.mic) / self.rate


def render(scenario: Scenario, timeline: Timeline, rate: int, frame: int,
           seed: int = 0) -> Recording:
    """Run ``scenario`` through :class:`realtalk.sim.Room`; the length is a whole number of
    ``frame``-sample frames. Deterministic for the same arguments."""
    index = next((i for i, s in enumerate(SCENARIOS) if s.name == scenario.name), 0)
    rng = np.random.default_rng([seed, index])
    near = near_end(rate, timeline.near_clips)
    dt_start = round(timeline.dt_start_s * rate)
    n = dt_start + len(near) + round(timeline.after_s * rate)
    n += -n % frame
    speaker = far_end(rate, n, rng)

    # The path gain that puts the echo's active level echo_to_speech_db above the user's:
    # measure the echo at 0 dB gain in a silent room, then scale.
    calibration = Room(RoomConfig(sample_rate=rate, noise_dbfs=None,
                                  echo=attrs.evolve(scenario.path, gain_db=0.0)),
                       keep_history=False)
    calibration.speaker_played(speaker)
    level = active_level_dbfs(calibration.mic_frame_float(n).astype(np.float64), rate)
    gain = USER_DBFS + scenario.echo_to_speech_db - level
    first = attrs.evolve(scenario.path, gain_db=gain, seed=scenario.path.seed + 1000 * seed)
    second = attrs.evolve(scenario.changed_path, gain_db=gain,
                          seed=scenario.changed_path.seed + 1000 * seed)

    noise_seed = 100 * seed + index
    pink = scenario.noise_dbfs if scenario.noise == "pink" else None
    room = Room(RoomConfig(sample_rate=rate, echo=first, noise_dbfs=pink, seed=noise_seed))
    if scenario.noise == "white":
        room.set_noise(white_noise, scenario.noise_dbfs, seed=noise_seed)
    change = round(timeline.converge_s * rate)
    room.change_path(change, second)
    room.add_user_speech(near, at_sample=dt_start)
    room.speaker_played(speaker)
    mic = room.mic_frame(n)
    truth = room.ground_truth()
    return Recording(
        scenario=scenario, rate=rate, mic=mic, speaker=speaker,
        echo=truth.echo.astype(np.float64), user=truth.user.astype(np.float64),
        noise=truth.noise.astype(np.float64), change_s=change / rate, dt_start=dt_start,
        dt_stop=dt_start + len(near), echo_gain_db=gain, clipped=room.clipped_samples,
    )


# ---------------------------------------------------------------------------------------------
# Contenders


class CancelResult(Protocol):
    """What a canceller returns per frame (``realtalk.echo``'s result has this shape)."""

    @property
    def frame(self) -> AudioFrame: ...

    @property
    def residual_echo(self) -> float | None: ...


class Canceller(Protocol):
    """A canceller: one mic frame with its ``reference`` in, the cleaned frame out."""

    def process(self, frame: AudioFrame) -> CancelResult: ...


@attrs.frozen(eq=False)
class Cleaned:
    """The result the adapters below return; references give no residual-echo estimate."""

    frame: AudioFrame
    residual_echo: float | None = None


def _reference(frame: AudioFrame) -> Int16:
    if frame.reference is None or len(frame.reference) != len(frame.samples):
        raise ConfigurationError(
            f"a mic frame of {len(frame.samples)} samples needs a reference of the same length, "
            f"got {None if frame.reference is None else len(frame.reference)}")
    return frame.reference


class PassThrough:
    """``none``: the raw microphone."""

    def process(self, frame: AudioFrame) -> Cleaned:
        return Cleaned(AudioFrame(frame.samples, frame.sample_rate, frame.timestamp))


class SpeexCanceller:
    """Speex MDF through ``pyaec`` (one instance per stream; the frame size is fixed at the
    first frame). The library is called through ``pyaec``'s own ctypes binding with numpy
    buffers where it exposes one, so that the measured cost is Speex's, not the conversion of
    every frame to Python lists that ``Aec.cancel_echo`` does (the fallback)."""

    def __init__(self, module: Any, sample_rate: int, *, preprocess: bool,
                 tail_ms: float = SPEEX_TAIL_MS) -> None:
        self._module = module
        self._rate = sample_rate
        self._taps = round(tail_ms * sample_rate / 1000.0)
        self._preprocess = preprocess
        self._aec: Any = None
        self._size = 0
        lib = getattr(module, "lib", None)
        self._cancel: Any = getattr(lib, "AecCancelEcho", None)

    def process(self, frame: AudioFrame) -> Cleaned:
        mic = np.ascontiguousarray(frame.samples, dtype=np.int16)
        ref = np.ascontiguousarray(_reference(frame), dtype=np.int16)
        if self._aec is None:
            self._size = len(mic)
            self._aec = self._module.Aec(self._size, self._taps, self._rate, self._preprocess)
        elif len(mic) != self._size:
            raise ConfigurationError(f"Speex takes frames of {self._size} samples, "
                                     f"got {len(mic)}")
        handle = getattr(self._aec, "_aec", None)
        if self._cancel is not None and handle is not None:
            out = np.empty(len(mic), dtype=np.int16)
            pointer = ctypes.POINTER(ctypes.c_int16)
            self._cancel(handle, mic.ctypes.data_as(pointer), ref.ctypes.data_as(pointer),
                         out.ctypes.data_as(pointer), len(mic))
        else:
            out = np.array(self._aec.cancel_echo(mic.tolist(), ref.tolist()), dtype=np.int16)
        return Cleaned(AudioFrame(out, frame.sample_rate, frame.timestamp))


class Aec3Canceller:
    """WebRTC AEC3 through ``livekit.rtc.AudioProcessingModule``: echo cancellation only,
    10 ms blocks (a 20 ms frame is two), render block first, stream delay 0 (the reference
    is what was played in the same period; AEC3 estimates the room's delay itself)."""

    def __init__(self, rtc: Any, sample_rate: int) -> None:
        self._rtc = rtc
        self._rate = sample_rate
        self._block = sample_rate // 100
        self._apm: Any = rtc.AudioProcessingModule(echo_cancellation=True)

    def process(self, frame: AudioFrame) -> Cleaned:
        mic, ref = frame.samples, _reference(frame)
        if len(mic) % self._block:
            raise ConfigurationError(f"AEC3 takes whole 10 ms blocks ({self._block} samples), "
                                     f"got a frame of {len(mic)}")
        out = np.empty(len(mic), dtype=np.int16)
        for at in range(0, len(mic), self._block):
            block = slice(at, at + self._block)
            self._apm.process_reverse_stream(
                self._rtc.AudioFrame(ref[block].tobytes(), self._rate, 1, self._block))
            self._apm.set_stream_delay_ms(0)
            near = self._rtc.AudioFrame(mic[block].tobytes(), self._rate, 1, self._block)
            self._apm.process_stream(near)
            out[block] = np.frombuffer(near.data, dtype=np.int16)
        return Cleaned(AudioFrame(out, frame.sample_rate, frame.timestamp))


Factory = Callable[[], Canceller]


def _import(name: str, hint: str = "") -> ModuleType | str:
    """The module, or why it cannot be imported. A binary wheel can fail at import in ways
    other than ImportError (pyaec reports a missing shared library with an OSError or an
    AttributeError), and a module under development may not import at all: any failure
    means "absent", with the reason."""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        return f"{name} unavailable ({type(exc).__name__}: {exc}){hint}"


def contender_factories(rate: int, canceller: str = DEFAULT_CANCELLER
                        ) -> dict[str, Factory | str]:
    """Every contender: a factory of fresh instances, or why it is skipped."""
    found: dict[str, Factory | str] = {}
    module_name, _, attr = canceller.partition(":")
    attr = attr or "EchoCanceller"
    module = _import(module_name)
    cls = None if isinstance(module, str) else getattr(module, attr, None)
    if cls is None:
        found["realtalk"] = (module if isinstance(module, str)
                             else f"{module_name}.{attr} does not exist yet")
    else:
        found["realtalk"] = lambda: cls(sample_rate=rate)
    # The linear filter alone (no residual echo suppressor), as speex_mdf is Speex's.
    from realtalk.echo import EchoCanceller

    found["realtalk_linear"] = lambda: EchoCanceller(sample_rate=rate)
    found["none"] = PassThrough
    hint = "; pip install 'realtalk[bench]'"
    pyaec = _import("pyaec", hint)
    if isinstance(pyaec, str):
        found["speex"] = found["speex_mdf"] = pyaec
    else:
        found["speex"] = lambda: SpeexCanceller(pyaec, rate, preprocess=True)
        found["speex_mdf"] = lambda: SpeexCanceller(pyaec, rate, preprocess=False)
    rtc = _import("livekit.rtc", hint)
    found["webrtc_aec3"] = rtc if isinstance(rtc, str) else (lambda: Aec3Canceller(rtc, rate))
    return found


# ---------------------------------------------------------------------------------------------
# Running and scoring


@attrs.frozen(eq=False)
class Processed:
    """A contender's output for one recording.

    Attributes:
        out: the cleaned mic, int16, as returned (not realigned).
        residual: per frame, the canceller's residual-echo estimate (NaN where it gave none).
        cpu_s: process CPU time spent in ``process`` (native threads included).
    """

    out: Int16
    residual: Float
    cpu_s: float


def run(make: Factory, mic: Int16, speaker: Int16, rate: int, frame: int) -> Processed:
    """Feed ``mic`` with ``speaker`` as reference to a fresh canceller, frame by frame."""
    canceller = make()
    frames = len(mic) // frame
    out = np.zeros(frames * frame, dtype=np.int16)
    residual = np.full(frames, np.nan)
    cpu = 0.0
    for i in range(frames):
        part = slice(i * frame, (i + 1) * frame)
        block = AudioFrame(mic[part], rate, i * frame / rate, reference=speaker[part])
        started = time.process_time()
        result = canceller.process(block)
        cpu += time.process_time() - started
        cleaned = result.frame.samples
        if cleaned.shape != (frame,):
            raise ConfigurationError(f"frame {i}: a {frame}-sample frame came back with shape "
                                     f"{cleaned.shape}")
        out[part] = cleaned
        if result.residual_echo is not None:
            residual[i] = result.residual_echo
    return Processed(out, residual, cpu)


def probe(make: Factory, rate: int, frame: int) -> Alignment:
    """What a contender does to the user's voice with no echo at all: a fresh instance hears
    the user alone (four sentences, reference silent). The lag is the contender's latency (the
    output is shifted back by it before any ERLE is measured); the SI-SDR, output against input,
    is how transparent it is to near-end speech when there is nothing to cancel."""
    voice = np.concatenate([np.zeros(rate // 4), near_end(rate, len(NEAR_CLIPS)),
                            np.zeros(rate // 4)])
    voice = np.concatenate([voice, np.zeros(-len(voice) % frame)])
    mic: Int16 = np.rint(voice * 32768.0).astype(np.int16)
    processed = run(make, mic, np.zeros_like(mic), rate, frame)
    max_lag = round(MAX_LAG_MS * rate / 1000.0)
    return aligned_si_sdr(processed.out, mic, 0, len(mic) - max_lag, max_lag)


def _round(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits) + 0.0  # + 0.0: no "-0" in the report


def score(rec: Recording, processed: Processed, timeline: Timeline, lag: int,
          frame: int) -> dict[str, Any]:
    """One contender's metrics on one room (the fields are described in docs/echo-bench.md)."""
    rate = rec.rate
    aligned = shift(processed.out, lag)
    seg: SegmentalErle = segmental_erle(rec.mic, aligned, rec.speaker, rec.user, rate)
    change, dt0, dt1 = rec.change_s, rec.dt_start / rate, rec.dt_stop / rate
    before = seg.median_between(max(change, dt0 - 2.0), dt0)
    after = seg.median_between(dt1, dt1 + 1.0)
    max_lag = round(MAX_LAG_MS * rate / 1000.0)
    dt_in = aligned_si_sdr(rec.mic, rec.user, rec.dt_start, rec.dt_stop, max_lag)
    dt_out = aligned_si_sdr(processed.out, rec.user, rec.dt_start, rec.dt_stop, max_lag)
    drop = None if before is None or after is None else before - after
    # True ERLE over the double talk: the echo over what is left of it, the output less the
    # user's voice and the noise as they reached the mic. Exact for a linear canceller; a
    # suppressor that also scales the user or the noise shows up here as residual.
    span = slice(rec.dt_start, rec.dt_stop)
    residual = aligned[span] - rec.user[span] - rec.noise[span]
    dt_erle = erle_db(rec.echo[span], residual)
    row: dict[str, Any] = {
        "erle_db_steady": _round(seg.median_between(change / 2.0, change)),
        "erle_db_1s": _round(seg.ending_at(1.0)),
        "converge_s": _round(seg.time_to_reach(0.0, change, CONVERGED_DB, HOLD_S), 3),
        "reconverge_s": _round(seg.time_to_reach(change, dt0, CONVERGED_DB, HOLD_S), 3),
        "erle_db_after_change": _round(seg.median_between(change + timeline.reconverge_s / 2,
                                                          dt0)),
        "dt_sisdr_in_db": _round(dt_in.si_sdr_db),
        "dt_sisdr_out_db": _round(dt_out.si_sdr_db),
        "dt_sisdr_gain_db": _round(dt_out.si_sdr_db - dt_in.si_sdr_db),
        "dt_near_gain_db": _round(dt_out.gain_db - dt_in.gain_db),
        "dt_erle_true_db": _round(dt_erle),
        "dt_lag_ms": _round(1000.0 * dt_out.lag / rate, 1),
        "erle_db_before_dt": _round(before),
        "erle_db_after_dt": _round(after),
        "diverged": None if drop is None else bool(drop > DIVERGED_DROP_DB),
        "rtf": _round(real_time_factor(processed.cpu_s, rec.duration_s), 5),
    }
    bias = residual_bias_db(rec, processed, frame)
    if bias is not None:
        row["residual_estimate_bias_db"] = _round(bias)
    return row


def residual_bias_db(rec: Recording, processed: Processed, frame: int) -> float | None:
    """How the canceller's residual-echo estimate compares with the power it actually let
    through, over far-end single-talk frames: median of ``10*log10(estimate / output power)``;
    above 0 the estimate errs high (the safe side for a gate). ``None`` without estimates."""
    estimate = processed.residual
    if not np.any(np.isfinite(estimate)):
        return None
    frames = len(estimate)

    def power(x: Float) -> Float:
        mean: Float = np.mean(x[: frames * frame].reshape(frames, frame) ** 2, axis=1)
        return mean

    far = power(rec.speaker.astype(np.float64) / 32768.0)
    near = power(rec.user)
    out = power(processed.out.astype(np.float64) / 32768.0)
    playing = far > 10.0 ** (FAR_ACTIVE_DBFS / 10.0)
    keep = playing & (near == 0.0) & np.isfinite(estimate) & (out > 0)
    if not np.any(keep):
        return None
    ratio = np.maximum(estimate[keep], 1e-20) / out[keep]
    return float(np.median(10.0 * np.log10(ratio)))


# ---------------------------------------------------------------------------------------------
# Summary


def _values(rows: Iterable[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) is not None]


def _times(rows: Iterable[dict[str, Any]], key: str) -> list[float]:
    # A convergence that never happened counts as infinitely slow.
    return [math.inf if r.get(key) is None else float(r[key]) for r in rows]


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if values else None


def summarize(detail: dict[str, dict[str, Any]], *, noise_free: Sequence[str], probe: Alignment,
              rate: int, cpu_s: float, audio_s: float) -> dict[str, Any]:
    """The headline figures of one contender: medians over the rooms, with the worst room
    alongside (``_min`` / ``_max``)."""
    rows = list(detail.values())
    steady, first_second = _values(rows, "erle_db_steady"), _values(rows, "erle_db_1s")
    gains = _values(rows, "dt_sisdr_gain_db")
    drops = [float(r["erle_db_before_dt"]) - float(r["erle_db_after_dt"]) for r in rows
             if r.get("erle_db_before_dt") is not None and r.get("erle_db_after_dt") is not None]
    reconverge, converge = _times(rows, "reconverge_s"), _times(rows, "converge_s")
    return {
        "erle_db_steady": _round(_median(steady)),
        "erle_db_1s": _round(_median(first_second)),
        "reconverge_s": _round(_median(reconverge), 3),
        "dt_sisdr_gain_db": _round(_median(gains)),
        "rtf": _round(real_time_factor(cpu_s, audio_s), 5),
        "erle_db_steady_noise_free": _round(_median(
            _values([detail[name] for name in noise_free if name in detail], "erle_db_steady"))),
        "erle_db_steady_min": _round(min(steady, default=math.nan)),
        "erle_db_1s_min": _round(min(first_second, default=math.nan)),
        "converge_s": _round(_median(converge), 3),
        "converge_s_max": _round(max(converge, default=math.nan), 3),
        "reconverge_s_max": _round(max(reconverge, default=math.nan), 3),
        "dt_sisdr_in_db": _round(_median(_values(rows, "dt_sisdr_in_db"))),
        "dt_sisdr_out_db": _round(_median(_values(rows, "dt_sisdr_out_db"))),
        "dt_sisdr_gain_db_min": _round(min(gains, default=math.nan)),
        "dt_near_gain_db": _round(_median(_values(rows, "dt_near_gain_db"))),
        "dt_erle_true_db": _round(_median(_values(rows, "dt_erle_true_db"))),
        "dt_erle_drop_db_max": _round(max(drops, default=math.nan)),
        "diverged_rooms": [name for name, r in detail.items() if r.get("diverged")],
        "latency_ms": _round(1000.0 * probe.lag / rate, 1),
        "near_only_sisdr_db": _round(probe.si_sdr_db),
    }


def goals(name: str, report: dict[str, dict[str, Any]]) -> dict[str, bool | None]:
    """Issue 5's canceller goals for one contender, judged in every room (the worst room
    decides); ``None`` where it cannot be judged (no reference ran, no noise-free room)."""
    mine = report[name]
    detail: dict[str, dict[str, Any]] = mine["detail"]
    others = [report[r] for r in REFERENCES if r != name and "detail" in report.get(r, {})]

    def beats_references(room: str) -> bool:
        own = detail[room].get("erle_db_steady")
        best = max((float(o["detail"][room]["erle_db_steady"]) for o in others
                    if o["detail"].get(room, {}).get("erle_db_steady") is not None),
                   default=None)
        return best is None or (own is not None and float(own) >= best)

    noise_free = mine.get("erle_db_steady_noise_free")
    rtf = mine.get("rtf")
    return {
        "erle_steady_ge_best_reference": all(beats_references(r) for r in detail)
        if others else None,
        "erle_noise_free_ge_30db": None if noise_free is None
        else noise_free >= GOAL_NOISE_FREE_ERLE_DB,
        "erle_1s_ge_20db": all(r.get("erle_db_1s") is not None
                               and r["erle_db_1s"] >= GOAL_ERLE_1S_DB for r in detail.values()),
        "reconverge_le_1s": all(r.get("reconverge_s") is not None
                                and r["reconverge_s"] <= GOAL_RECONVERGE_S
                                for r in detail.values()),
        "dt_sisdr_out_ge_in": all(r.get("dt_sisdr_gain_db") is not None
                                  and r["dt_sisdr_gain_db"] >= 0.0 for r in detail.values()),
        "dt_no_divergence": not any(r.get("diverged") for r in detail.values()),
        "rtf_le_0.01": None if rtf is None else rtf <= GOAL_RTF,
    }


_HEADLINE = ("erle_db_steady", "erle_db_1s", "reconverge_s", "dt_sisdr_gain_db", "rtf")


def _skipped(reason: str) -> dict[str, Any]:
    return {**dict.fromkeys(_HEADLINE), "skipped": reason}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a" if unit != " s" else "never"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}{unit}"


def _write_wavs(directory: Path, rec: Recording, outputs: dict[str, Int16]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    name = rec.scenario.name
    write_wav(directory / f"{name}_mic.wav", rec.mic, rec.rate)
    write_wav(directory / f"{name}_speaker.wav", rec.speaker, rec.rate)
    for contender, out in outputs.items():
        write_wav(directory / f"{name}_{contender}.wav", out, rec.rate)


def bench(*, quick: bool = False, rate: int = 16_000, frame_ms: int = 20, seed: int = 0,
          contenders: Sequence[str] | None = None, canceller: str = DEFAULT_CANCELLER,
          wav_dir: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmark and return the report (what the last line of output prints)."""
    if rate not in (16_000, 24_000):
        raise ConfigurationError(f"rate must be 16000 or 24000 Hz (the clips' rates), got {rate}")
    if frame_ms not in (10, 20):
        raise ConfigurationError(f"frame_ms must be 10 or 20, got {frame_ms}")
    frame = rate * frame_ms // 1000
    timeline = QUICK if quick else FULL
    scenarios = [s for s in SCENARIOS if not quick or s.name in QUICK_SCENARIOS]
    noise_free = [s.name for s in scenarios if s.noise == "none"]
    factories = contender_factories(rate, canceller)
    wanted = [c for c in CONTENDERS if contenders is None or c in contenders]

    log(f"echo bench{' (quick)' if quick else ''}: {rate} Hz, {frame_ms} ms frames, "
        f"{len(scenarios)} rooms, seed {seed}, contenders {', '.join(wanted)}")
    report: dict[str, dict[str, Any]] = {}
    live: dict[str, Factory] = {}
    probes: dict[str, Alignment] = {}
    for name in wanted:
        factory = factories[name]
        if isinstance(factory, str):
            report[name] = _skipped(factory)
            log(f"{name}: skipped: {factory}")
            continue
        try:
            probes[name] = probe(factory, rate, frame)
            log(f"{name}: latency {1000.0 * probes[name].lag / rate:.1f} ms, user-alone SI-SDR "
                f"{probes[name].si_sdr_db:.2f} dB")
        except Exception as exc:  # one broken contender must not end the run
            traceback.print_exc()
            report[name] = {**_skipped(f"failed: {type(exc).__name__}: {exc}"), "error": True}
            continue
        live[name] = factory

    detail: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in live}
    cpu = dict.fromkeys(live, 0.0)
    audio_s = 0.0
    for scenario in scenarios:
        rec = render(scenario, timeline, rate, frame, seed)
        audio_s += rec.duration_s
        log(f"room {scenario.name}: {rec.duration_s:.1f} s, echo/speech "
            f"{scenario.echo_to_speech_db:+.0f} dB (path gain {rec.echo_gain_db:+.1f} dB), "
            f"delay {scenario.path.delay_ms:g}->{scenario.changed_path.delay_ms:g} ms at "
            f"{rec.change_s:g} s, RT60 {scenario.path.rt60_s:g}->"
            f"{scenario.changed_path.rt60_s:g} s, noise {scenario.noise}"
            + (f" {scenario.noise_dbfs:g} dBFS" if scenario.noise != "none" else "")
            + f", double talk {rec.dt_start / rate:.2f}-{rec.dt_stop / rate:.2f} s"
            + (f", {rec.clipped} samples clipped" if rec.clipped else ""))
        outputs: dict[str, Int16] = {}
        for name, factory in list(live.items()):
            try:
                processed = run(factory, rec.mic, rec.speaker, rate, frame)
            except Exception as exc:  # one broken contender must not end the run
                traceback.print_exc()
                report[name] = {**_skipped(f"failed in {scenario.name}: "
                                           f"{type(exc).__name__}: {exc}"), "error": True}
                del live[name]
                continue
            outputs[name] = processed.out
            cpu[name] += processed.cpu_s
            row = score(rec, processed, timeline, probes[name].lag, frame)
            detail[name][scenario.name] = row
            log(f"  {name:<12} ERLE steady {_fmt(row['erle_db_steady'], ' dB')}, "
                f"at 1 s {_fmt(row['erle_db_1s'], ' dB')}, "
                f"converged {_fmt(row['converge_s'], ' s')}, "
                f"re-converged {_fmt(row['reconverge_s'], ' s')}, "
                f"DT SI-SDR {_fmt(row['dt_sisdr_in_db'])} -> {_fmt(row['dt_sisdr_out_db'])} dB "
                f"(true ERLE {_fmt(row['dt_erle_true_db'])} dB), "
                f"ERLE before/after DT {_fmt(row['erle_db_before_dt'])}/"
                f"{_fmt(row['erle_db_after_dt'])} dB, rtf {_fmt(row['rtf'])}")
        if wav_dir is not None:
            _write_wavs(wav_dir, rec, outputs)

    for name in live:
        report[name] = {**summarize(detail[name], noise_free=noise_free, probe=probes[name],
                                    rate=rate, cpu_s=cpu[name], audio_s=audio_s),
                        "detail": detail[name]}
    for name in live:
        report[name]["goals"] = goals(name, report)
    ordered = {name: report[name] for name in wanted if name in report}
    for name, r in ordered.items():
        if "skipped" in r:
            continue
        log(f"{name}: ERLE steady {_fmt(r['erle_db_steady'], ' dB')} "
            f"(noise-free {_fmt(r['erle_db_steady_noise_free'], ' dB')}, worst room "
            f"{_fmt(r['erle_db_steady_min'], ' dB')}), at 1 s {_fmt(r['erle_db_1s'], ' dB')}, "
            f"re-converged {_fmt(r['reconverge_s'], ' s')} (worst "
            f"{_fmt(r['reconverge_s_max'], ' s')}), DT SI-SDR gain "
            f"{_fmt(r['dt_sisdr_gain_db'], ' dB')} (worst "
            f"{_fmt(r['dt_sisdr_gain_db_min'], ' dB')}), diverged in "
            f"{r['diverged_rooms'] or 'no room'}, rtf {_fmt(r['rtf'])}; goals met: "
            + ", ".join(k for k, v in r["goals"].items() if v) + "; not met: "
            + ", ".join(k for k, v in r["goals"].items() if v is False))
    return ordered


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="one short room, for a smoke run (about 9 s of audio)")
    parser.add_argument("--rate", type=int, default=16_000, choices=(16_000, 24_000),
                        help="sample rate (default 16000)")
    parser.add_argument("--frame-ms", type=int, default=20, choices=(10, 20),
                        help="frame length fed to every canceller (default 20)")
    parser.add_argument("--seed", type=int, default=0,
                        help="varies sentence order, room responses and noise (default 0)")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=None,
                        help="run only these (default: all)")
    parser.add_argument("--canceller", default=DEFAULT_CANCELLER,
                        help="the class benched as 'realtalk', MODULE:ATTR, called with "
                             f"sample_rate= (default {DEFAULT_CANCELLER})")
    parser.add_argument("--wav", type=Path, default=None, metavar="DIR",
                        help="write each room's mic, speaker and every output as WAV files")
    parser.add_argument("--no-chain", action="store_true",
                        help="skip the chain block (the whole default defence in simulated "
                             "conversations; about 2 minutes, 15 s with --quick)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="worker processes for the chain block (default 2)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report: dict[str, Any] = bench(
        quick=args.quick, rate=args.rate, frame_ms=args.frame_ms, seed=args.seed,
        contenders=args.contenders, canceller=args.canceller, wav_dir=args.wav,
        log=lambda line: print(line, flush=True))
    if not args.no_chain:
        # The default chain runs at the conversation's rate (24 kHz) whatever --rate says.
        report["chain"] = chain_report(quick=args.quick, seed=args.seed, jobs=args.jobs,
                                       log=lambda line: print(line, flush=True))
    print(f"total wall time {time.perf_counter() - started:.1f} s", flush=True)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
