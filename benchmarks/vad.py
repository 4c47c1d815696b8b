"""Voice activity detectors side by side: recall, false alarms, onset latency and cost.

Prints one JSON object (the last line)::

    {"frame_ms": 20, "corpus": {...}, "detectors": {"spectral": {...}, "energy": {...},
     "webrtc": {...}, "silero": {...}}}

Detectors: ``spectral`` (:class:`realtalk.vad.spectral.SpectralVAD`, the built-in one),
``energy`` (:class:`realtalk.vad.EnergyVAD`), and where installed ``webrtc`` (WebRTC's VAD in
mode 3, as in ``research/echo.md``) and ``silero`` (Silero's ONNX model on onnxruntime). Each
runs as a live stream would: 20 ms frames at 24 kHz, one detector instance per corpus.

The corpus is built deterministically with the simulator (everything at 24 kHz, pink room
noise at -60 dBFS underneath):

- **user**: the committed espeak-ng clips (nine voices, all but ``forecast``), each after 1 s
  of room noise, scaled so that their active frames average -26 dBFS;
- **noise**: no speech at all: white and pink noise at -40 and -30 dBFS, 60 Hz hum with
  harmonics at -35 dBFS, then clicks (-20..-10 dBFS) and coughs (the generator's and the
  committed clip, -30..-20 dBFS) over the quiet room;
- **echo**: the AI's voice (the ``forecast`` clip, then the simulator's synthetic voice) played
  through a :class:`realtalk.sim.Room` echo path and scaled so that its active frames are as
  loud as the user's voice: raw echo, no canceller.

A frame is *active* (speech for the user corpus, AI speech for the echo corpus) when the clean
signal's RMS over the frame is within 30 dB of that signal's loudest frame.

Per detector:

- ``recall``: share of active user frames flagged as speech;
- ``false_alarm.noise`` / ``false_alarm.echo``: share of noise frames / active echo frames
  flagged as speech (``by_kind`` breaks the noise down); ``false_runs_per_min``: runs of at least
  120 ms of consecutive speech frames (what a 120 ms barge-in rule would confirm) per minute of
  noise or echo;
- ``onset_latency_ms``: per user clip, from the first active frame's start to the end of the
  first frame flagged (so 20 ms is "detected in the onset frame"); ``p50``, ``max``, and
  ``missed`` clips with no detection within a second;
- ``rtf``: CPU seconds per second of audio over all three corpora (process time, so a
  detector's native threads count); ``rtf_echo`` on the echo corpus alone, nearly all speech,
  the busiest case for the spectral detector (it skips its periodicity on quiet hops).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from realtalk.audio import AudioFrame
from realtalk.errors import ConfigurationError
from realtalk.sim import (
    EchoPath,
    Room,
    RoomConfig,
    click,
    clips,
    cough,
    load_clip,
    pink_noise,
    scale_to_dbfs,
    speech_like,
    white_noise,
)
from realtalk.vad import EnergyVAD
from realtalk.vad.spectral import SpectralVAD

RATE = 24_000
FRAME = 480  # 20 ms
FRAME_MS = 20
USER_DBFS = -26.0
ROOM_NOISE_DBFS = -60.0
ACTIVE_RANGE_DB = 30.0
MIN_RUN_FRAMES = 6  # 120 ms

Float = npt.NDArray[np.float64]


class _Detector:
    """What the benchmark needs of a detector: a per-frame decision and a reset."""

    def __init__(self, decide: Callable[[AudioFrame], bool], reset: Callable[[], None]) -> None:
        self.decide = decide
        self.reset = reset


def _detectors() -> dict[str, Callable[[], _Detector]]:
    def spectral() -> _Detector:
        vad = SpectralVAD()
        return _Detector(vad.is_speech, vad.reset)

    def energy() -> _Detector:
        vad = EnergyVAD()
        return _Detector(vad.is_speech, vad.reset)

    found: dict[str, Callable[[], _Detector]] = {"spectral": spectral, "energy": energy}
    try:
        from realtalk.vad.webrtc import WebRtcVAD

        WebRtcVAD(3)

        def webrtc() -> _Detector:
            vad = WebRtcVAD(3)
            return _Detector(vad.is_speech, vad.reset)

        found["webrtc"] = webrtc
    except ConfigurationError:  # not installed: left out, the report says which ran
        pass
    try:
        from realtalk.vad.silero import SileroVAD

        SileroVAD()

        def silero() -> _Detector:
            vad = SileroVAD()
            return _Detector(vad.is_speech, vad.reset)

        found["silero"] = silero
    except ConfigurationError:
        pass
    return found


def _frame_levels(x: Float) -> Float:
    n = len(x) // FRAME
    power = np.mean(x[: n * FRAME].reshape(n, FRAME) ** 2, axis=1)
    levels: Float = 10.0 * np.log10(power + 1e-20)
    return levels


def _active(x: Float) -> npt.NDArray[np.bool_]:
    levels = _frame_levels(x)
    mask: npt.NDArray[np.bool_] = levels > levels.max() - ACTIVE_RANGE_DB
    return mask


def _to_int16(x: Float) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def _room_noise(seconds: float, seed: int) -> Float:
    return pink_noise(seconds, seed=seed, rate=RATE, level_dbfs=ROOM_NOISE_DBFS).astype(np.float64)


def _scale_active(x: Float, active: npt.NDArray[np.bool_], level_dbfs: float) -> Float:
    """``x`` scaled so that the mean power of its active frames is ``level_dbfs``."""
    n = len(active)
    power = float(np.mean(x[: n * FRAME].reshape(n, FRAME)[active] ** 2))
    gain = math.pow(10.0, level_dbfs / 20.0) / math.sqrt(power)
    scaled: Float = x * gain
    return scaled


def _user_corpus() -> tuple[Float, npt.NDArray[np.bool_], list[int]]:
    """User clips after 1 s of room noise each: mic, active-frame labels, onset frames."""
    lead = RATE  # 1 s, a whole number of frames
    parts: list[Float] = []
    labels: list[npt.NDArray[np.bool_]] = []
    onsets: list[int] = []
    frames_so_far = 0
    for clip in clips(rate=RATE, kind="speech"):
        if clip.name == "forecast":
            continue  # the AI's voice in the echo corpus
        speech = clip.samples().astype(np.float64) / 32768.0
        speech = np.concatenate((speech, np.zeros(-len(speech) % FRAME)))
        active = _active(speech)
        speech = _scale_active(speech, active, USER_DBFS)
        parts += [np.zeros(lead), speech]
        labels += [np.zeros(lead // FRAME, dtype=bool), active]
        onsets.append(frames_so_far + lead // FRAME + int(np.argmax(active)))
        frames_so_far += (lead + len(speech)) // FRAME
    parts.append(np.zeros(lead))
    labels.append(np.zeros(lead // FRAME, dtype=bool))
    clean = np.concatenate(parts)
    return clean + _room_noise(len(clean) / RATE, 1), np.concatenate(labels), onsets


def _noise_corpus() -> tuple[Float, list[tuple[str, int, int]]]:
    """Non-speech only: the mic, and (kind, first frame, end frame) spans."""
    rng = np.random.default_rng(7)
    seg = 5.0
    t = np.arange(int(seg * RATE)) / RATE
    hum = sum(0.5**k * np.sin(2 * np.pi * 60.0 * (k + 1) * t + k) for k in range(6))
    pieces: list[tuple[str, Float]] = [
        ("white", white_noise(seg, seed=1, rate=RATE, level_dbfs=-40.0).astype(np.float64)),
        ("white", white_noise(seg, seed=2, rate=RATE, level_dbfs=-30.0).astype(np.float64)),
        ("pink", pink_noise(seg, seed=3, rate=RATE, level_dbfs=-40.0).astype(np.float64)),
        ("pink", pink_noise(seg, seed=4, rate=RATE, level_dbfs=-30.0).astype(np.float64)),
        ("hum", scale_to_dbfs(hum, -35.0).astype(np.float64)),
    ]
    events = np.zeros(int(15.0 * RATE))
    cough_clip = load_clip("cough", rate=RATE)[0].astype(np.float64) / 32768.0
    for k in range(24):
        at = int(k * 0.6 * RATE + rng.integers(0, int(0.1 * RATE)))
        if k % 2 == 0:
            burst = click(seed=k, rate=RATE, level_dbfs=float(rng.uniform(-20.0, -10.0)))
        elif k % 6 == 5:
            burst = scale_to_dbfs(cough_clip, float(rng.uniform(-30.0, -20.0)))
        else:
            burst = cough(seed=k, rate=RATE, level_dbfs=float(rng.uniform(-30.0, -20.0)))
        events[at : at + len(burst)] += burst[: len(events) - at]
    pieces.append(("click_cough", events))
    spans, start = [], 0
    for kind, x in pieces:
        spans.append((kind, start // FRAME, (start + len(x)) // FRAME))
        start += len(x)
    mic = np.concatenate([x for _, x in pieces])
    return mic + _room_noise(len(mic) / RATE, 2), spans


def _echo_corpus() -> tuple[Float, npt.NDArray[np.bool_]]:
    """Raw AI echo as loud as the user: the mic, and active echo frames."""
    forecast = load_clip("forecast", rate=RATE)[0].astype(np.float64) / 32768.0
    voice = speech_like(25.0, seed=11, pitch_hz=120.0, rate=RATE, level_dbfs=-20.0)
    speaker = np.concatenate((np.zeros(RATE // 2), scale_to_dbfs(forecast, -20.0), voice))
    room = Room(RoomConfig(sample_rate=RATE, echo=EchoPath(gain_db=0.0, rt60_s=0.3, seed=3),
                           noise_dbfs=None))
    room.speaker_played(speaker)
    room.mic_frame_float(len(speaker) - len(speaker) % FRAME)
    echo = room.ground_truth().echo.astype(np.float64)
    active = _active(echo)
    echo = _scale_active(echo, active, USER_DBFS)
    return echo + _room_noise(len(echo) / RATE, 3), active


def _run(detector: _Detector, mic: Float) -> tuple[npt.NDArray[np.bool_], float]:
    """Decisions per 20 ms frame from a fresh stream, and the CPU seconds spent."""
    samples = _to_int16(mic)
    frames = [AudioFrame(samples[i : i + FRAME], RATE)
              for i in range(0, len(samples) - FRAME + 1, FRAME)]
    detector.reset()
    started = time.process_time()
    out = np.array([detector.decide(f) for f in frames], dtype=bool)
    return out, time.process_time() - started


def _runs(decisions: npt.NDArray[np.bool_]) -> int:
    """Runs of at least MIN_RUN_FRAMES consecutive speech frames."""
    padded = np.concatenate(([0], decisions.astype(np.int8), [0]))
    edges = np.diff(padded)
    lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    return int(np.sum(lengths >= MIN_RUN_FRAMES))


def _score(name: str, make: Callable[[], _Detector], corpus: dict[str, Any]) -> dict[str, Any]:
    user, labels, onsets = corpus["user"]
    noise, spans = corpus["noise"]
    echo, echo_active = corpus["echo"]
    detector = make()
    d_user, cpu_user = _run(detector, user)
    d_noise, cpu_noise = _run(detector, noise)
    d_echo, cpu_echo = _run(detector, echo)
    seconds = (len(user) + len(noise) + len(echo)) / RATE

    n = min(len(d_user), len(labels))
    d_user, labels = d_user[:n], labels[:n]
    latencies: list[float] = []
    missed = 0
    for onset in onsets:
        window = d_user[onset : onset + 1000 // FRAME_MS]
        if window.any():
            latencies.append((int(np.argmax(window)) + 1) * FRAME_MS)
        else:
            missed += 1
    by_kind: dict[str, float] = {}
    for kind in dict.fromkeys(k for k, _, _ in spans):
        mask = np.zeros(len(d_noise), dtype=bool)
        for k, lo, hi in spans:
            if k == kind:
                mask[lo:hi] = True
        by_kind[kind] = round(float(np.mean(d_noise[mask])), 4)
    m = min(len(d_echo), len(echo_active))
    noise_min = len(d_noise) * FRAME_MS / 60_000.0
    echo_min = m * FRAME_MS / 60_000.0
    return {
        "recall": round(float(np.mean(d_user[labels])), 4),
        "false_alarm": {
            "noise": round(float(np.mean(d_noise)), 4),
            "echo": round(float(np.mean(d_echo[:m][echo_active[:m]])), 4),
            "by_kind": by_kind,
        },
        "false_runs_per_min": {
            "noise": round(_runs(d_noise) / noise_min, 2),
            "echo": round(_runs(d_echo[:m]) / echo_min, 2),
        },
        "onset_latency_ms": {
            "p50": float(np.median(latencies)) if latencies else None,
            "max": float(max(latencies)) if latencies else None,
            "missed": missed,
        },
        "rtf": round((cpu_user + cpu_noise + cpu_echo) / seconds, 5),
        "rtf_echo": round(cpu_echo / (len(echo) / RATE), 5),
        "config": {"webrtc": "mode 3, 20 ms frames at 16 kHz",
                   "silero": "threshold 0.5, 32 ms windows at 16 kHz",
                   "spectral": "defaults", "energy": "defaults"}[name],
    }


def vad_report() -> dict[str, Any]:
    """Build the corpus and score every available detector on it (see the module docstring)."""
    user = _user_corpus()
    noise = _noise_corpus()
    echo = _echo_corpus()
    corpus = {"user": user, "noise": noise, "echo": echo}
    detectors = {name: _score(name, make, corpus) for name, make in _detectors().items()}
    return {
        "frame_ms": FRAME_MS,
        "corpus": {
            "user_s": round(len(user[0]) / RATE, 1),
            "user_active_frames": int(user[1].sum()),
            "user_clips": len(user[2]),
            "noise_s": round(len(noise[0]) / RATE, 1),
            "echo_s": round(len(echo[0]) / RATE, 1),
            "echo_active_frames": int(echo[1].sum()),
            "user_and_echo_active_dbfs": USER_DBFS,
        },
        "detectors": detectors,
    }


if __name__ == "__main__":
    print(json.dumps(vad_report()))
