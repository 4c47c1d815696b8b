"""Tests for realtalk.sim.room: the streaming virtual room and its ground truth."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pytest

from realtalk.errors import AudioError, ConfigurationError
from realtalk.sim.room import EchoPath, Room, RoomConfig
from realtalk.sim.signals import load_clip, rms_dbfs, speech_like, white_noise

RATE = 16_000
Samples = npt.NDArray[np.float32]


def _quiet(echo: EchoPath | None, *, keep_history: bool = True) -> Room:
    """A noiseless room with one echo path, so echo measurements are exact."""
    config = RoomConfig(sample_rate=RATE, echo=echo, noise_dbfs=None)
    return Room(config, keep_history=keep_history)


def _run_blocks(room: Room, speaker: Samples, sizes: list[int]) -> Samples:
    """Play and record in the given block sizes (speaker first, then mic, per block)."""
    out, pos = [], 0
    for size in sizes:
        room.speaker_played(speaker[pos : pos + size])
        out.append(room.mic_frame_float(size))
        pos += size
    return np.concatenate(out)


def _random_sizes(rng: np.random.Generator, total: int, high: int) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(1, high)))
    sizes[-1] -= sum(sizes) - total
    return [s for s in sizes if s > 0]


def _scenario(room: Room) -> None:
    """User speech, babble-free noise and an echo-path change: everything streaming touches."""
    user, _ = load_clip("wait_stop", rate=RATE)
    room.add_user_speech(user, at_sample=3_000)
    room.set_noise(white_noise, -55.0, seed=3, period_s=0.3)
    room.change_path(9_001, EchoPath(delay_ms=31.0, gain_db=-3.0, rt60_s=0.15, seed=9))


def _schroeder_rt60(h: npt.NDArray[np.float64], rate: int) -> float:
    """RT60 from the Schroeder decay curve of ``h``, fitted between -5 and -25 dB (T20 x 3)."""
    energy = np.cumsum((h * h)[::-1])[::-1]
    edc = 10 * np.log10(energy / energy[0])
    t = np.arange(len(h)) / rate
    fit = (edc <= -5) & (edc >= -25)
    slope = np.polyfit(t[fit], edc[fit], 1)[0]
    return float(-60.0 / slope)


def test_any_block_sizes_give_the_same_mic_signal() -> None:
    """Reading and playing in random block sizes equals doing it all at once."""
    speaker = speech_like(1.5, seed=1, rate=RATE, level_dbfs=-18.0)
    echo = EchoPath(delay_ms=12.0, gain_db=-2.0, rt60_s=0.3, rir_ms=250.0, distortion=2.0)
    whole = _quiet(echo)
    _scenario(whole)
    reference = _run_blocks(whole, speaker, [len(speaker)])
    rng = np.random.default_rng(0)
    for high in (4, 37, 700, 5_000):
        room = _quiet(echo)
        _scenario(room)
        blocks = _run_blocks(room, speaker, _random_sizes(rng, len(speaker), high))
        np.testing.assert_allclose(blocks, reference, rtol=0, atol=1e-6)
    assert rms_dbfs(reference[9_001:]) > -40  # the changed path still carries echo


def test_speaker_ahead_of_mic_equals_interleaved_and_int16_matches() -> None:
    """Playing all speaker audio up front gives the same mic, to the int16 sample."""
    speaker = speech_like(1.0, seed=2, rate=RATE, level_dbfs=-15.0)
    echo = EchoPath(delay_ms=5.0, gain_db=3.0)
    interleaved = _quiet(echo)
    _scenario(interleaved)
    ints_a = []
    pos = 0
    for size in (160,) * (len(speaker) // 160):
        interleaved.speaker_played(speaker[pos : pos + size])
        ints_a.append(interleaved.mic_frame(size))
        pos += size
    ahead = _quiet(echo)
    _scenario(ahead)
    ahead.speaker_played(speaker)
    ints_b = [ahead.mic_frame(320) for _ in range(len(speaker) // 320)]
    a, b = np.concatenate(ints_a), np.concatenate(ints_b)
    assert np.max(np.abs(a.astype(np.int32) - b.astype(np.int32))) <= 1


@pytest.mark.parametrize(("delay_ms", "gain_db"), [(0.0, 0.0), (12.5, -10.0), (40.0, 6.0)])
def test_echo_delay_and_gain_match_cross_correlation(delay_ms: float, gain_db: float) -> None:
    """The echo of white noise peaks in cross-correlation at the bulk delay, at the set gain."""
    room = _quiet(EchoPath(delay_ms=delay_ms, gain_db=gain_db, rt60_s=0.2, seed=4))
    far = white_noise(2.0, seed=5, rate=RATE, level_dbfs=-30.0)
    room.speaker_played(far)
    room.mic_frame(len(far))
    truth = room.ground_truth()
    n = len(far)
    xcorr = np.fft.irfft(
        np.fft.rfft(truth.echo, 2 * n) * np.conj(np.fft.rfft(truth.speaker, 2 * n))
    )
    lag = int(np.argmax(np.abs(xcorr[: RATE // 10])))
    assert lag == round(delay_ms * RATE / 1000)
    steady = slice(RATE // 2, n)  # after the reverberant tail has built up
    measured = rms_dbfs(truth.echo[steady]) - rms_dbfs(truth.speaker[steady])
    assert measured == pytest.approx(gain_db, abs=0.3)


@pytest.mark.parametrize("rt60_s", [0.15, 0.3, 0.6])
def test_impulse_response_decays_at_rt60(rt60_s: float) -> None:
    """The tail's Schroeder decay gives back the configured RT60 within 15%."""
    path = EchoPath(rt60_s=rt60_s, rir_ms=300.0, gain_db=-6.0, seed=11)
    h = path.impulse_response(RATE)
    tail = h[round(0.025 * RATE) :]  # past the direct sound and early reflections
    assert _schroeder_rt60(tail, RATE) == pytest.approx(rt60_s, rel=0.15)
    assert 10 * math.log10(float(np.sum(h * h))) == pytest.approx(-6.0, abs=1e-9)
    assert int(np.argmax(np.abs(h))) == 0
    assert len(h) == round(0.3 * RATE)


