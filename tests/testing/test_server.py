"""RecordingResponder and RecordingTranscriber, as the in-process server's: what the model was
asked after a barge-in, and the audio the user's turn committed."""

from __future__ import annotations

import anyio
import numpy as np
import pytest

import realtalk
from realtalk.server import ServerOptions, SyntheticVoice
from realtalk.testing import (
    InProcessServer,
    MemoryInput,
    RecordingResponder,
    RecordingTranscriber,
)

pytestmark = pytest.mark.anyio

REPLY = ("One two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen twenty.")


async def test_the_next_reply_is_chosen_knowing_only_what_the_user_heard() -> None:
    """The user talks over the first reply: the transcriber gets the user's speech, and the
    responder, asked for the next reply, sees the first one cut to the words played before
    the barge-in, then the user's words."""
    responder = RecordingResponder([REPLY, "Sure."])
    transcriber = RecordingTranscriber(["wait a moment"])
    server = InProcessServer(options=ServerOptions(first_audio_latency_ms=20.0),
                             responder_factory=lambda: responder,
                             transcriber_factory=lambda: transcriber)
    mic = MemoryInput(noise_dbfs=-70.0)
    speech = SyntheticVoice(seed=3, pitch_hz=220).synthesize("Wait a moment.").samples
    config = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(
        silence_duration_ms=300, interrupt_response=False))
    async with realtalk.Conversation(server, config=config, input=mic,
                                     barge_in=realtalk.BargeIn(min_speech_ms=40)) as conv:
        await conv.send_text("Count to twenty.")
        with anyio.fail_after(30):
            async for event in conv.events():
                if isinstance(event, realtalk.StateChanged) and \
                        event.new is realtalk.State.SPEAKING:
                    break
            await anyio.sleep(2.0)
            mic.push(speech)
            responses = 0
            async for event in conv.events():
                if isinstance(event, realtalk.ResponseFinished):
                    responses += 1
                    if responses == 2:
                        break
    first, second = responder.conversations
    assert [t.role for t in first] == ["user"]
    heard = second[1]
    assert heard.role == "assistant"
    assert heard.text and REPLY.startswith(heard.text)
    assert len(heard.text) < len(REPLY)
    assert second[-1].role == "user" and second[-1].text == "wait a moment"
    ((audio, rate),) = transcriber.audio
    assert rate == 24_000
    # The committed turn holds the user's speech (and the silence until the turn ended).
    assert len(audio) >= len(speech)
    assert np.abs(audio.astype(np.int32)).max() > 1000
