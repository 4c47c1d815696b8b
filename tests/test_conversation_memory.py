"""Conversation against scripted fake servers: malformed events, dropped connections (in
virtual time)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import numpy as np
import pytest

import realtalk
from realtalk import wire as ev
from realtalk.testing import MemoryProvider, virtual_backend
from realtalk.transport import MemoryTransport

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test on both backends, in virtual time."""
    return virtual_backend(request.param)

CHUNK = b"\x10\x00" * 2400  # 100 ms


async def _collect(conv: realtalk.Conversation, timeout: float = 5.0) -> list[object]:
    seen: list[object] = []
    with anyio.fail_after(timeout):
        async for event in conv.events():
            seen.append(event)
    return seen


async def test_connection_closed_mid_response_is_a_clean_error() -> None:
    """The server hangs up mid-response: a fatal error event, and the conversation ends."""

    async def server(t: MemoryTransport) -> None:
        await t.receive()  # session.update
        await t.send(ev.encode(ev.ResponseCreated(response=ev.ResponseInfo(id="r1"))))
        for _ in range(3):
            await t.send(ev.encode(ev.ResponseOutputAudioDelta(
                response_id="r1", item_id="i1", delta=CHUNK)))
        # and hang up without response.done

    async with realtalk.Conversation(MemoryProvider(server), reconnect=None) as conv:
        seen = await _collect(conv)
        assert conv.closed
    errors = [e for e in seen if isinstance(e, realtalk.ErrorOccurred)]
    assert len(errors) == 1
    assert errors[0].fatal
    assert "connection lost" in errors[0].message
    states = [e.new for e in seen if isinstance(e, realtalk.StateChanged)]
    assert states == [realtalk.State.LISTENING, realtalk.State.SPEAKING, realtalk.State.IDLE]


async def test_malformed_and_unknown_server_events_do_not_crash() -> None:
    """Bad frames become error events; unknown ones pass through; the session goes on."""

    async def server(t: MemoryTransport) -> None:
        await t.receive()
        await t.send("{this is not json")
        await t.send(json.dumps({"type": "response.done", "response": {"id": 5}}))
        await t.send(json.dumps({"type": "rate_limits.updated", "rate_limits": []}))
        await t.send(ev.encode(ev.InputAudioTranscriptionCompleted(item_id="u", transcript="hi")))

    async with realtalk.Conversation(MemoryProvider(server), reconnect=None) as conv:
        seen = await _collect(conv)
    errors = [e for e in seen if isinstance(e, realtalk.ErrorOccurred)]
    assert [e.fatal for e in errors] == [False, False, True]
    assert "not valid JSON" in errors[0].message
    assert "response.id" in errors[1].message
    assert any(isinstance(e, realtalk.OtherServerEvent) for e in seen)
    assert any(isinstance(e, realtalk.UserTranscript) and e.text == "hi" for e in seen)


async def test_interrupt_sends_cancel_then_truncate_on_the_wire() -> None:
    """conv.interrupt() while speaking: cancel and truncate reach the server, in order."""
    received: list[dict[str, object]] = []
    got_truncate = anyio.Event()

    async def server(t: MemoryTransport) -> None:
        await t.receive()
        await t.send(ev.encode(ev.ResponseCreated(response=ev.ResponseInfo(id="r1"))))
        for _ in range(20):
            await t.send(ev.encode(ev.ResponseOutputAudioDelta(
                response_id="r1", item_id="i1", delta=CHUNK)))
        while True:
            msg = json.loads(await t.receive())
            received.append(msg)
            if msg["type"] == "response.cancel":
                await t.send(ev.encode(ev.ResponseDone(response=ev.ResponseInfo(
                    id="r1", status="cancelled"))))
            if msg["type"] == "conversation.item.truncate":
                got_truncate.set()

    async with realtalk.Conversation(MemoryProvider(server), reconnect=None) as conv:
        with anyio.fail_after(5):
            async for event in conv.events():
                if isinstance(event, realtalk.StateChanged) and \
                        event.new is realtalk.State.SPEAKING:
                    break
            await anyio.sleep(0.05)
            assert await conv.interrupt()
            await got_truncate.wait()
            async for event in conv.events():
                if isinstance(event, realtalk.Interrupted):
                    interrupted = event
                    break
    types = [m["type"] for m in received]
    # cancel, truncate, then the note that tells the model it was interrupted
    assert types[:2] == ["response.cancel", "conversation.item.truncate"]
    assert types[2:] in ([], ["conversation.item.create"])
    assert received[0]["response_id"] == "r1"
    truncate_ms = received[1]["audio_end_ms"]
    assert isinstance(truncate_ms, int)
    assert 0 < truncate_ms < 2000
    assert interrupted.truncate_ms == truncate_ms
    assert interrupted.source == "manual"
    assert interrupted.latency.acknowledged is not None