def test_impulse_response_is_deterministic_by_seed_and_read_only() -> None:
    """Same seed, same response; another seed, another; the array cannot be modified."""
    h1 = EchoPath(seed=1).impulse_response(RATE)
    np.testing.assert_array_equal(h1, EchoPath(seed=1).impulse_response(RATE))
    assert not np.array_equal(h1, EchoPath(seed=2).impulse_response(RATE))
    assert not h1.flags.writeable


def test_ground_truth_components_sum_to_the_mic_signal() -> None:
    """echo + user + noise is the float mic, and its int16 is what mic_frame returned."""
    room = Room(RoomConfig.laptop_loud(sample_rate=RATE))
    user, _ = load_clip("sorry_can_i_ask", rate=RATE)
    room.add_user_speech(user, at_sample=4_000, level_dbfs=-25.0)
    speaker = speech_like(1.2, seed=6, rate=RATE, level_dbfs=-12.0)
    got = []
    for i in range(0, 4_000 + len(user) + 320, 320):
        room.speaker_played(speaker[i : i + 320])
        got.append(room.mic_frame(320))
    truth = room.ground_truth()
    np.testing.assert_array_equal(truth.echo + truth.user + truth.noise, truth.mic)
    np.testing.assert_array_equal(truth.mic_int16(), np.concatenate(got))
    for part in (truth.echo, truth.user, truth.noise):
        assert rms_dbfs(part) > -60
    assert int(np.flatnonzero(truth.user)[0]) == 4_000
    assert rms_dbfs(truth.user[4_000 : 4_000 + len(user)]) == pytest.approx(-25.0, abs=0.01)
    assert rms_dbfs(truth.noise) == pytest.approx(-50.0, abs=0.5)
    np.testing.assert_array_equal(truth.speaker[: len(speaker)], speaker)
    assert not truth.speaker[len(speaker) :].any()
    window = room.ground_truth(1_000, 2_000)
    np.testing.assert_array_equal(window.echo, truth.echo[1_000:2_000])


