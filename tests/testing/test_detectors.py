"""ScriptedVAD and ScriptedGate: a conversation barges in exactly where the script says
speech; the onset detector hears only what the gate passes."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

import realtalk
from realtalk.audio import AudioFrame
from realtalk.testing import (
    InProcessServer,
    MemoryInput,
    MemoryOutput,
    ScriptedGate,
    ScriptedVAD,
)
from realtalk.vad import OnsetDetector

pytestmark = pytest.mark.anyio


def _frames(n: int, start: float = 0.0) -> list[AudioFrame]:
    return [AudioFrame(np.zeros(480, np.int16), 24_000, start + i * 0.02) for i in range(n)]


async def test_a_conversation_barges_in_exactly_where_the_script_says_speech() -> None:
    """The script says speech from 1.01 s on the microphone's clock: the first frame captured
    then (1.02 s) is the onset, 100 ms of it later the barge-in is confirmed, and the
    detector saw every microphone frame, silence until then."""
    vad = ScriptedVAD(speech=[(1.01, 5.0)])
    mic = MemoryInput()
    speaker = MemoryOutput()
    server = InProcessServer()  # default replies: several seconds each
    async with realtalk.Conversation(server, input=mic, output=speaker, vad=vad,
                                     barge_in=realtalk.BargeIn(min_speech_ms=100)) as conv:
        await conv.send_text("Talk to me.")
        with anyio.fail_after(10):
            async for event in conv.events():
                if isinstance(event, realtalk.Interrupted):
                    interrupted = event
                    break
        frames_yielded = mic.frames_yielded
    onset = interrupted.latency.onset
    first_speech = vad.answers.index(True)
    assert onset == vad.seen[first_speech].timestamp == pytest.approx(1.02)
    assert not any(vad.answers[:first_speech])
    assert all(vad.answers[first_speech:])
    assert onset is not None
    assert interrupted.latency.detected == pytest.approx(onset + 0.1)
    assert [f.timestamp for f in vad.seen] == pytest.approx(
        [i * 0.02 for i in range(len(vad.seen))])
    assert len(vad.seen) == frames_yielded
    assert {f.sample_rate for f in vad.seen} == {24_000}
    # Played from the start of the reply until the barge-in was confirmed.
    assert interrupted.truncate_ms == round(len(speaker.recording()) / 24)


def test_per_frame_answers_come_first_then_the_intervals() -> None:
    vad = ScriptedVAD([True, False, True], speech=[(0.1, 0.14)], latency_frames=2)
    answers = [vad.is_speech(f) for f in _frames(10)]
    assert answers == [True, False, True, False, False, True, True, False, False, False]
    assert vad.answers == answers
    assert vad.latency_frames == 2
    vad.reset()
    assert vad.resets == 1
    assert vad.is_speech(AudioFrame(np.zeros(480, np.int16), 24_000, None)) is False


def test_the_onset_detector_hears_only_what_the_gate_passes() -> None:
    """The VAD says speech all along; the gate blocks 0.2 s of it: the onset is confirmed
    only once 100 ms of passed speech follow the blocked stretch."""
    gate = ScriptedGate(blocked=[(0.0, 0.2)])
    detector = OnsetDetector(realtalk.BargeIn(min_speech_ms=100),
                             vad=ScriptedVAD([True] * 30), gate=gate)
    onsets = [(f.timestamp, detector.process(f, f.timestamp or 0.0)) for f in _frames(30)]
    confirmed = [(at, onset) for at, onset in onsets if onset is not None]
    assert confirmed[0][1] == pytest.approx(0.2)
    assert confirmed[0][0] == pytest.approx(0.28)  # the fifth frame of speech
    assert gate.answers[:10] == [False] * 10
    assert all(gate.answers[10:])
    assert ScriptedGate([False]).passes(_frames(1)[0]) is False


@pytest.mark.parametrize(("script", "match"), [
    ({"frames": [1, 0]}, "frames"),
    ({"speech": [(2.0, 1.0)]}, "speech"),
    ({"speech": [(0.0, "1")]}, "speech"),
    ({"speech": (0.0, 1.0)}, "speech"),
    ({"latency_frames": -1}, "latency_frames"),
])
def test_a_bad_script_is_refused_by_name(script: dict[str, object], match: str) -> None:
    with pytest.raises(realtalk.ConfigurationError, match=match):
        ScriptedVAD(**script)  # type: ignore[arg-type]
