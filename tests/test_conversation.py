"""Conversation end to end, asyncio and trio: over a real WebSocket to the embedded server on
loopback, and, where the socket is not the subject, against the server in-process, in virtual
time."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

import realtalk
from realtalk import providers
from realtalk.server import RealtimeServer, ScriptedResponder, ServerOptions, SyntheticVoice
from realtalk.testing import InProcessServer, virtual_backend

pytestmark = pytest.mark.anyio

LONG_REPLY = ("This is a long answer with many words, so that the user can talk over it well "
              "before it ends, and the truncation lands in the middle of a sentence.")


def _fast_in_process(generation_speed: float = 20.0) -> InProcessServer:
    return InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=generation_speed),
        responder_factory=lambda: ScriptedResponder([LONG_REPLY, "Short answer."]),
    )


def _in_virtual_time() -> pytest.MarkDecorator:
    """Run the test on both backends in virtual time, each run on a fresh clock."""
    return pytest.mark.parametrize("anyio_backend", [virtual_backend("asyncio"),
                                                     virtual_backend("trio")],
                                   ids=["asyncio", "trio"])


async def _until(conv: realtalk.Conversation, kind: type, timeout: float = 10.0) -> object:
    with anyio.fail_after(timeout):
        async for event in conv.events():
            if isinstance(event, kind):
                return event
    raise AssertionError(f"conversation ended before {kind.__name__}")


@_in_virtual_time()
async def test_voice_barge_in_stops_cancels_and_truncates_to_what_was_heard() -> None:
    """A user talking over the AI: playback stops, cancel + truncate reach the server, and the
    truncate equals the audio actually played."""
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    speaker = realtalk.audio.MemoryOutput()
    # Generated at 5x real time, the reply is still being generated when the user talks
    # (at 20x it could finish first, and then there is nothing to cancel).
    provider = _fast_in_process(generation_speed=5.0)
    config = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(
        silence_duration_ms=300, interrupt_response=False))
    # 40 ms of speech confirms locally, one frame before the server's VAD can see 60 ms.
    async with realtalk.Conversation(provider, config=config, input=mic, output=speaker,
                                     barge_in=realtalk.BargeIn(min_speech_ms=40)) as conv:
        await conv.send_text("Tell me something long.")
        with anyio.fail_after(10):
            async for event in conv.events():
                if isinstance(event, realtalk.StateChanged) and \
                        event.new is realtalk.State.SPEAKING:
                    break
        await anyio.sleep(0.4)
        mic.push(SyntheticVoice(seed=3, pitch_hz=220).synthesize("Wait, stop please.").samples)
        interrupted = await _until(conv, realtalk.Interrupted)
        assert isinstance(interrupted, realtalk.Interrupted)
        truncated = await _until(conv, realtalk.Truncated)
        assert isinstance(truncated, realtalk.Truncated)
        played_ms = len(speaker.recording()) / 24.0
    assert interrupted.source == "local"
    assert interrupted.cancel_sent
    assert interrupted.truncate_ms is not None
    assert truncated.audio_end_ms == interrupted.truncate_ms
    # The whole recording is the interrupted item: what was truncated is what was heard,
    # rounded down to the ms (plus what played while the core step ran, well under 1 ms).
    assert 0.0 <= played_ms - interrupted.truncate_ms < 2.0
    assert interrupted.truncate_ms < interrupted.received_ms
    lat = interrupted.latency
    assert lat.onset is not None and lat.playback_stopped is not None
    assert lat.cancel_sent is not None and lat.acknowledged is not None
    assert lat.onset <= lat.detected <= lat.playback_stopped <= lat.cancel_sent
    assert len(provider.sessions) == 1
    stats = provider.sessions[0].stats
    assert stats.responses_cancelled == 1
    assert stats.truncations == 1


@_in_virtual_time()
async def test_full_turn_plays_to_the_end_and_returns_to_listening() -> None:
    """Without interruption, every sample the server generated is played, then listening."""
    speaker = realtalk.audio.MemoryOutput()
    reply = "A short reply, played to the end."
    provider = InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=20.0),
        responder_factory=lambda: ScriptedResponder([reply]))
    async with realtalk.Conversation(provider, output=speaker) as conv:
        await conv.send_text("Hi")
        transcript = await _until(conv, realtalk.AssistantTranscript)
        assert isinstance(transcript, realtalk.AssistantTranscript)
        assert transcript.text == reply
        assert not transcript.interrupted
        with anyio.fail_after(20):
            async for event in conv.events():
                if isinstance(event, realtalk.StateChanged) and \
                        event.new is realtalk.State.LISTENING:
                    break
        heard = speaker.recording()
    assert len(provider.sessions) == 1
    item = next(i for i in provider.sessions[0].conversation if i.is_assistant_audio())
    assert len(heard) == round(item.audio_ms * 24)
    assert np.abs(heard.astype(np.int32)).mean() > 100  # speech, not silence
    assert conv.session.stats.late_deltas_dropped == 0


async def test_wrong_api_key_is_a_clear_connect_error() -> None:
    """A server that wants a key refuses a wrong one: ConnectError naming HTTP 401."""
    server = RealtimeServer(api_key="right-key")
    with server.running_in_thread():
        provider = providers.openai(api_key="wrong-key", base_url=server.http_base_url)
        with pytest.raises(realtalk.ConnectError, match="401") as info:
            async with realtalk.Conversation(provider):
                pass
        assert "wrong-key" not in str(info.value)
        async with realtalk.Conversation(
            providers.openai(api_key="right-key", base_url=server.http_base_url)
        ) as conv:
            assert conv.state is realtalk.State.LISTENING


async def test_azure_preview_path_speaks_beta_end_to_end() -> None:
    """Azure's preview URL form gets beta names and a flat session, and still works."""
    server = RealtimeServer(api_key="azure-key",
                            responder_factory=lambda: ScriptedResponder(["Hello there."]))
    with server.running_in_thread():
        base = server.http_base_url.removesuffix("/v1") + "/openai"
        provider = providers.azure(deployment="dep", api_key="azure-key", base_url=base,
                                   api_version="2025-04-01-preview")
        assert provider.shape == "beta"
        async with realtalk.Conversation(provider) as conv:
            await conv.send_text("hello")
            transcript = await _until(conv, realtalk.AssistantTranscript)
        assert isinstance(transcript, realtalk.AssistantTranscript)
        assert transcript.text