def test_headphones_have_no_echo() -> None:
    """With headphones, loud playback leaves only noise on the mic."""
    room = Room(RoomConfig.headphones(sample_rate=RATE))
    room.speaker_played(speech_like(0.5, seed=0, rate=RATE, level_dbfs=-6.0))
    room.mic_frame(RATE // 2)
    truth = room.ground_truth()
    assert not truth.echo.any()
    assert rms_dbfs(truth.mic) == pytest.approx(-70.0, abs=0.5)


def test_loudspeaker_distortion_compresses_loud_playback_only() -> None:
    """A soft-clipping speaker keeps quiet echo at the set gain and squashes loud echo."""
    path = EchoPath(delay_ms=0.0, gain_db=0.0, distortion=3.0)
    gains = []
    for level in (-40.0, -6.0):
        room = _quiet(path)
        far = white_noise(0.5, seed=1, rate=RATE, level_dbfs=level)
        room.speaker_played(far)
        room.mic_frame(len(far))
        truth = room.ground_truth(RATE // 4)
        gains.append(rms_dbfs(truth.echo) - rms_dbfs(truth.speaker))
    assert gains[0] == pytest.approx(0.0, abs=0.3)
    assert gains[1] < -3.0


def test_change_path_switches_for_sound_emitted_after_it() -> None:
    """Clicks before and after a path change arrive with the old and the new delay."""
    room = _quiet(
        EchoPath(delay_ms=10.0, gain_db=0.0, rir_ms=20.0, rt60_s=0.01, early_reflections=0)
    )
    room.change_path(
        4_000, EchoPath(delay_ms=25.0, gain_db=-6.0, rir_ms=20.0, rt60_s=0.01, early_reflections=0)
    )
    speaker = np.zeros(8_000, dtype=np.float32)
    speaker[[1_000, 5_000]] = 0.5
    room.speaker_played(speaker)
    room.mic_frame(8_000)
    echo = np.abs(room.ground_truth().echo)
    assert int(np.argmax(echo[:4_000])) == 1_000 + 160
    assert int(np.argmax(echo[4_000:])) + 4_000 == 5_000 + 400
    assert echo[5_400] / echo[1_160] == pytest.approx(10 ** (-6 / 20), rel=0.2)
    assert room.echo_path is not None and room.echo_path.delay_ms == 25.0


def test_mic_reading_past_the_speaker_means_silence() -> None:
    """Speaker audio played after the mic heard silence starts at the mic's position."""
    room = _quiet(EchoPath(delay_ms=0.0, gain_db=0.0, rir_ms=5.0, early_reflections=0))
    room.mic_frame(1_000)
    assert room.speaker_position == 1_000
    impulse = np.zeros(10, dtype=np.float32)
    impulse[0] = 0.5
    room.speaker_played(impulse)
    room.mic_frame(1_000)
    truth = room.ground_truth()
    assert int(np.argmax(np.abs(truth.echo))) == 1_000
    assert truth.speaker[1_000] == pytest.approx(0.5)


def test_past_edits_and_bad_audio_are_rejected() -> None:
    """Scheduling into what the mic already heard, or feeding bad audio, raises clearly."""
    room = _quiet(EchoPath())
    room.mic_frame(500)
    with pytest.raises(ConfigurationError, match="already been read up to sample 500"):
        room.change_path(100, None)
    with pytest.raises(ConfigurationError, match="in the past"):
        room.add_user_speech(np.zeros(10, dtype=np.int16), at_sample=499)
    with pytest.raises(AudioError, match="NaN"):
        room.speaker_played(np.array([0.0, np.nan]))
    with pytest.raises(AudioError, match="mono"):
        room.speaker_played(np.zeros((2, 10), dtype=np.int16))
    with pytest.raises(ConfigurationError, match="n must be"):
        room.mic_frame(-1)
    with pytest.raises(ConfigurationError, match="keep_history"):
        _quiet(EchoPath(), keep_history=False).ground_truth()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("delay_ms", -1.0),
        ("rt60_s", 0.0),
        ("rir_ms", 5_000.0),
        ("distortion", -0.5),
        ("early_reflections", -1),
        ("gain_db", math.inf),
    ],
)
def test_echo_path_rejects_bad_values(field: str, value: float) -> None:
    """Each invalid echo-path setting is a ConfigurationError naming the field."""
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ConfigurationError, match=field):
        attrs.evolve(EchoPath(), **changes)


