"""The echo-risk watch: a working canceller keeps the conversation at "normal"; one that
cannot cancel escalates to "raised" and "half_duplex", and the watch comes back down, without
flapping, once the echo is under control."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import AudioFrame
from realtalk.echo import EchoCanceller
from realtalk.echo.watch import EchoRiskChange, EchoRiskWatch
from realtalk.errors import ConfigurationError
from realtalk.sim import EchoPath, Room, RoomConfig, clips, load_clip

RATE = 16_000
FRAME = RATE // 50  # 20 ms


def _far_end(seconds: float) -> npt.NDArray[np.int16]:
    """The assistant: committed speech clips back to back with short pauses, at -12 dB."""
    parts = []
    for clip in [c for c in clips() if c.rate == RATE and c.kind == "speech"][:7]:
        samples, _ = load_clip(clip.name, rate=RATE)
        parts += [samples, np.zeros(RATE // 5, dtype=np.int16)]
    one = np.concatenate(parts)
    far = np.tile(one, int(seconds * RATE // len(one)) + 1)[: int(seconds * RATE)]
    return (far.astype(np.float64) * 0.25).astype(np.int16)


def _power(x: npt.NDArray[np.int16]) -> float:
    f = x.astype(np.float64) / 32768.0
    return float(np.mean(f * f))


def _run(room: Room, far: npt.NDArray[np.int16], watch: EchoRiskWatch, *,
         reference: npt.NDArray[np.int16] | None = None, start_s: float = 0.0,
         canceller: EchoCanceller | None = None) -> list[EchoRiskChange]:
    """Play ``far`` into the room, cancel with ``reference`` (default: what was played) and
    feed the watch each frame; the changes it emitted."""
    canceller = canceller if canceller is not None else EchoCanceller(RATE)
    ref_all = far if reference is None else reference
    changes = []
    for i in range(0, len(far) - FRAME + 1, FRAME):
        room.speaker_played(far[i:i + FRAME])
        mic = room.mic_frame(FRAME)
        ref = ref_all[i:i + FRAME]
        result = canceller.process(AudioFrame(mic, RATE, reference=ref))
        change = watch.update(start_s + i / RATE, _power(mic), _power(result.frame.samples),
                              _power(ref), result.residual_echo)
        if change is not None:
            changes.append(change)
    return changes


def _room(gain_db: float, *, seed: int = 3, noise_dbfs: float = -70.0) -> Room:
    path = EchoPath(delay_ms=30.0, gain_db=gain_db, rt60_s=0.3, rir_ms=180.0, seed=seed)
    return Room(RoomConfig(sample_rate=RATE, echo=path, noise_dbfs=noise_dbfs))


def test_converged_canceller_stays_normal() -> None:
    """A canceller that converges on an ordinary room never raises the risk, and the echo it
    leaves is far under the playback."""
    watch = EchoRiskWatch()
    changes = _run(_room(-6.0), _far_end(12.0), watch)
    assert changes == []
    assert watch.level == "normal"
    assert watch.echo_level_db < -20.0
    assert watch.echo_reduction_db > 10.0


def test_unrelated_reference_escalates_to_half_duplex() -> None:
    """A canceller fed a reference unrelated to the echo cannot cancel anything: the watch
    goes to "raised" after 2 s of playback and more, then to "half_duplex" 3 s of playback
    later (the wrong reference's pauses are not playback, so it takes longer than that)."""
    far = _far_end(12.0)
    wrong = np.roll(far[::-1], 1234)  # speech-like, but not what was played
    watch = EchoRiskWatch()
    changes = _run(_room(0.0), far, watch, reference=wrong)
    assert [(c.previous, c.level) for c in changes] == [("normal", "raised"),
                                                         ("raised", "half_duplex")]
    raised, half = changes
    assert 2.0 <= raised.at <= 4.0
    assert 3.0 <= half.at - raised.at <= 7.0
    assert half.echo_level_db > -3.0
    assert abs(half.echo_reduction_db) < 3.0
    assert "echo level" in half.reason and "echo reduction" in half.reason


def test_loud_distorted_laptop_raises_the_bar() -> None:
    """A laptop at full volume with a hard-driven, soft-clipping speaker: the linear canceller
    cannot remove the distortion. Measured, the echo left stays about 13 dB under the playback
    (the default bar, 10 dB, is not crossed), so a watch with a stricter bar raises it."""
    cfg = RoomConfig.laptop_loud(sample_rate=RATE)
    far = np.clip(_far_end(8.0).astype(np.float64) * 6, -32768, 32767).astype(np.int16)
    watch = EchoRiskWatch(raise_db=-15.0)
    changes = _run(Room(cfg), far, watch)
    assert [c.level for c in changes][:1] == ["raised"]
    assert -15.0 < watch.echo_level_db < -10.0
    assert watch.echo_reduction_db < 12.0


def test_recovers_once_the_echo_is_under_control() -> None:
    """After half duplex with a wrong reference, the right reference (and a canceller reset,
    as on entering half duplex: relearning from garbage was measured to take about 9 s, from
    nothing about 3 s) lets the canceller converge and the watch steps back down, one level at
    a time, to "normal"."""
    room = _room(0.0)
    watch = EchoRiskWatch()
    canceller = EchoCanceller(RATE)
    far = _far_end(12.0)
    _run(room, far, watch, reference=np.roll(far[::-1], 1234), canceller=canceller)
    assert watch.level == "half_duplex"
    canceller.reset()
    changes = _run(room, _far_end(12.0), watch, start_s=12.0, canceller=canceller)
    assert [(c.previous, c.level) for c in changes] == [("half_duplex", "raised"),
                                                         ("raised", "normal")]
    assert changes[1].echo_level_db < -13.0
    assert changes[1].at - changes[0].at >= 3.0


def test_no_flapping_around_a_threshold() -> None:
    """An echo level that hovers around the raise threshold, jumping +-6 dB frame to frame,
    moves the level at most once."""
    rng = np.random.default_rng(11)
    watch = EchoRiskWatch()
    changes = []
    for k in range(3000):  # 60 s of 20 ms frames
        ref = 0.01
        jitter = rng.choice([-6.0, 6.0]) + rng.normal(0, 1.0)
        cleaned = ref * 10 ** ((-10.0 + jitter) / 10)
        change = watch.update(k * 0.02, cleaned * 1.1, cleaned, ref, None)
        if change is not None:
            changes.append(change)
    assert len(changes) <= 1


def test_noise_is_not_echo_and_silence_is_not_evidence() -> None:
    """A noisy room with quiet playback is not an echo problem (the noise floor is taken out),
    and frames with a silent speaker move nothing."""
    watch = EchoRiskWatch()
    noise = 1e-5
    for k in range(100):  # 2 s of silence: the noise floor is learned
        assert watch.update(k * 0.02, noise, noise, 0.0, None) is None
    for k in range(100, 600):  # 10 s of playback; the echo left is 30 dB under it
        ref = 1e-4
        assert watch.update(k * 0.02, noise + 3e-5, noise + ref * 1e-3, ref, 0.0) is None
    assert watch.level == "normal"
    assert watch.echo_level_db < -25.0


def test_rejects_bad_configuration_and_input() -> None:
    with pytest.raises(ConfigurationError, match="half_duplex_db"):
        EchoRiskWatch(raise_db=-3.0, half_duplex_db=-10.0)
    with pytest.raises(ConfigurationError, match="recover_s"):
        EchoRiskWatch(recover_s=0.0)
    watch = EchoRiskWatch()
    with pytest.raises(ConfigurationError, match="cleaned_power"):
        watch.update(0.0, 0.1, float("nan"), 0.1)
    watch.update(1.0, 0.1, 0.1, 0.1)
    with pytest.raises(ConfigurationError, match="backwards"):
        watch.update(0.5, 0.1, 0.1, 0.1)