async def test_unreachable_server_is_a_connect_error() -> None:
    """Nothing listening: ConnectError, no hang."""
    server = RealtimeServer()
    with server.running_in_thread():
        port = server.port
    provider = providers.endpoint(f"ws://127.0.0.1:{port}/v1/realtime?model=x")
    with anyio.fail_after(10), pytest.raises(realtalk.ConnectError, match="could not connect"):
        async with realtalk.Conversation(provider):
            pass


async def test_server_going_away_mid_response_ends_cleanly() -> None:
    """The real server stops while the AI speaks: a fatal error event naming the close, the
    event stream ends, and the conversation exits without raising."""
    server = RealtimeServer(responder_factory=lambda: ScriptedResponder([LONG_REPLY]))
    runner = server.running_in_thread()
    await anyio.to_thread.run_sync(runner.__enter__)
    stopped = False
    try:
        provider = providers.openai(api_key="unused", base_url=server.http_base_url)
        async with realtalk.Conversation(provider, reconnect=None) as conv:
            await conv.send_text("talk")
            seen: list[object] = []
            with anyio.fail_after(10):
                async for event in conv.events():
                    seen.append(event)
                    if isinstance(event, realtalk.StateChanged) and \
                            event.new is realtalk.State.SPEAKING:
                        stopped = True
                        await anyio.to_thread.run_sync(runner.__exit__, None, None, None)
            assert conv.closed
    finally:
        if not stopped:
            await anyio.to_thread.run_sync(runner.__exit__, None, None, None)
    errors = [e for e in seen if isinstance(e, realtalk.ErrorOccurred)]
    assert len(errors) == 1
    assert errors[0].fatal
    assert "connection lost" in errors[0].message
    assert isinstance(seen[-1], realtalk.StateChanged)
    assert seen[-1].new is realtalk.State.IDLE
