"""A conversation judges user transcripts against what the assistant said, and records them
(against the in-process server, in virtual time)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import realtalk
from realtalk import State, StateChanged, UserTranscript
from realtalk.echo import EchoTranscriptDropped
from realtalk.server import ScriptedResponder, ScriptedTranscriber, ServerOptions, SyntheticVoice
from realtalk.sim import EchoPath, Room, RoomConfig, SimulatedDevice
from realtalk.testing import InProcessServer, virtual_backend
from realtalk.transcripts import InterruptionMark, SQLiteTranscriptStore, TranscriptRecord

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Each test on both backends, in virtual time."""
    return virtual_backend(request.param)

REPLY = ("The forecast for Saturday is sunny with a high of twenty four degrees and a light "
         "breeze from the west, so it is a fine day for a long walk in the park.")


async def _talk_over(transcribed_as: str, store: SQLiteTranscriptStore | None,
                     ) -> list[object]:
    """The AI speaks REPLY; 1.2 s in, a voice talks over it and the server transcribes it as
    ``transcribed_as``. Returns every event until that transcript's fate is known."""
    provider = InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=2.0),
        responder_factory=lambda: ScriptedResponder([REPLY, "Sure."]),
        transcriber_factory=lambda: ScriptedTranscriber([transcribed_as]))
    mic = realtalk.audio.MemoryInput(noise_dbfs=-70.0)
    config = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(
        silence_duration_ms=300, interrupt_response=False))

    async def talk_over() -> None:
        await anyio.sleep(1.2)
        mic.push(SyntheticVoice(seed=3, pitch_hz=220).synthesize(
            "sunny with a high of twenty four degrees").samples)

    async with realtalk.Conversation(provider, config=config, input=mic,
                                     barge_in=realtalk.BargeIn(min_speech_ms=40),
                                     transcripts=store) as conv:
        return await _until_transcript(conv, talk_over)


async def _until_transcript(conv: realtalk.Conversation,
                            once_speaking: Callable[[], Awaitable[None]] | None,
                            ) -> list[object]:
    """Ask about the weather; once the AI speaks, run ``once_speaking``; every event until
    the first user transcript's fate (kept or dropped) is known."""
    await conv.send_text("What's the weather on Saturday?")
    seen: list[object] = []
    with anyio.fail_after(20):
        async for event in conv.events():
            seen.append(event)
            if isinstance(event, (UserTranscript, EchoTranscriptDropped)):
                break
            if isinstance(event, StateChanged) and event.new is State.SPEAKING \
                    and once_speaking is not None:
                await once_speaking()
                once_speaking = None
    return seen


async def test_an_echo_of_the_assistants_words_is_dropped_and_recorded(tmp_path: Path) -> None:
    """The server transcribes the sound at the microphone as the words the AI had just played
    (what its echo would give): the conversation reports it dropped, and the store keeps it,
    flagged."""
    with SQLiteTranscriptStore(tmp_path / "t.db") as store:
        seen = await _talk_over("the forecast for Saturday", store)
        entries = store.entries()
    dropped = seen[-1]
    assert isinstance(dropped, EchoTranscriptDropped)
    assert not any(isinstance(e, UserTranscript) for e in seen)
    user = [e for e in entries if isinstance(e, TranscriptRecord) and e.role == "user"]
    assert len(user) == 1
    assert user[0].dropped
    assert user[0].verdicts
    assert any(isinstance(e, InterruptionMark) for e in entries)


async def test_a_real_reply_sharing_words_is_kept() -> None:
    """The user corrects the AI, reusing its words: kept, as a UserTranscript."""
    seen = await _talk_over("no I asked about Sunday not Saturday", None)
    assert isinstance(seen[-1], UserTranscript)
    assert seen[-1].text == "no I asked about Sunday not Saturday"


async def _short_transcript_in_a_room(user_says: bool) -> tuple[list[object], bool | None]:
    """The AI speaks REPLY in a room with loud echo; the server's VAD (set to hear almost
    anything) takes what reaches it for a user turn, which it transcribes as "sunny", a word
    the AI played. When ``user_says``, a user's short word really is at the mic 1 s in.
    Returns the events up to that transcript's fate, and the audio's opinion on it."""
    room = Room(RoomConfig(echo=EchoPath(delay_ms=30.0, gain_db=-6.0, seed=2),
                           noise_dbfs=-80.0))
    device = SimulatedDevice(room)
    provider = InProcessServer(
        options=ServerOptions(first_audio_latency_ms=20.0, generation_speed=1.0),
        responder_factory=lambda: ScriptedResponder([REPLY, "Sure."]),
        transcriber_factory=lambda: ScriptedTranscriber(["sunny"]))
    config = realtalk.SessionConfig(turn_detection=realtalk.TurnDetection(
        threshold=0.0 if not user_says else 0.5, silence_duration_ms=200,
        create_response=False, interrupt_response=False))

    async def say_sunny() -> None:
        room.add_user_speech(SyntheticVoice(seed=3, pitch_hz=220).synthesize("sunny").samples,
                             room.mic_position + room.sample_rate, level_dbfs=-20.0)

    async with realtalk.Conversation(provider, config=config, input=device.input,
                                     output=device.output,
                                     echo=realtalk.EchoDefences(watch=None)) as conv:
        seen = await _until_transcript(conv, say_sunny if user_says else None)
        device.close()
    transcript = seen[-1]
    if isinstance(transcript, EchoTranscriptDropped):
        return seen, transcript.audio_near_end
    assert isinstance(transcript, UserTranscript)
    return seen, conv.near_end.opinion(transcript.speech_started_at, transcript.speech_ended_at)


async def test_a_short_transcript_of_echo_is_dropped_on_the_audios_word() -> None:
    """One word cannot be told from echo by its text; the audio says no user was heard while
    the AI played, so the word the AI played is dropped."""
    seen, opinion = await _short_transcript_in_a_room(user_says=False)
    assert opinion is False
    dropped = seen[-1]
    assert isinstance(dropped, EchoTranscriptDropped)
    assert "audio gate judged it echo" in dropped.verdict.reason


async def test_a_short_word_the_user_really_said_is_kept() -> None:
    """The same word, said by the user over the AI: the detector heard them, so it stays."""
    seen, opinion = await _short_transcript_in_a_room(user_says=True)
    assert opinion is True
    assert isinstance(seen[-1], UserTranscript)
    assert seen[-1].text == "sunny"
