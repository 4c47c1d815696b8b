"""The playback-aware gate: echo of the assistant is held back, the user gets through."""

from __future__ import annotations

import numpy as np

from realtalk import BargeIn
from realtalk.audio import AudioFrame
from realtalk.echo import EchoGate
from realtalk.echo.gate import _quantile
from realtalk.sim import RoomConfig, Simulation, UserSpoke, Utterance, load_clip

RNG = np.random.default_rng(7)


def _noise(level: float, n: int = 480) -> np.ndarray:
    return np.clip(RNG.normal(0, 32768 * level, n), -32768, 32767).astype(np.int16)


def test_no_reference_or_silent_speaker_passes() -> None:
    """Without a reference, or while the speaker is silent, every frame may be the user."""
    gate = EchoGate()
    assert gate.passes(AudioFrame(_noise(0.1)))
    assert gate.passes(AudioFrame(_noise(0.1), reference=np.zeros(480, dtype=np.int16)))


def test_echo_is_blocked_and_louder_speech_passes_once_learned() -> None:
    """After learning an echo 20 dB under the speaker, echo-level frames are blocked and a
    frame 20 dB above the echo passes."""
    gate = EchoGate(margin_db=10.0, min_learned_s=0.5)
    for _ in range(100):  # 2 s of far-end single talk
        ref = _noise(0.1)
        echo = (ref.astype(np.float64) * 0.1).astype(np.int16)  # -20 dB
        assert not gate.passes(AudioFrame(echo, reference=ref)) or gate.gain_db > -25
    assert -22 < gate.gain_db < -18
    ref = _noise(0.1)
    assert not gate.passes(AudioFrame((ref * 0.1).astype(np.int16), reference=ref))
    loud_user = (ref * 0.1).astype(np.int16) + _noise(0.1)
    assert gate.passes(AudioFrame(loud_user, reference=ref))


def test_no_false_barge_in_with_echo_as_loud_as_the_speaker() -> None:
    """In a room whose echo is as loud as the speaker, the AI is not interrupted by its own
    voice, while a real barge-in still stops it."""
    question, _ = load_clip("weather_tomorrow")
    wait, _ = load_clip("wait_stop")
    room = RoomConfig.quiet_office(echo_gain_db=0.0)
    script = [Utterance(samples=question, text="q", at=0.5),
              Utterance(samples=wait, text="Wait, stop.", after_assistant_starts=6.0)]
    sim = Simulation(script, room=room,
                     barge_in=BargeIn(use_server_vad=False, false_interruption_s=None))
    result = sim.run(12.0)
    spoke = next(e.at for e in result.timeline if isinstance(e, UserSpoke) and e.barge_in)
    assert [e.source for e in result.interruptions] == ["local"]
    event = result.interruptions[0]
    # The one interruption is the user's words, not the echo of the 6 s before them (its
    # onset may take in an echo frame or two just before the user started).
    assert event.latency.onset is not None
    assert spoke - 0.1 <= event.latency.onset < spoke + 0.1
    assert spoke < event.latency.detected
    assert event.latency.stop_ms is not None
    assert event.latency.stop_ms <= 200


def test_the_gates_quantile_is_numpys_bit_for_bit() -> None:
    """The gate's partial-sort quantile stands in for ``np.quantile`` on every frame."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 10, 199, 200):
        values = rng.lognormal(0.0, 3.0, n)
        for q in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
            assert _quantile(values, q) == float(np.quantile(values, q))