def test_presets_differ_as_documented() -> None:
    """The loud laptop echoes louder and distorts; the office reverberates; headphones don't."""
    office, laptop, phones = (
        RoomConfig.quiet_office(),
        RoomConfig.laptop_loud(),
        RoomConfig.headphones(),
    )
    assert office.echo is not None and laptop.echo is not None and phones.echo is None
    assert laptop.echo.gain_db > office.echo.gain_db
    assert laptop.echo.distortion > 0 == office.echo.distortion
    assert office.echo.rt60_s > laptop.echo.rt60_s
    assert 100.0 <= laptop.echo.rir_ms <= office.echo.rir_ms <= 300.0


def test_sampled_paths_are_seeded_and_within_their_ranges() -> None:
    """A sampled room is the same for the same seed, other for another, and in range."""
    paths = [EchoPath.sampled(seed, gain_db=-4.0, delay_ms=(40.0, 150.0), rt60_s=(0.4, 0.7),
                              distortion=2.0) for seed in range(30)]
    assert EchoPath.sampled(3) == EchoPath.sampled(3) != EchoPath.sampled(4)
    assert all(40.0 <= p.delay_ms <= 150.0 and 0.4 <= p.rt60_s <= 0.7 for p in paths)
    assert all(p.gain_db == -4.0 and p.distortion == 2.0 for p in paths)
    assert len({p.seed for p in paths}) == 30
    with pytest.raises(ConfigurationError, match=r"delay_ms must be a \(low, high\) range"):
        EchoPath.sampled(0, delay_ms=(150.0, 5.0))


def test_sampled_rooms_are_the_benchmarks_unseen_conditions() -> None:
    """RoomConfig.sampled draws a room as the barge-in benchmark's unseen block does: by
    default its hardest (live, talkers behind the user, a clipping speaker); the same for the
    same seed; its noise is the talkers' babble, heard at the microphone at its level."""
    worst = RoomConfig.sampled(5)
    assert worst == RoomConfig.sampled(5) != RoomConfig.sampled(6)
    assert worst.echo is not None and 40.0 <= worst.echo.delay_ms <= 150.0
    assert 0.4 <= worst.echo.rt60_s <= 0.7 and worst.echo.distortion == 2.0
    assert (worst.noise, worst.noise_dbfs, worst.echo.gain_db) == ("babble", -40.0, 0.0)
    dry = RoomConfig.sampled(5, room="dry", noise="pink", speaker="linear", echo_gain_db=-6.0)
    assert dry.echo is not None and 5.0 <= dry.echo.delay_ms <= 40.0
    assert (dry.noise, dry.noise_dbfs, dry.echo.distortion, dry.echo.gain_db) == (
        "pink", -50.0, 0.0, -6.0)
    room = Room(worst)
    mic = room.mic_frame(worst.sample_rate * 2).astype(np.float64) / 32768.0
    assert rms_dbfs(mic) == pytest.approx(-40.0, abs=1.5)  # nothing played: the talkers


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"room": "hall"}, "room"), ({"noise": "traffic"}, "noise"),
    ({"speaker": "broken"}, "speaker")])
def test_unknown_sampled_conditions_are_refused(kwargs: dict[str, Any], word: str) -> None:
    with pytest.raises(ConfigurationError, match=word):
        RoomConfig.sampled(0, **kwargs)
    with pytest.raises(ConfigurationError, match="noise must be one of"):
        RoomConfig(noise="traffic")  # type: ignore[arg-type]


def test_a_moved_path_shifts_its_delay_gain_and_response() -> None:
    """Moving keeps the room's kind but shifts the delay within bounds, the gain by at most
    the given change, and draws a new impulse response."""
    base = EchoPath.sampled(7, gain_db=-10.0)
    for seed in range(40):
        moved = base.moved(seed, delay_shift_ms=(3.0, 60.0), gain_change_db=3.0)
        assert 3.0 - 1e-9 <= abs(moved.delay_ms - base.delay_ms) <= 60.0 + 1e-9
        assert 0.0 <= moved.delay_ms <= 150.0
        assert abs(moved.gain_db - base.gain_db) <= 3.0
        assert moved.seed != base.seed
        assert moved.early_reflections == base.early_reflections
    near_edge = EchoPath(delay_ms=145.0).moved(1, delay_shift_ms=(20.0, 20.0))
    assert near_edge.delay_ms == pytest.approx(125.0)  # the other way, to stay in range
    assert base.moved(5) == base.moved(5)
