"""The webrtcvad adapter: resampled, re-framed, and a clear error without the module."""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import AudioFrame
from realtalk.errors import AudioError, ConfigurationError
from realtalk.sim import load_clip, pink_noise
from realtalk.vad.base import VoiceActivityDetector
from realtalk.vad.webrtc import WebRtcVAD

FRAME = 480  # 20 ms at 24 kHz


def _decide(vad: VoiceActivityDetector, samples: npt.NDArray[np.int16],
            frame: int = FRAME) -> list[bool]:
    return [vad.is_speech(AudioFrame(samples[i : i + frame]))
            for i in range(0, len(samples) - frame + 1, frame)]


def _with_lead(name: str) -> npt.NDArray[np.int16]:
    lead = np.rint(pink_noise(0.5, seed=1, level_dbfs=-60.0) * 32768).astype(np.int16)
    speech, _ = load_clip(name)
    return np.concatenate((lead, speech))


def test_missing_module_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without webrtcvad, construction raises ConfigurationError naming realtalk[vad]."""
    monkeypatch.setitem(sys.modules, "webrtcvad", None)
    with pytest.raises(ConfigurationError, match=r"realtalk\[vad\]"):
        WebRtcVAD()


def test_speech_is_detected_and_silence_is_not() -> None:
    """Most of a spoken phrase is speech; digital silence is not."""
    pytest.importorskip("webrtcvad")
    vad = WebRtcVAD(2)
    stream = _with_lead("weather_tomorrow")
    decisions = _decide(vad, stream)
    speech = decisions[len(stream) // FRAME - len(load_clip("weather_tomorrow")[0]) // FRAME :]
    assert np.mean(speech) >= 0.8
    vad.reset()
    assert not any(_decide(vad, np.zeros(24_000, dtype=np.int16)))


def test_any_frame_size_and_deterministic() -> None:
    """7 ms frames work (decisions carried across calls); two runs agree exactly."""
    pytest.importorskip("webrtcvad")
    stream = _with_lead("wait_stop")
    first = _decide(WebRtcVAD(3), stream, frame=168)
    assert first == _decide(WebRtcVAD(3), stream, frame=168)
    assert any(first)


def test_native_rate_is_not_resampled() -> None:
    """At 16 kHz the VAD is fed directly; the answer covers completed 10 ms VAD frames."""
    pytest.importorskip("webrtcvad")
    vad = WebRtcVAD(0, sample_rate=16_000, frame_ms=10)
    assert vad.vad_rate == 16_000
    assert vad.decisions(AudioFrame(np.zeros(480, dtype=np.int16), sample_rate=16_000)) == [
        False, False, False]


def test_bad_settings_and_frames_are_refused() -> None:
    """Bad mode or frame length: ConfigurationError; a frame at another rate: AudioError."""
    pytest.importorskip("webrtcvad")
    with pytest.raises(ConfigurationError, match="mode"):
        WebRtcVAD(4)
    with pytest.raises(ConfigurationError, match="frame_ms"):
        WebRtcVAD(frame_ms=25)
    with pytest.raises(AudioError, match="24000 Hz"):
        WebRtcVAD().is_speech(AudioFrame(np.zeros(160, dtype=np.int16), sample_rate=16_000))