async def test_use_after_close_raises() -> None:
    """Sending on a closed conversation raises ConversationClosed."""

    async def server(t: MemoryTransport) -> None:
        await t.receive()

    conv = realtalk.Conversation(MemoryProvider(server), reconnect=None)
    async with conv:
        await _collect(conv)
    with pytest.raises(realtalk.ConversationClosed):
        await conv.send_text("hello")


async def test_a_16k_stereo_microphone_is_resampled_at_the_edge() -> None:
    """A 16 kHz stereo microphone works: the server receives 24 kHz mono PCM16."""
    appended = 0
    got_enough = anyio.Event()

    async def server(t: MemoryTransport) -> None:
        nonlocal appended
        while True:
            msg = json.loads(await t.receive())
            if msg["type"] == "input_audio_buffer.append":
                appended += len(base64.b64decode(msg["audio"])) // 2
                if appended >= 28_500:
                    got_enough.set()

    class StereoMic:
        sample_rate = 16_000

        async def frames(self) -> AsyncIterator[realtalk.audio.AudioFrame]:
            tone = (np.sin(np.arange(320) * 0.1) * 8000).astype(np.int16)
            for i in range(60):  # 1.2 s of 20 ms frames
                yield realtalk.audio.AudioFrame(np.stack([tone, tone], axis=1), 16_000,
                                                i * 0.02)
                await anyio.lowlevel.checkpoint()

    async with realtalk.Conversation(MemoryProvider(server), input=StereoMic()) as conv:
        with anyio.fail_after(5):
            await got_enough.wait()
        assert not conv.closed
    # 1.2 s at 24 kHz, less the resampler's held-back tail (a few ms).
    assert 28_500 <= appended <= 28_800


@pytest.mark.parametrize("echo", ["default", None])
async def test_the_echo_canceller_cleans_what_goes_upstream(echo: str | None) -> None:
    """A 16 kHz microphone whose frames carry the speaker reference (as SoundDevice's do):
    the echo of the reference is cancelled before the audio goes upstream, after both are
    resampled alike; with ``echo=None`` the echo goes up as it was captured."""
    received: list[np.ndarray] = []
    got_enough = anyio.Event()

    async def server(t: MemoryTransport) -> None:
        while True:
            msg = json.loads(await t.receive())
            if msg["type"] == "input_audio_buffer.append":
                received.append(np.frombuffer(base64.b64decode(msg["audio"]), np.int16))
                if sum(map(len, received)) >= 24_000 * 6:
                    got_enough.set()

    rng = np.random.default_rng(5)
    speaker = (rng.standard_normal(16_000 * 7) * 3000).astype(np.int16)
    echo_signal = np.convolve(speaker.astype(np.float64), [0, 0, 0.4, 0.2, -0.1])[:len(speaker)]
    mic_signal = echo_signal.astype(np.int16)

    class EchoingMic:
        sample_rate = 16_000

        async def frames(self) -> AsyncIterator[realtalk.audio.AudioFrame]:
            for i in range(0, len(speaker), 320):
                yield realtalk.audio.AudioFrame(mic_signal[i:i + 320], 16_000, i / 16_000,
                                                reference=speaker[i:i + 320])
                await anyio.lowlevel.checkpoint()

    conv = realtalk.Conversation(MemoryProvider(server), input=EchoingMic(), barge_in=None,
                                 echo=realtalk.EchoDefences(canceller=echo))  # type: ignore[arg-type]
    async with conv:
        with anyio.fail_after(10):
            await got_enough.wait()
    upstream = np.concatenate(received).astype(np.float64)
    last_second = upstream[-24_000:]
    captured_level = float(np.sqrt(np.mean(echo_signal[-16_000:] ** 2)))
    level = float(np.sqrt(np.mean(last_second**2)))
    if echo is None:
        assert level == pytest.approx(captured_level, rel=0.1)
    else:
        assert 20 * np.log10(captured_level / level) > 20.0  # the echo is cut by > 20 dB


