"""The audio frame: mono or multichannel int16, downmix, float conversion, validation."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import AudioFrame
from realtalk.errors import AudioError


def test_frame_is_read_only_with_duration() -> None:
    """Samples cannot be modified through the frame; duration follows the rate."""
    frame = AudioFrame(np.zeros(480, dtype=np.int16), 24_000, 1.5)
    assert frame.duration == pytest.approx(0.02)
    assert frame.channels == 1
    with pytest.raises(ValueError, match="read-only"):
        frame.samples[0] = 1


def test_stereo_downmixes_to_the_mean() -> None:
    """mono() averages the channels and keeps rate and timestamp."""
    stereo = np.array([[100, 300], [-100, -300], [1, 2]], dtype=np.int16)
    frame = AudioFrame(stereo, 16_000, 2.0)
    assert frame.channels == 2
    mono = frame.mono()
    assert mono.samples.tolist() == [200, -200, 2]
    assert (mono.sample_rate, mono.timestamp) == (16_000, 2.0)


def test_from_float_reports_clipping(caplog: pytest.LogCaptureFixture) -> None:
    """Float audio past full scale is clipped and the clipping is logged with its count."""
    caplog.set_level(logging.WARNING)
    frame = AudioFrame.from_float(np.array([0.5, 1.5, -2.0]))
    assert frame.samples.tolist() == [16384, 32767, -32768]
    assert "2 of 3 samples clipped" in caplog.text


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros(4, dtype=np.float32), "int16"),
        (np.zeros((2, 2, 2), dtype=np.int16), "shape"),
    ],
)
def test_bad_frames_are_refused(samples: npt.NDArray[Any], message: str) -> None:
    """Wrong dtype or shape is an AudioError saying what is expected."""
    with pytest.raises(AudioError, match=message):
        AudioFrame(samples)


def test_nan_and_bad_rate_are_refused() -> None:
    """NaN float audio and a non-positive rate raise AudioError."""
    with pytest.raises(AudioError, match="NaN"):
        AudioFrame.from_float(np.array([0.0, np.nan]))
    with pytest.raises(AudioError, match="sample_rate"):
        AudioFrame(np.zeros(4, dtype=np.int16), 0)
