"""Tests for realtalk.sim.signals: committed speech clips and deterministic signal generators."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.errors import ConfigurationError
from realtalk.sim.signals import (
    SPEECH_DIR,
    UNSEEN_DIR,
    SignalGenerator,
    babble,
    click,
    clips,
    cough,
    keyboard,
    load_clip,
    pink_noise,
    rms_dbfs,
    speech_like,
    talker_babble,
    white_noise,
)

RATES = (16_000, 24_000)
GENERATORS: dict[str, SignalGenerator] = {
    "speech_like": speech_like,
    "white_noise": white_noise,
    "pink_noise": pink_noise,
    "babble": babble,
    "talker_babble": talker_babble,
    "keyboard": keyboard,
}


def _frame_levels(x: npt.NDArray[np.float32], rate: int, ms: int = 20) -> npt.NDArray[np.float64]:
    n = rate * ms // 1000
    frames = x[: len(x) // n * n].astype(np.float64).reshape(-1, n)
    power = np.mean(frames * frames, axis=1)
    levels: npt.NDArray[np.float64] = 10 * np.log10(np.maximum(power, 1e-20))
    return levels


def _band_power(x: npt.NDArray[np.float32], rate: int, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def test_manifest_lists_speech_click_and_cough_at_both_rates() -> None:
    """The manifest lists every clip once per rate: several voices, plus a click and a cough."""
    listed = clips()
    names = {c.name for c in listed}
    assert len(names) >= 12
    for name in names:
        assert sorted(c.rate for c in listed if c.name == name) == list(RATES)
    speech = [c for c in listed if c.kind == "speech"]
    assert {c.kind for c in listed} == {"speech", "click", "cough"}
    assert len({c.voice for c in speech}) >= 5
    assert all(c.text for c in speech)
    assert any(c.text.endswith("?") for c in speech)
    assert any("stop" in c.text.lower() for c in speech)


@pytest.mark.parametrize("rate", RATES)
def test_every_clip_loads_with_manifest_rate_and_duration(rate: int) -> None:
    """Every listed WAV loads as read-only int16 at the manifest's rate and duration."""
    for clip in clips(rate=rate):
        samples = clip.samples()
        assert samples.dtype == np.int16
        assert not samples.flags.writeable
        assert abs(len(samples) * 1000 / rate - clip.duration_ms) < 0.1
        assert -30.0 < rms_dbfs(samples) < -3.0  # normalised, not silent
        assert int(np.max(np.abs(samples.astype(np.int32)))) <= 32768 * 10 ** (-2.9 / 20)


def test_clips_are_small_and_every_wav_is_listed() -> None:
    """The committed data stays well under 2 MB and has no unlisted files."""
    wavs = {p.name for p in SPEECH_DIR.glob("*.wav")}
    manifest = json.loads((SPEECH_DIR / "manifest.json").read_text())
    assert wavs == {entry["file"] for entry in manifest["clips"]}
    assert sum((SPEECH_DIR / w).stat().st_size for w in wavs) < 1_600_000


def test_load_clip_by_name_file_name_and_path() -> None:
    """A clip loads the same by manifest name plus rate, by file name and by path."""
    by_name, rate = load_clip("wait_stop", rate=16_000)
    by_file, _ = load_clip("wait_stop_16k.wav")
    by_stem, _ = load_clip("wait_stop_16k")
    by_path, _ = load_clip(SPEECH_DIR / "wait_stop_16k.wav")
    assert rate == 16_000
    for other in (by_file, by_stem, by_path):
        np.testing.assert_array_equal(by_name, other)
    default, default_rate = load_clip("wait_stop")
    assert default_rate == 24_000
    assert abs(len(default) / 24_000 - len(by_name) / 16_000) < 0.001


def test_load_clip_unknown_name_lists_known_names() -> None:
    """An unknown clip name is a ConfigurationError naming the available clips."""
    with pytest.raises(ConfigurationError, match=r"no clip 'nope'.*wait_stop"):
        load_clip("nope")


