"""The energy detector: speech above level and noise floor, not silence or steady noise."""

from __future__ import annotations

import numpy as np
import pytest

from realtalk.audio import AudioFrame
from realtalk.vad import EnergyVAD


def _frame(dbfs: float, seed: int = 0) -> AudioFrame:
    rng = np.random.default_rng(seed)
    amp = 32768 * 10 ** (dbfs / 20)
    return AudioFrame(np.clip(rng.normal(0, amp, 480), -32768, 32767).astype(np.int16))


def test_silence_is_not_speech_and_loud_audio_is() -> None:
    """Digital silence is never speech; a -20 dBFS frame is."""
    vad = EnergyVAD()
    assert not vad.is_speech(AudioFrame(np.zeros(480, dtype=np.int16)))
    assert vad.is_speech(_frame(-20.0))


def test_level_is_rms_in_dbfs() -> None:
    """level_dbfs reports RMS relative to full scale."""
    assert abs(EnergyVAD.level_dbfs(_frame(-30.0)) - -30.0) < 0.5


def test_steady_noise_raises_the_floor() -> None:
    """After a while of steady -35 dBFS noise, that noise no longer counts as speech,
    while speech well above it still does."""
    vad = EnergyVAD(threshold_dbfs=-40.0, margin_db=10.0)
    decisions = [vad.is_speech(_frame(-35.0, seed=i)) for i in range(400)]
    assert not any(decisions[-50:])
    assert vad.is_speech(_frame(-15.0, seed=999))


def test_the_level_of_a_stereo_frame_is_over_every_sample() -> None:
    """Both channels count, as one run of samples (a mono frame of the same samples has the
    same level)."""
    rng = np.random.default_rng(1)
    stereo = rng.normal(0.0, 3000.0, (480, 2)).astype(np.int16)
    level = EnergyVAD.level_dbfs(AudioFrame(stereo, 24_000))
    assert level == EnergyVAD.level_dbfs(AudioFrame(stereo.reshape(-1), 24_000))
    x = stereo.astype(np.float64) / 32768.0
    assert level == pytest.approx(10 * np.log10(np.mean(x * x)), abs=1e-9)
    assert EnergyVAD().is_speech(AudioFrame(stereo, 24_000))
