"""The Silero ONNX adapter (onnxruntime + numpy, no torch)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import AudioFrame
from realtalk.errors import AudioError, ConfigurationError
from realtalk.sim import load_clip, pink_noise
from realtalk.vad.silero import SileroVAD, default_model_path

FRAME = 480  # 20 ms at 24 kHz


@pytest.fixture
def model() -> Path:
    """The model file from the installed silero-vad wheel (skips without it or onnxruntime)."""
    pytest.importorskip("onnxruntime")
    path = default_model_path()
    if path is None:
        pytest.skip("silero-vad's ONNX model is not installed (pip install --no-deps silero-vad)")
    return path


def _probabilities(vad: SileroVAD, samples: npt.NDArray[np.int16],
                   frame: int = FRAME) -> list[float]:
    out: list[float] = []
    for i in range(0, len(samples), frame):
        out += vad.probabilities(AudioFrame(samples[i : i + frame]))
    return out


def test_missing_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without onnxruntime, construction raises ConfigurationError saying what to install."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigurationError, match="onnxruntime"):
        SileroVAD()


def test_missing_model_file_is_a_configuration_error(tmp_path: Path) -> None:
    """A model_path that does not exist raises ConfigurationError naming it."""
    pytest.importorskip("onnxruntime")
    with pytest.raises(ConfigurationError, match=r"nope\.onnx"):
        SileroVAD(tmp_path / "nope.onnx")


def test_speech_scores_high_and_noise_low(model: Path) -> None:
    """A spoken phrase reaches high probabilities; room noise and silence stay low."""
    vad = SileroVAD(model)
    speech, _ = load_clip("forecast")
    assert max(_probabilities(vad, speech)) > 0.9
    vad.reset()
    noise = np.rint(pink_noise(1.0, seed=2, level_dbfs=-50.0) * 32768).astype(np.int16)
    assert max(_probabilities(vad, noise)) < 0.3
    vad.reset()
    assert not vad.is_speech(AudioFrame(np.zeros(24_000, dtype=np.int16)))


def test_windows_are_32_ms_and_frame_size_does_not_matter(model: Path) -> None:
    """One probability per 512 samples at 16 kHz, the same for 7 ms or 100 ms frames."""
    speech, _ = load_clip("wait_stop")
    small = _probabilities(SileroVAD(model), speech, frame=168)
    large = _probabilities(SileroVAD(model), speech, frame=2400)
    assert len(small) == len(large) == (len(speech) * 2 // 3) // 512
    assert np.allclose(small, large, atol=1e-5)


def test_reset_and_wrong_rate(model: Path) -> None:
    """After reset the answers repeat exactly; a frame at another rate raises AudioError."""
    vad = SileroVAD(model)
    speech, _ = load_clip("hold_on")
    first = _probabilities(vad, speech)
    vad.reset()
    assert _probabilities(vad, speech) == first
    with pytest.raises(AudioError, match="24000 Hz"):
        vad.is_speech(AudioFrame(np.zeros(160, dtype=np.int16), sample_rate=16_000))


def test_a_file_that_is_not_silero_is_refused(model: Path, tmp_path: Path) -> None:
    """A file that onnxruntime cannot load raises ConfigurationError."""
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ConfigurationError, match=r"bogus\.onnx"):
        SileroVAD(bogus)
