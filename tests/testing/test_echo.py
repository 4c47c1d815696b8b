"""RecordingEchoFilter and ScriptedTranscriptFilter, plugged into a conversation; both fakes
seeded by a calibration's figures."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import anyio
import attrs
import numpy as np
import pytest

import realtalk
from realtalk import wire as ev
from realtalk.audio import AudioFrame
from realtalk.echo import (
    EchoPathMeasurement,
    EchoTranscriptDropped,
    TranscriptFilterChain,
    seed_canceller,
    seed_gate,
)
from realtalk.testing import (
    MemoryProvider,
    RecordingEchoFilter,
    ScriptedGate,
    ScriptedTranscriptFilter,
)
from realtalk.transport import MemoryTransport

pytestmark = pytest.mark.anyio


async def test_the_echo_filter_gets_every_frame_with_its_reference() -> None:
    """A microphone whose frames carry what the speaker played: the filter is given each
    frame as captured, reference included, and what it returns (here: the same) is what goes
    upstream."""
    rng = np.random.default_rng(1)
    captured = [AudioFrame((rng.standard_normal(480) * 2000).astype(np.int16), 24_000,
                           i * 0.02, reference=(rng.standard_normal(480) * 3000)
                           .astype(np.int16)) for i in range(25)]
    upstream: list[np.ndarray] = []
    all_sent = anyio.Event()

    class Mic:
        sample_rate = 24_000

        async def frames(self) -> AsyncIterator[AudioFrame]:
            for frame in captured:
                yield frame
                await anyio.sleep(0.02)

    async def server(t: MemoryTransport) -> None:
        while True:
            msg = json.loads(await t.receive())
            if msg["type"] == "input_audio_buffer.append":
                upstream.append(np.frombuffer(base64.b64decode(msg["audio"]), np.int16))
                if len(upstream) == len(captured):
                    all_sent.set()

    echo = RecordingEchoFilter(residual_echo=0.0)
    async with realtalk.Conversation(MemoryProvider(server), input=Mic(),
                                     echo=realtalk.EchoDefences(canceller=echo),
                                     barge_in=None) as conv:
        assert conv.echo is echo
        with anyio.fail_after(5):
            await all_sent.wait()
    assert len(echo.frames) == len(captured)
    for seen, frame in zip(echo.frames, captured, strict=True):
        assert np.array_equal(seen.samples, frame.samples)
        assert seen.reference is not None and frame.reference is not None
        assert np.array_equal(seen.reference, frame.reference)
        assert seen.timestamp == frame.timestamp
    assert np.array_equal(np.concatenate(upstream), np.concatenate([f.samples for f in captured]))
    echo.reset()
    assert echo.resets == 1


async def test_the_scripted_transcript_filter_drops_what_it_is_told_to() -> None:
    """Two user transcripts: the scripted one comes out as EchoTranscriptDropped with the
    filter's verdict, the other as a UserTranscript; both were judged, in order."""

    async def server(t: MemoryTransport) -> None:
        await t.receive()  # session.update
        for item, text in (("u1", "the forecast for Saturday"), ("u2", "what about Sunday")):
            await t.send(ev.encode(ev.InputAudioTranscriptionCompleted(item_id=item,
                                                                       transcript=text)))
        await anyio.sleep_forever()

    fake = ScriptedTranscriptFilter(["the forecast for Saturday "], name="script")
    seen: list[object] = []
    filters = TranscriptFilterChain([fake])
    async with realtalk.Conversation(
            MemoryProvider(server),
            echo=realtalk.EchoDefences(transcript_filters=filters)) as conv:
        with anyio.fail_after(5):
            async for event in conv.events():
                if isinstance(event, (realtalk.UserTranscript, EchoTranscriptDropped)):
                    seen.append(event)
                    if len(seen) == 2:
                        break
    dropped, kept = seen
    assert isinstance(dropped, EchoTranscriptDropped)
    assert dropped.text == "the forecast for Saturday"
    assert dropped.verdict.filter == "script"
    assert isinstance(kept, realtalk.UserTranscript)
    assert kept.text == "what about Sunday"
    assert [text for text, _ in fake.judged] == ["the forecast for Saturday",
                                                 "what about Sunday"]
    assert fake.judged[0][1].at == dropped.at


def test_a_function_can_decide_and_bad_scripts_are_refused() -> None:
    fake = ScriptedTranscriptFilter(lambda text: "Saturday" in text)
    context = realtalk.echo.TranscriptContext(at=1.0)
    assert fake.judge("on Saturday", context).drop
    assert not fake.judge("on Sunday", context).drop
    assert fake.name == "scripted"
    with pytest.raises(realtalk.ConfigurationError, match="drop"):
        ScriptedTranscriptFilter("one string")
    with pytest.raises(realtalk.ConfigurationError, match="name"):
        ScriptedTranscriptFilter(name="")
    with pytest.raises(realtalk.ConfigurationError, match="residual_echo"):
        RecordingEchoFilter(residual_echo=-1.0)
    with pytest.raises(realtalk.ConfigurationError, match="echo_likeness"):
        RecordingEchoFilter(echo_likeness=1.5)


def test_a_calibration_seeds_the_fakes_as_it_seeds_a_canceller_and_a_gate() -> None:
    measured = EchoPathMeasurement(ok=True, reason="", delay_ms=30.0, gain_db=-12.0,
                                   erl_db=12.0, confidence=50.0, noise_floor_dbfs=-70.0,
                                   detection_limit_db=-40.0)
    echo = RecordingEchoFilter()
    gate = ScriptedGate()
    assert seed_canceller(echo, measured, 24_000)
    assert seed_gate(gate, measured)
    assert echo.seeded_delays == [720]
    assert gate.initial_gain == pytest.approx(10 ** (-9.0 / 10))
    untrusted = attrs.evolve(measured, ok=False, reason="no echo")
    assert not seed_canceller(echo, untrusted, 24_000)
    assert echo.seeded_delays == [720]
