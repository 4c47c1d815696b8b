"""PCM16 conversions at the edges."""

from __future__ import annotations

import numpy as np
import pytest

from realtalk.audio import pcm
from realtalk.errors import AudioError


def test_bytes_int16_round_trip_is_little_endian() -> None:
    """Bytes -> int16 -> bytes is exact, and little-endian on any host."""
    data = bytes([0x01, 0x00, 0xFF, 0x7F, 0x00, 0x80])
    samples = pcm.bytes_to_int16(data)
    assert samples.tolist() == [1, 32767, -32768]
    assert pcm.int16_to_bytes(samples) == data


def test_float_round_trip_and_clipping() -> None:
    """int16 -> float -> int16 is exact; out-of-range floats clip."""
    samples = np.array([-32768, -1, 0, 1, 32767], dtype=np.int16)
    assert (pcm.float_to_int16(pcm.int16_to_float(samples)) == samples).all()
    assert pcm.float_to_int16(np.array([2.0, -2.0])).tolist() == [32767, -32768]


def test_base64_round_trip() -> None:
    """Base64 as carried in JSON round-trips."""
    samples = np.arange(-100, 100, dtype=np.int16)
    assert (pcm.b64_to_int16(pcm.int16_to_b64(samples)) == samples).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pcm.bytes_to_int16(b"\x00\x01\x02"), "even number of bytes"),
        (lambda: pcm.b64_to_int16("!!"), "base64"),
        (lambda: pcm.float_to_int16(np.array([0.0, np.nan])), "NaN"),
    ],
)
def test_bad_audio_is_a_clear_error(call: object, message: str) -> None:
    """Odd byte counts, bad base64 and NaN raise AudioError saying so."""
    with pytest.raises(AudioError, match=message):
        call()  # type: ignore[operator]


def test_durations() -> None:
    """48 bytes is 1 ms of PCM16 at 24 kHz."""
    assert pcm.pcm_bytes_to_ms(48, 24_000) == 1.0
    assert pcm.samples_to_ms(2400, 24_000) == 100.0
    assert pcm.ms_to_samples(100, 24_000) == 2400


def test_power_dbfs_is_the_mean_square_in_db_and_silence_floors() -> None:
    assert pcm.power_dbfs(1.0) == 0.0
    assert pcm.power_dbfs(1e-3) == pytest.approx(-30.0)
    assert pcm.power_dbfs(0.0) == -120.0
    full = np.full(480, 32767, np.int16)
    assert pcm.power_dbfs(pcm.mean_square(full)) == pytest.approx(0.0, abs=1e-3)


def test_the_sustained_mean_square_leaves_out_a_tick_but_not_a_voice() -> None:
    """A 200 Hz tone (one period per 5 ms piece of a 20 ms frame) holds its power
    throughout; a 0.5 ms tick puts a frame's power into one piece, which the lower median
    leaves out."""
    n = np.arange(480)
    tone = np.round(3000 * np.sin(2 * np.pi * 200 * n / 24_000)).astype(np.int16)
    assert pcm.sustained_mean_square(tone, 4) == pytest.approx(pcm.mean_square(tone),
                                                               rel=1e-3)
    ticked = tone // 100
    ticked[130:142] = 20_000
    assert pcm.power_dbfs(pcm.mean_square(ticked)) > -25.0
    assert pcm.power_dbfs(pcm.sustained_mean_square(ticked, 4)) < -50.0
    # Two ticks in four pieces: still the quieter two's.
    ticked[250:262] = 20_000
    assert pcm.power_dbfs(pcm.sustained_mean_square(ticked, 4)) < -50.0


def test_the_sustained_mean_square_of_too_few_samples() -> None:
    assert pcm.sustained_mean_square(np.zeros(0, np.int16), 4) == 0.0
    three = np.array([100, -300, 200], np.int16)
    # More pieces than samples: one sample each, the lower median of 100^2, 300^2, 200^2.
    assert pcm.sustained_mean_square(three, 8) == pytest.approx(200.0**2 / 2**30)
    assert pcm.sustained_mean_square(three, 1) == pytest.approx(pcm.mean_square(three))
