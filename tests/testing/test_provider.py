"""InProcessServer: the embedded server in the test's event loop, in virtual time, both
backends (this directory's conftest.py): a whole conversation waits on no wall clock, and
behaves as against the real server."""

from __future__ import annotations

import time

import anyio
import numpy as np
import pytest

import realtalk
from realtalk.server import (
    Drop,
    Fault,
    FaultPlan,
    ScriptedResponder,
    ServerOptions,
    SyntheticVoice,
)
from realtalk.testing import InProcessServer, MemoryInput, MemoryOutput

pytestmark = pytest.mark.anyio

SENTENCE = ("Here is a long answer that keeps going, one sentence after another, so that it "
            "lasts a good while.")
TWENTY_SECONDS = " ".join([SENTENCE] * 3)  # about 25 s of speech


def _server(reply: str = TWENTY_SECONDS, **options: object) -> InProcessServer:
    return InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=5.0,
                              **options),  # type: ignore[arg-type]
        responder_factory=lambda: ScriptedResponder([reply, "Short answer."]))


async def _until_state(conv: realtalk.Conversation, state: realtalk.State) -> float:
    """Wait for the state; the time it was entered."""
    async for event in conv.events():
        if isinstance(event, realtalk.StateChanged) and event.new is state:
            return event.at
    raise AssertionError(f"the conversation ended before {state}")


async def test_a_twenty_second_reply_plays_to_the_end_without_waiting_for_it() -> None:
    """The whole reply is played, sample for sample, in its own duration of virtual time, and
    in less wall time than that: nothing waited on the wall clock."""
    wall = time.monotonic()
    server = _server()
    speaker = MemoryOutput()
    async with realtalk.Conversation(server, output=speaker) as conv:
        await conv.send_text("Tell me something long.")
        with anyio.fail_after(60):
            started = await _until_state(conv, realtalk.State.SPEAKING)
            ended = await _until_state(conv, realtalk.State.LISTENING)
        heard = speaker.recording()
    wall = time.monotonic() - wall
    item = next(i for i in server.sessions[0].conversation if i.is_assistant_audio())
    assert item.audio_ms >= 20_000
    assert len(heard) == round(item.audio_ms * 24)
    assert np.abs(heard.astype(np.int32)).mean() > 100  # speech, not silence
    assert ended - started == pytest.approx(item.audio_ms / 1000, abs=0.021)
    assert wall < item.audio_ms / 1000
    assert server.sessions[0].stats.responses_completed == 1


async def test_a_barge_in_at_one_and_a_half_seconds_truncates_to_exactly_what_was_played(
) -> None:
    """The user talks over a 20 s reply 1.5 s into it: playback stops, the cancel and the
    truncate reach the server, and the truncate is exactly what the speaker played, as on the
    real server, to the sample."""
    mic = MemoryInput(noise_dbfs=-70.0)
    speaker = MemoryOutput()
    server = _server()
    config = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(
        silence_duration_ms=300, interrupt_response=False))
    async with realtalk.Conversation(server, config=config, input=mic, output=speaker,
                                     barge_in=realtalk.BargeIn(min_speech_ms=40)) as conv:
        await conv.send_text("Tell me something long.")
        with anyio.fail_after(10):
            started = await _until_state(conv, realtalk.State.SPEAKING)
            await anyio.sleep(1.5)
            mic.push(SyntheticVoice(seed=3, pitch_hz=220).synthesize("Wait, stop please.")
                     .samples)
            async for event in conv.events():
                if isinstance(event, realtalk.Interrupted):
                    interrupted = event
                if isinstance(event, realtalk.Truncated):
                    truncated = event
                    break
        played = len(speaker.recording())
    assert interrupted.source == "local"
    assert truncated.audio_end_ms == interrupted.truncate_ms
    assert played == interrupted.truncate_ms * 24  # to the sample: nothing played meanwhile
    lat = interrupted.latency
    assert lat.playback_stopped is not None
    # Speech 1.5 s in, confirmed after 40 ms of it, within a 20 ms frame.
    assert 1.54 <= lat.playback_stopped - started <= 1.56 + 1e-9
    assert played == round((lat.playback_stopped - started) * 24_000)
    stats = server.sessions[0].stats
    assert stats.responses_cancelled == 1
    assert stats.truncations == 1
    item = next(i for i in server.sessions[0].conversation if i.is_assistant_audio())
    assert item.audio_ms == interrupted.truncate_ms


async def test_the_beta_shape_is_spoken_end_to_end() -> None:
    server = InProcessServer(shape="beta",
                             responder_factory=lambda: ScriptedResponder(["Hello there."]))
    assert server.shape == "beta"
    async with realtalk.Conversation(server) as conv:
        await conv.send_text("hello")
        with anyio.fail_after(30):
            async for event in conv.events():
                if isinstance(event, realtalk.AssistantTranscript):
                    transcript = event
                    break
    assert transcript.text == "Hello there."
    assert server.sessions[0].shape == "beta"


async def test_each_connection_has_its_own_session_closed_with_it() -> None:
    server = InProcessServer(seed=7)
    for _ in range(2):
        async with realtalk.Conversation(server, reconnect=None) as conv:
            assert conv.state is realtalk.State.LISTENING
    first, second = server.sessions
    assert first is not second
    assert first.closed and second.closed
    assert first.id == second.id  # one seed, the same ids
    assert first.stats.events_received == {"session.update": 1}


def test_bad_arguments_are_named() -> None:
    with pytest.raises(realtalk.ConfigurationError, match="options"):
        InProcessServer(options={"generation_speed": 2.0})  # type: ignore[arg-type]
    with pytest.raises(realtalk.ConfigurationError, match="responder_factory"):
        InProcessServer(responder_factory="hello")  # type: ignore[arg-type]
    with pytest.raises(realtalk.ConfigurationError, match="shape"):
        InProcessServer(shape="GA")  # type: ignore[arg-type]
    with pytest.raises(realtalk.ConfigurationError, match="seed"):
        InProcessServer(seed=1.5)  # type: ignore[arg-type]


async def test_a_fault_plan_drops_the_second_session_in_virtual_time() -> None:
    """The plan's first refusal, then a first session left alone, then a second one dropped
    before its third audio delta: without reconnecting, the conversation reports the loss as
    its fatal error."""
    plan = FaultPlan([Fault(Drop(), before="response.output_audio.delta", nth=3, session=2)],
                     refuse_handshakes=1, refuse_status=429)
    server = InProcessServer(responder_factory=lambda: ScriptedResponder(["Short answer."]),
                             faults=plan)
    with pytest.raises(realtalk.ConnectError, match="HTTP 429"):
        async with realtalk.Conversation(server):
            pass
    fatal: list[realtalk.ErrorOccurred] = []
    for _ in range(2):
        async with realtalk.Conversation(server, reconnect=None) as conv:
            await conv.send_text("hello")
            with anyio.fail_after(60):
                async for event in conv.events():
                    if isinstance(event, realtalk.ErrorOccurred) and event.fatal:
                        fatal.append(event)
                    if isinstance(event, realtalk.ResponseFinished):
                        break
    first, second = server.sessions
    assert first.stats.responses_completed == 1
    assert second.closed and second.stats.responses_completed == 0
    assert len(fatal) == 1 and "connection lost" in fatal[0].message
