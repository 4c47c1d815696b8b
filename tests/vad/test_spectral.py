"""The built-in spectral detector: speech in, clicks, coughs, noise, hum and silence out."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import AudioFrame
from realtalk.errors import AudioError, ConfigurationError
from realtalk.sim import (
    SignalGenerator,
    click,
    clips,
    cough,
    load_clip,
    pink_noise,
    scale_to_dbfs,
    white_noise,
)
from realtalk.vad.base import VoiceActivityDetector
from realtalk.vad.spectral import SpectralVAD

RATE = 24_000
FRAME = 480  # 20 ms


def _int16(x: npt.ArrayLike) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 32768), -32768, 32767).astype(
        np.int16)


def _decide(vad: SpectralVAD, samples: npt.NDArray[np.int16], frame: int = FRAME) -> list[bool]:
    return [vad.is_speech(AudioFrame(samples[i : i + frame]))
            for i in range(0, len(samples) - frame + 1, frame)]


def _room(seconds: float, seed: int = 0) -> npt.NDArray[np.float32]:
    return pink_noise(seconds, seed=seed, level_dbfs=-60.0)


def _active(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    """Frames whose RMS is within 30 dB of the clip's loudest frame."""
    n = len(samples) // FRAME
    x = samples[: n * FRAME].astype(np.float64).reshape(n, FRAME) / 32768
    level = 10 * np.log10(np.mean(x * x, axis=1) + 1e-20)
    mask: npt.NDArray[np.bool_] = level > level.max() - 30
    return mask


def _recall(speech: npt.NDArray[np.int16], seed: int = 0) -> float:
    lead = _int16(_room(0.5, seed))
    stream = np.concatenate((lead, speech, np.zeros(5 * FRAME, dtype=np.int16)))
    decisions = np.array(_decide(SpectralVAD(), stream))
    active = _active(speech)
    start = len(lead) // FRAME
    return float(np.mean(decisions[start : start + len(active)][active]))


def test_speech_clips_are_detected() -> None:
    """Every committed voice is found: >= 75 % of each clip's active frames, >= 85 % overall."""
    recalls = [_recall(c.samples(), seed=k)
               for k, c in enumerate(clips(rate=RATE, kind="speech"))]
    assert len(recalls) >= 9
    assert min(recalls) >= 0.75
    assert float(np.mean(recalls)) >= 0.85


@pytest.mark.parametrize("level", [-40.0, -35.0, -30.0])
@pytest.mark.parametrize("noise", [white_noise, pink_noise])
def test_steady_noise_is_rejected_from_the_start(noise: SignalGenerator, level: float) -> None:
    """White and pink noise at -40..-30 dBFS are not speech, not even before the floor adapts."""
    samples = _int16(noise(3.0, seed=3, rate=RATE, level_dbfs=level))
    assert sum(_decide(SpectralVAD(), samples)) <= 1


def test_hum_is_rejected() -> None:
    """Mains hum (60 Hz and harmonics) is periodic, but below the voice band: not speech."""
    t = np.arange(3 * RATE) / RATE
    hum = sum(0.5**k * np.sin(2 * np.pi * 60 * (k + 1) * t) for k in range(6))
    assert not any(_decide(SpectralVAD(), _int16(scale_to_dbfs(hum, -30.0))))


def test_clicks_and_coughs_are_rejected() -> None:
    """Loud clicks and coughs (generated and the committed clip) over a quiet room are not
    speech."""
    x = _room(12.0).astype(np.float64)
    events = [click(seed=k, level_dbfs=-12.0) for k in range(6)]
    events += [cough(seed=k, level_dbfs=-22.0) for k in range(4)]
    events.append(scale_to_dbfs(load_clip("cough")[0].astype(np.float64), -20.0))
    for k, event in enumerate(events):
        at = int((0.3 + 1.0 * k) * RATE)
        x[at : at + len(event)] += event
    decisions = _decide(SpectralVAD(), _int16(x))
    assert sum(decisions) <= 2


def test_silence_is_rejected() -> None:
    """Digital silence has probability zero."""
    vad = SpectralVAD()
    silence = AudioFrame(np.zeros(FRAME, dtype=np.int16))
    assert [vad.probability(silence) for _ in range(20)] == [0.0] * 20


def test_deterministic_and_independent_of_frame_size() -> None:
    """Per-hop probabilities are the same run to run and for 7, 20 or 100 ms frames."""
    speech, _ = load_clip("wait_stop")
    stream = np.concatenate((_int16(_room(0.3)), speech))

    def hops(frame: int) -> list[float]:
        vad = SpectralVAD()
        out: list[float] = []
        for i in range(0, len(stream), frame):
            out += vad.probabilities(AudioFrame(stream[i : i + frame]))
        return out

    reference = hops(FRAME)
    assert reference == hops(FRAME)
    for frame in (168, 2400):
        other = hops(frame)
        assert len(other) == len(reference)
        assert np.allclose(other, reference, atol=1e-9)


def test_reset_forgets_the_stream() -> None:
    """After reset, a detector answers exactly like a fresh one."""
    speech, _ = load_clip("hold_on")
    used = SpectralVAD()
    _decide(used, _int16(white_noise(1.0, seed=1, level_dbfs=-30.0)))
    used.reset()
    assert _decide(used, speech) == _decide(SpectralVAD(), speech)


def test_short_frames_keep_the_last_answer_and_protocol_fits() -> None:
    """A frame that completes no hop gets the previous answer; the class fits the protocol."""
    vad: VoiceActivityDetector = SpectralVAD()
    assert vad.latency_frames == 0
    speech, _ = load_clip("forecast")
    assert isinstance(vad, SpectralVAD)
    probs = [vad.probability(AudioFrame(speech[i : i + 100])) for i in range(0, 24_000, 100)]
    assert max(probs) > 0.5
    # 100 samples never complete a 240-sample hop twice in a row: repeats are expected.
    assert any(a == b for a, b in itertools.pairwise(probs))


def test_stereo_is_downmixed_and_other_rates_are_refused() -> None:
    """Stereo frames are analysed as mono; a frame at another rate raises AudioError."""
    vad = SpectralVAD()
    vad.is_speech(AudioFrame(np.zeros((FRAME, 2), dtype=np.int16)))
    with pytest.raises(AudioError, match="16000 Hz"):
        vad.is_speech(AudioFrame(np.zeros(320, dtype=np.int16), sample_rate=16_000))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"threshold": 1.5}, "threshold"), ({"hangover_ms": -1.0}, "hangover_ms"),
     ({"window_ms": 5.0}, "hop_ms"), ({"window_ms": 12.0, "hop_ms": 10.0}, "window_ms"),
     ({"sample_rate": 4_000}, "sample_rate")],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], name: str) -> None:
    """Out-of-range settings raise ConfigurationError naming the setting."""
    with pytest.raises(ConfigurationError, match=name):
        SpectralVAD(**kwargs)
