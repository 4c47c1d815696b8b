"""Echo-path calibration: the probe is what it says, the measurement finds the simulated room's
delay and gain, says why when it cannot, and seeds the canceller and the gate."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.echo import EchoCanceller, EchoGate
from realtalk.echo.calibration import (
    CalibrationProbe,
    EchoPathMeasurement,
    measure_echo_path,
    seed_canceller,
    seed_gate,
)
from realtalk.errors import AudioError, ConfigurationError
from realtalk.sim import EchoPath, Room, RoomConfig

RATE = 24_000


def _calibrate(config: RoomConfig, probe: npt.NDArray[np.int16] | None = None,
               ) -> EchoPathMeasurement:
    """Play the probe into the room, record it out (500 ms of delay and 300 ms of tail)."""
    probe = CalibrationProbe(config.sample_rate).samples() if probe is None else probe
    room = Room(config)
    room.speaker_played(probe)
    mic = room.mic_frame(len(probe) + round(0.8 * config.sample_rate))
    return measure_echo_path(probe, mic, config.sample_rate)


def test_probe_is_quiet_deterministic_and_faded() -> None:
    probe = CalibrationProbe().samples()
    assert probe.dtype == np.int16 and len(probe) == round(0.6 * RATE)
    level = 10 * math.log10(float(np.mean((probe / 32768.0) ** 2)))
    assert level == pytest.approx(-40.0, abs=0.1)
    np.testing.assert_array_equal(probe, CalibrationProbe().samples())
    assert not np.array_equal(probe, CalibrationProbe(seed=1).samples())
    assert np.abs(probe[:5]).max() <= 2 and np.abs(probe[-5:]).max() <= 2
    # Flat in band: the spectrum's 10th and 90th percentiles within 6 dB between 300 Hz and
    # 10 kHz (drawn white noise of this length would spread over about 15 dB).
    spectrum = np.abs(np.fft.rfft(probe.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(probe), 1 / RATE)
    band = spectrum[(freqs > 300) & (freqs < 10_000)]
    lo, hi = np.percentile(20 * np.log10(band), [10, 90])
    assert hi - lo < 6.0
    with pytest.raises(ConfigurationError, match="level_dbfs"):
        CalibrationProbe(level_dbfs=0.0)
    with pytest.raises(ConfigurationError, match="duration_s"):
        CalibrationProbe(duration_s=0.01)


@pytest.mark.parametrize(("delay_ms", "gain_db", "noise_dbfs"), [
    (5.0, -30.0, -70.0), (5.0, 0.0, -65.0), (20.0, -20.0, -60.0), (50.0, -10.0, -55.0),
    (120.0, -25.0, -70.0), (200.0, -5.0, -60.0), (200.0, -30.0, -65.0), (80.0, 0.0, -50.0),
])
def test_measures_the_rooms_delay_and_gain(delay_ms: float, gain_db: float,
                                           noise_dbfs: float) -> None:
    """Within 1 ms and 2 dB of the room's truth, over delays 5-200 ms, gains -30..0 dB and
    noise floors -70..-50 dBFS."""
    path = EchoPath(delay_ms=delay_ms, gain_db=gain_db, seed=int(delay_ms))
    m = _calibrate(RoomConfig(echo=path, noise_dbfs=noise_dbfs, seed=2))
    assert m.ok, m.reason
    assert m.reason == ""
    assert abs(m.delay_ms - path.delay_ms) <= 1.0
    assert abs(m.gain_db - path.gain_db) <= 2.0
    assert m.erl_db == -m.gain_db
    assert m.confidence >= 30.0
    assert abs(m.noise_floor_dbfs - noise_dbfs) <= 2.0
    assert m.detection_limit_db < gain_db


def test_preset_rooms() -> None:
    """The office and the loud, distorting laptop are measured as configured."""
    office = RoomConfig.quiet_office()
    laptop = RoomConfig.laptop_loud()
    for config in (office, laptop):
        m = _calibrate(config)
        assert config.echo is not None
        assert m.ok, m.reason
        assert abs(m.delay_ms - config.echo.delay_ms) <= 1.0
        assert abs(m.gain_db - config.echo.gain_db) <= 2.0


def test_headphones_report_no_echo() -> None:
    m = _calibrate(RoomConfig.headphones())
    assert not m.ok
    assert m.reason.startswith("no echo found")
    assert "headphones" in m.reason
    assert m.confidence < 10.0
    # It could have seen an echo far weaker than any that matters.
    assert m.detection_limit_db < -40.0
    assert m.gate_initial_gain_db() == 0.0


def test_probe_too_quiet_under_loud_noise_is_flagged() -> None:
    """A -60 dBFS probe under -30 dBFS of noise cannot see even a strong echo: the reason
    says so (not "no echo"), with the figures."""
    config = RoomConfig(echo=EchoPath(gain_db=-10.0), noise_dbfs=-30.0)
    m = _calibrate(config, CalibrationProbe(level_dbfs=-60.0).samples())
    assert not m.ok
    assert m.reason.startswith("probe too quiet")
    assert "-60.0 dBFS" in m.reason
    assert m.detection_limit_db > -10.0
    assert abs(m.noise_floor_dbfs - -30.0) <= 1.0


def test_rejects_bad_audio_and_arguments() -> None:
    probe = CalibrationProbe().samples()
    with pytest.raises(AudioError, match="fewer than the probe"):
        measure_echo_path(probe, probe[:100], RATE)
    with pytest.raises(AudioError, match="int16"):
        measure_echo_path(probe.astype(np.float32), probe, RATE)
    with pytest.raises(AudioError, match="silent"):
        measure_echo_path(np.zeros(100, dtype=np.int16), probe, RATE)
    with pytest.raises(AudioError, match="mono"):
        measure_echo_path(probe, np.stack([probe, probe]), RATE)
    with pytest.raises(ConfigurationError, match="max_delay_ms"):
        measure_echo_path(probe, probe, RATE, max_delay_ms=0.0)
    with pytest.raises(ConfigurationError, match="sample_rate"):
        measure_echo_path(probe, probe, 0)


class _FakeCanceller:
    def __init__(self) -> None:
        self.seeded: list[int] = []

    def seed_delay(self, delay_samples: int) -> None:
        self.seeded.append(delay_samples)


def test_seeds_canceller_and_gate_only_when_ok() -> None:
    path = EchoPath(delay_ms=40.0, gain_db=-12.0, seed=4)
    m = _calibrate(RoomConfig(echo=path, noise_dbfs=-65.0))
    canceller = _FakeCanceller()
    assert seed_canceller(canceller, m, 16_000)
    assert canceller.seeded == [round(m.delay_ms * 16)]
    assert abs(canceller.seeded[0] - 640) <= 16
    gate = EchoGate()
    assert seed_gate(gate, m, headroom_db=3.0)
    assert gate.gain_db == pytest.approx(m.gain_db + 3.0)
    assert EchoGate(initial_gain_db=m.gate_initial_gain_db()).gain_db == pytest.approx(
        gate.gain_db)

    none = _calibrate(RoomConfig.headphones())
    other = _FakeCanceller()
    assert not seed_canceller(other, none, RATE)
    assert other.seeded == []
    untouched = EchoGate()
    assert not seed_gate(untouched, none)
    assert untouched.gain_db == 0.0


def test_seeded_canceller_starts_at_the_measured_delay() -> None:
    """``EchoCanceller.seed_delay``: the bulk delay is in place before any speech has
    played."""
    path = EchoPath(delay_ms=150.0, gain_db=-6.0, seed=9)
    m = _calibrate(RoomConfig(echo=path, noise_dbfs=-65.0))
    canceller = EchoCanceller(RATE)
    assert canceller.bulk_delay == 0
    assert seed_canceller(canceller, m, RATE)
    expected = path.delay_samples(RATE) - canceller.delay_margin
    assert abs(canceller.bulk_delay - expected) <= RATE // 1000
    with pytest.raises(ConfigurationError, match="delay_samples"):
        canceller.seed_delay(-1)