async def test_failing_microphone_ends_the_conversation_with_a_reason() -> None:
    """A microphone raising AudioError gives a fatal error event, not a crashed task group."""

    class BrokenMic:
        sample_rate = 24_000

        async def frames(self) -> AsyncIterator[realtalk.audio.AudioFrame]:
            raise realtalk.AudioError("device unplugged")
            yield  # an async generator

    async def server(t: MemoryTransport) -> None:
        while True:
            await t.receive()

    async with realtalk.Conversation(MemoryProvider(server), input=BrokenMic()) as conv:
        seen = await _collect(conv)
    errors = [e for e in seen if isinstance(e, realtalk.ErrorOccurred)]
    assert len(errors) == 1
    assert errors[0].fatal
    assert "device unplugged" in errors[0].message


async def test_half_duplex_mutes_the_microphone_while_speaking() -> None:
    """In half-duplex mode no audio goes upstream while the AI speaks, and speech into the
    microphone then does not interrupt."""
    appends_while_speaking: list[int] = []
    speaking = anyio.Event()

    async def server(t: MemoryTransport) -> None:
        await t.receive()
        await t.send(ev.encode(ev.ResponseCreated(response=ev.ResponseInfo(id="r1"))))
        for _ in range(5):  # 500 ms of assistant audio
            await t.send(ev.encode(ev.ResponseOutputAudioDelta(
                response_id="r1", item_id="i1", delta=CHUNK)))
        await t.send(ev.encode(ev.ResponseDone(response=ev.ResponseInfo(id="r1"))))
        while True:
            msg = json.loads(await t.receive())
            if msg["type"] == "input_audio_buffer.append" and speaking.is_set():
                appends_while_speaking.append(1)

    mic = realtalk.audio.MemoryInput()
    loud = (np.sin(np.arange(24_000) * 0.05) * 12_000).astype(np.int16)
    async with realtalk.Conversation(MemoryProvider(server), input=mic,
                                     echo=realtalk.EchoDefences(half_duplex=True)) as conv:
        with anyio.fail_after(5):
            async for event in conv.events():
                if isinstance(event, realtalk.StateChanged):
                    if event.new is realtalk.State.SPEAKING:
                        speaking.set()
                        mic.push(loud)
                    elif event.new is realtalk.State.LISTENING and speaking.is_set():
                        speaking = anyio.Event()
                        break
        assert conv.interruptions == []
        assert conv.muted_frames >= 20
    assert appends_while_speaking == []


async def test_echo_the_canceller_cannot_remove_raises_the_bar_then_mutes_then_recovers(
) -> None:
    """A reference unrelated to what the microphone hears (the canceller cannot converge):
    the echo-risk watch goes to "raised" (twice the barge-in speech needed), then
    "half_duplex"; once the microphone holds only a faint, cancellable echo, back to
    "normal" with the user's settings restored. Each change is an event."""
    rng = np.random.default_rng(9)
    bad_s, good_s, rate, n = 7, 8, 24_000, 480
    speaker = (rng.standard_normal(rate * (bad_s + good_s)) * 3000).astype(np.int16)
    unrelated = (rng.standard_normal(rate * bad_s) * 3000).astype(np.int16)
    faint = (speaker[rate * bad_s:].astype(np.float64) * 0.01).astype(np.int16)
    mic_signal = np.concatenate([unrelated, faint])
    done = anyio.Event()

    class Mic:
        sample_rate = rate

        async def frames(self) -> AsyncIterator[realtalk.audio.AudioFrame]:
            for i in range(0, len(speaker), n):
                yield realtalk.audio.AudioFrame(mic_signal[i:i + n], rate, i / rate,
                                                reference=speaker[i:i + n])
                await anyio.lowlevel.checkpoint()
            done.set()

    async def server(t: MemoryTransport) -> None:
        while True:
            await t.receive()

    barge_in = realtalk.BargeIn(min_speech_ms=100)
    # The linear canceller alone: the default chain's suppressor would take the unrelated
    # sound for echo and suppress it, which keeps the echo risk low by other means.
    conv = realtalk.Conversation(MemoryProvider(server), input=Mic(), barge_in=barge_in,
                                 echo=realtalk.EchoDefences(
                                     canceller=realtalk.echo.EchoCanceller(rate)))
    seen: list[tuple[str, float]] = []
    async with conv:
        with anyio.fail_after(20):
            async for event in conv.events():
                if isinstance(event, realtalk.echo.EchoRiskChange):
                    assert conv._detector is not None
                    seen.append((event.level, conv._detector.policy.settings.min_speech_ms))
                    if event.level == "normal":
                        break
    assert [level for level, _ in seen] == ["raised", "half_duplex", "raised", "normal"]
    assert seen[0][1] == 200.0  # raised: twice the speech before a barge-in
    assert seen[-1][1] == 100.0  # normal: the app's settings again
    assert conv.echo_risk == "normal"