def test_missing_manifest_is_a_configuration_error(tmp_path: Path) -> None:
    """A directory without a manifest is reported, not a KeyError or OSError."""
    with pytest.raises(ConfigurationError, match="manifest"):
        clips(tmp_path)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_deterministic_by_seed(name: str) -> None:
    """Same seed, same samples; another seed, other samples."""
    generate = GENERATORS[name]
    a = generate(0.5, seed=7, rate=16_000, level_dbfs=-30.0)
    b = generate(0.5, seed=7, rate=16_000, level_dbfs=-30.0)
    c = generate(0.5, seed=8, rate=16_000, level_dbfs=-30.0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("rate", RATES)
def test_generators_have_exact_length_and_level(name: str, rate: int) -> None:
    """Each generator returns float32 of exactly the duration at the requested RMS level."""
    x = GENERATORS[name](0.7, seed=1, rate=rate, level_dbfs=-27.5)
    assert x.dtype == np.float32
    assert len(x) == round(0.7 * rate)
    assert rms_dbfs(x) == pytest.approx(-27.5, abs=0.01)


def test_events_have_requested_level_and_are_deterministic() -> None:
    """Click and cough bursts hit the level and repeat exactly for the same seed."""
    for make in (click, cough):
        x = make(seed=3, rate=24_000, level_dbfs=-18.0)
        assert rms_dbfs(x) == pytest.approx(-18.0, abs=0.01)
        np.testing.assert_array_equal(x, make(seed=3, rate=24_000, level_dbfs=-18.0))


def test_speech_like_has_pauses_and_speech_band_energy() -> None:
    """Speech-like audio alternates words and pauses and keeps its energy below 4 kHz."""
    rate = 16_000
    x = speech_like(4.0, seed=2, pitch_hz=120.0, rate=rate)
    levels = _frame_levels(x, rate)
    loud = levels > levels.max() - 20
    assert 0.4 < loud.mean() < 0.95
    assert _band_power(x, rate, 80, 4000) > 0.95 * _band_power(x, rate, 0, rate / 2)


def test_speech_like_rejects_out_of_range_pitch() -> None:
    """An unspeakable pitch is a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="pitch_hz"):
        speech_like(1.0, seed=0, pitch_hz=900.0)


def test_pink_noise_has_equal_power_per_octave() -> None:
    """Pink noise carries about the same power in every octave (1/f spectrum)."""
    rate = 16_000
    x = pink_noise(4.0, seed=4, rate=rate)
    octaves = [_band_power(x, rate, lo, 2 * lo) for lo in (125, 250, 500, 1000, 2000, 4000)]
    spread_db = 10 * np.log10(max(octaves) / min(octaves))
    assert spread_db < 1.5
    white = white_noise(4.0, seed=4, rate=rate)
    assert _band_power(white, rate, 4000, 8000) > 10 * _band_power(white, rate, 125, 250)


def test_babble_has_fewer_pauses_than_one_talker() -> None:
    """Babble of six talkers leaves far fewer quiet frames than one speech-like voice."""
    rate = 16_000
    one = _frame_levels(speech_like(3.0, seed=5, rate=rate), rate)
    many = _frame_levels(babble(3.0, seed=5, rate=rate, talkers=6), rate)
    assert np.mean(many < many.max() - 20) < 0.5 * np.mean(one < one.max() - 20)


def test_click_is_short_and_cough_is_band_limited() -> None:
    """A click decays within a few ms; a cough's energy sits mostly between 250 Hz and 4 kHz."""
    rate = 24_000
    c = click(rate=rate).astype(np.float64)
    energy = np.cumsum(c * c) / np.sum(c * c)
    assert np.searchsorted(energy, 0.99) < 0.005 * rate
    k = cough(rate=rate)
    assert _band_power(k, rate, 250, 4000) > 0.9 * _band_power(k, rate, 0, rate / 2)
    assert 0.25 * rate <= len(k) <= 0.5 * rate


def test_the_unseen_set_has_other_voices_and_sentences_and_stays_small() -> None:
    """Users (24 kHz) and talkers (16 kHz) with voices and sentences the default clips do not
    use, every WAV listed, well under 1 MB."""
    unseen = clips(UNSEEN_DIR)
    default = clips()
    users = [c for c in unseen if c.kind == "speech"]
    talkers = [c for c in unseen if c.kind == "talker"]
    assert len(users) >= 8 and len(talkers) >= 4
    assert {c.rate for c in users} == {24_000} and {c.rate for c in talkers} == {16_000}
    assert not {c.voice for c in unseen} & {c.voice for c in default}
    assert not {c.text for c in unseen} & {c.text for c in default}
    for clip in unseen:
        assert abs(len(clip.samples()) * 1000 / clip.rate - clip.duration_ms) < 0.1
    wavs = {p.name for p in UNSEEN_DIR.glob("*.wav")}
    assert wavs == {c.path.name for c in unseen}
    assert sum((UNSEEN_DIR / w).stat().st_size for w in wavs) < 1_000_000


def test_talker_babble_mixes_several_talkers_into_a_steadier_signal() -> None:
    """Several talkers fill each other's pauses: fewer quiet frames than one talker alone;
    without talker clips it says where it looked."""
    one = _frame_levels(talker_babble(10.0, seed=2, talkers=1), 24_000)
    four = _frame_levels(talker_babble(10.0, seed=2, talkers=4), 24_000)

    def quiet(levels: npt.NDArray[np.float64]) -> float:
        return float(np.mean(levels < np.median(levels) - 15.0))

    assert quiet(four) < quiet(one)
    with pytest.raises(ConfigurationError, match="talkers must be at least 1"):
        talker_babble(1.0, talkers=0)
    with pytest.raises(ConfigurationError, match="no talker clips"):
        talker_babble(1.0, directory=SPEECH_DIR)


def test_keyboard_is_a_train_of_short_keystrokes() -> None:
    """Typing is mostly silence between short clicks, about ``keys_per_s`` presses a second;
    its energy sits above the speech fundamentals."""
    rate = 24_000
    x = keyboard(5.0, seed=4, rate=rate, level_dbfs=-35.0, keys_per_s=6.0)
    levels = _frame_levels(x, rate, ms=5)
    loud = levels > levels.max() - 20.0
    presses = int(np.count_nonzero(loud[1:] & ~loud[:-1]))
    assert 15 <= presses <= 2 * 6 * 5  # presses, and some releases
    assert np.mean(loud) < 0.3
    assert _band_power(x, rate, 1_000, 6_000) > 3 * _band_power(x, rate, 50, 500)
    with pytest.raises(ConfigurationError, match="keys_per_s must be > 0"):
        keyboard(1.0, keys_per_s=0.0)
